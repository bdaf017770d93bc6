//! Pausing and resuming a session: paused time is not worked time.
//!
//! A pause is an entry of the session's `interruptions` (the FlowForge v2 sessions schema's
//! shape: `id`, `type`, `startTime`, `endTime`, `duration` in seconds, `description`), and the
//! session's `status` is `paused` until it is resumed. Ending a paused session closes the
//! pause; the minutes an ended session adds to time tracking leave out every pause.

use flowforge_core::model::Session;
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::{
    error::{Error, Result},
    namespace::Namespace,
    session::{ACTIVE, PAUSED, mark},
    store::Versioned,
};

/// The session field listing the pauses.
pub const INTERRUPTIONS: &str = "interruptions";

impl Namespace {
    /// Pauses the active session: records an open interruption (with `reason` as its
    /// description) and sets `status` to `paused`.
    ///
    /// # Errors
    /// [`Error::NoActiveSession`], [`Error::AlreadyPaused`], or the store's errors.
    pub fn pause_session(&self, reason: Option<&str>) -> Result<Versioned<Session>> {
        self.update_active_session(|session, now| {
            if is_paused(session) {
                return Err(Error::AlreadyPaused {
                    developer: session.developer_id.clone(),
                    session_id: session.session_id.clone(),
                });
            }
            with_interruptions(session, |list| {
                let mut entry = Map::new();
                entry.insert("id".into(), Value::from(format!("int-{}", list.len() + 1)));
                entry.insert("type".into(), Value::from("break"));
                entry.insert("startTime".into(), Value::from(now.to_string()));
                if let Some(reason) = reason {
                    entry.insert("description".into(), Value::from(reason));
                }
                list.push(Value::Object(entry));
            });
            mark(session, PAUSED, now);
            Ok(())
        })
    }

    /// Resumes the paused session: closes its open interruption and sets `status` back to
    /// `active`.
    ///
    /// # Errors
    /// [`Error::NoActiveSession`], [`Error::NotPaused`], or the store's errors.
    pub fn resume_session(&self) -> Result<Versioned<Session>> {
        self.update_active_session(|session, now| {
            if !is_paused(session) {
                return Err(Error::NotPaused {
                    developer: session.developer_id.clone(),
                    session_id: session.session_id.clone(),
                });
            }
            close(session, now);
            mark(session, ACTIVE, now);
            Ok(())
        })
    }
}

/// Whether `session` is paused (its v2 `status` is `paused`).
pub fn is_paused(session: &Session) -> bool {
    session.status() == Some(PAUSED)
}

/// The seconds `session` was worked until `end` (its end time when ended): the time since
/// its start minus every pause, an open pause counting until `end`.
pub fn worked_seconds(session: &Session, end: Timestamp) -> u64 {
    let end = session.end_time.unwrap_or(end);
    let total = end.duration_since(session.start_time).as_secs().max(0) as u64;
    let paused: u64 = interruptions(session)
        .iter()
        .map(|entry| {
            let start = timestamp(entry, "startTime");
            let stop = timestamp(entry, "endTime").unwrap_or(end);
            start.map_or(0, |start| {
                stop.duration_since(start.max(session.start_time))
                    .as_secs()
                    .max(0) as u64
            })
        })
        .sum();
    total.saturating_sub(paused)
}

/// Closes the open interruption of `session`, if any, at `now`.
pub(crate) fn close(session: &mut Session, now: Timestamp) {
    with_interruptions(session, |list| close_all(list, now));
}

fn close_all(list: &mut [Value], now: Timestamp) {
    for entry in list {
        let Some(obj) = entry.as_object_mut() else {
            continue;
        };
        if obj.get("endTime").is_none_or(Value::is_null) {
            let start = obj
                .get("startTime")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Timestamp>().ok());
            obj.insert("endTime".into(), Value::from(now.to_string()));
            if let Some(start) = start {
                let seconds = now.duration_since(start).as_secs().max(0);
                obj.insert("duration".into(), Value::from(seconds));
            }
        }
    }
}

/// Removes the pauses and the worked duration of an ended session being resumed as new.
pub(crate) fn clear(session: &mut Session) {
    session.extra.remove(INTERRUPTIONS);
    session.extra.remove("duration");
}

fn interruptions(session: &Session) -> &[Value] {
    session
        .extra
        .get(INTERRUPTIONS)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Runs `f` on the session's interruptions (an empty list when it has none or something
/// else is there), then stores them back unless still empty.
fn with_interruptions<R>(session: &mut Session, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
    let mut list = match session.extra.remove(INTERRUPTIONS) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let result = f(&mut list);
    if !list.is_empty() {
        session
            .extra
            .insert(INTERRUPTIONS.to_owned(), Value::Array(list));
    }
    result
}

fn timestamp(entry: &Value, field: &str) -> Option<Timestamp> {
    entry.get(field)?.as_str()?.parse().ok()
}
