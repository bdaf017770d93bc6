//! [`Repo`]: the shared, thread-safe repository handle.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use parking_lot::Mutex;

use crate::{
    config::GitConfig,
    error::{Error, Result},
};

/// How many idle libgit2 handles a [`Repo`] keeps for reuse.
const POOL_SIZE: usize = 4;

/// A handle on one non-bare git repository, shared by every thread and every developer.
///
/// `Repo` is `Send + Sync` and cheap to clone (an [`Arc`] inside). [`git2::Repository`] is
/// `Send` but not `Sync`, so `Repo` keeps a small **pool** of libgit2 handles behind a
/// [`parking_lot::Mutex`]: each operation takes a handle out of the pool (opening a new one if
/// the pool is empty, so concurrent callers never wait for each other), uses it on its own
/// thread, and puts it back (at most four are kept). libgit2 re-reads the index, config and
/// ignore files when they change on disk, so a pooled handle never answers from stale files.
///
/// The handle spawns no `git` process, ever.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # git2::Repository::init(dir.path())?;
/// # std::fs::create_dir(dir.path().join("sub"))?;
/// let repo = flowforge_git::Repo::open(dir.path().join("sub"))?; // discovers upward
/// assert_eq!(repo.workdir(), dir.path().canonicalize()?);
/// assert!(repo.git_dir().ends_with(".git"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Repo {
    inner: Arc<Inner>,
}

struct Inner {
    workdir: PathBuf,
    git_dir: PathBuf,
    common_dir: PathBuf,
    pool: Mutex<Vec<git2::Repository>>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("workdir", &self.inner.workdir)
            .field("git_dir", &self.inner.git_dir)
            .finish_non_exhaustive()
    }
}

impl Repo {
    /// Opens the repository whose work tree contains `path`, searching upward as git does.
    ///
    /// `path` may be the work tree's top, any directory inside it, or a linked worktree
    /// (`git worktree add`).
    ///
    /// # Errors
    ///
    /// [`Error::NotARepository`] if neither `path` nor any parent is inside a repository's work
    /// tree (or `path` does not exist); [`Error::Bare`] for a bare repository.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let repo = git2::Repository::discover(path).map_err(|source| Error::NotARepository {
            path: path.to_path_buf(),
            source,
        })?;
        let git_dir = normalize(repo.path());
        let Some(mut workdir) = repo.workdir().map(normalize) else {
            return Err(Error::Bare { path: git_dir });
        };
        // A `.git` file (`git init --separate-git-dir`) makes its directory the work tree
        // unless `core.worktree` says otherwise; libgit2 takes the git dir's parent instead.
        if let Some(top) = gitfile_top(path) {
            let configured = GitConfig::of(&repo).is_some_and(|c| c.is_set("core.worktree"));
            if !configured && top != workdir {
                repo.set_workdir(&top, false)
                    .map_err(|source| Error::NotARepository {
                        path: path.to_path_buf(),
                        source,
                    })?;
                workdir = top;
            }
        }
        let common_dir = normalize(repo.commondir());
        Ok(Self {
            inner: Arc::new(Inner {
                workdir,
                git_dir,
                common_dir,
                pool: Mutex::new(vec![repo]),
            }),
        })
    }

    /// The top of the work tree (canonical, without a trailing slash).
    pub fn workdir(&self) -> &Path {
        &self.inner.workdir
    }

    /// The git directory: `<workdir>/.git`, or `<common>/worktrees/<name>` for a linked worktree.
    pub fn git_dir(&self) -> &Path {
        &self.inner.git_dir
    }

    /// The common git directory holding objects and refs (equal to [`git_dir`](Self::git_dir)
    /// except in a linked worktree).
    pub fn common_dir(&self) -> &Path {
        &self.inner.common_dir
    }

    /// Runs `f` with a libgit2 handle on this repository, taken from the pool.
    ///
    /// The handle is exclusive to `f` for the duration of the call; other threads get other
    /// handles. Use it for what this crate does not wrap (refs, revwalks…).
    ///
    /// # Errors
    ///
    /// [`Error::Gone`] if the repository was deleted or moved since it was opened; otherwise
    /// whatever `f` returns, or [`Error::Git`] if a new handle cannot be opened.
    pub fn with_git2<T>(&self, f: impl FnOnce(&git2::Repository) -> Result<T>) -> Result<T> {
        self.check_present()?;
        let pooled = self.inner.pool.lock().pop();
        let repo = match pooled {
            Some(repo) => repo,
            None => self.open_handle().map_err(|source| {
                self.check_present().err().unwrap_or_else(|| Error::Git {
                    operation: "open the repository",
                    path: self.inner.workdir.clone(),
                    source,
                })
            })?,
        };
        let result = f(&repo);
        let mut pool = self.inner.pool.lock();
        if pool.len() < POOL_SIZE {
            pool.push(repo);
        }
        drop(pool);
        // A failure caused by the repository disappearing mid-call says so.
        match result {
            Err(e) if !matches!(e, Error::Gone { .. }) => {
                Err(self.check_present().err().unwrap_or(e))
            }
            other => other,
        }
    }

    /// A new libgit2 handle on the same git directory and work tree.
    fn open_handle(&self) -> std::result::Result<git2::Repository, git2::Error> {
        let repo = git2::Repository::open(&self.inner.workdir)?;
        if repo.workdir().map(normalize).as_deref() != Some(self.inner.workdir.as_path()) {
            repo.set_workdir(&self.inner.workdir, false)?;
        }
        Ok(repo)
    }

    /// Fails with [`Error::Gone`] when the work tree or git directory no longer exists.
    pub(crate) fn check_present(&self) -> Result<()> {
        for dir in [&self.inner.git_dir, &self.inner.workdir] {
            if !dir.is_dir() {
                return Err(Error::Gone { path: dir.clone() });
            }
        }
        Ok(())
    }

    /// Wraps a libgit2 error raised while doing `operation`.
    pub(crate) fn git_error(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(git2::Error) -> Error + '_ {
        move |source| Error::Git {
            operation,
            path: self.inner.workdir.clone(),
            source,
        }
    }
}

/// The nearest directory at or above `start` holding `.git`, when that `.git` is a file.
fn gitfile_top(start: &Path) -> Option<PathBuf> {
    let start = normalize(start);
    let mut dir = start.as_path();
    loop {
        match dir.join(".git").symlink_metadata() {
            Ok(meta) if meta.is_file() => return Some(dir.to_path_buf()),
            Ok(_) => return None,
            Err(_) => dir = dir.parent()?,
        }
    }
}

/// libgit2 reports directories with a trailing slash and possibly non-canonical; FlowForge
/// compares paths, so it keeps them canonical and without the slash.
fn normalize(path: &Path) -> PathBuf {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.components().collect()
}
