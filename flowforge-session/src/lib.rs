//! Storage for FlowForge namespaces.
//!
//! flowforge-session owns every write under `.flowforge/`: namespace creation
//! ([`namespace::init`]), private atomic files (read through [`fs`]), the lock-free
//! compare-and-swap [`store`], and on top of it sessions, task claims and time tracking
//! ([`Namespace`]) with the `current.json` / `time-tracking.json` [`view`]s the bash tools
//! read. The other crates' few files are written here too, each through a function named for
//! it: the namespace index's snapshot and cookies ([`index_files`]), a git remote's pulled
//! view ([`pulled`]) and a report saved for people ([`export`]). It knows nothing about git.
//!
//! # Writing: a developer's namespace
//!
//! [`Namespace::open`] (the namespace must have been initialised) gives
//! [`start_session`](Namespace::start_session) (claims the task: among developers racing for
//! it exactly one wins, the others get [`Error::ClaimHeld`] naming the holder),
//! [`update_session`](Namespace::update_session), [`end_session`](Namespace::end_session)
//! (archives, releases the claim, adds the minutes), [`restore_session`](Namespace::restore_session)
//! and [`add_minutes`](Namespace::add_minutes). [`SessionOptions`] selects the durability:
//! `Sync` (the default: every version flushed, two flushes per write) or `Relaxed`.
//! Claims are released explicitly with [`claim::release`], never by a timeout. [`gc()`]
//! reclaims superseded versions and strays of crashed writers, safely while others write.
//!
//! # Reading: the API for indexers
//!
//! - [`load_namespace`] → [`NamespaceState`]: the session and the time tracking, each with its
//!   [`Version`](store::Version), and the ended sessions of the history.
//! - [`namespace_version`] → [`NamespaceVersion`]: `Eq`, a couple of small reads and `stat`s,
//!   no listing that grows with history; it changes whenever [`load_namespace`] would return
//!   something else. Refresh a namespace only when it changed.
//! - [`list_claims`] → every held [`Claim`] (task, holder, `claimed_at`, version): every
//!   claims shard read; [`ClaimsReader`] reads one shard and its [`ShardVersion`] (a hint
//!   read and a `stat` or two, whatever the number of claims ever made), and
//!   [`claims_version`] is every shard's.
//!
//! ```
//! use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo};
//! use flowforge_session::{AddMinutes, Namespace, SessionOptions, StartOptions};
//! let repo = tempfile::tempdir()?;
//! let layout = Layout::for_repo(repo.path());
//! let alice: DeveloperId = "alice".parse()?;
//! flowforge_session::namespace::init(&layout, &alice, &DeveloperInfo::default())?;
//!
//! let ns = Namespace::open(&layout, &alice, SessionOptions::relaxed())?;
//! let before = flowforge_session::namespace_version(&layout, &alice)?;
//! let task: TaskId = "feature-42".parse()?;
//! ns.start_session(&task, &StartOptions::default())?;
//! ns.add_minutes(30, &AddMinutes::default())?;
//!
//! let state = flowforge_session::load_namespace(&layout, &alice)?;
//! assert!(state.session.as_ref().is_some_and(|s| s.value.active));
//! assert_eq!(state.time.as_ref().map(|t| t.value.total_minutes), Some(30));
//! assert_ne!(state.version, before);
//! let claims = flowforge_session::list_claims(&layout)?;
//! assert_eq!((claims[0].holder(), &claims[0].task), (&alice, &task));
//!
//! ns.end_session()?;
//! assert!(flowforge_session::list_claims(&layout)?.is_empty());
//! assert_eq!(ns.history()?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "flowforge-session needs Unix: namespace files are 0600 and directories 0700, and versions are published with renameat2 or a hard link"
);

pub mod areas;
pub mod claim;
pub mod compat;
mod digits;
mod error;
pub mod export;
pub mod fs;
pub mod gc;

pub mod index_files;
pub mod migrate;
pub mod namespace;
pub mod pause;
pub mod pulled;
pub mod session;
pub mod state;
pub mod store;
pub mod switch;
pub mod time;
pub mod view;

pub use claim::{
    Claim, ClaimsReader, ClaimsVersion, ReleaseOptions, Released, ShardVersion, claims_version,
    list_claims,
};
pub use error::{Error, Result};
pub use gc::{GcOptions, GcReport, gc};
pub use namespace::{Namespace, SESSION_KEY, SessionOptions, TIME_KEY};
pub use session::{Ended, StartOptions, Started};
pub use state::{
    Documents, HistoryFile, NamespaceState, NamespaceVersion, is_history_name, load_namespace,
    namespace_version, read_documents, read_documents_after, read_history_files,
    session_history_reusing,
};
pub use time::{AddMinutes, Added, SegmentsRead};
