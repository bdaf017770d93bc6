//! Working-tree status identical to `git status --porcelain=v1`.
//!
//! A [`Status`] keeps the two sides git compares apart, so that each can be refreshed alone:
//!
//! * the **staged** side, HEAD against the index (with staged renames detected as git does),
//!   and the index's unmerged entries;
//! * the **unstaged** side, the index against the work tree, and the untracked entries
//!   (untracked directories collapsed to `dir/`, ignored files hidden).
//!
//! [`Repo::status`](crate::Repo::status) computes both from nothing.
//! [`Repo::track_status`](crate::Repo::track_status) returns them in a [`StatusTracker`]:
//! [`StatusTracker::refresh_paths`] recomputes only what a set of changed work-tree paths can
//! change; [`StatusTracker::refresh_index_and_head`] recomputes after the index, `HEAD` or a
//! ref changed. The formatters in [`format`](mod@format) print the result byte for byte as git
//! does.
//!
//! Inside, the types (`types.rs`: the status, its two sides and their entries) depend on
//! nothing else; two engines build them through their constructors (`libgit2.rs`: libgit2's
//! diffs; `fast/`: git's own strategy, with libgit2 for what it does not decide); the tracker
//! (`tracker.rs`) owns the refresh state the engines leave beside a status.

mod by_git;
mod fast;
mod filters;
pub mod format;
mod head;
mod ignore;
mod index;
pub(crate) mod index_file;
mod libgit2;
mod quote;
mod renames;
mod replace;
mod scope;
mod submodule;
mod tracker;
mod types;
mod untracked;
mod worktree_renames;

pub use format::PorcelainOptions;
pub use tracker::StatusTracker;
pub use types::{
    Change, Engine, Entry, EntryKind, Head, Status, StatusOptions, Unmerged, Upstream,
};
