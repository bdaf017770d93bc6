//! Integration tests of the flowforge CLI: real processes of the built binary.

mod compat;
mod dev;
mod index;
mod output;
mod remote;
mod session;
mod status;
mod sync;
