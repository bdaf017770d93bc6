//! The one error type of flowforge-git.

use std::path::PathBuf;

/// What can go wrong when FlowForge asks git something: opening a repository, computing or
/// refreshing a status, reading refs, serving the watched cache or syncing developers.
///
/// Every variant names the path it concerns; the libgit2 or I/O error that caused it, if any,
/// is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path is not inside a git work tree (nor is any of its parents).
    #[error("not a git repository (or any of the parent directories): {}", path.display())]
    NotARepository {
        /// The path that was opened.
        path: PathBuf,
        /// Why libgit2 found no repository.
        #[source]
        source: git2::Error,
    },
    /// The repository is bare: it has no work tree, so it has no working-tree status.
    #[error("{} is a bare repository: it has no work tree", path.display())]
    Bare {
        /// The repository's git directory.
        path: PathBuf,
    },
    /// The repository (its work tree or git directory) was deleted or moved after it was
    /// opened. A [`GitView`](crate::GitView) answers nothing more; open the repository again.
    #[error("the repository at {} no longer exists (deleted or moved while open)", path.display())]
    Gone {
        /// The git directory that disappeared.
        path: PathBuf,
    },
    /// libgit2 failed while doing `operation`.
    #[error("git {operation} failed in {}", path.display())]
    Git {
        /// What was being done (`read the index`, `diff HEAD to the index`, …).
        operation: &'static str,
        /// The repository's work tree.
        path: PathBuf,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// The `git` program, asked where libgit2 cannot give git's answer (see
    /// [`Engine::GitProgram`](crate::Engine::GitProgram)), could not be run or failed.
    #[error("`git {command}` failed in {}: {message}", path.display())]
    GitProgram {
        /// The git subcommand and its arguments.
        command: String,
        /// The directory it ran in.
        path: PathBuf,
        /// What went wrong: git's last line on stderr, or that it could not be started.
        message: String,
        /// Why it could not be started, if it could not.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Reading the work tree failed.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of flowforge-git.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `map_err` adapter for a libgit2 error raised while doing `operation` in `repo`.
    pub(crate) fn git_in<'r>(
        repo: &'r git2::Repository,
        operation: &'static str,
    ) -> impl FnOnce(git2::Error) -> Self + 'r {
        move |source| Self::Git {
            operation,
            path: repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf(),
            source,
        }
    }
}
