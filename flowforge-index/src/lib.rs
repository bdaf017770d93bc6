//! The FlowForge namespace index: cross-developer queries, team reports and the live monitor.
//!
//! [`Index`] loads every namespace under a root once (sessions, session history, time tracking,
//! the git status cache, claims and registrations) and answers team-wide questions from memory:
//! who holds a task ([`Index::who`]), who is active ([`Index::active`]), which tasks match a
//! pattern and whether work runs in parallel ([`Index::tasks`]), conflicts, time per developer
//! and task over a range, and who touches a path. [`Index::refresh`] reloads only namespaces
//! whose stamp moved; with a [`Watcher`], only the namespaces file events name are checked, so a
//! refresh costs what changed, not the team's size. [`Index::save_snapshot`] and [`Index::open`]
//! make a cold start cheap.
//! [`report`] renders team reports (markdown, JSON, CSV) and [`monitor`] the live monitor's
//! frames.
//!
//! A namespace with a corrupt or unreadable file is left out of every answer and listed by
//! [`Index::problems`]; so is a `dev-*` entry whose name is not a valid developer id.
//!
//! flowforge-index never writes a namespace file: it reads through flowforge-session and
//! persists only its own snapshot under `index/`. It knows nothing about git.
//!
//! ```
//! use flowforge_core::{Layout, TaskId};
//! use flowforge_index::{Index, Pattern};
//! let repo = tempfile::tempdir()?;
//! let layout = Layout::for_repo(repo.path());
//! let index = Index::build(&layout)?;
//! let task: TaskId = "feature-auth-1".parse()?;
//! assert_eq!(index.who(&task).holder, None);
//! assert!(!index.tasks(&Pattern::new("feature-auth-*")).parallel);
//! index.save_snapshot()?; // nothing to save: the root does not exist
//! assert!(!layout.index_snapshot().exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "flowforge-index needs Unix: a namespace's stamp mixes the inode numbers and change times of its files"
);

mod error;
mod index;
pub mod monitor;
mod pattern;
mod query;
mod record;
pub mod report;
mod snapshot;
mod source;
mod team;
mod watch;

pub use error::{Error, Result};
pub use index::{CacheCounts, Index, RefreshStats};
pub use pattern::Pattern;
pub use query::{ActiveDeveloper, Conflict, ConflictKind, TaskHolder, TaskMatches, TimeRange};
pub use record::{ClaimRecord, DevRecord, Problem};
pub use snapshot::{Opened, SNAPSHOT_FORMAT, StartedFrom};
pub use watch::{ChangeSignal, Watcher};
