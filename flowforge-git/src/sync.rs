//! Git sync for N developers from one status and one ref snapshot.
//!
//! The original bash FlowForge ran `git status --porcelain` and `git rev-parse HEAD` once per
//! developer, so its cost grew with the team. Here
//! [`GitView::sync`] asks the cache once for the status and once for the ref snapshot, then
//! builds each developer's view from them: `HEAD`, the dirty summary, the developer's branches
//! with ahead/behind. Adding a developer adds only that per-developer step. Every call's
//! duration is recorded in the `git_sync_time` latency of
//! [`Registry::global`](flowforge_core::metrics::Registry::global).

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use flowforge_core::{
    DeveloperId, TaskId,
    metrics::{Registry, names},
};

use crate::{
    Status,
    cache::{Answer, Freshness, GitView, ViewOptions},
    error::Result,
    refs::{Branch, RefsSnapshot},
    status::{Entry, EntryKind, Head},
};

/// One developer to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeveloperRequest {
    /// The developer.
    pub id: DeveloperId,
    /// The tasks the developer holds: their `feature/<task>-work` branches are theirs.
    pub tasks: Vec<TaskId>,
}

impl DeveloperRequest {
    /// A developer holding no task.
    pub fn new(id: DeveloperId) -> Self {
        Self {
            id,
            tasks: Vec::new(),
        }
    }
}

/// How dirty the work tree is, counted as `git status --porcelain` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirtySummary {
    /// Tracked paths with a staged change (`X` letter).
    pub staged: usize,
    /// Tracked paths with an unstaged change (`Y` letter).
    pub unstaged: usize,
    /// Unmerged paths.
    pub conflicted: usize,
    /// Untracked entries (a collapsed directory counts once).
    pub untracked: usize,
}

impl DirtySummary {
    /// Counts `status`'s entries.
    pub fn of(status: &Status) -> Self {
        let mut summary = Self::default();
        for entry in status.entries() {
            match entry.kind {
                EntryKind::Tracked {
                    staged, unstaged, ..
                } => {
                    summary.staged += usize::from(staged.is_some());
                    summary.unstaged += usize::from(unstaged.is_some());
                }
                EntryKind::Conflicted(_) => summary.conflicted += 1,
                EntryKind::Untracked => summary.untracked += 1,
            }
        }
        summary
    }

    /// Nothing staged, changed, unmerged or untracked.
    pub fn is_clean(&self) -> bool {
        *self == Self::default()
    }
}

/// What one developer sees: shares the sync's one status and one ref snapshot, so answering
/// another developer copies nothing of either.
#[derive(Clone)]
pub struct DeveloperSync {
    /// The developer.
    pub developer: DeveloperId,
    /// The dirty summary of the shared work tree.
    pub dirty: DirtySummary,
    status: Arc<Status>,
    refs: Arc<RefsSnapshot>,
    /// The developer's branches, as indices into `refs.branches`.
    branches: Vec<usize>,
}

impl DeveloperSync {
    /// `HEAD` of the shared work tree: branch, commit, upstream.
    pub fn head(&self) -> &Head {
        self.status.head()
    }

    /// The developer's branches (`dev-<id>`, `dev-<id>/…`, `feature/<task>-work`), sorted by
    /// name, with tips and ahead/behind against the base branch and their upstream.
    pub fn branches(
        &self,
    ) -> impl ExactSizeIterator<Item = &Branch> + DoubleEndedIterator + Clone + '_ {
        self.branches.iter().map(|&i| &self.refs.branches[i])
    }

    /// The full status this developer's view was built from (shared, not copied).
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The ref snapshot this developer's view was built from (shared, not copied).
    pub fn refs(&self) -> &RefsSnapshot {
        &self.refs
    }

    /// The status entry of `path` (relative to the work tree, `/`-separated, as git prints
    /// it), if it has one.
    pub fn entry(&self, path: &[u8]) -> Option<Entry<'_>> {
        self.status.entries().into_iter().find(|e| e.path == path)
    }
}

impl std::fmt::Debug for DeveloperSync {
    /// The developer's part only: not the shared status and ref snapshot.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeveloperSync")
            .field("developer", &self.developer)
            .field("head", self.head())
            .field("dirty", &self.dirty)
            .field("branches", &self.branches().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The result of one git sync.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The one status every developer's view was built from.
    pub status: Answer<Status>,
    /// The one ref snapshot every developer's view was built from.
    pub refs: Answer<RefsSnapshot>,
    /// One view per requested developer, in the order asked.
    pub developers: Vec<DeveloperSync>,
    /// How long the call took.
    pub elapsed: Duration,
}

impl GitView {
    /// Every requested developer's view, from one status and one ref snapshot.
    ///
    /// With [`Freshness::Synced`] one cookie round trip covers both: the ref snapshot is then
    /// asked for as [`Freshness::Cached`], which after the round trip includes every change
    /// made before the call.
    ///
    /// # Errors
    /// As [`GitView::status`] and [`GitView::refs`].
    pub fn sync(
        &self,
        developers: &[DeveloperRequest],
        freshness: Freshness,
    ) -> Result<SyncReport> {
        let start = Instant::now();
        let status = self.status(freshness)?;
        let refs_freshness = match freshness {
            Freshness::Synced => Freshness::Cached,
            other => other,
        };
        let refs = self.refs(refs_freshness)?;
        let dirty = self.dirty_summary(&status.value);
        let developers = developers
            .iter()
            .map(|dev| DeveloperSync {
                developer: dev.id.clone(),
                dirty,
                status: Arc::clone(&status.value),
                refs: Arc::clone(&refs.value),
                branches: refs.value.developer_branch_indices(&dev.id, &dev.tasks),
            })
            .collect();
        let elapsed = start.elapsed();
        Registry::global()
            .latency(names::GIT_SYNC_TIME)
            .record(elapsed);
        Ok(SyncReport {
            status,
            refs,
            developers,
            elapsed,
        })
    }
}

/// Opens a view on the repository containing `path` and syncs `developers` once: the
/// one-call form for one-shot processes and for measuring a cold start.
///
/// # Errors
/// As [`GitView::open`] and [`GitView::sync`].
pub fn sync_once(
    path: impl AsRef<Path>,
    developers: &[DeveloperRequest],
    options: &ViewOptions,
    freshness: Freshness,
) -> Result<SyncReport> {
    GitView::open(path, options)?.sync(developers, freshness)
}
