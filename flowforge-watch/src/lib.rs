//! The file watcher FlowForge's caches share: the git view (flowforge-git) and the namespace
//! index (flowforge-index) each watch a tree with it.
//!
//! A [`Watcher`] runs a notify watcher (inotify on Linux) and hands every event to the
//! caller's [`Events`], which records what the event changed; nothing is computed on the
//! event. Three things are the same for every caller and live here:
//!
//! - **Watching a tree**: recursively through notify, or one directory at a time
//!   ([`Watcher::watch_tree`]: the walk uses the directory entries' own types, no `stat` per
//!   file, and skips directories whose events change no answer).
//! - **Cookies** (watchman's technique): [`Watcher::sync`] writes a uniquely named file in a
//!   watched directory and waits until its event comes back; inotify queues events in order,
//!   so every change made before the call has then been recorded. Cookies are batched like a
//!   group commit: 100 threads syncing at once write two cookies, not 100. The caller decides
//!   how a cookie file is written ([`CookieFiles`]): the namespace index writes its own
//!   through flowforge-session, which never follows a link under the namespace root.
//! - **Lost events**: a queue overflow is reported as [`Events::lost`] (everything may have
//!   changed) and counts as every earlier cookie seen; a watcher error is
//!   [`Events::error`], and when the caller says the watcher can no longer be trusted every
//!   later sync fails with [`CookieError::Broken`].
//!
//! ```
//! use std::{path::Path, sync::atomic::{AtomicUsize, Ordering}, time::Duration};
//! use flowforge_watch::{Events, StdCookieFiles, Watcher};
//!
//! #[derive(Debug, Default)]
//! struct Count(AtomicUsize);
//! impl Events for Count {
//!     fn changed(&self, event: &notify::Event) {
//!         self.0.fetch_add(event.paths.len(), Ordering::Relaxed);
//!     }
//!     fn lost(&self) {}
//!     fn error(&self, _: &notify::Error) -> bool { true }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let watcher = Watcher::new(Count::default(), StdCookieFiles::new(dir.path().to_owned()));
//! watcher.start(notify::Config::default())?;
//! watcher.watch(dir.path(), notify::RecursiveMode::Recursive)?;
//! std::fs::write(dir.path().join("a.txt"), "hello")?;
//! watcher.sync(Duration::from_secs(10))?;
//! assert!(watcher.events().0.load(Ordering::Relaxed) >= 1, "the write was seen before sync returned");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod cookie;
mod tree;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use parking_lot::Mutex;

use cookie::Cookies;
pub use cookie::{CookieError, CookieFiles, StdCookieFiles};

/// What a caller makes of the events: called on the watcher's thread, so it records and
/// returns (nothing is computed here).
pub trait Events: Send + Sync + 'static {
    /// Records what `event` changed. Its paths may include this watcher's own cookie files,
    /// which change nothing.
    fn changed(&self, event: &notify::Event);
    /// Events were lost (the queue overflowed): everything may have changed.
    fn lost(&self);
    /// The watcher reported `error`; returns whether it can no longer be trusted (every later
    /// [`Watcher::sync`] then fails).
    fn error(&self, error: &notify::Error) -> bool;
}

/// A notify watcher feeding an [`Events`], with cookie syncs.
pub struct Watcher<E: Events> {
    notify: Mutex<Option<RecommendedWatcher>>,
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    events: E,
    cookies: Cookies,
}

impl<E: Events + std::fmt::Debug> std::fmt::Debug for Watcher<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("events", &self.shared.events)
            .field("cookies", &self.shared.cookies)
            .finish_non_exhaustive()
    }
}

impl<E: Events> Shared<E> {
    fn handle(&self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                if self.events.error(&e) {
                    self.cookies.break_all();
                }
                return;
            }
        };
        if event.need_rescan() {
            self.events.lost();
            // Everything is recorded as changed after this point: earlier cookies are covered.
            self.cookies.all_seen();
            return;
        }
        self.events.changed(&event);
        // After the changes are recorded: a caller woken by its cookie sees them.
        for path in &event.paths {
            if path.parent() == Some(self.cookies.dir()) {
                if let Some(name) = path.file_name() {
                    self.cookies.observed(name);
                }
            }
        }
    }
}

impl<E: Events> Watcher<E> {
    /// A watcher that will hand its events to `events` and write its cookies with `cookies`
    /// (in a directory that must be watched). Nothing is watched until [`Watcher::start`].
    pub fn new(events: E, cookies: impl CookieFiles) -> Self {
        Self {
            notify: Mutex::new(None),
            shared: Arc::new(Shared {
                events,
                cookies: Cookies::new(Box::new(cookies)),
            }),
        }
    }

    /// Starts the notify watcher with `config` (nothing watched yet).
    ///
    /// # Errors
    /// notify's error when no watcher can be made (no inotify instance left).
    pub fn start(&self, config: notify::Config) -> Result<(), notify::Error> {
        let shared = Arc::clone(&self.shared);
        let watcher = RecommendedWatcher::new(move |event| shared.handle(event), config)?;
        *self.notify.lock() = Some(watcher);
        Ok(())
    }

    /// Stops watching: no event arrives any more.
    pub fn stop(&self) {
        *self.notify.lock() = None;
    }

    /// The caller's events.
    pub fn events(&self) -> &E {
        &self.shared.events
    }

    /// Watches `path` (`mode`: recursively, notify adding new directories as they appear, or
    /// that directory only).
    ///
    /// # Errors
    /// notify's error; [`notify::ErrorKind::WatchNotFound`] when the watcher is not started.
    pub fn watch(&self, path: &Path, mode: RecursiveMode) -> Result<(), notify::Error> {
        match self.notify.lock().as_mut() {
            Some(watcher) => watcher.watch(path, mode),
            None => Err(notify::Error::new(notify::ErrorKind::WatchNotFound)),
        }
    }

    /// Watches `dir` and every directory below it, one non-recursive watch each (symbolic
    /// links are entries, not followed), except the directories in `skip` and what is below
    /// them. A directory created later is not watched until this is called on it.
    ///
    /// # Errors
    /// The first watch that fails for another reason than its directory having vanished
    /// (typically the inotify watch limit); [`notify::ErrorKind::WatchNotFound`] when the
    /// watcher is not started.
    pub fn watch_tree(&self, dir: &Path, skip: &[PathBuf]) -> Result<(), notify::Error> {
        match self.notify.lock().as_mut() {
            Some(watcher) => tree::watch_tree(watcher, dir, skip),
            None => Err(notify::Error::new(notify::ErrorKind::WatchNotFound)),
        }
    }

    /// Returns once every event that happened before this call has been handed to
    /// [`Events`], waiting at most `timeout` for the watcher.
    ///
    /// # Errors
    /// See [`CookieError`].
    pub fn sync(&self, timeout: Duration) -> Result<(), CookieError> {
        self.shared.cookies.sync(timeout)
    }

    /// Stops trusting the watcher: every waiting and later [`Watcher::sync`] fails with
    /// [`CookieError::Broken`].
    pub fn distrust(&self) {
        self.shared.cookies.break_all();
    }
}
