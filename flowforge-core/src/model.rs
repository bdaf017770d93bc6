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
/// Besides its own shape it reads the shape of the FlowForge v2 sessions schema, where
/// `active` is absent (then `status` `active` or `paused` means active), `developerId` is
/// absent (then `user` names the developer) and `taskId` may be a number. The fields the v2
/// tools read — `user`, `lastActivity`, `status` — live in [`extra`](Session::extra); see
/// [`Session::user`] and [`Session::last_activity`].
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
#[serde(rename_all = "camelCase", try_from = "RawSession")]
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

/// The v2 field naming the developer (`user`).
pub const SESSION_USER: &str = "user";
/// The v2 field holding the time of the last activity (`lastActivity`).
pub const SESSION_LAST_ACTIVITY: &str = "lastActivity";
/// The v2 field holding the state: `active`, `paused`, `ended` or `abandoned` (`status`).
pub const SESSION_STATUS: &str = "status";

impl Session {
    /// The v2 `user` field, if present.
    pub fn user(&self) -> Option<&str> {
        self.extra.get(SESSION_USER)?.as_str()
    }

    /// The v2 `lastActivity` field, if present and a valid timestamp.
    pub fn last_activity(&self) -> Option<Timestamp> {
        self.extra
            .get(SESSION_LAST_ACTIVITY)?
            .as_str()?
            .parse()
            .ok()
    }

    /// The v2 `status` field, if present.
    pub fn status(&self) -> Option<&str> {
        self.extra.get(SESSION_STATUS)?.as_str()
    }

    /// Records an activity at `at`: sets `user` to the developer and `lastActivity` to `at`,
    /// the fields the v2 tools read.
    pub fn touch(&mut self, at: Timestamp) {
        self.extra.insert(
            SESSION_USER.to_owned(),
            Value::from(self.developer_id.as_str()),
        );
        self.extra.insert(
            SESSION_LAST_ACTIVITY.to_owned(),
            Value::from(at.to_string()),
        );
    }
}

/// Every shape of [`Session`] that is read: its own and the v2 schema's.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSession {
    #[serde(default)]
    active: Option<bool>,
    session_id: String,
    start_time: Timestamp,
    #[serde(default)]
    task_id: Option<Value>,
    #[serde(default)]
    developer_id: Option<DeveloperId>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    end_time: Option<Timestamp>,
    #[serde(flatten)]
    extra: Extra,
}

impl TryFrom<RawSession> for Session {
    type Error = String;

    fn try_from(raw: RawSession) -> Result<Self, String> {
        let developer_id = match raw.developer_id {
            Some(id) => id,
            None => match raw.extra.get(SESSION_USER).and_then(Value::as_str) {
                Some(user) => DeveloperId::new(user).map_err(|e| e.to_string())?,
                None => return Err("missing field `developerId` (or `user`)".to_owned()),
            },
        };
        let active = match raw.active {
            Some(active) => active,
            None => match raw.extra.get(SESSION_STATUS).and_then(Value::as_str) {
                Some(status) => matches!(status, "active" | "paused"),
                None => raw.end_time.is_none(),
            },
        };
        let task_id = match raw.task_id {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(TaskId::new(&s).map_err(|e| e.to_string())?),
            Some(Value::Number(n)) => Some(TaskId::new(&n.to_string()).map_err(|e| e.to_string())?),
            Some(other) => return Err(format!("taskId is neither a string nor a number: {other}")),
        };
        Ok(Session {
            active,
            session_id: raw.session_id,
            start_time: raw.start_time,
            task_id,
            developer_id,
            branch: raw.branch,
            provider: raw.provider,
            metadata: raw.metadata.unwrap_or_default(),
            end_time: raw.end_time,
            extra: raw.extra,
        })
    }
}

/// `team/config.json`: the team and its members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamConfig {
    /// The team section.
    #[serde(default)]
    pub team: TeamInfo,
    /// Unknown fields (`security`, `performance`, …), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `team` section of [`TeamConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamInfo {
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

/// One developer of [`TeamInfo::developers`].
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
///
/// Read by a hand-written [`Deserialize`] (as [`TaskAssignment`]): the derived one with a
/// flattened `extra` buffered the whole `tasks` map before reading it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskAssignments {
    /// Assignments by task (`assignments` in some v2 documents).
    #[serde(default, alias = "assignments")]
    pub tasks: BTreeMap<TaskId, TaskAssignment>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One task's assignment.
///
/// Read by a hand-written [`Deserialize`] that reads the known fields (and their aliases)
/// straight from the input and keeps every other field in [`extra`](TaskAssignment::extra),
/// as `#[serde(flatten)]` would, without buffering each entry first: a file of 1,000 claims
/// is read in a fraction of the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskAssignment {
    /// Who holds the task.
    #[serde(alias = "developer", alias = "developerId")]
    pub assignee: DeveloperId,
    /// `claimed`, `in_progress`, `completed`, … (kept as written).
    pub status: String,
    /// When it was claimed.
    #[serde(alias = "claimedAt")]
    pub claimed_at: Timestamp,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A field name of [`TaskAssignment`] or [`TaskAssignments`] as read: a known one (aliases
/// included) without allocating, any other kept.
enum Field {
    Assignee(&'static str),
    Status,
    ClaimedAt(&'static str),
    Tasks(&'static str),
    Other(String),
}

impl Field {
    /// The name as read.
    fn into_name(self) -> String {
        match self {
            Field::Assignee(name) | Field::ClaimedAt(name) | Field::Tasks(name) => name.to_owned(),
            Field::Status => "status".to_owned(),
            Field::Other(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "assignee" => Field::Assignee("assignee"),
                    "developer" => Field::Assignee("developer"),
                    "developerId" => Field::Assignee("developerId"),
                    "status" => Field::Status,
                    "claimed_at" => Field::ClaimedAt("claimed_at"),
                    "claimedAt" => Field::ClaimedAt("claimedAt"),
                    "tasks" => Field::Tasks("tasks"),
                    "assignments" => Field::Tasks("assignments"),
                    other => Field::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(Name)
    }
}

/// Reads the next value into `slot`, refusing a field named twice (aliases included).
fn set_once<'de, T: Deserialize<'de>, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(serde::de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Deserialize<'de> for TaskAssignment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = TaskAssignment;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a task assignment")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TaskAssignment, A::Error> {
                use serde::de::Error;
                let (mut assignee, mut status, mut claimed_at) = (None, None, None);
                let mut extra = Extra::new();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Assignee(_) => set_once(&mut map, &mut assignee, "assignee")?,
                        Field::Status => set_once(&mut map, &mut status, "status")?,
                        Field::ClaimedAt(_) => {
                            set_once(&mut map, &mut claimed_at, "claimed_at")?;
                        }
                        other => {
                            extra.insert(other.into_name(), map.next_value()?);
                        }
                    }
                }
                Ok(TaskAssignment {
                    assignee: assignee.ok_or_else(|| A::Error::missing_field("assignee"))?,
                    status: status.ok_or_else(|| A::Error::missing_field("status"))?,
                    claimed_at: claimed_at.ok_or_else(|| A::Error::missing_field("claimed_at"))?,
                    extra,
                })
            }
        }
        deserializer.deserialize_map(Entry)
    }
}

impl<'de> Deserialize<'de> for TaskAssignments {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct File;
        impl<'de> serde::de::Visitor<'de> for File {
            type Value = TaskAssignments;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("task assignments")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TaskAssignments, A::Error> {
                let mut tasks = None;
                let mut extra = Extra::new();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Tasks(_) => set_once(&mut map, &mut tasks, "tasks")?,
                        other => {
                            extra.insert(other.into_name(), map.next_value()?);
                        }
                    }
                }
                Ok(TaskAssignments {
                    tasks: tasks.unwrap_or_default(),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(File)
    }
}

/// A JSON object read as its entries in the file's order, duplicate keys included (a map
/// would keep one of them unchecked): for readers that borrow from the file (`&str` keys,
/// `RawValue` or borrowed values) and decide themselves what a repeated key means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntries<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for MapEntries<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for MapEntries<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<K, V> {
            type Value = MapEntries<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(MapEntries(entries))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl TaskAssignment {
    /// Whether the assignment still holds the task: every status but `completed`, `done`,
    /// `cancelled`, `released`, `abandoned` and `unassigned`.
    pub fn holds(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "completed" | "done" | "cancelled" | "released" | "abandoned" | "unassigned"
        )
    }
}

/// `dev-<id>/time-tracking.json`.
///
/// The v2 tools' shape `{"totalTime": <seconds>, "lastUpdated": …, "sessions": []}` reads too:
/// without `total_minutes`, `totalTime` (seconds, the sum of the sessions' `duration`) gives the
/// minutes; `totalTime` stays in [`extra`](TimeTracking::extra), and
/// [`TimeTracking::set_total_minutes`] keeps it in step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawTimeTracking")]
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

/// The v2 field holding the total in seconds.
pub const TOTAL_TIME_SECONDS: &str = "totalTime";

impl TimeTracking {
    /// Sets `total_minutes`, and the v2 `totalTime` (seconds) when the document has one.
    pub fn set_total_minutes(&mut self, minutes: u64) {
        self.total_minutes = minutes;
        if self.extra.contains_key(TOTAL_TIME_SECONDS) {
            self.extra.insert(
                TOTAL_TIME_SECONDS.to_owned(),
                Value::from(minutes.saturating_mul(60)),
            );
        }
    }
}

#[derive(Deserialize)]
struct RawTimeTracking {
    #[serde(default, alias = "totalMinutes")]
    total_minutes: Option<u64>,
    #[serde(default)]
    sessions: Vec<EntryOrLegacy>,
    #[serde(flatten)]
    extra: Extra,
}

/// An element of `sessions`: an entry in this model's shape, or anything else as it was read
/// (what reading the element as a [`Value`] and then that value as a [`TimeEntry`] would
/// give, without building a map for every entry: a developer's open time document holds up
/// to a few hundred entries and is read by every `session end`). One difference, of no real
/// document: serde_json's `Value` parses an object whose key is its private raw-value token as
/// the JSON text it holds; here it stays that object.
enum EntryOrLegacy {
    Entry(TimeEntry),
    Legacy(Value),
}

impl<'de> Deserialize<'de> for EntryOrLegacy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryOrLegacyVisitor)
    }
}

struct EntryOrLegacyVisitor;

impl EntryOrLegacyVisitor {
    fn legacy<E>(value: Value) -> Result<EntryOrLegacy, E> {
        Ok(EntryOrLegacy::Legacy(value))
    }
}

impl<'de> serde::de::Visitor<'de> for EntryOrLegacyVisitor {
    type Value = EntryOrLegacy;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<EntryOrLegacy, A::Error> {
        let mut pairs: Vec<(TimeEntryKey, Value)> = Vec::with_capacity(4);
        while let Some(key) = map.next_key::<TimeEntryKey>()? {
            pairs.push((key, map.next_value()?));
        }
        Ok(match TimeEntry::from_pairs(&pairs) {
            Some(entry) => EntryOrLegacy::Entry(entry),
            None => {
                let mut object = Map::new();
                for (key, value) in pairs {
                    object.insert(key.into_name(), value);
                }
                EntryOrLegacy::Legacy(Value::Object(object))
            }
        })
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<EntryOrLegacy, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Self::legacy(Value::Array(values))
    }

    fn visit_bool<E>(self, v: bool) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<EntryOrLegacy, E> {
        Self::legacy(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::Null)
    }

    fn visit_none<E>(self) -> Result<EntryOrLegacy, E> {
        Self::legacy(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<EntryOrLegacy, D::Error> {
        Value::deserialize(d).map(EntryOrLegacy::Legacy)
    }
}

impl From<RawTimeTracking> for TimeTracking {
    fn from(raw: RawTimeTracking) -> Self {
        let total_minutes = raw.total_minutes.unwrap_or_else(|| {
            raw.extra
                .get(TOTAL_TIME_SECONDS)
                .and_then(Value::as_f64)
                .map_or(0, |seconds| (seconds.max(0.0) / 60.0) as u64)
        });
        // Entries in this model's shape are kept as entries; others (the v2 tools' free-form
        // entries) stay as they were, under `legacySessions`.
        let mut sessions = Vec::new();
        let mut legacy = Vec::new();
        for entry in raw.sessions {
            match entry {
                EntryOrLegacy::Entry(e) => sessions.push(e),
                EntryOrLegacy::Legacy(value) => legacy.push(value),
            }
        }
        let mut extra = raw.extra;
        if !legacy.is_empty() {
            extra.insert("legacySessions".to_owned(), Value::from(legacy));
        }
        TimeTracking {
            total_minutes,
            sessions,
            extra,
        }
    }
}

/// One entry of [`TimeTracking::sessions`].
///
/// Deserialized by hand (the derive with a flattened `extra` buffers every entry into an
/// intermediate form first): a developer's open time document holds up to a few hundred of
/// these and is read by every `session end`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl<'de> Deserialize<'de> for TimeEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TimeEntryVisitor)
    }
}

/// A key of a [`TimeEntry`]: one of its fields, or one kept in `extra`.
enum TimeEntryKey {
    SessionId,
    TaskId,
    Minutes,
    RecordedAt,
    Other(String),
}

impl<'de> Deserialize<'de> for TimeEntryKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = TimeEntryKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<TimeEntryKey, E> {
                Ok(match key {
                    "session_id" => TimeEntryKey::SessionId,
                    "task_id" => TimeEntryKey::TaskId,
                    "minutes" => TimeEntryKey::Minutes,
                    "recorded_at" => TimeEntryKey::RecordedAt,
                    other => TimeEntryKey::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl TimeEntryKey {
    fn into_name(self) -> String {
        match self {
            Self::SessionId => "session_id".to_owned(),
            Self::TaskId => "task_id".to_owned(),
            Self::Minutes => "minutes".to_owned(),
            Self::RecordedAt => "recorded_at".to_owned(),
            Self::Other(name) => name,
        }
    }
}

impl TimeEntry {
    /// The entry the pairs of a JSON object make, read as that object's [`Value`] would be (a
    /// repeated key counts once, with its last value); `None` when it is not one.
    fn from_pairs(pairs: &[(TimeEntryKey, Value)]) -> Option<Self> {
        let last = |wanted: fn(&TimeEntryKey) -> bool| {
            pairs.iter().rev().find(|(k, _)| wanted(k)).map(|(_, v)| v)
        };
        let session_id = match last(|k| matches!(k, TimeEntryKey::SessionId)) {
            Some(v) => Option::<String>::deserialize(v).ok()?,
            None => None,
        };
        let task_id = match last(|k| matches!(k, TimeEntryKey::TaskId)) {
            Some(v) => Option::<TaskId>::deserialize(v).ok()?,
            None => None,
        };
        let minutes = u64::deserialize(last(|k| matches!(k, TimeEntryKey::Minutes))?).ok()?;
        let recorded_at =
            Timestamp::deserialize(last(|k| matches!(k, TimeEntryKey::RecordedAt))?).ok()?;
        let mut extra = Extra::new();
        for (key, value) in pairs {
            if let TimeEntryKey::Other(name) = key {
                extra.insert(name.clone(), value.clone());
            }
        }
        Some(TimeEntry {
            session_id,
            task_id,
            minutes,
            recorded_at,
            extra,
        })
    }
}

struct TimeEntryVisitor;

impl<'de> serde::de::Visitor<'de> for TimeEntryVisitor {
    type Value = TimeEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a time entry")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TimeEntry, A::Error> {
        use serde::de::Error as _;
        let mut session_id: Option<Option<String>> = None;
        let mut task_id: Option<Option<TaskId>> = None;
        let mut minutes: Option<u64> = None;
        let mut recorded_at: Option<Timestamp> = None;
        let mut extra = Extra::new();
        while let Some(key) = map.next_key::<TimeEntryKey>()? {
            match key {
                TimeEntryKey::SessionId => set_once(&mut map, &mut session_id, "session_id")?,
                TimeEntryKey::TaskId => set_once(&mut map, &mut task_id, "task_id")?,
                TimeEntryKey::Minutes => set_once(&mut map, &mut minutes, "minutes")?,
                TimeEntryKey::RecordedAt => {
                    set_once(&mut map, &mut recorded_at, "recorded_at")?;
                }
                TimeEntryKey::Other(key) => {
                    extra.insert(key, map.next_value()?);
                }
            }
        }
        Ok(TimeEntry {
            session_id: session_id.flatten(),
            task_id: task_id.flatten(),
            minutes: minutes.ok_or_else(|| A::Error::missing_field("minutes"))?,
            recorded_at: recorded_at.ok_or_else(|| A::Error::missing_field("recorded_at"))?,
            extra,
        })
    }
}

/// `dev-<id>/cache/git-status.json`: a snapshot of the repository's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitStatusCache {
    /// When the snapshot was taken, in seconds since the Unix epoch (as `date +%s`); the
    /// ISO 8601 string of the v2 documentation reads too.
    #[serde(deserialize_with = "seconds_or_iso8601")]
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

fn seconds_or_iso8601<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error as _;
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| D::Error::custom("timestamp out of range")),
        Value::String(s) => s
            .parse::<Timestamp>()
            .map(|t| t.as_second())
            .map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "timestamp is neither seconds nor ISO 8601: {other}"
        ))),
    }
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

    /// The derived reading the hand-written one replaced, as the reference.
    mod derived {
        use super::super::{DeveloperId, Extra, TaskId, Timestamp};
        use serde::Deserialize;
        use std::collections::BTreeMap;

        #[derive(Debug, Deserialize)]
        pub(super) struct TaskAssignments {
            #[serde(default, alias = "assignments")]
            pub(super) tasks: BTreeMap<TaskId, TaskAssignment>,
            #[serde(flatten)]
            pub(super) extra: Extra,
        }

        #[derive(Debug, PartialEq, Deserialize)]
        pub(super) struct TimeEntry {
            #[serde(default)]
            pub(super) session_id: Option<String>,
            #[serde(default)]
            pub(super) task_id: Option<TaskId>,
            pub(super) minutes: u64,
            pub(super) recorded_at: Timestamp,
            #[serde(flatten)]
            pub(super) extra: Extra,
        }

        #[derive(Debug, Deserialize)]
        pub(super) struct TaskAssignment {
            #[serde(alias = "developer", alias = "developerId")]
            pub(super) assignee: DeveloperId,
            pub(super) status: String,
            #[serde(alias = "claimedAt")]
            pub(super) claimed_at: Timestamp,
            #[serde(flatten)]
            pub(super) extra: Extra,
        }
    }

    #[test]
    fn assignments_read_as_the_derived_reading_did() {
        let cases = [
            r#"{"tasks":{"t1":{"assignee":"a","status":"claimed","claimed_at":"2025-09-18T10:00:00Z","session_id":"s","n":[1,{"x":null}]}},"version":2,"updated":"now"}"#,
            r#"{"assignments":{"t1":{"developer":"a","status":"in_progress","claimedAt":"2025-09-18T10:00:00+02:00"},"t2":{"developerId":"b","status":"done","claimed_at":"2025-09-18T10:00:00Z","tasks":1,"assignments":2}}}"#,
            r#"{"version":1,"status":"x","developer":"y","claimedAt":"z"}"#,
            r#"{}"#,
            // Refused: a missing, invalid or doubled field, a wrong shape.
            r#"{"tasks":{"t1":{"status":"claimed","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
            r#"{"tasks":{"t1":{"assignee":"a","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
            r#"{"tasks":{"t1":{"assignee":"a","status":"s"}}}"#,
            r#"{"tasks":{"t1":{"assignee":"../x","status":"s","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
            r#"{"tasks":{"bad/task":{"assignee":"a","status":"s","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
            r#"{"tasks":{"t1":{"assignee":"a","developer":"b","status":"s","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
            r#"{"tasks":{"t1":{"assignee":"a","status":"s","claimed_at":"yesterday"}}}"#,
            r#"{"tasks":{},"assignments":{}}"#,
            r#"{"tasks":[1]}"#,
            r#"[1]"#,
        ];
        for json in cases {
            let ours = serde_json::from_str::<TaskAssignments>(json);
            let reference = serde_json::from_str::<derived::TaskAssignments>(json);
            match (ours, reference) {
                (Ok(ours), Ok(reference)) => {
                    assert_eq!(ours.extra, reference.extra, "{json}");
                    assert_eq!(ours.tasks.len(), reference.tasks.len(), "{json}");
                    for ((t, a), (rt, ra)) in ours.tasks.iter().zip(&reference.tasks) {
                        assert_eq!(
                            (t, &a.assignee, &a.status, a.claimed_at, &a.extra),
                            (rt, &ra.assignee, &ra.status, ra.claimed_at, &ra.extra),
                            "{json}"
                        );
                    }
                }
                (Err(_), Err(_)) => {}
                (ours, reference) => panic!("{json}: {ours:?} against {reference:?}"),
            }
        }
    }

    #[test]
    fn time_entries_read_as_the_derived_reading_did() {
        let cases = [
            r#"{"session_id":"s","task_id":"t1","minutes":90,"recorded_at":"2025-09-18T10:00:00Z"}"#,
            r#"{"recorded_at":"2025-09-18T10:00:00+02:00","minutes":0,"note":"x","n":[1,{"y":null}]}"#,
            r#"{"session_id":null,"task_id":null,"minutes":1,"recorded_at":"2025-09-18T10:00:00Z"}"#,
            // Refused: a missing, invalid or doubled field, a wrong shape.
            r#"{"session_id":"s","recorded_at":"2025-09-18T10:00:00Z"}"#,
            r#"{"minutes":1}"#,
            r#"{"minutes":-1,"recorded_at":"2025-09-18T10:00:00Z"}"#,
            r#"{"minutes":1.5,"recorded_at":"2025-09-18T10:00:00Z"}"#,
            r#"{"minutes":1,"recorded_at":"yesterday"}"#,
            r#"{"minutes":1,"recorded_at":"2025-09-18T10:00:00Z","task_id":"bad/task"}"#,
            r#"{"minutes":1,"recorded_at":"2025-09-18T10:00:00Z","session_id":7}"#,
            r#"{"minutes":1,"minutes":2,"recorded_at":"2025-09-18T10:00:00Z"}"#,
            r#"[1,"2025-09-18T10:00:00Z"]"#,
            r#""entry""#,
        ];
        for json in cases {
            let value: Value = serde_json::from_str(json).unwrap();
            // Read from the text and from a parsed value (where a doubled key is already one).
            for (ours, reference) in [
                (
                    serde_json::from_str::<TimeEntry>(json),
                    serde_json::from_str::<derived::TimeEntry>(json),
                ),
                (
                    TimeEntry::deserialize(&value),
                    derived::TimeEntry::deserialize(&value),
                ),
            ] {
                match (ours, &reference) {
                    (Ok(ours), Ok(reference)) => assert_eq!(
                        (
                            ours.session_id,
                            ours.task_id,
                            ours.minutes,
                            ours.recorded_at
                        ),
                        (
                            reference.session_id.clone(),
                            reference.task_id.clone(),
                            reference.minutes,
                            reference.recorded_at
                        ),
                        "{json}"
                    ),
                    (Err(_), Err(_)) => {}
                    (ours, reference) => panic!("{json}: {ours:?} against {reference:?}"),
                }
            }
        }
    }

    /// A time document reads as parsing it to a `Value` first and then each entry as the
    /// derived `TimeEntry` did: entries in this model's shape, anything else kept under
    /// `legacySessions` as it was.
    #[test]
    fn time_documents_read_as_through_values() {
        let entry =
            r#"{"session_id":"s","task_id":"t1","minutes":5,"recorded_at":"2025-09-18T10:00:00Z"}"#;
        let docs = [
            format!(r#"{{"total_minutes":5,"sessions":[{entry}],"version":2}}"#),
            format!(r#"{{"totalMinutes":5,"sessions":[{entry},{entry}]}}"#),
            r#"{"totalTime":600,"sessions":[{"duration":600,"task":"x"},1,-2,3.5,"s",null,true,[1,{"a":[]}]]}"#.to_owned(),
            r#"{"sessions":[{"minutes":1,"minutes":2,"recorded_at":"2025-09-18T10:00:00Z","x":1,"x":2,"y":3}]}"#.to_owned(),
            r#"{"sessions":[{"minutes":1,"recorded_at":"2025-09-18T10:00:00Z","x":1,"minutes":"two","x":2}]}"#.to_owned(),
            r#"{"sessions":[{"minutes":1,"recorded_at":"2025-09-18T10:00:00Z","task_id":"bad/id"},{"session_id":null,"task_id":null,"minutes":0,"recorded_at":"2025-09-18T10:00:00+02:00","note":{"k":[1,2]}}]}"#.to_owned(),
            r#"{"sessions":[]}"#.to_owned(),
            r#"{}"#.to_owned(),
        ];
        for json in &docs {
            let ours: TimeTracking = serde_json::from_str(json).unwrap();
            let value: Value = serde_json::from_str(json).unwrap();
            let mut entries = Vec::new();
            let mut legacy = Vec::new();
            for element in value["sessions"].as_array().into_iter().flatten() {
                match serde_json::from_value::<derived::TimeEntry>(element.clone()) {
                    Ok(e) => {
                        entries.push((e.session_id, e.task_id, e.minutes, e.recorded_at, e.extra))
                    }
                    Err(_) => legacy.push(element.clone()),
                }
            }
            let read: Vec<_> = ours
                .sessions
                .iter()
                .map(|e| {
                    let e = e.clone();
                    (e.session_id, e.task_id, e.minutes, e.recorded_at, e.extra)
                })
                .collect();
            assert_eq!(read, entries, "{json}");
            let kept = ours.extra.get("legacySessions").cloned();
            assert_eq!(
                kept,
                (!legacy.is_empty()).then(|| Value::from(legacy)),
                "{json}"
            );
        }
        // Not a list, or an element that is not JSON: refused as before.
        assert!(serde_json::from_str::<TimeTracking>(r#"{"sessions":{}}"#).is_err());
        assert!(serde_json::from_str::<TimeTracking>(r#"{"sessions":[{"a":}]}"#).is_err());
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
