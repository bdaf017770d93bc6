//! The error type of flowforge-index.
//!
//! Only failures that stop the whole index are errors: a namespace whose files are corrupt or
//! unreadable is a [`Problem`](crate::Problem) of the answers, never an error.

use std::path::PathBuf;

/// Everything that can stop building, refreshing or persisting the index, or rendering a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The namespace root exists but cannot be listed.
    #[error("cannot list the namespace root {path}")]
    ListRoot {
        /// The namespace root.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The index snapshot could not be written.
    #[error("cannot save the index snapshot {path}")]
    SaveSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: flowforge_session::Error,
    },
    /// The index's own directory (`index/`) could not be created.
    #[error("cannot create the index directory {path}")]
    IndexDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: flowforge_session::Error,
    },
    /// The file watcher could not start.
    #[error("cannot watch {path}")]
    Watch {
        /// The namespace root.
        path: PathBuf,
        /// The cause.
        #[source]
        source: notify::Error,
    },
    /// A time zone name that the time zone database does not know.
    #[error("unknown time zone \"{name}\"")]
    UnknownTimeZone {
        /// The rejected name.
        name: String,
        /// The cause.
        #[source]
        source: jiff::Error,
    },
    /// A report period that is not `daily`, `weekly` or `monthly`.
    #[error("unknown report period \"{name}\" (expected daily, weekly or monthly)")]
    UnknownPeriod {
        /// The rejected name.
        name: String,
    },
    /// A report format that is not `markdown`, `json` or `csv`.
    #[error("unknown report format \"{name}\" (expected markdown, json or csv)")]
    UnknownFormat {
        /// The rejected name.
        name: String,
    },
    /// A calendar computation failed (a date out of the supported range).
    #[error("cannot compute the report period {what}")]
    Calendar {
        /// What was being computed.
        what: &'static str,
        /// The cause.
        #[source]
        source: jiff::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
