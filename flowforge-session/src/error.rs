//! The error type of flowforge-session.

use std::path::PathBuf;

use flowforge_core::{DeveloperId, TaskId};

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
    /// A symbolic link stands where a namespace file or directory should be: it is never
    /// followed, replaced or removed.
    #[error("{path} is a symbolic link: FlowForge never follows links under the namespace root")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A path that should be beneath the namespace root is not.
    #[error("{path} is outside the namespace root {root}")]
    Outside {
        /// The path.
        path: PathBuf,
        /// The namespace root.
        root: PathBuf,
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
    /// A version file parsed but does not hold the generation its name says.
    #[error("corrupt version file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A store key broke the key rules (1–128 of `A-Z a-z 0-9 . _ -`, not starting with `.` or
    /// `-`).
    #[error("invalid store key \"{key}\": {reason}")]
    InvalidKey {
        /// The rejected key, escaped.
        key: String,
        /// The rule it broke.
        reason: &'static str,
    },
    /// A session id broke the rules of session ids (those of task ids).
    #[error("invalid session id \"{id}\"")]
    InvalidSessionId {
        /// The rejected id, escaped.
        id: String,
    },
    /// A document is larger than the store accepts.
    #[error("document {what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The key or file.
        what: String,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A read kept racing compaction or writers and gave up.
    #[error("key {key} kept changing while being read ({attempts} attempts)")]
    Unstable {
        /// The key.
        key: String,
        /// How many reads were tried.
        attempts: u32,
    },
    /// An update lost the compare-and-swap race more often than its retry budget allows.
    #[error("lost the race to update {key} {attempts} times in a row")]
    Contended {
        /// The key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A compare-and-swap found another version than the one expected.
    #[error("{key} changed concurrently (expected version {expected}, found {found})")]
    Conflict {
        /// The key.
        key: String,
        /// The expected version, `none` when the key was expected to be absent.
        expected: String,
        /// The version found, `none` when absent.
        found: String,
    },
    /// An addition of minutes is larger than one addition may be.
    #[error("{minutes} minutes is more than one addition may carry ({limit} minutes, one year)")]
    TooManyMinutes {
        /// The minutes asked for.
        minutes: u64,
        /// The limit, [`MAX_ADD_MINUTES`](crate::time::MAX_ADD_MINUTES).
        limit: u64,
    },
    /// The developer's namespace was never initialised.
    #[error("developer {developer} has no namespace")]
    NotInitialised {
        /// The developer.
        developer: DeveloperId,
    },
    /// A task is claimed by another developer.
    #[error("task {task} is claimed by {holder}")]
    ClaimHeld {
        /// The task.
        task: TaskId,
        /// Who holds it.
        holder: DeveloperId,
    },
    /// A task is not claimed by anyone.
    #[error("task {task} is not claimed")]
    NotClaimed {
        /// The task.
        task: TaskId,
    },
    /// The developer already has an active session.
    #[error("{developer} already has an active session {session_id}{}",
        task.as_ref().map(|t| format!(" on task {t}")).unwrap_or_default())]
    SessionActive {
        /// The developer.
        developer: DeveloperId,
        /// The active session.
        session_id: String,
        /// Its task.
        task: Option<TaskId>,
    },
    /// The developer has no active session.
    #[error("{developer} has no active session")]
    NoActiveSession {
        /// The developer.
        developer: DeveloperId,
    },
    /// The session is already paused.
    #[error("session {session_id} of {developer} is already paused")]
    AlreadyPaused {
        /// The developer.
        developer: DeveloperId,
        /// The session.
        session_id: String,
    },
    /// The session is not paused.
    #[error("session {session_id} of {developer} is not paused")]
    NotPaused {
        /// The developer.
        developer: DeveloperId,
        /// The session.
        session_id: String,
    },
    /// No ended session with that id is in the history.
    #[error("no session {session_id} in the history of {developer}")]
    NotInHistory {
        /// The developer.
        developer: DeveloperId,
        /// The session asked for.
        session_id: String,
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

    /// Whether the error is a conflict with another writer or developer: a held claim, an
    /// active session, or a lost compare-and-swap race. Trying again later may succeed.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Conflict { .. }
                | Error::Contended { .. }
                | Error::ClaimHeld { .. }
                | Error::SessionActive { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
