//! Integration tests of flowforge-session: one binary, one module per concept.

mod processes;
mod sessions;
