//! Serde models of FlowForge's JSON files, with FlowForge's own field names.
//!
//! Files written by the bash tools read back, and files written here read in `jq` scripts.
//! Every model keeps the fields it does not know in `extra`, so a read-modify-write round trip
//! loses nothing another tool wrote.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{DeveloperId, TaskId};

/// Fields a model does not know, kept as they were read.
pub type Extra = Map<String, Value>;

/// A work session: `dev-<id>/sessions/current.json` and the files of `sessions/history/`.
///
/// ```
/// use flowforge_core::model::Session;
/// let json = r#"{"active":true,"sessionId":"s-1","startTime":"2025-09-18T10:00:00Z",
///   "taskId":"42","developerId":"alice","branch":"feature/42-work","provider":"github",
///   "metadata":{},"taskTitle":"kept"}"#;
/// let session: Session = serde_json::from_str(json)?;
/// assert_eq!(session.task_id.as_ref().map(|t| t.as_str()), Some("42"));
/// assert_eq!(session.extra["taskTitle"], "kept");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Whether the session is running.
    pub active: bool,
    /// A unique id of the session.
    pub session_id: String,
    /// When it started.
    pub start_time: Timestamp,
    /// The task worked on, if any.
    #[serde(default)]
    pub task_id: Option<TaskId>,
    /// Whose session it is.
    pub developer_id: DeveloperId,
    /// The git branch worked on.
    #[serde(default)]
    pub branch: Option<String>,
    /// The task provider (`github`, `notion`, …).
    #[serde(default)]
    pub provider: Option<String>,
    /// Free-form data of the tools.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// When it ended; absent while active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `team/config.json`: the team and its members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamConfig {
    /// The team section.
    #[serde(default)]
    pub team: Team,
    /// Unknown fields (`security`, `performance`, …), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `team` section of [`TeamConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// The team's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The registered developers, by id.
    #[serde(default)]
    pub developers: BTreeMap<DeveloperId, DeveloperInfo>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One developer of [`Team::developers`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeveloperInfo {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role in the team (`fullstack`, `backend`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Unknown fields (`timezone`, `preferences`, …), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `team/task-assignments.json`: who holds which task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskAssignments {
    /// Assignments by task.
    #[serde(default)]
    pub tasks: BTreeMap<TaskId, TaskAssignment>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One task's assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAssignment {
    /// Who holds the task.
    pub assignee: DeveloperId,
    /// `claimed`, `in_progress`, `completed`, … (kept as written).
    pub status: String,
    /// When it was claimed.
    pub claimed_at: Timestamp,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dev-<id>/time-tracking.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeTracking {
    /// The sum of all entries' minutes.
    #[serde(default)]
    pub total_minutes: u64,
    /// One entry per session or manual addition.
    #[serde(default)]
    pub sessions: Vec<TimeEntry>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of [`TimeTracking::sessions`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeEntry {
    /// The session the time belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The task the time belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Minutes worked.
    pub minutes: u64,
    /// When the time was recorded.
    pub recorded_at: Timestamp,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dev-<id>/cache/git-status.json`: a snapshot of the repository's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitStatusCache {
    /// When the snapshot was taken, in seconds since the Unix epoch (as `date +%s`).
    pub timestamp: i64,
    /// The checked-out branch, or `HEAD` when detached.
    pub branch: String,
    /// `git status --porcelain` output.
    pub status: String,
    /// The number of changed tracked files.
    pub uncommitted_changes: u64,
    /// The number of untracked entries.
    pub untracked_files: u64,
    /// Relation to the upstream: `up-to-date`, `ahead 1`, `behind 2`, `ahead 1, behind 2`,
    /// `gone` or `no-upstream`.
    pub remote_status: String,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dev-<id>/config.json`: the namespace's own configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DevConfig {
    /// The `developer` section.
    #[serde(default)]
    pub developer: DevConfigDeveloper,
    /// Unknown fields (`settings`, `state`, …), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `developer` section of [`DevConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DevConfigDeveloper {
    /// The developer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<DeveloperId>,
    /// The layout version the namespace was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_version: Option<String>,
    /// When the namespace was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The layout version written by this implementation into [`DevConfigDeveloper`].
pub const NAMESPACE_VERSION: &str = "2.0.0";

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(json: &str) -> Value {
        let value: T = serde_json::from_str(json).unwrap();
        serde_json::to_value(&value).unwrap()
    }

    #[test]
    fn team_config_from_the_bash_tools_round_trips() {
        let json = r#"{
          "team": {"name": "FlowForge", "max_developers": 10,
            "developers": {"dev1": {"name": "Alice", "email": "a@example.com", "role": "fullstack",
              "timezone": "UTC-8", "preferences": {"auto_cleanup": true}}}},
          "security": {"audit_logging": true}
        }"#;
        let original: Value = serde_json::from_str(json).unwrap();
        assert_eq!(round_trip::<TeamConfig>(json), original);
        let config: TeamConfig = serde_json::from_str(json).unwrap();
        let alice = &config.team.developers[&DeveloperId::new("dev1").unwrap()];
        assert_eq!(alice.role.as_deref(), Some("fullstack"));
    }

    #[test]
    fn session_keeps_unknown_fields_and_field_names() {
        let json = r#"{"active":true,"sessionId":"session-1","startTime":"2025-08-29T12:46:03Z",
            "taskId":"214","developerId":"dev1","branch":"feature/214-work","provider":"github",
            "metadata":{"k":1},"taskTitle":"Fix","lastActivity":"x"}"#;
        let original: Value = serde_json::from_str(json).unwrap();
        assert_eq!(round_trip::<Session>(json), original);
    }

    #[test]
    fn time_tracking_and_assignments_round_trip() {
        let json = r#"{"total_minutes":90,"sessions":[{"session_id":"s","task_id":"t1","minutes":90,
            "recorded_at":"2025-09-18T10:00:00Z","note":"x"}],"version":2}"#;
        assert_eq!(
            round_trip::<TimeTracking>(json),
            serde_json::from_str::<Value>(json).unwrap()
        );
        let json = r#"{"tasks":{"t1":{"assignee":"dev1","status":"claimed",
            "claimed_at":"2025-09-18T10:00:00Z","priority":"high"}},"updated":"now"}"#;
        assert_eq!(
            round_trip::<TaskAssignments>(json),
            serde_json::from_str::<Value>(json).unwrap()
        );
    }

    #[test]
    fn git_status_cache_round_trips() {
        let json = r#"{"timestamp":1758200000,"branch":"main","status":" M a.txt\n",
            "uncommitted_changes":1,"untracked_files":0,"remote_status":"ahead 1","x":null}"#;
        assert_eq!(
            round_trip::<GitStatusCache>(json),
            serde_json::from_str::<Value>(json).unwrap()
        );
    }

    #[test]
    fn invalid_ids_inside_files_are_refused() {
        let json = r#"{"active":true,"sessionId":"s","startTime":"2025-08-29T12:46:03Z",
            "developerId":"../etc"}"#;
        let err = serde_json::from_str::<Session>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid developer id"), "{err}");
    }
}
