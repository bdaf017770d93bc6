//! [`GitView`]: the status and the ref snapshot of one repository, watched and shared.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use flowforge_core::metrics::{Counter, Ratio, Registry, names as core_names};
use flowforge_watch::CookieError;
use parking_lot::Mutex;

use super::{
    Answer, Fresh, Freshness,
    flight::{Fetched, How, SingleFlight},
    names,
};
use crate::{
    Repo, Status, StatusOptions, StatusTracker,
    error::{Error, Result},
    refs::{AheadBehindMemo, RefsSnapshot},
    sync::DirtySummary,
    watch::{Pending, Roots, StatusChanges, Watch},
};

/// Whether a [`GitView`] watches the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchMode {
    /// Watch, and fall back to recomputing where the watcher cannot run.
    #[default]
    Watch,
    /// Do not watch: every call recomputes (for one-shot processes such as the CLI, where a
    /// watcher would see nothing before the process exits).
    Off,
}

/// How a [`GitView`] is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewOptions {
    /// Whether to watch the file system.
    pub watch: WatchMode,
    /// The branch developers' branches are compared with.
    pub base_branch: String,
    /// How long a synced call waits for the watcher to report its cookie before it stops
    /// trusting the watcher (and recomputes).
    pub cookie_timeout: Duration,
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            watch: WatchMode::Watch,
            base_branch: crate::DEFAULT_BASE_BRANCH.to_owned(),
            cookie_timeout: Duration::from_secs(10),
        }
    }
}

/// One repository's status and refs, cached, watched and shared by every thread.
///
/// Cheap to clone (an [`Arc`] inside), `Send + Sync`. The watcher stops when the last clone is
/// dropped.
#[derive(Debug, Clone)]
pub struct GitView {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    repo: Repo,
    watch: Watch,
    base_branch: String,
    status: SingleFlight<StatusTracker>,
    refs: SingleFlight<RefsSnapshot>,
    memo: Mutex<AheadBehindMemo>,
    /// The dirty summary of the status last summarized, by the status's address: kept
    /// allocated by the `Weak`, so no other status can take that address meanwhile, and a
    /// status never changes behind its `Arc` (`Status` has no interior mutability, and
    /// `Arc::make_mut` moves a value that a `Weak` points at before changing it).
    dirty: Mutex<Option<(Weak<Status>, DirtySummary)>>,
    counts: Counts,
    hit_rate: Arc<Ratio>,
    fallback: Arc<Counter>,
    overflow: Arc<Counter>,
    overflows_seen: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    full: AtomicU64,
    incremental: AtomicU64,
    refs: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    fallback: AtomicU64,
}

/// What one [`GitView`] has done since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Statuses computed from nothing.
    pub full_computations: u64,
    /// Statuses brought up to date incrementally.
    pub incremental_refreshes: u64,
    /// Ref snapshots computed.
    pub refs_computations: u64,
    /// Status questions answered without computing (stored or shared with another caller).
    pub hits: u64,
    /// Status questions that ran a computation.
    pub misses: u64,
    /// Questions answered by recomputing because no watcher could be trusted.
    pub fallback_answers: u64,
    /// Watcher queue overflows.
    pub overflows: u64,
    /// Whether the watcher runs and is trusted.
    pub watching: bool,
}

/// Which cached value a question is about.
#[derive(Debug, Clone, Copy)]
enum Which {
    Status,
    Refs,
}

impl Which {
    fn version(self, pending: &Pending) -> u64 {
        match self {
            Which::Status => pending.status_version,
            Which::Refs => pending.refs_version,
        }
    }
}

impl GitView {
    /// Opens the repository whose work tree contains `path` and starts watching it.
    ///
    /// # Errors
    /// [`Error::NotARepository`] when `path` is not inside a work tree, [`Error::Bare`] when
    /// the repository is bare.
    pub fn open(path: impl AsRef<Path>, options: &ViewOptions) -> Result<Self> {
        Ok(Self::new(Repo::open(path)?, options))
    }

    /// A view over an open repository.
    pub fn new(repo: Repo, options: &ViewOptions) -> Self {
        let roots = Roots {
            workdir: repo.workdir().to_path_buf(),
            git_dir: repo.git_dir().to_path_buf(),
            common_dir: repo.common_dir().to_path_buf(),
        };
        // A repository only the `git` program reads is not watched: every status is git's,
        // computed again on each question.
        let watch = match options.watch {
            WatchMode::Watch if repo.needs_git_program().is_none() => {
                Watch::start(roots, options.cookie_timeout, skippable_dirs(&repo))
            }
            _ => Watch::disabled(roots),
        };
        let registry = Registry::global();
        Self {
            inner: Arc::new(Inner {
                repo,
                watch,
                base_branch: options.base_branch.clone(),
                status: SingleFlight::new(),
                refs: SingleFlight::new(),
                memo: Mutex::new(AheadBehindMemo::default()),
                dirty: Mutex::new(None),
                counts: Counts::default(),
                hit_rate: registry.ratio(core_names::CACHE_HIT_RATE),
                fallback: registry.counter(names::GIT_WATCH_FALLBACK),
                overflow: registry.counter(names::GIT_WATCH_OVERFLOW),
                overflows_seen: AtomicU64::new(0),
            }),
        }
    }

    /// The repository.
    pub fn repo(&self) -> &Repo {
        &self.inner.repo
    }

    /// The base branch's name.
    pub fn base_branch(&self) -> &str {
        &self.inner.base_branch
    }

    /// `status`'s dirty summary, counted once per status: a warm sync of a work tree with
    /// thousands of changed or untracked paths does not count them again.
    pub(crate) fn dirty_summary(&self, status: &Arc<Status>) -> DirtySummary {
        let mut last = self.inner.dirty.lock();
        if let Some((seen, summary)) = last.as_ref() {
            if std::ptr::eq(seen.as_ptr(), Arc::as_ptr(status)) {
                return *summary;
            }
        }
        let summary = DirtySummary::of(status);
        *last = Some((Arc::downgrade(status), summary));
        summary
    }

    /// The working-tree status, as fresh as asked.
    ///
    /// # Errors
    /// [`Error::Gone`] when the repository was deleted or moved (never a stale answer);
    /// [`Error::Git`] or [`Error::Io`] when the status cannot be computed.
    pub fn status(&self, freshness: Freshness) -> Result<Answer<Status>> {
        let inner = &self.inner;
        let tracked = inner.ask(&inner.status, Which::Status, freshness, |prev| {
            inner.compute_status(prev)
        })?;
        let answer = Answer {
            value: Arc::clone(tracked.value.shared_status()),
            fresh: tracked.fresh,
            computed: tracked.computed,
        };
        if answer.computed {
            inner.counts.misses.fetch_add(1, Ordering::Relaxed);
            inner.hit_rate.miss();
        } else {
            inner.counts.hits.fetch_add(1, Ordering::Relaxed);
            inner.hit_rate.hit();
        }
        Ok(answer)
    }

    /// Every ref FlowForge needs, in one snapshot, as fresh as asked.
    ///
    /// # Errors
    /// [`Error::Gone`] when the repository was deleted or moved; [`Error::Git`] when a ref
    /// cannot be read.
    pub fn refs(&self, freshness: Freshness) -> Result<Answer<RefsSnapshot>> {
        let inner = &self.inner;
        inner.ask(&inner.refs, Which::Refs, freshness, |_| {
            inner.compute_refs()
        })
    }

    /// Whether the watcher runs and is trusted (`false`: every call recomputes).
    pub fn is_watching(&self) -> bool {
        self.inner.watch.is_healthy()
    }

    /// Why the view is not watching, if it is not.
    pub fn not_watching_because(&self) -> Option<String> {
        self.inner.watch.shared().failure()
    }

    /// What this view has done so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            full_computations: get(&c.full),
            incremental_refreshes: get(&c.incremental),
            refs_computations: get(&c.refs),
            hits: get(&c.hits),
            misses: get(&c.misses),
            fallback_answers: get(&c.fallback),
            overflows: self.inner.watch.shared().pending().overflows,
            watching: self.is_watching(),
        }
    }
}

impl Inner {
    /// Answers one question: decides the version the answer must cover, then lets the
    /// single-flight cell hit, share or compute.
    fn ask<T>(
        &self,
        cell: &SingleFlight<T>,
        which: Which,
        freshness: Freshness,
        compute: impl FnOnce(Option<Arc<T>>) -> Result<T>,
    ) -> Result<Answer<T>> {
        self.repo.check_present()?;
        if let Freshness::MaxAge(max_age) = freshness {
            if let Some(fetched) = cell.get_if_younger(max_age) {
                self.check_not_gone()?;
                let age = fetched.computed_at.elapsed();
                return Ok(answer(fetched, Fresh::Aged(age)));
            }
        }
        let (need, fresh) = self.need(which, freshness)?;
        let shared = self.watch.shared();
        let fetched = cell.get(need, || which.version(&shared.pending()), compute)?;
        Ok(answer(fetched, fresh))
    }

    /// The version an answer must cover, and how fresh it will be.
    fn need(&self, which: Which, freshness: Freshness) -> Result<(u64, Fresh)> {
        let shared = self.watch.shared();
        self.note_overflows();
        if self.watch.is_healthy() {
            let fresh = match freshness {
                Freshness::Synced => match self.watch.sync() {
                    Ok(()) => Some(Fresh::Synced),
                    Err(CookieError::Write(why)) => {
                        self.repo.check_present()?;
                        self.watch.fail(why);
                        None
                    }
                    Err(CookieError::Timeout) => {
                        (self.watch).fail("the watcher did not report a cookie in time".to_owned());
                        None
                    }
                    Err(_) => None,
                },
                Freshness::Cached | Freshness::MaxAge(_) => Some(Fresh::Watched),
            };
            // Health is checked again: a failure before our cookie may have lost events.
            if let (Some(fresh), true) = (fresh, self.watch.is_healthy()) {
                let pending = shared.pending();
                if pending.gone {
                    return Err(self.gone());
                }
                return Ok((which.version(&pending), fresh));
            }
        }
        // No trusted watcher: anything may have changed, so the answer is recomputed after
        // this point.
        self.counts.fallback.fetch_add(1, Ordering::Relaxed);
        self.fallback.incr();
        let mut pending = shared.pending();
        pending.status = StatusChanges {
            full: true,
            ..StatusChanges::default()
        };
        pending.status_version += 1;
        pending.refs_version += 1;
        Ok((which.version(&pending), Fresh::Recomputed))
    }

    fn compute_status(&self, previous: Option<Arc<StatusTracker>>) -> Result<StatusTracker> {
        let shared = self.watch.shared();
        let changes = std::mem::take(&mut shared.pending().status);
        let result = self.apply(previous, &changes);
        if result.is_err() {
            shared.pending().status.merge(changes);
        }
        result
    }

    fn apply(
        &self,
        previous: Option<Arc<StatusTracker>>,
        changes: &StatusChanges,
    ) -> Result<StatusTracker> {
        // A skipped directory that git may now read (the index or the ignore rules changed)
        // is watched before the status reads it, and the status is then a full one.
        let mut full = changes.full;
        if (changes.full || changes.index) && self.watch.skips_any() {
            full |= !(self.watch)
                .keep_skipping(&skippable_dirs(&self.repo))
                .is_empty();
        }
        // A new directory is watched before it is read, so nothing created in it is missed.
        // After lost events (or too many paths to track) any directory may be new.
        if changes.full && previous.is_some() && self.watch.is_healthy() {
            self.watch.ensure_all_watched();
        }
        for dir in &changes.maybe_dirs {
            self.watch.ensure_watched(&self.repo.workdir().join(dir));
        }
        match previous {
            Some(previous) if !full => {
                let mut tracker = StatusTracker::clone(&previous);
                if changes.index {
                    tracker.refresh_index_and_head(&self.repo)?;
                }
                if !changes.paths.is_empty() {
                    // `refresh_paths` widens each path to what must be recomputed.
                    let paths: Vec<PathBuf> = changes.paths.iter().cloned().collect();
                    tracker.refresh_paths(&self.repo, &paths)?;
                }
                self.counts.incremental.fetch_add(1, Ordering::Relaxed);
                Ok(tracker)
            }
            _ => {
                self.counts.full.fetch_add(1, Ordering::Relaxed);
                // The view's own index writes would come back as events: it leaves the index
                // to git (and to one-shot statuses).
                let options = StatusOptions {
                    no_optional_locks: true,
                    ..StatusOptions::default()
                };
                self.repo.track_status(&options)
            }
        }
    }

    fn compute_refs(&self) -> Result<RefsSnapshot> {
        self.counts.refs.fetch_add(1, Ordering::Relaxed);
        let mut memo = self.memo.lock();
        let mut snapshot = None;
        self.repo.with_git2(|git| {
            snapshot = Some(RefsSnapshot::compute(git, &self.base_branch, &mut memo));
            Ok(())
        })?;
        snapshot.expect("with_git2 ran the closure since it returned Ok")
    }

    fn check_not_gone(&self) -> Result<()> {
        if self.watch.shared().pending().gone {
            return Err(self.gone());
        }
        Ok(())
    }

    fn gone(&self) -> Error {
        Error::Gone {
            path: self.repo.workdir().to_path_buf(),
        }
    }

    /// Feeds overflows the watcher saw into the global counter.
    fn note_overflows(&self) {
        let overflows = self.watch.shared().pending().overflows;
        let before = self.overflows_seen.swap(overflows, Ordering::Relaxed);
        if overflows > before {
            self.overflow.add(overflows - before);
        }
    }
}

fn answer<T>(fetched: Fetched<T>, fresh: Fresh) -> Answer<T> {
    Answer {
        value: fetched.value,
        fresh,
        computed: fetched.how == How::Computed,
    }
}

/// The top-level directories of the work tree that git ignores and tracks nothing in: their
/// contents cannot change a status, so they are not watched (FlowForge's own `.flowforge/`,
/// build output). Empty when anything cannot be told (an index this crate's reader does not
/// take whole, such as a split index): then everything is watched. The index's paths are
/// visited, not kept: loading it (into a pooled libgit2 handle, or as parsed entries) would
/// cost the view as much memory again as its status.
fn skippable_dirs(repo: &Repo) -> Vec<PathBuf> {
    let workdir = repo.workdir();
    let Ok(entries) = std::fs::read_dir(workdir) else {
        return Vec::new();
    };
    let names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name != ".git")
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    // Which of them hold a tracked path (or are one: a submodule).
    let mut tracked = vec![false; names.len()];
    match std::fs::File::open(repo.git_dir().join("index")) {
        Ok(file) => {
            let read = crate::status::index_file::for_each_path(file, |path| {
                let top = path.split(|&b| b == b'/').next().unwrap_or(path);
                if let Some(i) = names.iter().position(|n| n.as_bytes() == top) {
                    tracked[i] = true;
                }
            });
            if read.is_none() {
                return Vec::new();
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return Vec::new(),
    }
    let skippable = repo.with_git2(|git| {
        let mut dirs = Vec::new();
        for (name, tracked) in names.into_iter().zip(tracked) {
            if tracked {
                continue;
            }
            let ignored = git
                .is_path_ignored(format!("{name}/"))
                .map_err(repo.git_error("match the ignore rules"))?;
            if ignored {
                dirs.push(workdir.join(name));
            }
        }
        Ok(dirs)
    });
    skippable.unwrap_or_default()
}
