//! Integration tests of flowforge-daemon: real sockets, real threads, real files.

mod lifecycle;
mod malformed;
mod peer;
mod stopped;
mod support;
