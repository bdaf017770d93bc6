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
    fs, io,
    path::{Path, PathBuf},
    time::Duration,
};

use parking_lot::{Condvar, Mutex};

/// The directory (under the git directory) that holds cookie files.
pub(crate) const COOKIE_DIR_NAME: &str = "flowforge-cookies";

/// Cookie files are named `<prefix><pid>-<instance>-<n>`.
const COOKIE_PREFIX: &str = "cookie-";

/// Why a cookie round trip did not complete.
#[derive(Debug)]
pub(crate) enum CookieError {
    /// The cookie file could not be written (the repository was deleted or moved, or the disk
    /// refuses writes).
    Write(PathBuf, io::Error),
    /// The watcher did not report the cookie in time: it has stopped delivering events.
    Timeout,
    /// The watcher reported a failure; its events can no longer be trusted.
    Broken,
}

/// Cookie bookkeeping shared between callers and the watcher's event handler.
#[derive(Debug)]
pub(crate) struct Cookies {
    dir: PathBuf,
    /// Distinguishes the cookies of several caches in one process.
    instance: u64,
    state: Mutex<State>,
    seen: Condvar,
    timeout: Duration,
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
    /// Cookies written in `dir` (which must exist and be watched), waiting up to `timeout`.
    pub(crate) fn new(dir: PathBuf, timeout: Duration) -> Self {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            dir,
            instance,
            state: Mutex::new(State::default()),
            seen: Condvar::new(),
            timeout,
        }
    }

    /// The directory holding the cookie files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns once the watcher has reported a cookie written after this call began.
    pub(crate) fn sync(&self) -> Result<(), CookieError> {
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
            if self.seen.wait_for(&mut state, self.timeout).timed_out() {
                return Err(CookieError::Timeout);
            }
        }
        // We write the cookie numbered `state.next` (>= target) for everyone waiting.
        let number = state.next;
        state.next += 1;
        state.in_flight = true;
        drop(state);

        let path = self.path_of(number);
        let written = fs::File::create_new(&path);
        let mut state = self.state.lock();
        if let Err(e) = written {
            state.in_flight = false;
            self.seen.notify_all();
            return Err(CookieError::Write(path, e));
        }
        while state.seen_below <= number && !state.broken {
            if self.seen.wait_for(&mut state, self.timeout).timed_out() {
                state.in_flight = false;
                self.seen.notify_all();
                drop(state);
                let _ = fs::remove_file(&path);
                return Err(CookieError::Timeout);
            }
        }
        drop(state);
        // Its removal makes an event too, which the classifier ignores.
        let _ = fs::remove_file(&path);
        if self.state.lock().broken {
            return Err(CookieError::Broken);
        }
        Ok(())
    }

    /// Called by the event handler for a file in the cookie directory.
    pub(crate) fn observed(&self, name: &std::ffi::OsStr) {
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
    /// seen, because the caller has already marked everything for recomputation.
    pub(crate) fn all_seen(&self) {
        let mut state = self.state.lock();
        state.seen_below = state.next;
        state.in_flight = false;
        self.seen.notify_all();
    }

    /// Called when the watcher failed: every waiter and every later caller gets an error.
    pub(crate) fn break_all(&self) {
        self.state.lock().broken = true;
        self.seen.notify_all();
    }

    fn path_of(&self, number: u64) -> PathBuf {
        let pid = std::process::id();
        self.dir
            .join(format!("{COOKIE_PREFIX}{pid}-{}-{number}", self.instance))
    }

    fn parse(&self, name: &std::ffi::OsStr) -> Option<u64> {
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
