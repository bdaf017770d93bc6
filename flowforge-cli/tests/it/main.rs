//! Integration tests of the flowforge CLI: real processes of the built binary.

mod dev;
mod index;
mod session;
mod status;
mod sync;
