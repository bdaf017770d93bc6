//! Integration tests of the flowforge CLI: real processes of the built binary.

mod compat;
mod daemon;
mod dev;
mod edges;
mod index;
mod install;
mod json_schemas;
mod migrate;
mod namespace_tools;
mod output;
mod remote;
mod session;
mod status;
mod symlinks;
mod sync;
mod totals;

/// The `flowforge` binary answering in-process: `FLOWFORGE_DAEMON=off`, so no test but the
/// daemon's own starts a daemon.
fn flowforge_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"));
    command.env("FLOWFORGE_DAEMON", "off");
    command
}
