//! The cache that is never silently stale.
//!
//! [`GitView`] serves the status and the ref snapshot of one repository to every thread and
//! every developer. A filesystem watcher (inotify, one watch per directory) records what changed; the next
//! question refreshes only that (a work-tree path on its own, the staged side after an index or
//! `HEAD` change, everything after a configuration change); concurrent questions share one
//! computation (a single-flight cell).
//!
//! Every question names the [`Freshness`] it needs, and every answer says what it got
//! ([`Fresh`]):
//!
//! | asked | the answer includes | how |
//! |---|---|---|
//! | [`Freshness::Synced`] | every change made before the call | a cookie round trip: a file written under `.git/flowforge-cookies/` and seen by the watcher |
//! | [`Freshness::Cached`] | every change the watcher has reported | no file-system round trip |
//! | [`Freshness::MaxAge`] | changes up to `age` ago | a time-to-live cache, as the bash tools kept |
//!
//! Where the watcher cannot run (no inotify watch left, a filesystem without events, a
//! failure while running) the view says why on stderr once, counts every call answered by
//! recomputing in the `git_watch_fallback` counter, and recomputes: answers stay exact, only
//! slower. A queue overflow makes the next answer a full recompute.
//!
//! ```
//! use flowforge_git::{Fresh, Freshness, GitView, ViewOptions};
//! # let dir = tempfile::tempdir()?;
//! # git2::Repository::init(dir.path())?;
//! let view = GitView::open(dir.path(), &ViewOptions::default())?;
//! let first = view.status(Freshness::Synced)?;
//! assert!(first.value.is_clean());
//!
//! // A change made just before a synced call is in its answer.
//! std::fs::write(dir.path().join("new.txt"), "hello\n")?;
//! let second = view.status(Freshness::Synced)?;
//! assert_eq!(second.value.untracked_count(), 1);
//! assert!(matches!(second.fresh, Fresh::Synced | Fresh::Recomputed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod flight;
mod view;

use std::{sync::Arc, time::Duration};

pub use view::{CacheStats, GitView, ViewOptions, WatchMode};

/// Metric names this module records into [`flowforge_core::metrics::Registry::global`], besides
/// [`cache_hit_rate`](flowforge_core::metrics::names::CACHE_HIT_RATE) (status hits against
/// misses) and [`git_sync_time`](flowforge_core::metrics::names::GIT_SYNC_TIME).
pub mod names {
    /// Counter: answers computed from nothing because no watcher could be trusted.
    pub const GIT_WATCH_FALLBACK: &str = "git_watch_fallback";
    /// Counter: watcher queue overflows (each one forces a full recompute).
    pub const GIT_WATCH_OVERFLOW: &str = "git_watch_overflow";
}

/// How fresh an answer the caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Freshness {
    /// Includes every change made before the call (watchman's cookie technique).
    #[default]
    Synced,
    /// Includes every change the watcher has reported so far, without waiting for it.
    Cached,
    /// Any answer computed less than this long ago (the bash tools cached for 5 seconds); older answers are
    /// refreshed as [`Freshness::Cached`].
    MaxAge(Duration),
}

/// How fresh an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fresh {
    /// Includes every change made before the question (cookie round trip done).
    Synced,
    /// Includes every change the watcher had reported when asked.
    Watched,
    /// Recomputed after the question began, without a watcher: as fresh as `Synced`.
    Recomputed,
    /// Computed this long before the question and not checked since: may miss changes
    /// (asked for with [`Freshness::MaxAge`]).
    Aged(Duration),
}

/// An answer and how fresh it is.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The value, shared with every caller that received the same answer.
    pub value: Arc<T>,
    /// How fresh it is.
    pub fresh: Fresh,
    /// Whether this call ran the computation (`false`: a hit, or another caller's
    /// computation shared).
    pub computed: bool,
}
