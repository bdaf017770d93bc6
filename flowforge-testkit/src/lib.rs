//! What FlowForge's tests, examples and benches share, so that each mechanism exists once.
//!
//! - [`git`]: the one runner of the real `git` program, the reference implementation every
//!   test compares against and the tool every fixture is built with.
//! - [`TestRepo`]: a repository made by `git init` in a temporary directory.
//! - [`bash_tools`]: namespace files written with plain `std::fs`, the way FlowForge's bash
//!   tools write them (outside flowforge-session's store).
//!
//! Nothing here is part of a published crate's API: the crate is `publish = false` and is a
//! dev-dependency everywhere except the (unpublished) bench.
//!
//! ```
//! let repo = flowforge_testkit::TestRepo::new();
//! repo.write("a.txt", "a\n");
//! repo.git_ok(&["add", "a.txt"]);
//! assert_eq!(repo.git_stdout(&["ls-files"]), "a.txt\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("flowforge-testkit needs Unix: namespace files are made private with Unix modes");

pub mod bash_tools;
pub mod git;
mod repo;

pub use git::GitError;
pub use repo::TestRepo;
