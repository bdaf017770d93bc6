//! [`Repo`]: the shared, thread-safe repository handle.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use parking_lot::Mutex;

use crate::{
    config::GitConfig,
    error::{Error, Result},
    git_program,
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
/// The handle spawns a `git` process only where libgit2 cannot give git's answer (see
/// [`open`](Self::open) and [`Engine::GitProgram`](crate::Engine::GitProgram)).
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
    /// Why libgit2 cannot open this repository, when it cannot: the `git` program answers.
    git_program: Option<String>,
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
    ///
    /// A repository libgit2 cannot open but the `git` program can (SHA-256 objects, reftable
    /// refs, an extension libgit2 does not know, a linked worktree whose `HEAD` is a symbolic
    /// link) opens too: its status comes from `git` itself
    /// ([`Engine::GitProgram`](crate::Engine::GitProgram)), and what needs libgit2
    /// ([`with_git2`](Self::with_git2), refs, sync) fails with libgit2's reason.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let repo = match git2::Repository::discover(path) {
            Ok(repo) => repo,
            Err(source) => return Self::open_for_git_program(path, source),
        };
        let git_dir = normalize(repo.path());
        let Some(mut workdir) = repo.workdir().map(normalize) else {
            return Err(Error::Bare { path: git_dir });
        };
        // libgit2 passes over a repository it does not take for one (a `HEAD` that is a
        // dangling symbolic link, as when its branch is only in `packed-refs`) and finds the
        // one around it: when a nearer `.git` is not the one it opened, git decides.
        let nearest = nearest_dot_git(path);
        let passed_over = nearest
            .as_ref()
            .is_some_and(|(top, is_file)| match is_file {
                true => gitfile_target(top).is_none_or(|target| target != git_dir),
                false => *top != workdir,
            });
        if passed_over {
            if let git_program::Discovered::WorkTree(found) = git_program::discover(path) {
                if normalize(&found.workdir) != workdir {
                    let why = format!(
                        "libgit2 passed over it for the repository around it ({})",
                        workdir.display()
                    );
                    return Ok(Self::by_git_program(&found, why));
                }
            }
        }
        // A `.git` file (`git init --separate-git-dir`) makes its directory the work tree
        // unless `core.worktree` says otherwise; libgit2 takes the git dir's parent instead.
        if let Some((top, true)) = nearest.filter(|_| !passed_over) {
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
                git_program: None,
            }),
        })
    }

    /// Opens a repository libgit2 refused (`refused`) when the `git` program accepts it.
    fn open_for_git_program(path: &Path, refused: git2::Error) -> Result<Self> {
        match git_program::discover(path) {
            git_program::Discovered::WorkTree(found) => Ok(Self::by_git_program(
                &found,
                format!("libgit2 cannot open it: {}", refused.message()),
            )),
            git_program::Discovered::Bare(git_dir) => Err(Error::Bare {
                path: normalize(&git_dir),
            }),
            // Nothing there, for either.
            git_program::Discovered::Refused(_) if refused.code() == git2::ErrorCode::NotFound => {
                Err(Error::NotARepository {
                    path: path.to_path_buf(),
                    source: refused,
                })
            }
            // A repository libgit2 cannot read, and git refuses it too or cannot be run.
            git_program::Discovered::Refused(Error::GitProgram {
                command,
                path,
                message,
                source,
            }) => Err(Error::GitProgram {
                command,
                path,
                message: format!("{message} (libgit2 cannot open it: {})", refused.message()),
                source,
            }),
            git_program::Discovered::Refused(other) => Err(other),
        }
    }

    /// The repository git `found`, answered by the `git` program because of `why`.
    fn by_git_program(found: &git_program::Found, why: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                workdir: normalize(&found.workdir),
                git_dir: normalize(&found.git_dir),
                common_dir: normalize(&found.common_dir),
                pool: Mutex::new(Vec::new()),
                git_program: Some(why),
            }),
        }
    }

    /// Why libgit2 cannot open this repository, when it cannot: then every status comes from
    /// the `git` program ([`Engine::GitProgram`](crate::Engine::GitProgram)).
    pub fn needs_git_program(&self) -> Option<&str> {
        self.inner.git_program.as_deref()
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

/// The nearest directory at or above `start` holding a `.git` entry, and whether that entry is
/// a file (a linked worktree, a submodule, `git init --separate-git-dir`).
fn nearest_dot_git(start: &Path) -> Option<(PathBuf, bool)> {
    let start = normalize(start);
    let mut dir = start.as_path();
    loop {
        match dir.join(".git").symlink_metadata() {
            Ok(meta) => return Some((dir.to_path_buf(), meta.is_file())),
            Err(_) => dir = dir.parent()?,
        }
    }
}

/// The git directory the `.git` file in `top` names (`gitdir: <path>`, relative to `top`),
/// canonical.
fn gitfile_target(top: &Path) -> Option<PathBuf> {
    let text = std::fs::read(top.join(".git")).ok()?;
    let line = text.strip_prefix(b"gitdir: ")?;
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    use std::os::unix::ffi::OsStrExt;
    Some(normalize(&top.join(std::ffi::OsStr::from_bytes(line))))
}

/// libgit2 reports directories with a trailing slash and possibly non-canonical; FlowForge
/// compares paths, so it keeps them canonical and without the slash.
fn normalize(path: &Path) -> PathBuf {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.components().collect()
}
