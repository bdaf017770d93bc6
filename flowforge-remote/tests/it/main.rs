//! Integration tests of flowforge-remote: a real bare repository and clones over `file://`,
//! the real `git` CLI; one module per concept.

mod claims;
mod faults;
mod publish;
mod support;
