//! A file watcher that tells the index which namespaces changed, so that a refresh costs the
//! number of changed namespaces, not the size of the team.
//!
//! [`Watcher`] watches the namespace root recursively (inotify on Linux, through `notify`)
//! and files each event under the namespace it touched (`dev-<id>/…`), the team
//! (`team/…`), or the index's own directory (ignored). [`Watcher::refresh`] then refreshes
//! only those namespaces. Anything it cannot attribute — an event on the root itself, a
//! `dev-*` entry that is not a valid namespace, a lost or overflowed event queue — makes that
//! refresh a full one, so the index never misses a change it was told of. After a watcher
//! error (a new directory that could not be watched) events may be missing: every synced
//! refresh from then on is a full one ([`Watcher::failure`]).
//!
//! Events arrive shortly after the write. [`Watcher::refresh_synced`] first syncs the watcher
//! (flowforge-watch: on Linux it reads inotify's queue empty, elsewhere it round-trips a
//! *cookie* file as watchman does), so every change made before the call is seen.
//!
//! ```
//! use flowforge_core::{DeveloperId, Layout};
//! use flowforge_index::{Index, Watcher};
//! use flowforge_session::{Namespace, SessionOptions, StartOptions};
//! let repo = tempfile::tempdir()?;
//! let layout = Layout::for_repo(repo.path());
//! let alice: DeveloperId = "alice".parse()?;
//! flowforge_session::namespace::init(&layout, &alice, &Default::default())?;
//! // Watch first, then build: no change can fall between the two.
//! let mut watcher = Watcher::new(&layout)?;
//! let mut index = Index::build(&layout)?;
//! let ns = Namespace::open(&layout, &alice, SessionOptions::relaxed())?;
//! ns.start_session(&"feature-1".parse()?, &StartOptions::default())?;
//! let stats = watcher.refresh_synced(&mut index, std::time::Duration::from_secs(5))?;
//! assert_eq!(stats.reloaded, [alice.clone()]);
//! assert_eq!(stats.checked, 1, "only the changed namespace was checked");
//! assert_eq!(index.task_of(&alice).map(|t| t.as_str()), Some("feature-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    collections::{BTreeMap, BTreeSet, btree_map},
    ffi::OsStr,
    path::{Component, Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use flowforge_core::{DeveloperId, Layout};
use flowforge_watch::CookieFiles;
use notify::{
    EventKind, RecursiveMode,
    event::{AccessKind, AccessMode},
};
use parking_lot::{Condvar, Mutex};

use crate::{
    error::{Error, Result},
    index::{DevChange, Index, RefreshStats},
    team::{Part, Parts},
};

/// Watches a namespace root for the index: each event names the namespace a refresh must
/// check, and anything it cannot attribute makes the next refresh a full one.
/// [`Watcher::refresh_synced`] first syncs the watcher, so it sees every change made before
/// the call.
#[derive(Debug)]
pub struct Watcher {
    watcher: flowforge_watch::Watcher<Filed>,
}

/// Files each event, on the watcher's thread, under what it touched.
#[derive(Debug)]
struct Filed {
    root: PathBuf,
    index_dir: PathBuf,
    team: TeamPaths,
    pending: Arc<Pending>,
    /// The first error the watcher reported: from then on it is not trusted.
    failure: Mutex<Option<String>>,
}

/// What the events since the last refresh touched, and a condition variable signalled each
/// time an event adds to it.
#[derive(Debug, Default)]
struct Pending {
    changes: Mutex<Changes>,
    filed: Condvar,
}

/// Wakes a thread when the watcher has filed a change no refresh has taken yet, so that a
/// long-lived owner (a daemon) can refresh its index as changes arrive instead of when the
/// next question does. From [`Watcher::signal`].
///
/// Waiting changes nothing: only a refresh takes the changes, so a question still syncs
/// first and sees every change made before it.
#[derive(Debug, Clone)]
pub struct ChangeSignal {
    pending: Arc<Pending>,
}

impl ChangeSignal {
    /// Waits until the watcher holds a change no refresh has taken, at most `timeout`;
    /// whether one is pending.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut changes = self.pending.changes.lock();
        if changes.is_empty() {
            let _ = self.pending.filed.wait_for(&mut changes, timeout);
        }
        !changes.is_empty()
    }
}

/// Where the team's parts live, to file an event under the part it touched.
#[derive(Debug)]
struct TeamPaths {
    dir: PathBuf,
    config: PathBuf,
    view: PathBuf,
    store: PathBuf,
}

/// The prefix of the temporary files of flowforge-session's atomic writes.
const TMP_PREFIX: &str = ".tmp-";

/// Whether an event can mean a change. Reading changes nothing; flowforge-watch does not ask
/// Linux for open events, but notify's watchers elsewhere report them, and every file the
/// daemon reads (the index's own loads included) would otherwise come back as open and close
/// events. Dropped on the watcher's thread.
fn can_change(event: &notify::Event) -> bool {
    match event.kind {
        EventKind::Access(access) => access == AccessKind::Close(AccessMode::Write),
        _ => true,
    }
}

/// What the events since the last refresh touched.
#[derive(Debug, Default)]
struct Changes {
    devs: BTreeMap<DeveloperId, DevChange>,
    team: Parts,
    full: bool,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.devs.is_empty() && self.team.is_empty() && !self.full
    }
}

/// The index's cookie files, `index/cookie-…`, written through flowforge-session like every
/// file under the root (0600, no link followed).
#[derive(Debug)]
struct IndexCookies {
    layout: Layout,
    dir: PathBuf,
}

impl CookieFiles for IndexCookies {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn create(&self, name: &str) -> std::result::Result<(), String> {
        match flowforge_session::index_files::create_cookie(&self.layout, name) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(format!("{} exists", self.dir.join(name).display())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn remove(&self, name: &str) {
        let _ = flowforge_session::index_files::remove_cookie(&self.layout, name);
    }
}

impl Watcher {
    /// Starts watching `layout`'s root, which must exist, creating the index's own directory
    /// `index/` for the cookies. Build or refresh the index fully *after* this, so that no
    /// change falls between the index's state and the first event.
    ///
    /// # Errors
    /// [`Error::Watch`] when the watcher cannot start (no root, no inotify watches left), or
    /// [`Error::IndexDir`] when `index/` cannot be created.
    pub fn new(layout: &Layout) -> Result<Self> {
        let root = layout.root().to_owned();
        let err = |source| Error::Watch {
            path: root.clone(),
            source,
        };
        // The cookies live in the index's own directory; it must exist before the watch starts,
        // or the first cookie could be written before the directory is watched.
        flowforge_session::index_files::create_dir(layout).map_err(|source| Error::IndexDir {
            path: layout.index_dir(),
            source,
        })?;
        let filed = Filed {
            root: root.clone(),
            index_dir: layout.index_dir(),
            team: TeamPaths {
                dir: layout.team_dir(),
                config: layout.team_config(),
                view: layout.task_assignments(),
                store: layout.team_store_dir(),
            },
            pending: Arc::default(),
            failure: Mutex::new(None),
        };
        let cookies = IndexCookies {
            layout: layout.clone(),
            dir: layout.index_dir(),
        };
        let watcher = flowforge_watch::Watcher::new(filed, cookies);
        watcher.start(notify::Config::default()).map_err(err)?;
        watcher
            .watch(&root, RecursiveMode::Recursive)
            .map_err(err)?;
        Ok(Self { watcher })
    }

    /// Refreshes the namespaces that events received so far name (a full refresh when an
    /// event could not be attributed or events were lost).
    ///
    /// # Errors
    /// As [`Index::refresh`], for a full refresh.
    pub fn refresh(&mut self, index: &mut Index) -> Result<RefreshStats> {
        let changes = self.take();
        self.apply(index, changes)
    }

    /// The first error the watcher reported, if any. After one, events may be missing (a
    /// directory could not be watched), so every [`Watcher::refresh_synced`] is a full
    /// refresh: answers stay exact, at the cost of a listing per refresh.
    pub fn failure(&self) -> Option<String> {
        self.watcher.events().failure.lock().clone()
    }

    /// Wakes a waiting thread whenever this watcher files a change; see [`ChangeSignal`].
    pub fn signal(&self) -> ChangeSignal {
        ChangeSignal {
            pending: Arc::clone(&self.watcher.events().pending),
        }
    }

    fn take(&self) -> Changes {
        std::mem::take(&mut *self.watcher.events().pending.changes.lock())
    }

    /// Like [`Watcher::refresh`], after making sure every change made before the call has
    /// been seen (flowforge-watch's sync: the first one writes a cookie file under `index/`
    /// and waits at most `timeout` for its event). If the sync fails, the refresh is a full
    /// one.
    ///
    /// # Errors
    /// As [`Index::refresh`], for a full refresh.
    pub fn refresh_synced(&mut self, index: &mut Index, timeout: Duration) -> Result<RefreshStats> {
        let synced = self.watcher.sync(timeout).is_ok();
        let mut changes = self.take();
        changes.full |= !synced;
        self.apply(index, changes)
    }

    /// Applies `changes` to `index`. A full refresh that fails (the root cannot be listed)
    /// leaves the next refresh a full one: the changes it took are not lost with it.
    fn apply(&self, index: &mut Index, changes: Changes) -> Result<RefreshStats> {
        let result = Self::apply_taken(index, changes);
        if result.is_err() {
            flowforge_watch::Events::lost(self.watcher.events());
        }
        result
    }

    fn apply_taken(index: &mut Index, changes: Changes) -> Result<RefreshStats> {
        let devs: Vec<(DeveloperId, DevChange)> = changes.devs.into_iter().collect();
        // A namespace directory that appeared or vanished, or became something else, changes
        // the listing and its problems: list again.
        let layout = index.layout().clone();
        let listing_changed = devs.iter().any(|(dev, _)| {
            let is_dir = std::fs::symlink_metadata(layout.dev_dir(dev)).is_ok_and(|m| m.is_dir());
            is_dir != index.has_namespace(dev)
        });
        if changes.full || listing_changed {
            return index.refresh();
        }
        Ok(index.refresh_targeted(&devs, changes.team))
    }
}

impl flowforge_watch::Events for Filed {
    fn changed(&self, event: &notify::Event) {
        if !can_change(event) {
            return;
        }
        let mut changes = self.pending.changes.lock();
        for path in &event.paths {
            let Ok(rest) = path.strip_prefix(&self.root) else {
                continue;
            };
            let Some(Component::Normal(first)) = rest.components().next() else {
                changes.full = true;
                continue;
            };
            // The index's own files, its cookies included, change no namespace.
            if path.starts_with(&self.index_dir) {
                continue;
            }
            if first == OsStr::new("team") {
                match self.team_part(path) {
                    Some(part) => changes.team.insert(part),
                    None => changes.team = Parts::ALL,
                }
            } else if let Some(parsed) = Layout::parse_dev_dir_name(first) {
                match parsed {
                    Ok(dev) => {
                        let change = dev_change(rest);
                        match changes.devs.entry(dev) {
                            btree_map::Entry::Vacant(slot) => {
                                slot.insert(change);
                            }
                            btree_map::Entry::Occupied(mut slot) => slot.get_mut().merge(change),
                        }
                    }
                    // Not a namespace: a full refresh lists it as a problem.
                    Err(_) => changes.full = true,
                }
            }
        }
        if !changes.is_empty() {
            self.pending.filed.notify_all();
        }
    }

    fn lost(&self) {
        self.pending.changes.lock().full = true;
        self.pending.filed.notify_all();
    }

    /// A watcher error (a new directory that could not be watched, with no inotify watches
    /// left) means changes may go unseen from now on: the watcher is no longer trusted, so
    /// every synced refresh is a full one.
    fn error(&self, error: &notify::Error) -> bool {
        self.failure.lock().get_or_insert_with(|| error.to_string());
        self.pending.changes.lock().full = true;
        self.pending.filed.notify_all();
        true
    }
}

/// What an event on `rest` (a path below the root, in a namespace) changed: a file of
/// `sessions/history/` (or something inside it) by name, or anything outside the history.
/// The history directory itself, or a directory above it, is the whole namespace.
fn dev_change(rest: &Path) -> DevChange {
    let mut names = rest.components().skip(1).map(|c| c.as_os_str());
    let (first, second, third) = (names.next(), names.next(), names.next());
    let is = |name: Option<&OsStr>, expected: &str| name == Some(OsStr::new(expected));
    // A sealed segment of the time tracking is written once and never changed: a reload
    // keeps those it read. Anything happening to one is checked whole.
    let is_segment = second
        .and_then(OsStr::to_str)
        .is_some_and(|key| key.starts_with(flowforge_session::time::SEGMENT_KEY_PREFIX));
    if is(first, "store") && is_segment {
        return DevChange::Whole;
    }
    if !is(first, "sessions") {
        return match first {
            None => DevChange::Whole,
            Some(_) => DevChange::Files(BTreeSet::new()),
        };
    }
    match (second, third) {
        (None, _) => DevChange::Whole,
        (Some(_), _) if !is(second, "history") => DevChange::Files(BTreeSet::new()),
        (_, None) => DevChange::Whole,
        (_, Some(file)) => DevChange::Files(BTreeSet::from([file.to_owned()])),
    }
}

impl Filed {
    /// The team part a path under `team/` belongs to: the registry, the claims document (the
    /// team store) or its view, by name or by the name a temporary file of an atomic write
    /// carries (`.tmp-<pid>-<n>-<target>`). `None` for anything else (the directory itself,
    /// a file the index does not know): every part is checked then.
    fn team_part(&self, path: &Path) -> Option<Part> {
        if let Ok(rest) = path.strip_prefix(&self.team.store) {
            // A shard's directory and what is in it: that shard. The claims' bookkeeping
            // files follow a shard's change (whose own events name it).
            let first = rest
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str());
            return Some(match first {
                Some(name) => match flowforge_session::claim::shard_of_key(name) {
                    Some(shard) => Part::Shard(shard),
                    None if flowforge_session::claim::is_claims_bookkeeping(name) => Part::Nothing,
                    None => Part::Claims,
                },
                None => Part::Claims,
            });
        }
        if path.parent() != Some(self.team.dir.as_path()) {
            return None;
        }
        let name = path.file_name()?.to_str()?;
        let target = (name.strip_prefix(TMP_PREFIX))
            .and_then(|rest| rest.splitn(3, '-').nth(2))
            .unwrap_or(name);
        if Some(OsStr::new(target)) == self.team.config.file_name() {
            Some(Part::Registry)
        } else if Some(OsStr::new(target)) == self.team.view.file_name() {
            Some(Part::View)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_a_history_file_or_the_rest_of_the_namespace() {
        let files = |names: &[&str]| {
            DevChange::Files(names.iter().map(|n| std::ffi::OsString::from(*n)).collect())
        };
        let cases = [
            ("dev-a", DevChange::Whole),
            ("dev-a/sessions", DevChange::Whole),
            ("dev-a/sessions/history", DevChange::Whole),
            ("dev-a/sessions/history/s-1.json", files(&["s-1.json"])),
            ("dev-a/sessions/history/sub/deeper", files(&["sub"])),
            ("dev-a/sessions/current.json", files(&[])),
            ("dev-a/store/session/HEAD", files(&[])),
            ("dev-a/time-tracking.json", files(&[])),
            ("dev-a/history/s-1.json", files(&[])),
            ("dev-a/store/time-tracking/3.json", files(&[])),
            ("dev-a/store/time-segment-0", DevChange::Whole),
            ("dev-a/store/time-segment-12/1.json", DevChange::Whole),
        ];
        for (path, expected) in cases {
            assert_eq!(dev_change(Path::new(path)), expected, "{path}");
        }
        let mut merged = files(&["a.json"]);
        merged.merge(files(&["b.json"]));
        assert_eq!(merged, files(&["a.json", "b.json"]));
        merged.merge(DevChange::Whole);
        assert_eq!(merged, DevChange::Whole);
        merged.merge(files(&["c.json"]));
        assert_eq!(merged, DevChange::Whole);
    }

    /// A watcher error (here the one inotify gives when no watch is left for a new directory)
    /// is kept, and the next synced refresh lists every namespace again.
    #[test]
    fn after_a_watcher_error_a_synced_refresh_is_full() {
        let repo = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(repo.path());
        for dev in ["alice", "bob"] {
            let dev: DeveloperId = dev.parse().unwrap();
            flowforge_session::namespace::init(&layout, &dev, &Default::default()).unwrap();
        }
        let mut watcher = Watcher::new(&layout).unwrap();
        let mut index = Index::build(&layout).unwrap();
        let quiet = watcher
            .refresh_synced(&mut index, Duration::from_secs(5))
            .unwrap();
        assert_eq!(quiet.checked, 0, "{quiet:?}");
        assert_eq!(watcher.failure(), None);

        let error = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        let distrusted = flowforge_watch::Events::error(watcher.watcher.events(), &error);
        assert!(
            distrusted,
            "a watcher that may miss changes must not be trusted"
        );
        assert_eq!(watcher.failure(), Some(error.to_string()));
        let stats = watcher
            .refresh_synced(&mut index, Duration::from_secs(5))
            .unwrap();
        assert_eq!(stats.checked, 2, "{stats:?}");
    }
}
