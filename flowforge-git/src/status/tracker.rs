//! Computing a status from nothing, and keeping it up to date from change notifications: the
//! [`StatusTracker`] owns a [`Status`] and what its engine needs to refresh it.

use std::{path::PathBuf, sync::Arc};

use git2::{Oid, Repository};

use super::{
    by_git,
    fast::{self, IndexSnapshot},
    head, index, libgit2, scope,
    types::{Engine, Head, Status, StatusOptions},
    worktree_renames,
};
use crate::{
    Repo,
    error::{Error, Result},
};

/// A [`Status`] kept up to date: the status, and the refresh state its engine left beside it
/// (the index entries it was computed from and what its staged side was computed from), so
/// that a refresh recomputes only what changed.
///
/// ```
/// use flowforge_git::{PorcelainOptions, Repo, StatusOptions};
/// # let dir = tempfile::tempdir()?;
/// # git2::Repository::init(dir.path())?;
/// let repo = Repo::open(dir.path())?;
/// let mut tracker = repo.track_status(&StatusOptions::default())?;
/// assert!(tracker.status().is_clean());
///
/// // A watcher saw one file appear: refresh only that path.
/// std::fs::write(dir.path().join("new.txt"), "hello\n")?;
/// tracker.refresh_paths(&repo, &["new.txt".into()])?;
/// assert_eq!(tracker.status().porcelain(PorcelainOptions::default()), b"?? new.txt\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StatusTracker {
    status: Arc<Status>,
    /// The index entries the unstaged side was computed from (the fast engine only).
    index: Option<IndexSnapshot>,
    /// What the staged side was computed from, to skip recomputing it when nothing changed
    /// (`None` for a status the `git` program computed: it is computed again in full).
    staged_basis: Option<StagedBasis>,
}

/// The inputs of the staged side: HEAD's commit and the index file's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StagedBasis {
    head: Option<Oid>,
    index_fingerprint: Vec<u8>,
}

impl Repo {
    /// The full working-tree status, computed from nothing (see [`Status`]).
    ///
    /// # Errors
    ///
    /// [`Error::Gone`](crate::Error::Gone) if the repository was deleted or moved;
    /// [`Error::Git`](crate::Error::Git) if libgit2 cannot read the index (corrupt), HEAD, the
    /// objects or the work tree.
    pub fn status(&self, options: &StatusOptions) -> Result<Status> {
        Ok(self.track_status(options)?.into_status())
    }

    /// The full working-tree status, computed from nothing, in a [`StatusTracker`] that keeps
    /// it up to date.
    ///
    /// # Errors
    ///
    /// As [`Repo::status`].
    pub fn track_status(&self, options: &StatusOptions) -> Result<StatusTracker> {
        let by_git = |why: &str| {
            let status = by_git::status(self.workdir(), options.no_optional_locks, why)?;
            Ok(StatusTracker {
                status: Arc::new(status),
                index: None,
                staged_basis: None,
            })
        };
        if let Some(why) = self.needs_git_program() {
            return by_git(why);
        }
        if options.engine == Engine::GitProgram {
            return by_git("asked for");
        }
        match self.with_git2(|git| StatusTracker::compute(self, git, options)) {
            // An index libgit2 refuses that git reads (entries such as `../x`): git answers;
            // when it cannot either, libgit2's reason is the error.
            Err(Error::Git { source, .. }) if source.class() == git2::ErrorClass::Index => {
                let why = format!("libgit2 cannot read the index: {}", source.message());
                by_git(&why).map_err(|_| Error::Git {
                    operation: "read the index",
                    path: self.workdir().to_path_buf(),
                    source,
                })
            }
            computed => computed,
        }
    }
}

impl StatusTracker {
    /// The status as of the last computation or refresh.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The status, for a caller that no longer needs to refresh it.
    pub fn into_status(self) -> Status {
        Arc::try_unwrap(self.status).unwrap_or_else(|shared| Status::clone(&shared))
    }

    /// The status, shared without a copy.
    pub(crate) fn shared_status(&self) -> &Arc<Status> {
        &self.status
    }

    /// Brings the status up to date after the given paths changed, as a filesystem watcher
    /// reports them: files or directories, absolute or relative to the work tree's top.
    ///
    /// The result is exactly what [`Repo::status`] would return now, provided every path that
    /// changed since the status was computed is passed. The cost follows the paths, not the
    /// number of tracked files. Each path is classified by the same rule as the filesystem
    /// watcher's events:
    ///
    /// * a work-tree path is recomputed on its own (libgit2's index-to-work-tree diff limited
    ///   to it), widened to the topmost untracked directory above it so that untracked
    ///   directories collapse as in a full status; a changed nested `.gitignore` widens to its
    ///   directory, a path inside a nested repository's `.git` to that repository;
    /// * `.git/index`, `.git/HEAD`, refs and `packed-refs` re-read HEAD and the index side;
    /// * `.git/config`, `.git/info/exclude`, `.git/info/sparse-checkout`, a submodule's state
    ///   under `.git/modules/`, any `.gitattributes`, `.gitmodules`, the top-level `.gitignore`,
    ///   the work tree's top itself, or more than a few thousand paths at once fall back to a
    ///   full recompute for this call;
    /// * everything else git writes inside `.git` (objects, logs, `index.lock`) and paths
    ///   outside the repository cause no work.
    ///
    /// If the index changed without being reported, it is noticed (its fingerprint is checked
    /// on every call) and refreshed too.
    ///
    /// # Errors
    ///
    /// As [`Repo::status`]. On error the status is left as it was.
    pub fn refresh_paths(&mut self, repo: &Repo, changed: &[PathBuf]) -> Result<()> {
        if self.status.computed_by_git().is_some() {
            return self.recompute_by_git(repo);
        }
        repo.with_git2(|git| {
            let plan = scope::plan(repo, changed);
            if plan.full {
                *self = Self::compute_full(repo, git)?;
                return Ok(());
            }
            let mut next = self.clone();
            let head_commit = git.refname_to_id("HEAD").ok();
            let head = if plan.head || head_commit != next.status.head().commit {
                head::read(git).map_err(repo.git_error("read HEAD"))?
            } else {
                next.status.head().clone()
            };
            next.sync_index_and_head(repo, git, head)?;
            let index = index::fresh_index(git).map_err(repo.git_error("read the index"))?;
            let scopes = scope::widen(&index, plan.worktree);
            let status = Arc::make_mut(&mut next.status);
            if !scopes.is_empty() {
                libgit2::refresh_under(repo, git, &index, &scopes, status)?;
            }
            pair_renames(repo, git, status)?;
            status.touch();
            *self = next;
            Ok(())
        })
    }

    /// Brings the status up to date after the index, `HEAD` or refs changed (a commit, a
    /// checkout, `git add`, a fetch). HEAD and the upstream are always re-read; the rest only
    /// if HEAD's commit or the index file changed (the file's size, times, inode and checksum):
    /// the staged side is recomputed (nothing to do when the index's cache-tree root is HEAD's
    /// tree), and the unstaged side only for the index entries whose id, mode, stage or flags
    /// changed — stat-only rewrites of the index (git refreshing it) cost nothing. A status
    /// computed by libgit2 alone, an index the fast path does not read, or more than 5,000
    /// changed entries are recomputed in full instead.
    ///
    /// # Errors
    ///
    /// As [`Repo::status`]. On error the status is left as it was.
    pub fn refresh_index_and_head(&mut self, repo: &Repo) -> Result<()> {
        if self.status.computed_by_git().is_some() {
            return self.recompute_by_git(repo);
        }
        repo.with_git2(|git| {
            let head = head::read(git).map_err(repo.git_error("read HEAD"))?;
            let mut next = self.clone();
            next.sync_index_and_head(repo, git, head)?;
            let status = Arc::make_mut(&mut next.status);
            pair_renames(repo, git, status)?;
            status.touch();
            *self = next;
            Ok(())
        })
    }

    /// A status the `git` program computed is computed again in full (libgit2 cannot read
    /// what it would refresh from), as [`Repo::track_status`] decides.
    fn recompute_by_git(&mut self, repo: &Repo) -> Result<()> {
        let options = StatusOptions {
            no_optional_locks: true,
            ..StatusOptions::default()
        };
        *self = repo.track_status(&options)?;
        Ok(())
    }

    /// A full status by `options`' engine: the fast engine, or libgit2 where the fast engine
    /// does not apply. `write_index`: the fast engine may cache refreshed stat data in the
    /// index.
    fn compute(repo: &Repo, git: &Repository, options: &StatusOptions) -> Result<Self> {
        let write_index = !options.no_optional_locks;
        // Read before the index itself: a change in between shows as a changed fingerprint.
        let index_fingerprint = index::fingerprint(git);
        let fast = match options.engine {
            Engine::Libgit2 => None,
            _ => fast::compute(repo, git, write_index)?,
        };
        let (mut status, index) = match fast {
            Some(computed) => computed,
            None => (libgit2::status(repo, git)?, None),
        };
        pair_renames(repo, git, &mut status)?;
        // A status the `git` program computed is computed again in full, not refreshed.
        let staged_basis = status.computed_by_git().is_none().then(|| StagedBasis {
            head: status.head().commit,
            index_fingerprint,
        });
        Ok(Self {
            staged_basis,
            status: Arc::new(status),
            index,
        })
    }

    /// A full recompute while refreshing: the default engine, leaving the index alone.
    fn compute_full(repo: &Repo, git: &Repository) -> Result<Self> {
        let options = StatusOptions {
            no_optional_locks: true,
            ..StatusOptions::default()
        };
        Self::compute(repo, git, &options)
    }

    /// Takes `head` and brings the staged side, and the unstaged side of the index entries
    /// that changed, up to date with the index file; a full recompute when that cannot be
    /// done incrementally.
    fn sync_index_and_head(&mut self, repo: &Repo, git: &Repository, head: Head) -> Result<()> {
        let fingerprint = index::fingerprint(git);
        let (index_same, head_same) = match &self.staged_basis {
            Some(basis) => (
                basis.index_fingerprint == fingerprint,
                basis.head == head.commit,
            ),
            None => (false, false),
        };
        let status = Arc::make_mut(&mut self.status);
        status.set_quote_path(crate::config::quote_path(git));
        status.set_head(head);
        if index_same && head_same {
            return Ok(());
        }
        let refreshed = match &self.index {
            Some(previous) => fast::refresh(repo, git, status, previous, index_same)?,
            None => None,
        };
        match refreshed {
            Some(snapshot) => {
                self.index = Some(snapshot);
                self.staged_basis = Some(StagedBasis {
                    head: status.head().commit,
                    index_fingerprint: fingerprint,
                });
            }
            None => *self = Self::compute_full(repo, git)?,
        }
        Ok(())
    }
}

/// Recomputes the work-tree renames of `status` from its two sides (a status the `git`
/// program computed keeps git's own pairs).
fn pair_renames(repo: &Repo, git: &Repository, status: &mut Status) -> Result<()> {
    if status.computed_by_git().is_some() {
        return Ok(());
    }
    let renames = worktree_renames::pair(status.staged(), status.unstaged(), git)
        .map_err(repo.git_error("detect work-tree renames"))?;
    status.unstaged_mut().set_renames(renames);
    Ok(())
}
