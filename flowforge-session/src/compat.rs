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
    model::{GitStatusCache, Session, TaskAssignment, TaskAssignments, TimeTracking},
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
/// ([`TaskAssignment::holds`]). A corrupt file gives no claim: it is the store's view, and a
/// broken view never blocks a claim.
pub(crate) fn view_claim(layout: &Layout, task: &TaskId) -> Option<TaskAssignment> {
    let view: TaskAssignments = crate::fs::read_json(layout.root(), &layout.task_assignments())
        .ok()
        .flatten()?;
    view.tasks.get(task).filter(|a| a.holds()).cloned()
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
