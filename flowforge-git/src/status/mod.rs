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
//! [`Status::refresh_paths`] recomputes only what a set of changed work-tree paths can change;
//! [`Status::refresh_index_and_head`] recomputes after the index, `HEAD` or a ref changed.
//! The formatters in [`format`](mod@format) print the result byte for byte as git does.

mod by_git;
mod compute;
mod fast;
mod filters;
pub mod format;
mod head;
mod model;
mod quote;
mod refresh;
mod renames;
mod scope;
mod submodule;
mod untracked;
mod worktree_renames;

pub(crate) use compute::fresh_index;
pub use format::PorcelainOptions;
pub use head::{Head, Upstream};
pub use model::{Change, Engine, Entry, EntryKind, Status, StatusOptions, Unmerged};
