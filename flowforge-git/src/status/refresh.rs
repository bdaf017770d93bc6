//! Computing a status from nothing, and keeping it up to date from change notifications.

use std::{path::PathBuf, time::SystemTime};

use git2::{Index, Repository};

use super::{
    compute::{self, UnstagedSide},
    fast, head,
    model::{Engine, StagedBasis, Status, StatusOptions},
    scope, worktree_renames,
};
use crate::{
    Repo,
    error::{Error, Result},
};

impl Repo {
    /// The full working-tree status, computed from nothing (see [`Status`]).
    ///
    /// # Errors
    ///
    /// [`Error::Gone`](crate::Error::Gone) if the repository was deleted or moved;
    /// [`Error::Git`](crate::Error::Git) if libgit2 cannot read the index (corrupt), HEAD, the
    /// objects or the work tree.
    pub fn status(&self, options: &StatusOptions) -> Result<Status> {
        let by_git =
            |why: &str| super::by_git::status(self.workdir(), options.no_optional_locks, why);
        if let Some(why) = self.needs_git_program() {
            return by_git(why);
        }
        if options.engine == Engine::GitProgram {
            return by_git("asked for");
        }
        let computed = self.with_git2(|git| match options.engine {
            Engine::Libgit2 => self.compute_with_libgit2(git),
            _ => self.compute_full(git, !options.no_optional_locks),
        });
        match computed {
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

    /// A full status: the fast path, or libgit2 where the fast path does not apply.
    /// `write_index`: the fast path may cache refreshed stat data in the index.
    fn compute_full(&self, git: &Repository, write_index: bool) -> Result<Status> {
        match fast::compute(self, git, write_index)? {
            Some(mut status) => {
                worktree_renames::pair(&mut status, git)
                    .map_err(self.git_error("detect work-tree renames"))?;
                Ok(status)
            }
            None => self.compute_with_libgit2(git),
        }
    }

    fn compute_with_libgit2(&self, git: &Repository) -> Result<Status> {
        let index_fingerprint = compute::index_fingerprint(git);
        let index = compute::fresh_index(git).map_err(self.git_error("read the index"))?;
        let entries = index.iter().collect::<Vec<_>>();
        let indexed = entries.iter().map(|e| super::by_git::IndexedPath {
            path: &e.path,
            stage: ((e.flags >> 12) & 3) as u8,
            mode: e.mode,
            skip_worktree: e.flags_extended & (1 << 14) != 0,
        });
        if let Some(why) = super::by_git::rules_only_git_reads(git, self.workdir(), indexed) {
            return super::by_git::status(self.workdir(), true, &why);
        }
        let head = head::read(git).map_err(self.git_error("read HEAD"))?;
        let staged =
            compute::staged_side(git, &index).map_err(self.git_error("diff HEAD to the index"))?;
        let unstaged = compute::unstaged_side(git, &index, None, &staged.intent_to_add)
            .map_err(self.git_error("diff the index to the work tree"))?;
        let mut status = Status {
            staged_basis: Some(StagedBasis {
                head: head.commit,
                index_fingerprint,
            }),
            head,
            staged: staged.staged,
            conflicts: staged.conflicts,
            unstaged: unstaged.unstaged,
            untracked: unstaged.untracked,
            worktree_renames: Default::default(),
            intent_to_add: std::sync::Arc::new(staged.intent_to_add),
            index_entries: None,
            quote_path: crate::config::quote_path(git),
            computed_at: SystemTime::now(),
            by_git: None,
        };
        worktree_renames::pair(&mut status, git)
            .map_err(self.git_error("detect work-tree renames"))?;
        Ok(status)
    }
}

impl Status {
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
        if self.by_git.is_some() {
            return self.recompute_by_git(repo);
        }
        repo.with_git2(|git| {
            let plan = scope::plan(repo, changed);
            if plan.full {
                *self = repo.compute_full(git, false)?;
                return Ok(());
            }
            let mut next = self.clone();
            let head_commit = git.refname_to_id("HEAD").ok();
            let head = if plan.head || head_commit != next.head.commit {
                head::read(git).map_err(repo.git_error("read HEAD"))?
            } else {
                next.head.clone()
            };
            next.sync_index_and_head(repo, git, head)?;
            let index = compute::fresh_index(git).map_err(repo.git_error("read the index"))?;
            let scopes = scope::widen(&index, plan.worktree);
            if !scopes.is_empty() {
                next.refresh_unstaged(repo, git, &index, &scopes)?;
            }
            worktree_renames::pair(&mut next, git)
                .map_err(repo.git_error("detect work-tree renames"))?;
            next.computed_at = SystemTime::now();
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
        if self.by_git.is_some() {
            return self.recompute_by_git(repo);
        }
        repo.with_git2(|git| {
            let head = head::read(git).map_err(repo.git_error("read HEAD"))?;
            let mut next = self.clone();
            next.sync_index_and_head(repo, git, head)?;
            worktree_renames::pair(&mut next, git)
                .map_err(repo.git_error("detect work-tree renames"))?;
            next.computed_at = SystemTime::now();
            *self = next;
            Ok(())
        })
    }

    /// A status the `git` program computed is computed again in full (libgit2 cannot read
    /// what it would refresh from), as [`Repo::status`] decides.
    fn recompute_by_git(&mut self, repo: &Repo) -> Result<()> {
        let options = StatusOptions {
            no_optional_locks: true,
            ..StatusOptions::default()
        };
        *self = repo.status(&options)?;
        Ok(())
    }

    /// Takes `head` and brings the staged side, and the unstaged side of the index entries
    /// that changed, up to date with the index file; a full recompute when that cannot be
    /// done incrementally.
    fn sync_index_and_head(
        &mut self,
        repo: &Repo,
        git: &Repository,
        head: head::Head,
    ) -> Result<()> {
        self.quote_path = crate::config::quote_path(git);
        let fingerprint = compute::index_fingerprint(git);
        let (index_same, head_same) = match &self.staged_basis {
            Some(basis) => (
                basis.index_fingerprint == fingerprint,
                basis.head == head.commit,
            ),
            None => (false, false),
        };
        self.head = head;
        if index_same && head_same {
            return Ok(());
        }
        if !fast::refresh(repo, git, self, fingerprint, index_same)? {
            *self = repo.compute_full(git, false)?;
        }
        Ok(())
    }

    pub(crate) fn refresh_unstaged(
        &mut self,
        repo: &Repo,
        git: &Repository,
        index: &Index,
        scopes: &[Vec<u8>],
    ) -> Result<()> {
        let UnstagedSide {
            unstaged,
            mut untracked,
        } = compute::unstaged_side(git, index, Some(scopes), &self.intent_to_add)
            .map_err(repo.git_error("diff the index to the work tree"))?;
        compute::settle_untracked_directories(git, index, scopes, &mut untracked)
            .map_err(repo.git_error("decide untracked directories"))?;
        for scope in scopes {
            let under = |path: &Vec<u8>| scope::is_under(path, scope);
            self.unstaged.retain(|path, _| !under(path));
            self.untracked.retain(|path| !under(path));
        }
        self.unstaged.extend(unstaged);
        self.untracked.extend(untracked);
        Ok(())
    }
}
