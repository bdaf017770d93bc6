//! The filesystem watcher: watches on every directory of the work tree and the git
//! directory, turned into the set of recomputations the next answer needs.
//!
//! The watcher itself (inotify, syncs, lost events) is flowforge-watch's, shared with the
//! namespace index; this module says what a repository's events mean. On Linux it is one
//! inotify watch per directory (a 1,000-directory work tree takes about 1,050 watches:
//! `.git/objects` and `.git/logs` are not watched, nor the top-level directories git ignores
//! and tracks nothing in, such as FlowForge's own `.flowforge/` with its thousands of
//! namespace directories; they are watched as soon as the index or the ignore rules change so
//! that git may read them). Events are classified as they arrive
//! ([`classify`](classify::classify)) and accumulated in [`Pending`]: work-tree paths to
//! refresh, an index/`HEAD` change, a ref change, or "everything". Nothing is recomputed here;
//! the cache does that lazily, on the next question.
//!
//! The watcher can fail: no inotify instance or watch left, a filesystem that delivers no
//! events (checked with a cookie round trip at start), a queue overflow (recovered by
//! recomputing everything), or an error while adding the watch of a new directory. A failed
//! watcher is never trusted again: the cache falls back to recomputing on every call.

pub(crate) mod classify;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use flowforge_watch::{CookieError, StdCookieFiles, Watcher};
use notify::Event;
use parking_lot::Mutex;

pub(crate) use classify::{Class, Roots};

/// The directory (under the git directory) that holds cookie files.
pub(crate) const COOKIE_DIR_NAME: &str = "flowforge-cookies";

/// Beyond this many changed paths, refreshing them one by one costs more than a full status.
const MAX_PENDING_PATHS: usize = 2048;

/// What changed since the last answer, for the status.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct StatusChanges {
    /// Recompute from nothing.
    pub full: bool,
    /// The index or `HEAD` (or the commit `HEAD`'s branch points at) changed.
    pub index: bool,
    /// Work-tree paths (relative to the work tree) whose entries, and everything below them,
    /// must be refreshed.
    pub paths: BTreeSet<PathBuf>,
    /// Of `paths`, those that may be new directories: watched before they are read.
    pub maybe_dirs: BTreeSet<PathBuf>,
}

impl StatusChanges {
    fn add_path(&mut self, path: PathBuf, maybe_dir: bool) {
        if self.full {
            return;
        }
        if self.paths.len() >= MAX_PENDING_PATHS {
            self.everything();
            return;
        }
        if maybe_dir {
            self.maybe_dirs.insert(path.clone());
        }
        self.paths.insert(path);
    }

    fn everything(&mut self) {
        self.full = true;
        self.paths.clear();
        self.maybe_dirs.clear();
    }

    /// Merges `other` (changes taken by a computation that failed) back in.
    pub(crate) fn merge(&mut self, other: StatusChanges) {
        if other.full {
            self.everything();
        }
        self.index |= other.index;
        for path in other.paths {
            let maybe_dir = other.maybe_dirs.contains(&path);
            self.add_path(path, maybe_dir);
        }
    }
}

/// Everything the watcher has seen and nobody has recomputed yet.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Changes for the status.
    pub status: StatusChanges,
    /// Grows with every event that changes the status.
    pub status_version: u64,
    /// Grows with every event that changes a ref or `HEAD`.
    pub refs_version: u64,
    /// The work tree or git directory was deleted or moved.
    pub gone: bool,
    /// Queue overflows seen (each made everything pending).
    pub overflows: u64,
}

/// State shared between the watcher's thread and the cache.
#[derive(Debug)]
pub(crate) struct Shared {
    roots: Roots,
    pending: Mutex<Pending>,
    failure: Mutex<Option<String>>,
}

/// A running watcher over one repository.
#[derive(Debug)]
pub(crate) struct Watch {
    watcher: Watcher<Shared>,
    cookie_timeout: Duration,
    /// Top-level work-tree directories not watched: git ignores them and tracks nothing in
    /// them, so nothing inside can change a status (FlowForge's own `.flowforge/`, build
    /// output). See [`Watch::keep_skipping`].
    skipped: Mutex<Vec<PathBuf>>,
}

impl Shared {
    fn new(roots: Roots) -> Self {
        Self {
            roots,
            pending: Mutex::new(Pending::default()),
            failure: Mutex::new(None),
        }
    }

    /// The pending changes, locked.
    pub(crate) fn pending(&self) -> parking_lot::MutexGuard<'_, Pending> {
        self.pending.lock()
    }

    /// Why the watcher can no longer be trusted, if it cannot.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// Records that the watcher is untrusted (the first reason wins) and logs one line.
    fn record_failure(&self, reason: String) {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            eprintln!(
                "flowforge-git: watcher of {} stopped ({reason}); recomputing on every call",
                self.roots.workdir.display()
            );
            *failure = Some(reason);
        }
    }
}

impl flowforge_watch::Events for Shared {
    fn error(&self, error: &notify::Error) -> bool {
        self.record_failure(format!("watcher error: {error}"));
        true
    }

    fn lost(&self) {
        let mut pending = self.pending.lock();
        pending.status.everything();
        pending.status_version += 1;
        pending.refs_version += 1;
        pending.overflows += 1;
    }

    fn changed(&self, event: &Event) {
        let mut pending = self.pending.lock();
        for path in &event.paths {
            match classify::classify(&self.roots, &event.kind, path) {
                // The watcher's own cookies are flowforge-watch's to observe.
                Class::Ignore | Class::Cookie(_) => {}
                Class::WorkTree(rel) => {
                    pending.status.add_path(rel, false);
                    pending.status_version += 1;
                }
                Class::MaybeNewDir(rel) => {
                    pending.status.add_path(rel, true);
                    pending.status_version += 1;
                }
                Class::Index => {
                    pending.status.index = true;
                    pending.status_version += 1;
                    pending.refs_version += 1;
                }
                Class::Refs => {
                    // HEAD's branch may be the ref that moved.
                    pending.status.index = true;
                    pending.status_version += 1;
                    pending.refs_version += 1;
                }
                Class::Everything => {
                    pending.status.everything();
                    pending.status_version += 1;
                    pending.refs_version += 1;
                }
                Class::Gone => {
                    pending.gone = true;
                    pending.status_version += 1;
                    pending.refs_version += 1;
                }
            }
        }
    }
}

impl Watch {
    /// Starts watching `roots` and proves, with one cookie round trip, that events arrive.
    ///
    /// Never fails: when the watcher cannot run here, the returned watch is unhealthy (see
    /// [`Shared::failure`]), one line says why on stderr, and the cache recomputes on every
    /// call.
    pub(crate) fn start(roots: Roots, cookie_timeout: Duration, skipped: Vec<PathBuf>) -> Self {
        let watch = Self::new(roots, cookie_timeout);
        *watch.skipped.lock() = skipped;
        if let Err(reason) = watch.try_start() {
            watch.fail(reason);
            watch.watcher.stop();
            return watch;
        }
        // A filesystem without events (some network filesystems) times out here.
        if let Err(e) = watch.sync() {
            let reason = match e {
                CookieError::Write(why) => why,
                CookieError::Timeout => "the filesystem delivers no events".to_owned(),
                _ => "the watcher failed while starting".to_owned(),
            };
            watch.fail(reason);
            watch.watcher.stop();
        }
        watch
    }

    /// No watcher at all (by choice, for one-shot processes): every call recomputes, and
    /// nothing is logged.
    pub(crate) fn disabled(roots: Roots) -> Self {
        let watch = Self::new(roots, Duration::ZERO);
        *watch.shared().failure.lock() = Some("watching disabled".to_owned());
        watch
    }

    fn new(roots: Roots, cookie_timeout: Duration) -> Self {
        let cookies = StdCookieFiles::new(roots.git_dir.join(COOKIE_DIR_NAME));
        Self {
            watcher: Watcher::new(Shared::new(roots), cookies),
            cookie_timeout,
            skipped: Mutex::new(Vec::new()),
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let roots = &self.shared().roots;
        let cookie_dir = roots.git_dir.join(COOKIE_DIR_NAME);
        create_private_dir(&cookie_dir)
            .map_err(|e| format!("cannot create {}: {e}", cookie_dir.display()))?;
        // Git does not follow symbolic links in the work tree (a link is an entry of its own),
        // and following them could watch far outside the repository.
        let config = notify::Config::default().with_follow_symlinks(false);
        (self.watcher.start(config))
            .map_err(|e| format!("cannot start a watcher: {}", describe(&e)))?;
        for root in watch_roots(roots) {
            (self.watcher.watch_tree(&root, &self.unwatched()))
                .map_err(|e| format!("cannot watch {}: {}", root.display(), describe(&e)))?;
        }
        Ok(())
    }

    /// Marks the watcher untrusted (the first reason wins), logs one line, and fails every
    /// waiting and later sync.
    pub(crate) fn fail(&self, reason: String) {
        self.shared().record_failure(reason);
        self.watcher.distrust();
    }

    /// True while the watcher runs and has never failed: its events can be trusted.
    pub(crate) fn is_healthy(&self) -> bool {
        self.shared().failure().is_none()
    }

    /// The state shared with the watcher's thread.
    pub(crate) fn shared(&self) -> &Shared {
        self.watcher.events()
    }

    /// Returns once every event that happened before this call is in [`Pending`].
    ///
    /// # Errors
    /// See [`CookieError`].
    pub(crate) fn sync(&self) -> Result<(), CookieError> {
        self.watcher.sync(self.cookie_timeout)
    }

    /// Makes sure `dir` (absolute) and every directory below it are watched, before it is read:
    /// a directory created after the start is not watched until then, and the cache refreshes
    /// it whole afterwards, so nothing created in it is missed. Returns `false` (and fails the
    /// watcher) when a watch cannot be added.
    pub(crate) fn ensure_watched(&self, dir: &Path) -> bool {
        if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            return true; // gone again, or not a directory: nothing to watch
        }
        // Never called with `pending` locked: the watcher's thread takes that lock. A stopped
        // watcher has failed already: failing again changes nothing.
        match (self.watcher).watch_tree(dir, &self.unwatched()) {
            Ok(()) => true,
            Err(e) => {
                self.fail(format!("cannot watch {}: {}", dir.display(), describe(&e)));
                false
            }
        }
    }

    /// Keeps skipping only the directories in `still` (what git ignores and tracks nothing in
    /// now), and watches the others from now on. Returns those: the caller reads them whole
    /// after this (a full status), so nothing that changed in them while unwatched is
    /// missed. Call it before any status that may read them: after the index or the ignore
    /// rules changed.
    pub(crate) fn keep_skipping(&self, still: &[PathBuf]) -> Vec<PathBuf> {
        let unskipped: Vec<PathBuf> = {
            let mut skipped = self.skipped.lock();
            let (keep, unskip) = skipped.drain(..).partition(|dir| still.contains(dir));
            *skipped = keep;
            unskip
        };
        for dir in &unskipped {
            self.ensure_watched(dir);
        }
        unskipped
    }

    /// Whether some directory is skipped.
    pub(crate) fn skips_any(&self) -> bool {
        !self.skipped.lock().is_empty()
    }

    /// The directories not watched: git's object and log directories, and the skipped ones.
    fn unwatched(&self) -> Vec<PathBuf> {
        let roots = &self.shared().roots;
        let mut dirs = vec![
            roots.git_dir.join("objects"),
            roots.git_dir.join("logs"),
            roots.common_dir.join("objects"),
            roots.common_dir.join("logs"),
        ];
        dirs.extend(self.skipped.lock().iter().cloned());
        dirs
    }

    /// Watches every directory again (after events were lost, directories created meanwhile
    /// may be unwatched). Returns `false` (and fails the watcher) when a watch cannot be added.
    pub(crate) fn ensure_all_watched(&self) -> bool {
        watch_roots(&self.shared().roots)
            .iter()
            .all(|root| self.ensure_watched(root))
    }
}

/// The roots whose trees are watched: the work tree, and the git and common directories when
/// they are not inside it (linked worktrees, `GIT_DIR` elsewhere).
fn watch_roots(roots: &Roots) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for candidate in [&roots.workdir, &roots.common_dir, &roots.git_dir] {
        if !out.iter().any(|r| candidate.starts_with(r)) {
            out.retain(|r| !r.starts_with(candidate));
            out.push(candidate.clone());
        }
    }
    out
}

fn describe(e: &notify::Error) -> String {
    match e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "inotify watch limit reached (see fs.inotify.max_user_watches)".to_owned()
        }
        _ => e.to_string(),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_roots_are_watched_once() {
        let roots = Roots {
            workdir: "/r".into(),
            git_dir: "/r/.git".into(),
            common_dir: "/r/.git".into(),
        };
        assert_eq!(watch_roots(&roots), [PathBuf::from("/r")]);
        let linked = Roots {
            workdir: "/wt".into(),
            git_dir: "/main/.git/worktrees/wt".into(),
            common_dir: "/main/.git".into(),
        };
        assert_eq!(
            watch_roots(&linked),
            [PathBuf::from("/wt"), PathBuf::from("/main/.git")]
        );
    }
}
