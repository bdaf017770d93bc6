//! Integration tests of flowforge-bench: one binary, one module per concept.

mod fixture;
mod history;
mod pipeline;
