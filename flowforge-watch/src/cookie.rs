//! Watchman's cookie technique: proof that the watcher has delivered every earlier event.
//!
//! To learn that every change made before "now" has reached the watcher, write a uniquely
//! named file inside a watched directory and wait until the watcher reports it: inotify queues
//! events in order, so every earlier event has been handled by then.
//!
//! Cookies are batched like a group commit: at most one cookie is in flight; callers arriving
//! while one is in flight wait for the *next* cookie (written after they arrived), which one of
//! them writes for all. 100 threads syncing at once write two cookies, not 100.

use std::{
    ffi::OsStr,
    fmt, fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use parking_lot::{Condvar, Mutex};

/// Cookie files are named `<prefix><pid>-<instance>-<n>`.
const COOKIE_PREFIX: &str = "cookie-";

/// Why a cookie round trip did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum CookieError {
    /// The cookie file could not be written (the directory was deleted or moved, or the disk
    /// refuses writes): what [`CookieFiles::create`] said.
    Write(String),
    /// The watcher did not report the cookie in time: it has stopped delivering events.
    Timeout,
    /// The watcher is no longer trusted (see [`Events::error`](crate::Events::error)).
    Broken,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::Write(why) => f.write_str(why),
            CookieError::Timeout => f.write_str("the watcher did not report a cookie in time"),
            CookieError::Broken => f.write_str("the watcher is no longer trusted"),
        }
    }
}

impl std::error::Error for CookieError {}

/// How cookie files are written and removed, in one directory the watcher watches.
pub trait CookieFiles: Send + Sync + fmt::Debug + 'static {
    /// The directory holding the cookie files.
    fn dir(&self) -> &Path;
    /// Creates the empty file `name` in [`dir`](CookieFiles::dir), failing if anything
    /// already stands under that name.
    ///
    /// # Errors
    /// What went wrong, for people.
    fn create(&self, name: &str) -> Result<(), String>;
    /// Removes the file `name` (best effort: a cookie left behind is harmless).
    fn remove(&self, name: &str);
}

/// Cookie files written with `std::fs` in a directory of the caller's choice.
#[derive(Debug, Clone)]
pub struct StdCookieFiles {
    dir: PathBuf,
}

impl StdCookieFiles {
    /// Cookies in `dir`, which must exist before a sync.
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

impl CookieFiles for StdCookieFiles {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn create(&self, name: &str) -> Result<(), String> {
        let path = self.dir.join(name);
        fs::File::create_new(&path)
            .map(drop)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join(name));
    }
}

/// Cookie bookkeeping shared between callers and the watcher's event handler.
#[derive(Debug)]
pub(crate) struct Cookies {
    files: Box<dyn CookieFiles>,
    /// Distinguishes the cookies of several watchers in one process.
    instance: u64,
    state: Mutex<State>,
    seen: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The number the next cookie will carry.
    next: u64,
    /// Every cookie numbered below this has been seen (or made unnecessary).
    seen_below: u64,
    in_flight: bool,
    broken: bool,
}

impl Cookies {
    /// Cookies written by `files`.
    pub(crate) fn new(files: Box<dyn CookieFiles>) -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        Self {
            files,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State::default()),
            seen: Condvar::new(),
        }
    }

    /// The directory holding the cookie files.
    pub(crate) fn dir(&self) -> &Path {
        self.files.dir()
    }

    /// Returns once the watcher has reported a cookie written after this call began, waiting
    /// at most `timeout` at each step.
    pub(crate) fn sync(&self, timeout: Duration) -> Result<(), CookieError> {
        let mut state = self.state.lock();
        // The first cookie written after now carries a number >= `target`.
        let target = state.next;
        loop {
            if state.broken {
                return Err(CookieError::Broken);
            }
            if state.seen_below > target {
                return Ok(());
            }
            if !state.in_flight {
                break;
            }
            if self.seen.wait_for(&mut state, timeout).timed_out() {
                return Err(CookieError::Timeout);
            }
        }
        // We write the cookie numbered `state.next` (>= target) for everyone waiting.
        let number = state.next;
        state.next += 1;
        state.in_flight = true;
        drop(state);

        let name = self.name_of(number);
        let written = self.files.create(&name);
        let mut state = self.state.lock();
        if let Err(e) = written {
            state.in_flight = false;
            self.seen.notify_all();
            return Err(CookieError::Write(e));
        }
        while state.seen_below <= number && !state.broken {
            if self.seen.wait_for(&mut state, timeout).timed_out() {
                state.in_flight = false;
                self.seen.notify_all();
                drop(state);
                self.files.remove(&name);
                return Err(CookieError::Timeout);
            }
        }
        drop(state);
        // Its removal makes an event too, which changes nothing.
        self.files.remove(&name);
        if self.state.lock().broken {
            return Err(CookieError::Broken);
        }
        Ok(())
    }

    /// Fails as a sync does once the watcher is no longer trusted.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn check(&self) -> Result<(), CookieError> {
        if self.state.lock().broken {
            return Err(CookieError::Broken);
        }
        Ok(())
    }

    /// Called by the event handler for a file in the cookie directory.
    pub(crate) fn observed(&self, name: &OsStr) {
        let Some(number) = self.parse(name) else {
            return;
        };
        let mut state = self.state.lock();
        if number >= state.seen_below {
            state.seen_below = number + 1;
            state.in_flight = false;
            self.seen.notify_all();
        }
    }

    /// Called when events were lost (queue overflow): every cookie written so far counts as
    /// seen, because the caller has already marked everything as changed.
    pub(crate) fn all_seen(&self) {
        let mut state = self.state.lock();
        state.seen_below = state.next;
        state.in_flight = false;
        self.seen.notify_all();
    }

    /// Called when the watcher is no longer trusted: every waiter and every later caller gets
    /// an error.
    pub(crate) fn break_all(&self) {
        self.state.lock().broken = true;
        self.seen.notify_all();
    }

    fn name_of(&self, number: u64) -> String {
        let pid = std::process::id();
        format!("{COOKIE_PREFIX}{pid}-{}-{number}", self.instance)
    }

    fn parse(&self, name: &OsStr) -> Option<u64> {
        let name = name.to_str()?;
        let rest = name.strip_prefix(COOKIE_PREFIX)?;
        let mut parts = rest.split('-');
        let pid: u32 = parts.next()?.parse().ok()?;
        let instance: u64 = parts.next()?.parse().ok()?;
        let number: u64 = parts.next()?.parse().ok()?;
        (pid == std::process::id() && instance == self.instance && parts.next().is_none())
            .then_some(number)
    }
}
