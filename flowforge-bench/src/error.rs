//! The error type of flowforge-bench.

use std::path::PathBuf;

/// Everything that can go wrong while building a fixture or running the baseline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An id or other model value was invalid.
    #[error(transparent)]
    Core(#[from] flowforge_core::Error),
    /// Namespace storage failed.
    #[error(transparent)]
    Session(#[from] flowforge_session::Error),
    /// Git failed (opening a repository, its status, the optimized git view).
    #[error(transparent)]
    GitView(#[from] flowforge_git::Error),
    /// The namespace index failed.
    #[error(transparent)]
    Index(#[from] flowforge_index::Error),
    /// A filesystem operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. `cannot write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `git` command failed to start or exited unsuccessfully.
    #[error(transparent)]
    Git(#[from] flowforge_testkit::GitError),
    /// The options asked for something impossible.
    #[error("invalid options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// A path given as a repository is not a git work tree.
    #[error("not a git work tree: {path}")]
    NotARepository {
        /// The path given.
        path: PathBuf,
    },
    /// An operation returned a wrong answer (for example a stale git status).
    #[error("wrong answer from {operation} ({variant}): {detail}")]
    WrongAnswer {
        /// The operation, e.g. `git_sync`.
        operation: &'static str,
        /// `naive` or `optimized`.
        variant: &'static str,
        /// What was expected and what came back.
        detail: String,
    },
    /// A JSON document could not be produced or parsed.
    #[error("invalid JSON for {what}")]
    Json {
        /// Which document.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
