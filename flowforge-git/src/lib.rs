//! One cached, batched, watched view of git, shared by every FlowForge developer.
//!
//! flowforge-git knows nothing about sessions, claims or namespace files. Everything goes
//! through libgit2 (vendored), except where libgit2 cannot give git's answer: a repository or
//! index it cannot read is answered by the `git` program itself ([`Engine::GitProgram`]).
//!
//! * [`Repo`] — a `Send + Sync`, cheaply cloned handle on a non-bare repository (a pool of
//!   libgit2 handles inside; see its docs).
//! * [`Status`] — the working-tree status exactly as `git status --porcelain=v1` reports it,
//!   computed cold by [`Repo::status`], with formatters for porcelain v1, `-z`, `--branch` and
//!   FlowForge's `git-status.json`; a [`StatusTracker`] ([`Repo::track_status`]) keeps one up
//!   to date through [`StatusTracker::refresh_paths`] (work tree changes) and
//!   [`StatusTracker::refresh_index_and_head`] (index, HEAD and ref changes).
//! * [`GitView`] — the cache every thread and developer shares: a filesystem watcher records
//!   what changed and the next question refreshes only that, with synced, cached or max-age
//!   [`Freshness`] and single flight ([`cache`]); one [`RefsSnapshot`] of every branch with
//!   ahead/behind ([`refs`]); and [`GitView::sync`], every developer's view from one status and
//!   one ref snapshot ([`sync`]).
//!
//! ```
//! use flowforge_git::{PorcelainOptions, Repo, StatusOptions};
//! # let dir = tempfile::tempdir()?;
//! # let git = git2::Repository::init(dir.path())?;
//! # std::fs::write(dir.path().join("tracked.txt"), "one\n")?;
//! # let mut index = git.index()?;
//! # index.add_path("tracked.txt".as_ref())?;
//! # index.write()?;
//! let repo = Repo::open(dir.path())?;
//! let status = repo.status(&StatusOptions::default())?;
//! assert_eq!(status.porcelain(PorcelainOptions::default()), b"A  tracked.txt\n");
//!
//! // A watcher saw one file change: a tracked status refreshes only that path.
//! let mut tracker = repo.track_status(&StatusOptions::default())?;
//! std::fs::write(dir.path().join("tracked.txt"), "two\n")?;
//! tracker.refresh_paths(&repo, &["tracked.txt".into()])?;
//! assert_eq!(tracker.status().porcelain(PorcelainOptions::default()), b"AM tracked.txt\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "flowforge-git needs Unix: status compares Unix file modes, inodes and ctimes as git does, and opens files relative to directory handles"
);

mod config;
mod error;
mod git_program;
mod repo;
pub mod status;

pub use error::{Error, Result};
pub use repo::Repo;
pub use status::{
    Change, Engine, Entry, EntryKind, Head, PorcelainOptions, Status, StatusOptions, StatusTracker,
    Unmerged, Upstream,
};

/// libgit2's Rust binding, a public dependency of this crate by decision: commit ids in
/// [`refs`] are [`git2::Oid`]s and [`Repo::with_git2`] lends a [`git2::Repository`] for what
/// this crate does not wrap. Use this re-export so that the versions always match.
pub use git2;

/// The branch developers' branches are compared with when none is configured.
pub const DEFAULT_BASE_BRANCH: &str = "main";

// The watched cache, batched refs and git sync.
pub mod cache;
pub mod refs;
pub mod sync;
mod watch;
pub use cache::{Answer, Fresh, Freshness, GitView, ViewOptions, WatchMode};
pub use refs::RefsSnapshot;
pub use sync::{DeveloperRequest, DeveloperSync, SyncReport, sync_once};
