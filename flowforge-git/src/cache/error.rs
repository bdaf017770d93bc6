//! Errors of the cache, the ref snapshot and git sync.

use std::path::PathBuf;

/// What can go wrong serving a cached, watched view of git.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository could not be opened (not a repository, a bare one).
    #[error("cannot open a repository at {path}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::Error,
    },
    /// libgit2 refused an operation.
    #[error("{what}")]
    Git {
        /// What was being done.
        what: &'static str,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// The work tree or the git directory was deleted or moved while watched. The cache
    /// answers nothing more; open the repository again.
    #[error("repository at {path} was deleted or moved while watched")]
    Gone {
        /// The work tree's path when it was opened.
        path: PathBuf,
    },
    /// A file or directory the cache needs could not be used.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The status engine failed.
    #[error("cannot compute git status")]
    Status(#[source] crate::Error),
}

/// The result type of the cache, the ref snapshot and git sync.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `map_err` adapter for libgit2 errors.
    pub(crate) fn git(what: &'static str) -> impl FnOnce(git2::Error) -> Self {
        move |source| Self::Git { what, source }
    }
}
