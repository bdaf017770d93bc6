//! The file watcher FlowForge's caches share: the git view (flowforge-git) and the namespace
//! index (flowforge-index) each watch a tree with it.
//!
//! A [`Watcher`] runs a watcher (on Linux, inotify read by this crate; elsewhere notify's
//! recommended watcher) and hands every event to the caller's [`Events`], which records what
//! the event changed; nothing is computed on the event. Open, read and unwritten-close events
//! are never asked for: they change nothing, and on a busy tree they are most events. Three
//! things are the same for every caller and live here:
//!
//! - **Watching a tree**: recursively through notify, or one directory at a time
//!   ([`Watcher::watch_tree`]: the walk uses the directory entries' own types, no `stat` per
//!   file, and skips directories whose events change no answer).
//! - **Syncing**: [`Watcher::sync`] returns once every change made before the call has been
//!   recorded. On Linux, inotify queues an event in the system call that makes the change, so
//!   reading the queue empty on the caller's thread proves it: no file is written and no
//!   thread woken. The first sync of a watcher (and every sync elsewhere) uses watchman's
//!   *cookie*: a uniquely named file written in a watched directory, waited for until its
//!   event comes back; on Linux that proves once that the filesystem delivers events at all
//!   (some network and FUSE filesystems deliver none). Cookies are batched like a group
//!   commit: 100 threads syncing at once write two cookies, not 100. The caller decides how a
//!   cookie file is written ([`CookieFiles`]): the namespace index writes its own through
//!   flowforge-session, which never follows a link under the namespace root.
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
#[cfg(target_os = "linux")]
mod inotify;
mod tree;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

use notify::RecursiveMode;
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

/// The watcher underneath: inotify read here on Linux, notify's elsewhere.
#[cfg(target_os = "linux")]
type Backend = inotify::Backend;
#[cfg(not(target_os = "linux"))]
type Backend = notify::RecommendedWatcher;

/// A watcher feeding an [`Events`], with syncs that prove every earlier event was handled.
pub struct Watcher<E: Events> {
    notify: Mutex<Option<Backend>>,
    shared: Arc<Shared<E>>,
    /// A cookie came back once: from now on a sync drains the queue instead.
    #[cfg(target_os = "linux")]
    proven: AtomicBool,
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

/// Adds one watch, whichever the backend.
fn watch_one(watcher: &mut Backend, path: &Path, mode: RecursiveMode) -> Result<(), notify::Error> {
    #[cfg(not(target_os = "linux"))]
    use notify::Watcher as _;
    watcher.watch(path, mode)
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
            #[cfg(target_os = "linux")]
            proven: AtomicBool::new(false),
        }
    }

    /// Starts the watcher with `config` (nothing watched yet; of the settings, only whether
    /// symbolic links are followed counts on Linux).
    ///
    /// # Errors
    /// notify's error when no watcher can be made (no inotify instance left).
    pub fn start(&self, config: notify::Config) -> Result<(), notify::Error> {
        let shared = Arc::clone(&self.shared);
        #[cfg(target_os = "linux")]
        let watcher = Backend::new(Box::new(move |event| shared.handle(event)), config)?;
        #[cfg(not(target_os = "linux"))]
        let watcher = {
            use notify::Watcher as _;
            Backend::new(move |event| shared.handle(event), config)?
        };
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
            Some(watcher) => watch_one(watcher, path, mode),
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
            Some(watcher) => tree::watch_tree(
                |path| watch_one(watcher, path, RecursiveMode::NonRecursive),
                |_, _| {},
                dir,
                skip,
            ),
            None => Err(notify::Error::new(notify::ErrorKind::WatchNotFound)),
        }
    }

    /// Returns once every event that happened before this call has been handed to
    /// [`Events`], waiting at most `timeout` for the watcher.
    ///
    /// # Errors
    /// See [`CookieError`].
    pub fn sync(&self, timeout: Duration) -> Result<(), CookieError> {
        #[cfg(target_os = "linux")]
        if self.proven.load(Ordering::Acquire) {
            // Every change made before this call has its event queued: read them all.
            match self.notify.lock().as_ref() {
                Some(watcher) => watcher.drain(),
                None => return Err(CookieError::Broken),
            }
            return self.shared.cookies.check();
        }
        self.shared.cookies.sync(timeout)?;
        #[cfg(target_os = "linux")]
        self.proven.store(true, Ordering::Release);
        Ok(())
    }

    /// Stops trusting the watcher: every waiting and later [`Watcher::sync`] fails with
    /// [`CookieError::Broken`].
    pub fn distrust(&self) {
        self.shared.cookies.break_all();
    }
}
