//! Examples and the `flowforge` command-line tool, built on the public API of the FlowForge
//! crates only. Run one with `cargo run -p flowforge-examples --bin <name>`.
