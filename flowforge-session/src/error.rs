//! The error type of flowforge-session.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing namespace storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An id or other model value was invalid.
    #[error(transparent)]
    Core(#[from] flowforge_core::Error),
    /// A filesystem operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. `cannot create directory`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file did not hold the JSON it should.
    #[error("corrupt JSON in {path}")]
    Json {
        /// The file.
        path: PathBuf,
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
