//! The in-memory index over every namespace, and its incremental refresh.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    time::{Duration, Instant},
};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{DeveloperInfo, TimeEntry},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    record::{ClaimRecord, DevRecord, Problem},
    source,
    team::{Parts, TeamState},
};

/// The namespace index: every namespace under a root, loaded once and kept current by
/// [`Index::refresh`], answering queries without touching the disk.
///
/// ```
/// use flowforge_core::Layout;
/// use flowforge_index::Index;
/// let repo = tempfile::tempdir()?;
/// let mut index = Index::build(&Layout::for_repo(repo.path()))?;
/// assert!(index.active().is_empty());
/// let stats = index.refresh()?;
/// assert_eq!(stats.reloaded.len(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Index {
    pub(crate) layout: Layout,
    pub(crate) namespaces: BTreeMap<DeveloperId, Entry>,
    /// The registry, the claims document and its view, each with its own stamp.
    pub(crate) team: TeamState,
    pub(crate) listing_problems: Vec<Problem>,
    /// The namespaces left out as problems, kept by [`Index::replace`] so that
    /// [`Index::problems`] does not visit every namespace.
    pub(crate) broken: BTreeSet<DeveloperId>,
    pub(crate) derived: Derived,
    pub(crate) cache: CacheCounts,
}

/// One namespace as indexed: its stamp and what was loaded at that stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub stamp: u64,
    /// The stamp was racy (see [`source::Stamp`]): the next check reloads and compares.
    #[serde(default)]
    pub racy: bool,
    pub state: Loaded,
    /// What the next load of this namespace may take from this one instead of reading it.
    #[serde(skip)]
    pub reuse: source::Reuse,
}

impl Entry {
    /// The record and what its load kept, for the next load of the namespace.
    fn previous(&self) -> Option<(&DevRecord, &source::Reuse)> {
        match &self.state {
            Loaded::Record(record) => Some((record, &self.reuse)),
            Loaded::Problem(_) => None,
        }
    }
}

/// A loaded namespace, or the reason it was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Loaded {
    Record(Box<DevRecord>),
    Problem(Problem),
}

/// Lookup tables derived from the records, updated per namespace on every reload.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    /// Developers with an active session.
    pub active: BTreeSet<DeveloperId>,
    /// Tasks of active sessions and who works on them.
    pub working: BTreeMap<TaskId, BTreeSet<DeveloperId>>,
    /// Time entries by task, sorted by (time, developer).
    pub time_by_task: BTreeMap<TaskId, Vec<TaskTime>>,
    /// Touched paths and who touches them.
    pub paths: BTreeMap<String, BTreeSet<DeveloperId>>,
}

/// One time entry as filed under its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskTime {
    pub at: Timestamp,
    pub developer: DeveloperId,
    pub minutes: u64,
}

/// How often a namespace was answered from the index (its stamp had not moved) against how
/// often it had to be reloaded: the index's read-through cache hit rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounts {
    /// Namespaces checked and found unchanged.
    pub hits: u64,
    /// Namespaces (re)loaded from disk.
    pub misses: u64,
}

/// What a file watcher says changed in one namespace since the last refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DevChange {
    /// Anything: the namespace is checked as a whole (its stamp, then a load if it moved).
    Whole,
    /// The files of `sessions/history/` named here, and maybe anything outside the history:
    /// the history's other files are taken from the last load; the rest is read again.
    Files(BTreeSet<OsString>),
}

impl DevChange {
    /// Adds what another event says.
    pub(crate) fn merge(&mut self, other: DevChange) {
        match (&mut *self, other) {
            (DevChange::Whole, _) => {}
            (_, DevChange::Whole) => *self = DevChange::Whole,
            (DevChange::Files(names), DevChange::Files(more)) => names.extend(more),
        }
    }
}

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Namespaces whose stamp was checked.
    pub checked: usize,
    /// Namespaces loaded from disk (new or changed), sorted.
    pub reloaded: Vec<DeveloperId>,
    /// Namespaces that disappeared, sorted.
    pub removed: Vec<DeveloperId>,
    /// Whether a team file (the registry, the claims or their view) was reloaded with a
    /// changed content.
    pub team_reloaded: bool,
    /// How long the refresh took.
    pub elapsed: Duration,
}

impl Index {
    /// An index with nothing loaded yet; the first [`Index::refresh`] loads everything.
    pub fn empty(layout: &Layout) -> Self {
        Self {
            layout: layout.clone(),
            namespaces: BTreeMap::new(),
            team: TeamState::default(),
            listing_problems: Vec::new(),
            broken: BTreeSet::new(),
            derived: Derived::default(),
            cache: CacheCounts::default(),
        }
    }

    /// Builds the index by loading every namespace under the layout's root.
    ///
    /// # Errors
    /// [`Error::ListRoot`](crate::Error::ListRoot) when the root exists but cannot be listed.
    /// Corrupt namespaces are not errors: they are left out and listed by
    /// [`Index::problems`].
    pub fn build(layout: &Layout) -> Result<Self> {
        let mut index = Self::empty(layout);
        index.refresh()?;
        Ok(index)
    }

    /// The layout the index reads.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Brings the index up to date: lists the root, checks every namespace's stamp, and reloads
    /// only the namespaces that are new or whose stamp moved (and each team file whose stamp
    /// did). Cost: one directory listing and a few `stat`s per namespace, plus a parse per
    /// changed namespace.
    ///
    /// # Errors
    /// [`Error::ListRoot`](crate::Error::ListRoot) when the root cannot be listed; the index is
    /// unchanged then.
    pub fn refresh(&mut self) -> Result<RefreshStats> {
        let start = Instant::now();
        let listing = source::list(&self.layout)?;
        let mut stats = RefreshStats::default();
        let listed: BTreeSet<&DeveloperId> = listing.devs.iter().collect();
        let gone: Vec<DeveloperId> = (self.namespaces.keys())
            .filter(|dev| !listed.contains(dev))
            .cloned()
            .collect();
        for dev in gone {
            self.replace(&dev, None);
            stats.removed.push(dev);
        }
        // Stamps, then loads of the changed namespaces, spread over the cores: both are
        // independent reads. The index itself is updated on this thread.
        let layout = &self.layout;
        let stamps = parallel_map(&listing.devs, |dev| {
            // The stamp walks a handful of the namespace's directories, some twice: each is
            // opened once (from the root once).
            let _dirs = flowforge_session::fs::DirScope::enter();
            source::stamp(layout, dev)
        });
        let changed: Vec<(&DeveloperId, source::Stamp)> = (listing.devs.iter().zip(stamps))
            .filter(|(dev, stamp)| {
                let trusted = self
                    .namespaces
                    .get(*dev)
                    .is_some_and(|e| e.stamp == stamp.value && !e.racy);
                if trusted {
                    self.cache.hits += 1;
                }
                !trusted
            })
            .collect();
        let namespaces = &self.namespaces;
        let loaded = parallel_map(&changed, |(dev, _)| {
            let _dirs = flowforge_session::fs::DirScope::enter();
            source::load(layout, dev, namespaces.get(*dev).and_then(Entry::previous))
        });
        stats.checked += listing.devs.len();
        for ((dev, stamp), result) in changed.into_iter().zip(loaded) {
            self.apply_load(dev, stamp, result, &mut stats);
        }
        self.listing_problems = listing.problems;
        self.check_team(Parts::ALL, &mut stats);
        stats.elapsed = start.elapsed();
        Ok(stats)
    }

    /// Refreshes only `devs` (and the team files), for a caller that knows which namespaces
    /// changed, e.g. from a file watcher. Cost follows `devs.len()`, not the team's size. A
    /// developer whose directory is gone (or is no longer a directory) is removed.
    pub fn refresh_developers(&mut self, devs: &[DeveloperId]) -> RefreshStats {
        let devs: Vec<(DeveloperId, DevChange)> = (devs.iter())
            .map(|dev| (dev.clone(), DevChange::Whole))
            .collect();
        self.refresh_targeted(&devs, Parts::ALL)
    }

    /// [`Index::refresh_developers`] for what a watcher reported changed in each namespace,
    /// checking only the team files in `team`.
    pub(crate) fn refresh_targeted(
        &mut self,
        devs: &[(DeveloperId, DevChange)],
        team: Parts,
    ) -> RefreshStats {
        let start = Instant::now();
        let mut stats = RefreshStats::default();
        for (dev, change) in devs {
            let is_dir = std::fs::symlink_metadata(self.layout.dev_dir(dev))
                .is_ok_and(|m| m.file_type().is_dir());
            if is_dir {
                match change {
                    DevChange::Whole => self.check(dev, &mut stats),
                    DevChange::Files(history) => self.reload(dev, history, &mut stats),
                }
            } else if self.namespaces.contains_key(dev) {
                self.replace(dev, None);
                stats.removed.push(dev.clone());
            }
        }
        stats.reloaded.sort();
        stats.reloaded.dedup();
        stats.removed.sort();
        stats.removed.dedup();
        if !team.is_empty() {
            self.check_team(team, &mut stats);
        }
        stats.elapsed = start.elapsed();
        stats
    }

    fn check(&mut self, dev: &DeveloperId, stats: &mut RefreshStats) {
        // The stamp and the load walk the same directories: each is opened once.
        let _dirs = flowforge_session::fs::DirScope::enter();
        stats.checked += 1;
        let stamp = source::stamp(&self.layout, dev);
        if (self.namespaces.get(dev)).is_some_and(|e| e.stamp == stamp.value && !e.racy) {
            self.cache.hits += 1;
            return;
        }
        let previous = self.namespaces.get(dev).and_then(Entry::previous);
        let result = source::load(&self.layout, dev, previous);
        self.apply_load(dev, stamp, result, stats);
    }

    /// Reloads `dev` after a watcher's events: the history files named `history` and
    /// everything outside the history (see [`source::reload`]). The entry's stamp is left
    /// as it was and marked racy, so a refresh that is not told what changed checks the
    /// namespace as a whole. A namespace not loaded yet, or left out as a problem, is checked
    /// as a whole now.
    fn reload(
        &mut self,
        dev: &DeveloperId,
        history: &BTreeSet<OsString>,
        stats: &mut RefreshStats,
    ) {
        let Some(entry) = self.namespaces.get(dev) else {
            return self.check(dev, stats);
        };
        let Some(previous) = entry.previous() else {
            return self.check(dev, stats);
        };
        let _dirs = flowforge_session::fs::DirScope::enter();
        stats.checked += 1;
        let stamp = entry.stamp;
        let (state, reuse) = match source::reload(&self.layout, dev, previous, history) {
            Ok((record, reuse)) => (Loaded::Record(Box::new(record)), reuse),
            Err(problem) => (Loaded::Problem(problem), source::Reuse::default()),
        };
        if let Some(entry) = self.namespaces.get_mut(dev) {
            if entry.state == state {
                entry.racy = true;
                entry.reuse = reuse;
                self.cache.hits += 1;
                return;
            }
        }
        self.cache.misses += 1;
        let entry = Entry {
            stamp,
            racy: true,
            state,
            reuse,
        };
        self.replace(dev, Some(entry));
        stats.reloaded.push(dev.clone());
    }

    fn apply_load(
        &mut self,
        dev: &DeveloperId,
        stamp: source::Stamp,
        result: Result<(DevRecord, source::Reuse), Problem>,
        stats: &mut RefreshStats,
    ) {
        let (state, reuse) = match result {
            Ok((record, reuse)) => (Loaded::Record(Box::new(record)), reuse),
            Err(problem) => (Loaded::Problem(problem), source::Reuse::default()),
        };
        // A racy entry was reloaded only to be verified (its stamp may have moved since a
        // watcher's reload, which leaves the stamp as it was): if the content is the same,
        // nothing changed.
        if let Some(entry) = self.namespaces.get_mut(dev) {
            if entry.state == state {
                entry.stamp = stamp.value;
                entry.racy = stamp.racy;
                entry.reuse = reuse;
                self.cache.hits += 1;
                return;
            }
        }
        self.cache.misses += 1;
        let entry = Entry {
            stamp: stamp.value,
            racy: stamp.racy,
            state,
            reuse,
        };
        self.replace(dev, Some(entry));
        stats.reloaded.push(dev.clone());
    }

    /// Checks the team files in `parts`, each on its own: a claim change reloads the claims
    /// document and its view, never the registry.
    fn check_team(&mut self, parts: Parts, stats: &mut RefreshStats) {
        let changed = self.team.check(&self.layout, parts);
        stats.team_reloaded |= changed.registry || changed.claims;
    }

    /// Takes a team state read from a snapshot, to be verified by content at the next check.
    pub(crate) fn set_team(&mut self, mut team: TeamState) {
        team.distrust();
        self.team = team;
    }

    /// Swaps a namespace's entry, keeping the derived tables in step. Time entries are only
    /// ever added at the end (sealing moves none), so of two records of one namespace only
    /// the entries after their common first ones change the tables: a reload costs the
    /// entries added, not the developer's whole time tracking.
    pub(crate) fn replace(&mut self, dev: &DeveloperId, entry: Option<Entry>) {
        let new = match entry.as_ref().map(|e| &e.state) {
            Some(Loaded::Record(record)) => Some(record.as_ref()),
            _ => None,
        };
        // Take the old record's rows out first: old and new share keys (the developer).
        let mut same_time = 0;
        if let Some(Entry {
            state: Loaded::Record(old),
            ..
        }) = self.namespaces.remove(dev)
        {
            same_time = new.map_or(0, |new| common_prefix(&old.time, &new.time));
            self.derived.remove(&old, same_time);
        }
        self.broken.remove(dev);
        if let Some(entry) = entry {
            match &entry.state {
                Loaded::Record(record) => self.derived.add(record, same_time),
                Loaded::Problem(_) => {
                    self.broken.insert(dev.clone());
                }
            }
            self.namespaces.insert(dev.clone(), entry);
        }
    }

    /// The loaded record of `dev`, if its namespace is indexed and not broken.
    pub fn record(&self, dev: &DeveloperId) -> Option<&DevRecord> {
        match &self.namespaces.get(dev)?.state {
            Loaded::Record(record) => Some(record.as_ref()),
            Loaded::Problem(_) => None,
        }
    }

    /// Every loaded record, by developer.
    pub fn records(&self) -> impl Iterator<Item = &DevRecord> {
        self.namespaces.values().filter_map(|e| match &e.state {
            Loaded::Record(record) => Some(record.as_ref()),
            Loaded::Problem(_) => None,
        })
    }

    /// Whether `dev`'s namespace is indexed (broken or not).
    pub fn has_namespace(&self, dev: &DeveloperId) -> bool {
        self.namespaces.contains_key(dev)
    }

    /// How many namespaces are indexed, broken ones included.
    pub fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }

    /// The developers registered in `team/config.json`.
    pub fn members(&self) -> &BTreeMap<DeveloperId, DeveloperInfo> {
        &self.team.registry.value
    }

    /// Every claim, by task.
    pub fn claims(&self) -> impl Iterator<Item = &ClaimRecord> {
        self.team.all_claims()
    }

    /// The cache counts since the index was created (or loaded from a snapshot).
    pub fn cache_counts(&self) -> CacheCounts {
        self.cache
    }

    /// Everything that was left out, sorted: directories that are not valid namespaces,
    /// namespaces with a corrupt or unreadable file, corrupt team files.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> =
            (self.listing_problems.iter())
                .chain(self.team.problems())
                .chain(self.broken.iter().filter_map(
                    |dev| match &self.namespaces.get(dev)?.state {
                        Loaded::Problem(p) => Some(p),
                        Loaded::Record(_) => None,
                    },
                ))
                .cloned()
                .collect();
        problems.sort();
        problems
    }
}

/// How many first entries `a` and `b` have in common.
fn common_prefix(a: &[TimeEntry], b: &[TimeEntry]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Derived {
    /// Adds the record's rows, of its time entries those after the first `kept` (the tables
    /// hold those already).
    fn add(&mut self, record: &DevRecord, kept: usize) {
        let dev = &record.developer;
        if let Some(session) = record.active_session() {
            self.active.insert(dev.clone());
            if let Some(task) = &session.task_id {
                self.working
                    .entry(task.clone())
                    .or_default()
                    .insert(dev.clone());
            }
        }
        for entry in record.time.get(kept..).unwrap_or_default() {
            let Some(task) = &entry.task_id else { continue };
            let times = self.time_by_task.entry(task.clone()).or_default();
            let key = (entry.recorded_at, dev);
            let at = times.partition_point(|t| (t.at, &t.developer) <= key);
            times.insert(
                at,
                TaskTime {
                    at: entry.recorded_at,
                    developer: dev.clone(),
                    minutes: entry.minutes,
                },
            );
        }
        for path in &record.paths {
            self.paths
                .entry(path.clone())
                .or_default()
                .insert(dev.clone());
        }
    }

    /// Takes the record's rows out, of its time entries those after the first `kept` (the
    /// record replacing it has those too).
    fn remove(&mut self, record: &DevRecord, kept: usize) {
        let dev = &record.developer;
        self.active.remove(dev);
        if let Some(task) = record.active_session().and_then(|s| s.task_id.as_ref()) {
            remove_from(&mut self.working, task, dev);
        }
        if kept == 0 {
            let tasks: BTreeSet<&TaskId> = record
                .time
                .iter()
                .filter_map(|e| e.task_id.as_ref())
                .collect();
            for task in tasks {
                if let Some(times) = self.time_by_task.get_mut(task) {
                    times.retain(|t| t.developer != *dev);
                    if times.is_empty() {
                        self.time_by_task.remove(task);
                    }
                }
            }
        } else {
            for entry in record.time.get(kept..).unwrap_or_default() {
                let Some(task) = &entry.task_id else { continue };
                let Some(times) = self.time_by_task.get_mut(task) else {
                    continue;
                };
                // One row of this developer at this time with these minutes: rows alike are
                // interchangeable (the tables only sum them).
                let key = (entry.recorded_at, dev);
                let from = times.partition_point(|t| (t.at, &t.developer) < key);
                let to = times.partition_point(|t| (t.at, &t.developer) <= key);
                if let Some(at) = (from..to).find(|&i| times[i].minutes == entry.minutes) {
                    times.remove(at);
                }
                if times.is_empty() {
                    self.time_by_task.remove(task);
                }
            }
        }
        for path in &record.paths {
            remove_from(&mut self.paths, path.as_str(), dev);
        }
    }
}

fn remove_from<K, Q>(map: &mut BTreeMap<K, BTreeSet<DeveloperId>>, key: &Q, dev: &DeveloperId)
where
    K: Ord + std::borrow::Borrow<Q>,
    Q: Ord + ?Sized,
{
    if let Some(set) = map.get_mut(key) {
        set.remove(dev);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

/// Below this many items a refresh stays on one thread: spawning costs more than it saves.
const PARALLEL_MIN: usize = 64;

/// `items.iter().map(f)`, in order, spread over up to 8 scoped threads for large inputs.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = flowforge_core::parallel::cores().min(8);
    if items.len() < PARALLEL_MIN || threads < 2 {
        return items.iter().map(f).collect();
    }
    flowforge_core::parallel::map_chunks(items, threads, |chunk| chunk.iter().map(&f).collect())
}
