//! Reading what the FlowForge v2 bash tools write, in every shape their documentation shows.
//!
//! The store is the truth for everything FlowForge writes; these files stand in where the
//! store has no document yet:
//! - `sessions/current.json`: a reset session (`{"active": false, "sessionId": null, …}`) is
//!   no session; the v2 schema's shape (`status`, `user`, a numeric `taskId`) reads as a
//!   [`Session`]. A session found only here is taken over by the store at the developer's
//!   next session write.
//! - `time-tracking.json`, or the v2 tools' `cache/time-tracking.json` (`totalTime` in
//!   seconds): the starting point of the first addition of minutes through the store.
//! - `team/task-assignments.json` (`tasks` or `assignments`): a task it gives to a developer
//!   with a holding status is claimed, until the claims document takes that entry over (the
//!   holder's start, or a release; see [`claim`](crate::claim)).

use std::path::{Path, PathBuf};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{GitStatusCache, Session, TaskAssignment, TimeTracking},
};
use serde_json::Value;

use crate::{
    error::{Error, Result},
    fs::{Durability, create_private_dir_all, write_json},
};

/// The v2 tools' place of a developer's time tracking: `dev-<id>/cache/time-tracking.json`.
pub fn cache_time_tracking(layout: &Layout, dev: &DeveloperId) -> PathBuf {
    layout.cache_dir(dev).join("time-tracking.json")
}

/// The session of `dev`'s `sessions/current.json` as the bash tools wrote it; `None` when the
/// file is absent or holds a reset session (no `sessionId`). The session may name another
/// developer: the caller decides what that means.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::Json`] when it is not a session of any known
/// shape.
pub fn read_session_view(layout: &Layout, dev: &DeveloperId) -> Result<Option<Session>> {
    let path = layout.current_session(dev);
    match crate::fs::read_json::<Value>(layout.root(), &path)? {
        Some(value) => parse_session(&path, value),
        None => Ok(None),
    }
}

/// [`read_session_view`], refusing a session of another developer.
///
/// # Errors
/// Those of [`read_session_view`], and [`Error::Corrupt`] when it names another developer.
pub(crate) fn read_own_session_view(layout: &Layout, dev: &DeveloperId) -> Result<Option<Session>> {
    let session = read_session_view(layout, dev)?;
    if let Some(s) = &session {
        if s.developer_id != *dev {
            return Err(Error::Corrupt {
                path: layout.current_session(dev),
                reason: format!("session of developer {}, not of {dev}", s.developer_id),
            });
        }
    }
    Ok(session)
}

/// A session document in any shape; `None` for a reset session (no `sessionId`).
///
/// # Errors
/// [`Error::Json`] naming `path` when it is not a session.
pub fn parse_session(path: &Path, value: Value) -> Result<Option<Session>> {
    if value.get("sessionId").is_none_or(Value::is_null) && value.is_object() {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })
}

/// `dev`'s time tracking as the bash tools left it: `time-tracking.json`, else
/// `cache/time-tracking.json`; `None` when neither exists.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file.
pub fn read_time_view(layout: &Layout, dev: &DeveloperId) -> Result<Option<TimeTracking>> {
    match crate::fs::read_json(layout.root(), &layout.time_tracking(dev))? {
        Some(tracking) => Ok(Some(tracking)),
        None => crate::fs::read_json(layout.root(), &cache_time_tracking(layout, dev)),
    }
}

/// The assignment of `task` in `team/task-assignments.json` if it still holds the task
/// ([`TaskAssignment::holds`]). Only that entry is read into the model; the others are
/// skipped as JSON, so the cost is a scan of the file, not a model of every claim. A file
/// that is not JSON, or whose entry of `task` is not an assignment, gives no claim: it is
/// the store's view, and a broken view never blocks a claim.
pub(crate) fn view_claim(layout: &Layout, task: &TaskId) -> Option<TaskAssignment> {
    let bytes = crate::fs::read_bytes(layout.root(), &layout.task_assignments())
        .ok()
        .flatten()?;
    entry_of(&bytes, task).filter(TaskAssignment::holds)
}

/// The entry of `task` in the bytes of a `task-assignments.json`.
fn entry_of(bytes: &[u8], task: &TaskId) -> Option<TaskAssignment> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = serde::de::DeserializeSeed::deserialize(lean::Top(task.as_str()), &mut de).ok()?;
    de.end().ok()?;
    found
}

/// Reading one entry of `team/task-assignments.json` (see [`view_claim`]).
mod lean {
    use std::fmt;

    use flowforge_core::model::TaskAssignment;
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

    /// The file: its `tasks` (or `assignments`) map, searched for one task.
    pub(super) struct Top<'t>(pub(super) &'t str);

    impl<'de> DeserializeSeed<'de> for Top<'_> {
        type Value = Option<TaskAssignment>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = Option<TaskAssignment>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("task assignments")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            let mut seen = false;
            while let Some(is_tasks) = map.next_key_seed(KeyIn(&["tasks", "assignments"]))? {
                if !is_tasks {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                if seen {
                    return Err(de::Error::duplicate_field("tasks"));
                }
                seen = true;
                found = map.next_value_seed(Entries(self.0))?;
            }
            Ok(found)
        }
    }

    /// The entries: the last one named `task` is read, the others skipped.
    struct Entries<'t>(&'t str);

    impl<'de> DeserializeSeed<'de> for Entries<'_> {
        type Value = Option<TaskAssignment>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Entries<'_> {
        type Value = Option<TaskAssignment>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of task assignments")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(mine) = map.next_key_seed(KeyIn(&[self.0]))? {
                if mine {
                    found = Some(map.next_value::<TaskAssignment>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    /// A map key: whether it is one of the names.
    struct KeyIn<'n>(&'n [&'n str]);

    impl<'de> DeserializeSeed<'de> for KeyIn<'_> {
        type Value = bool;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for KeyIn<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(self.0.contains(&key))
        }
    }
}

/// Writes `cache` as `dev`'s `cache/git-status.json`, where the bash tools and
/// the namespace index's `touching` query read it.
///
/// # Errors
/// [`Error::NotInitialised`] when `dev` has no namespace, or [`Error::Io`] naming the file.
pub fn write_git_status_cache(
    layout: &Layout,
    dev: &DeveloperId,
    cache: &GitStatusCache,
) -> Result<()> {
    // One operation: the root and the namespace's directories are opened once for its steps.
    let _dirs = crate::fs::DirScope::enter();
    if crate::fs::stat(layout.root(), &layout.dev_config(dev))?.is_none() {
        return Err(Error::NotInitialised {
            developer: dev.clone(),
        });
    }
    create_private_dir_all(layout.root(), &layout.cache_dir(dev))?;
    write_json(
        layout.root(),
        &layout.git_status_cache(dev),
        cache,
        Durability::Relaxed,
    )
}

#[cfg(test)]
mod tests {
    use flowforge_core::model::TaskAssignments;

    use super::*;

    #[test]
    fn one_entry_reads_as_in_the_whole_file() {
        let entry = |dev: &str| {
            format!(
                r#"{{"developer": "{dev}", "status": "in_progress", "claimedAt": "2025-09-18T09:30:00Z", "x": [1, {{"y": "}}"}}]}}"#
            )
        };
        let docs = [
            format!(r#"{{"tasks": {{"t-1": {}, "t-2": {}}}, "version": 2}}"#, entry("a"), entry("b")),
            format!(r#"{{"version": {{"tasks": 1}}, "assignments": {{"t-2": {}}}}}"#, entry("c")),
            // A task named twice: the last entry counts.
            format!(r#"{{"tasks": {{"t-1": {}, "t-1": {}}}}}"#, entry("a"), entry("d")),
            r#"{"tasks": {"t\u002d1": {"assignee": "e", "status": "s", "claimed_at": "2025-09-18T08:00:00Z"}}}"#.to_owned(),
            "{}".to_owned(),
        ];
        for doc in &docs {
            let full: TaskAssignments = serde_json::from_str(doc).unwrap();
            for task in ["t-1", "t-2", "t-3"] {
                let task = TaskId::new(task).unwrap();
                assert_eq!(
                    entry_of(doc.as_bytes(), &task),
                    full.tasks.get(&task).cloned(),
                    "{doc}"
                );
            }
        }
        let t1 = TaskId::new("t-1").unwrap();
        for broken in [
            "not json",
            r#"{"tasks": {"t-1": {"status": "s"}}}"#,
            r#"{"tasks": {}, "assignments": {}}"#,
            r#"{"tasks": {"t-1": {"assignee": "a", "status": "s", "claimed_at": "2025-09-18T08:00:00Z"}}} trailing"#,
        ] {
            assert_eq!(entry_of(broken.as_bytes(), &t1), None, "{broken}");
        }
    }
}
