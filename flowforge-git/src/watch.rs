//! The filesystem watcher: notify watches on every directory of the work tree and the git
//! directory, turned into the set of recomputations the next answer needs.
//!
//! On Linux notify uses inotify with one watch per directory (a 1,000-directory work tree takes
//! about 1,050 watches: `.git/objects` and `.git/logs` are not watched, see [`tree`]). Events are classified as they arrive
//! ([`classify`](classify::classify)) and accumulated in [`Pending`]: work-tree paths to
//! refresh, an index/`HEAD` change, a ref change, or "everything". Nothing is recomputed here;
//! the cache does that lazily, on the next question.
//!
//! The watcher can fail: no inotify instance or watch left, a filesystem that delivers no
//! events (checked with a cookie round trip at start), a queue overflow (recovered by
//! recomputing everything), or an error while adding the watch of a new directory. A failed
//! watcher is never trusted again: the cache falls back to recomputing on every call.

pub(crate) mod classify;
pub(crate) mod tree;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use notify::{Event, RecommendedWatcher, Watcher as _};
use parking_lot::Mutex;

use crate::cache::cookie::{COOKIE_DIR_NAME, CookieError, Cookies};
pub(crate) use classify::{Class, Roots};

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
    cookies: Cookies,
    failure: Mutex<Option<String>>,
}

/// A running watcher over one repository.
pub(crate) struct Watch {
    watcher: Mutex<Option<RecommendedWatcher>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("shared", &self.shared)
            .finish()
    }
}

impl Shared {
    fn new(roots: Roots, cookie_dir: PathBuf, cookie_timeout: Duration) -> Self {
        Self {
            cookies: Cookies::new(cookie_dir, cookie_timeout),
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

    /// Marks the watcher untrusted (the first reason wins) and logs one line.
    pub(crate) fn fail(&self, reason: String) {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            eprintln!(
                "flowforge-git: watcher of {} stopped ({reason}); recomputing on every call",
                self.roots.workdir.display()
            );
            *failure = Some(reason);
        }
        drop(failure);
        self.cookies.break_all();
    }

    fn handle(&self, event: notify::Result<Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => return self.fail(format!("watcher error: {e}")),
        };
        if event.need_rescan() {
            let mut pending = self.pending.lock();
            pending.status.everything();
            pending.status_version += 1;
            pending.refs_version += 1;
            pending.overflows += 1;
            drop(pending);
            // Everything will be recomputed after this point: earlier cookies are covered.
            self.cookies.all_seen();
            return;
        }
        let mut cookies = Vec::new();
        let mut pending = self.pending.lock();
        for path in &event.paths {
            match classify::classify(&self.roots, &event.kind, path) {
                Class::Ignore => {}
                Class::Cookie(name) => cookies.push(name),
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
        drop(pending);
        // After the changes above are recorded: a caller woken by a cookie sees them.
        for name in cookies {
            self.cookies.observed(&name);
        }
    }
}

impl Watch {
    /// Starts watching `roots` and proves, with one cookie round trip, that events arrive.
    ///
    /// Never fails: when the watcher cannot run here, the returned watch is unhealthy (see
    /// [`Shared::failure`]), one line says why on stderr, and the cache recomputes on every
    /// call.
    pub(crate) fn start(roots: Roots, cookie_timeout: Duration) -> Self {
        let cookie_dir = roots.git_dir.join(COOKIE_DIR_NAME);
        let shared = Arc::new(Shared::new(roots, cookie_dir, cookie_timeout));
        match Self::try_start(&shared) {
            Ok(watcher) => {
                let watch = Self {
                    watcher: Mutex::new(Some(watcher)),
                    shared,
                };
                // A filesystem without events (some network filesystems) times out here.
                if let Err(e) = watch.sync() {
                    let reason = match e {
                        CookieError::Write(path, e) => {
                            format!("cannot write {}: {e}", path.display())
                        }
                        CookieError::Timeout => "the filesystem delivers no events".to_owned(),
                        CookieError::Broken => "the watcher failed while starting".to_owned(),
                    };
                    watch.shared.fail(reason);
                    *watch.watcher.lock() = None;
                }
                watch
            }
            Err(reason) => {
                shared.fail(reason);
                Self {
                    watcher: Mutex::new(None),
                    shared,
                }
            }
        }
    }

    /// No watcher at all (by choice, for one-shot processes): every call recomputes, and
    /// nothing is logged.
    pub(crate) fn disabled(roots: Roots) -> Self {
        let cookie_dir = roots.git_dir.join(COOKIE_DIR_NAME);
        let shared = Arc::new(Shared::new(roots, cookie_dir, Duration::ZERO));
        *shared.failure.lock() = Some("watching disabled".to_owned());
        Self {
            watcher: Mutex::new(None),
            shared,
        }
    }

    fn try_start(shared: &Arc<Shared>) -> Result<RecommendedWatcher, String> {
        let cookie_dir = shared.cookies.dir();
        create_private_dir(cookie_dir)
            .map_err(|e| format!("cannot create {}: {e}", cookie_dir.display()))?;
        let handler = Arc::clone(shared);
        // Git does not follow symbolic links in the work tree (a link is an entry of its own),
        // and following them could watch far outside the repository.
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher = RecommendedWatcher::new(move |event| handler.handle(event), config)
            .map_err(|e| format!("cannot start a watcher: {}", describe(&e)))?;
        for root in watch_roots(&shared.roots) {
            tree::watch_tree(&mut watcher, &shared.roots, &root)
                .map_err(|e| format!("cannot watch {}: {}", root.display(), describe(&e)))?;
        }
        Ok(watcher)
    }

    /// True while the watcher runs and has never failed: its events can be trusted.
    pub(crate) fn is_healthy(&self) -> bool {
        self.shared.failure().is_none()
    }

    /// The state shared with the watcher's thread.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Returns once every event that happened before this call is in [`Pending`].
    ///
    /// # Errors
    /// See [`CookieError`].
    pub(crate) fn sync(&self) -> Result<(), CookieError> {
        self.shared.cookies.sync()
    }

    /// Makes sure `dir` (absolute) and every directory below it are watched, before it is read:
    /// a directory created after the start is not watched until then, and the cache refreshes
    /// it whole afterwards, so nothing created in it is missed. Returns `false` (and fails the
    /// watcher) when a watch cannot be added.
    pub(crate) fn ensure_watched(&self, dir: &Path) -> bool {
        if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            return true; // gone again, or not a directory: nothing to watch
        }
        // Never called with `pending` locked: the watcher's thread takes that lock.
        let mut watcher = self.watcher.lock();
        let Some(watcher) = watcher.as_mut() else {
            return false;
        };
        match tree::watch_tree(watcher, &self.shared.roots, dir) {
            Ok(()) => true,
            Err(e) => {
                self.shared
                    .fail(format!("cannot watch {}: {}", dir.display(), describe(&e)));
                false
            }
        }
    }

    /// Watches every directory again (after events were lost, directories created meanwhile
    /// may be unwatched). Returns `false` (and fails the watcher) when a watch cannot be added.
    pub(crate) fn ensure_all_watched(&self) -> bool {
        watch_roots(&self.shared.roots)
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
