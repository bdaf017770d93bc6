//! One cached, batched, watched view of git, shared by every FlowForge developer.
//!
//! This crate will own everything FlowForge asks of git: a `Send + Sync` repository handle on
//! libgit2 that spawns no `git` process; working-tree status identical to `git status
//! --porcelain=v1` (and its `-z` and `--branch` forms); a cache invalidated by a filesystem
//! watcher with *synced*, *cached* and *max-age* freshness, single flight for concurrent
//! misses; one batched pass over refs; and the per-developer *git sync* view built from one
//! status and one ref snapshot. It knows nothing about sessions, claims or the namespace files.
//!
//! Until that lands it exposes only the name of the base branch FlowForge compares against.
//!
//! ```
//! assert_eq!(flowforge_git::DEFAULT_BASE_BRANCH, "main");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

/// The branch developers' branches are compared with when none is configured.
pub const DEFAULT_BASE_BRANCH: &str = "main";
