//! What the index holds for each namespace: the per-developer record, task claims and problems.
//!
//! These types are the boundary between the loading code ([`crate::source`]) and everything
//! else: the index, the queries, the reports and the monitor see only these.

use std::path::PathBuf;

use flowforge_core::{
    DeveloperId, TaskId,
    model::{Session, TimeEntry},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One developer's namespace, as loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevRecord {
    /// Whose namespace it is.
    pub developer: DeveloperId,
    /// The current session (`sessions/current.json`), active or ended.
    pub session: Option<Session>,
    /// Ended sessions (`sessions/history/`), oldest first.
    pub history: Vec<Session>,
    /// Time entries, sorted by `recorded_at` (ties keep the file's order).
    pub time: Vec<TimeEntry>,
    /// Repository paths the developer's work touches (the git status cache and the session's
    /// `metadata.paths`), sorted and deduplicated.
    pub paths: Vec<String>,
}

/// A task claimed by a developer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// The task.
    pub task: TaskId,
    /// Who holds it.
    pub holder: DeveloperId,
    /// `claimed`, `in_progress`, … as written.
    pub status: String,
    /// When it was claimed.
    pub claimed_at: Timestamp,
}

/// Something the index had to leave out: a corrupt or unreadable file, or a directory whose
/// name is not a valid developer id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// The file or directory.
    pub path: PathBuf,
    /// The developer whose namespace was left out, when the problem belongs to one.
    pub developer: Option<DeveloperId>,
    /// What is wrong, with its causes, lowercase.
    pub message: String,
}

impl Problem {
    /// A problem from an error and its chain of causes.
    pub(crate) fn from_error(
        path: impl Into<PathBuf>,
        developer: Option<DeveloperId>,
        error: &(dyn std::error::Error + 'static),
    ) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            path: path.into(),
            developer,
            message,
        }
    }
}

impl DevRecord {
    /// The active session, if the current one is running.
    pub fn active_session(&self) -> Option<&Session> {
        self.session.as_ref().filter(|s| s.active)
    }

    /// Every session of the record once: the history, then the current one unless it is
    /// the last ended session, already archived in the history.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        let current = (self.session.as_ref())
            .filter(|c| !self.history.iter().any(|h| h.session_id == c.session_id));
        self.history.iter().chain(current)
    }
}
