//! Migrating FlowForge v1 state into a developer's namespace.
//!
//! FlowForge v1 kept one work tree's state at the top of the namespace root, shared by
//! whoever worked there:
//! - `sessions/current.json` (a session in any shape [`compat`](crate::compat) reads) or
//!   `.current-session` (lines: the session id, then `issue:`, `branch:`, `start:`, `user:`);
//! - `cache/time-tracking.json` (`totalTime` in seconds, or `total_minutes`);
//! - `tasks.json`, the task database (`tasks[]` with `id`, `assignee`, `status`, `title`).
//!
//! [`migrate`] moves that state into one developer's namespace through the store: an active
//! session becomes the developer's active session (its id and start time kept, so its minutes
//! count from when it began; its task claimed for it, and titled from `tasks.json`), and the
//! recorded time is added to the developer's time tracking. `tasks.json` is the team's task
//! database: it is read and backed up, never moved. Its other `in_progress` tasks are not
//! claimed: a claim belongs to a session, and the developer's next change would release a
//! claim no session holds.
//!
//! # Backup, idempotence and interruption
//! A migration is a journal document in the developer's store (key [`JOURNAL_KEY`]) and these
//! steps, each safe to repeat: [`MigrationStep::Journal`] (the migration's id and backup directory),
//! [`MigrationStep::Backup`] (every v1 file copied to `backups/<id>/` under the root, mode 0600),
//! [`MigrationStep::Session`] (with its claim), [`MigrationStep::Minutes`] (one time entry named after the
//! migration, never added twice), [`MigrationStep::Remove`] (the moved v1 files removed from the
//! top of the root) and [`MigrationStep::Complete`]. A migration interrupted anywhere is finished by
//! the next run, which reads the backup copies the first run made; a completed one leaves
//! nothing to do, so running it again changes nothing.

use std::path::{Path, PathBuf};

use flowforge_core::{DeveloperId, Layout, TaskId, model::Session};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    claim,
    error::{Error, Result},
    fs::{create_private_dir_all, read_bytes, write_atomic},
    namespace::{Namespace, SessionOptions},
    store::{Cas, Key},
    time::{AddMinutes, MAX_ADD_MINUTES},
};

/// The key of the migration journal in a developer's store.
pub const JOURNAL_KEY: &str = "migration-v1";

/// The metadata field of a migrated session recording where it came from.
pub const MIGRATED_FROM: &str = "migratedFrom";

/// One kind of v1 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum V1File {
    /// `sessions/current.json`.
    SessionJson,
    /// `.current-session`.
    CurrentSession,
    /// `cache/time-tracking.json`.
    TimeTracking,
    /// `tasks.json` (read and backed up, never removed).
    Tasks,
}

impl V1File {
    /// Every kind, in the order they are read.
    pub const ALL: [V1File; 4] = [
        V1File::SessionJson,
        V1File::CurrentSession,
        V1File::TimeTracking,
        V1File::Tasks,
    ];

    /// The file's path relative to the namespace root (and to a backup directory).
    pub fn relative(self) -> &'static str {
        match self {
            V1File::SessionJson => "sessions/current.json",
            V1File::CurrentSession => ".current-session",
            V1File::TimeTracking => "cache/time-tracking.json",
            V1File::Tasks => "tasks.json",
        }
    }

    /// Whether a migration removes the file once its content is in the namespace.
    pub fn is_moved(self) -> bool {
        self != V1File::Tasks
    }
}

/// A boundary between two steps of a migration, reported to the observer of [`migrate`]
/// after the step is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationStep {
    /// The journal names the migration and its backup directory.
    Journal,
    /// Every v1 file is copied into the backup directory.
    Backup,
    /// The v1 active session is the developer's active session, its task claimed.
    Session,
    /// The time is added to the developer's time tracking.
    Minutes,
    /// The moved v1 files are removed.
    Remove,
    /// The journal records the migration complete.
    Complete,
}

/// How [`migrate`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Find and check what would be migrated; write nothing.
    pub dry_run: bool,
    /// The stores' options.
    pub session: SessionOptions,
}

/// What a migration found and did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Migration {
    /// The developer migrated into.
    pub developer: DeveloperId,
    /// What the run came to.
    pub outcome: Outcome,
    /// The migration's id (`v1-<time>`); `None` when there was nothing to do.
    pub id: Option<String>,
    /// The backup directory (beneath the root); `None` when there was nothing to do.
    pub backup: Option<PathBuf>,
    /// Whether this run finished a migration an earlier run began.
    pub resumed: bool,
    /// The v1 files found, where they were read from (the original or its backup copy).
    pub sources: Vec<(V1File, PathBuf)>,
    /// The v1 active session, as it becomes the developer's.
    pub session: Option<Session>,
    /// The task claimed for the developer: the session's.
    pub claim: Option<TaskId>,
    /// The minutes added to the developer's time tracking.
    pub minutes: u64,
    /// The v1 files removed (or, on a dry run, to be removed).
    pub removed: Vec<PathBuf>,
}

/// What a [`migrate`] run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// No v1 state exists for the developer.
    NothingToMigrate,
    /// A migration into this developer completed before and no v1 file came back since.
    AlreadyMigrated,
    /// Nothing was written: the migration that would run.
    DryRun,
    /// The state is in the namespace and the moved files are gone.
    Migrated,
}

/// The migration journal in the developer's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Journal {
    id: String,
    /// The backup directory relative to the namespace root.
    backup: String,
    started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completed_at: Option<Timestamp>,
}

fn journal_key() -> Key {
    Key::new(JOURNAL_KEY).expect("a valid constant key")
}

/// The v1 files present at the top of the root whose content a migration moves (not
/// `tasks.json`): what `dev init` mentions.
///
/// # Errors
/// [`Error::Io`] or [`Error::Symlink`] when the root cannot be read.
pub fn v1_state(layout: &Layout) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for file in V1File::ALL.into_iter().filter(|f| f.is_moved()) {
        let path = layout.root().join(file.relative());
        if crate::fs::stat(layout.root(), &path)?.is_some() {
            found.push(path);
        }
    }
    Ok(found)
}

/// Migrates the v1 state of `layout`'s root into `dev`'s namespace (see the [module
/// docs](self)); `on_step` is told after each step (a test stops the process there).
///
/// Everything is read and checked before anything is written: an unreadable v1 file, a v1
/// session while the developer has another one active, or a task held by another developer
/// stops the migration with nothing changed.
///
/// # Errors
/// [`Error::NotInitialised`] (run `dev init` first), [`Error::Corrupt`] or [`Error::Json`]
/// naming a v1 file that holds no known shape, [`Error::SessionActive`],
/// [`Error::ClaimHeld`], [`Error::TooManyMinutes`], or the store's errors.
pub fn migrate(
    layout: &Layout,
    dev: &DeveloperId,
    options: &MigrateOptions,
    on_step: &mut dyn FnMut(MigrationStep),
) -> Result<Migration> {
    let ns = Namespace::open(layout, dev, options.session)?;
    let root = layout.root();
    let journal = ns.store.get::<Journal>(&journal_key())?;
    let resuming = journal
        .as_ref()
        .filter(|j| j.value.completed_at.is_none())
        .cloned();
    let (id, backup) = match &resuming {
        Some(j) => (j.value.id.clone(), root.join(&j.value.backup)),
        None => {
            let id = format!("v1-{}", Timestamp::now().as_millisecond());
            let backup = root.join("backups").join(&id);
            (id, backup)
        }
    };

    // Read: from the backup copy where an earlier run made one, else the original.
    let mut sources = Vec::new();
    let mut contents = Vec::new();
    for file in V1File::ALL {
        let copy = backup.join(file.relative());
        let original = root.join(file.relative());
        let (path, bytes) = match read_bytes(root, &copy)? {
            Some(bytes) => (copy, bytes),
            None => match read_bytes(root, &original)? {
                Some(bytes) => (original, bytes),
                None => continue,
            },
        };
        sources.push((file, path.clone()));
        contents.push((file, path, bytes));
    }
    let moved_present = contents.iter().any(|(f, _, _)| f.is_moved());
    let mut report = Migration {
        developer: dev.clone(),
        outcome: Outcome::NothingToMigrate,
        id: None,
        backup: None,
        resumed: resuming.is_some(),
        sources,
        session: None,
        claim: None,
        minutes: 0,
        removed: Vec::new(),
    };
    if resuming.is_none() && !moved_present {
        // tasks.json alone is no v1 state: it stays, the team's task database.
        if journal.is_some() {
            report.outcome = Outcome::AlreadyMigrated;
        }
        return Ok(report);
    }

    let parsed = Parsed::from_contents(dev, &id, &contents)?;
    report.id = Some(id.clone());
    report.backup = Some(backup.clone());
    report.session.clone_from(&parsed.session);
    report.minutes = parsed.minutes;
    report.claim = parsed.session.as_ref().and_then(|s| s.task_id.clone());
    report.removed = contents
        .iter()
        .filter(|(f, _, _)| f.is_moved())
        .map(|(f, _, _)| root.join(f.relative()))
        .filter(|p| crate::fs::stat(root, p).ok().flatten().is_some())
        .collect();

    // Check before writing anything.
    if let Some(session) = &parsed.session {
        if let Some(active) = ns.session()?.filter(|c| c.active) {
            if active.session_id != session.session_id {
                return Err(Error::SessionActive {
                    developer: dev.clone(),
                    session_id: active.session_id,
                    task: active.task_id,
                });
            }
        }
    }
    if let Some(task) = &report.claim {
        if let Some(holder) = holder_of(layout, task)? {
            if holder != *dev {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder,
                });
            }
        }
    }
    if options.dry_run {
        report.outcome = Outcome::DryRun;
        return Ok(report);
    }

    // Journal.
    if resuming.is_none() {
        let entry = Journal {
            id: id.clone(),
            backup: backup
                .strip_prefix(root)
                .unwrap_or(&backup)
                .to_string_lossy()
                .into_owned(),
            started_at: Timestamp::now(),
            completed_at: None,
        };
        let expected = journal.as_ref().map(|j| j.version);
        if let Cas::Conflict(found) = ns
            .store
            .compare_and_swap(&journal_key(), expected, &entry)?
        {
            return Err(Error::Conflict {
                key: JOURNAL_KEY.to_owned(),
                expected: expected.map_or("none".to_owned(), |v| v.to_string()),
                found: found.map_or("none".to_owned(), |v| v.version.to_string()),
            });
        }
    }
    on_step(MigrationStep::Journal);

    // Backup.
    let durability = ns.store.options().durability;
    for (file, path, bytes) in &contents {
        let copy = backup.join(file.relative());
        if *path != copy {
            if let Some(parent) = copy.parent() {
                create_private_dir_all(root, parent)?;
            }
            write_atomic(root, &copy, bytes, durability)?;
        }
    }
    on_step(MigrationStep::Backup);

    // Session.
    if let Some(session) = &parsed.session {
        let current = ns.current_for_write()?;
        let adopted = current
            .as_ref()
            .is_some_and(|c| c.value.session_id == session.session_id);
        let archived = crate::fs::stat(
            root,
            &crate::state::history_path(layout, dev, &session.session_id)?,
        )?
        .is_some();
        if !adopted && !archived {
            ns.start(session.clone(), current)?;
        }
    }
    on_step(MigrationStep::Session);

    // Minutes: one entry named after the migration, never added twice.
    if parsed.minutes > 0 {
        ns.add_minutes(
            parsed.minutes,
            &AddMinutes {
                session_id: Some(id.clone()),
                task_id: None,
                since: None,
            },
        )?;
    }
    on_step(MigrationStep::Minutes);

    for file in V1File::ALL.into_iter().filter(|f| f.is_moved()) {
        crate::fs::remove_file(root, &root.join(file.relative()))?;
    }
    on_step(MigrationStep::Remove);

    ns.store
        .update(&journal_key(), |current: Option<&Journal>| {
            let mut journal = current.cloned().unwrap_or_else(|| Journal {
                id: id.clone(),
                backup: String::new(),
                started_at: Timestamp::now(),
                completed_at: None,
            });
            journal.completed_at = Some(Timestamp::now());
            Ok(journal)
        })?;
    on_step(MigrationStep::Complete);
    report.outcome = Outcome::Migrated;
    Ok(report)
}

/// Who holds `task`: the store's claim, else the bash tools' entry of the assignment file.
/// (The claim itself is taken atomically by the session's start; this check only spares a
/// migration that would stop there.)
fn holder_of(layout: &Layout, task: &TaskId) -> Result<Option<DeveloperId>> {
    if let Some(claim) = claim::claim_of(layout, task)? {
        return Ok(Some(claim.holder().clone()));
    }
    Ok(crate::compat::view_claim(layout, task)
        .filter(|a| !claim::is_flowforge_entry(a))
        .map(|a| a.assignee))
}

/// The v1 files' content, checked.
struct Parsed {
    session: Option<Session>,
    minutes: u64,
}

impl Parsed {
    fn from_contents(
        dev: &DeveloperId,
        id: &str,
        contents: &[(V1File, PathBuf, Vec<u8>)],
    ) -> Result<Self> {
        let find = |kind: V1File| contents.iter().find(|(f, _, _)| *f == kind);
        let tasks = match find(V1File::Tasks) {
            Some((_, path, bytes)) => Some(json(path, bytes)?),
            None => None,
        };
        let mut session = match find(V1File::SessionJson) {
            Some((_, path, bytes)) => {
                let mut value = json(path, bytes)?;
                // Whoever v1 named, the session becomes the migrating developer's.
                if let Some(object) = value.as_object_mut() {
                    object.insert("developerId".to_owned(), Value::from(dev.as_str()));
                }
                crate::compat::parse_session(path, value)
                    .map_err(|_| corrupt(path, "not a session of any known shape"))?
            }
            None => None,
        };
        if session.is_none() {
            if let Some((_, path, bytes)) = find(V1File::CurrentSession) {
                session = Some(parse_current_session(path, bytes, dev)?);
            }
        }
        let session = session
            .filter(|s| s.active)
            .map(|s| adopt(s, dev, id, tasks.as_ref()));
        let minutes = match find(V1File::TimeTracking) {
            Some((_, path, bytes)) => {
                let tracking: flowforge_core::model::TimeTracking =
                    serde_json::from_slice(bytes).map_err(|source| Error::Json {
                        path: path.clone(),
                        source,
                    })?;
                if tracking.total_minutes > MAX_ADD_MINUTES {
                    return Err(Error::TooManyMinutes {
                        minutes: tracking.total_minutes,
                        limit: MAX_ADD_MINUTES,
                    });
                }
                tracking.total_minutes
            }
            None => 0,
        };
        Ok(Self { session, minutes })
    }
}

/// The v1 session as `dev`'s active session: start time and id kept, the v1 user recorded.
fn adopt(mut session: Session, dev: &DeveloperId, id: &str, tasks: Option<&Value>) -> Session {
    let mut from = serde_json::Map::new();
    from.insert("migration".to_owned(), Value::from(id));
    if let Some(user) = session.user() {
        from.insert("user".to_owned(), Value::from(user));
    }
    session
        .metadata
        .insert(MIGRATED_FROM.to_owned(), Value::Object(from));
    if !session.extra.contains_key("taskTitle") {
        let title = tasks
            .zip(session.task_id.as_ref())
            .and_then(|(tasks, task)| {
                tasks
                    .get("tasks")?
                    .as_array()?
                    .iter()
                    .find(|t| task_id(t.get("id")).and_then(Result::ok).as_ref() == Some(task))?
                    .get("title")
                    .cloned()
            });
        if let Some(title) = title {
            session.extra.insert("taskTitle".to_owned(), title);
        }
    }
    session.developer_id = dev.clone();
    session.active = true;
    session.end_time = None;
    crate::session::mark(&mut session, crate::session::ACTIVE, Timestamp::now());
    session
}

/// A task id written as a string or a number; `None` when it is neither.
fn task_id(value: Option<&Value>) -> Option<std::result::Result<TaskId, flowforge_core::Error>> {
    match value? {
        Value::String(s) => Some(TaskId::new(s)),
        Value::Number(n) => Some(TaskId::new(&n.to_string())),
        _ => None,
    }
}

/// `.current-session`: the session id on the first line, then `key:value` lines.
fn parse_current_session(path: &Path, bytes: &[u8], dev: &DeveloperId) -> Result<Session> {
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt(path, "not UTF-8"))?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let session_id = lines
        .next()
        .ok_or_else(|| corrupt(path, "empty: no session id"))?
        .to_owned();
    let mut value = serde_json::Map::new();
    value.insert("sessionId".to_owned(), Value::from(session_id));
    value.insert("status".to_owned(), Value::from("active"));
    value.insert("developerId".to_owned(), Value::from(dev.as_str()));
    for line in lines {
        let Some((key, rest)) = line.split_once(':') else {
            return Err(corrupt(path, &format!("line {line:?} is not key:value")));
        };
        let field = match key {
            "issue" | "task" => "taskId",
            "branch" => "branch",
            "start" => "startTime",
            "user" => "user",
            _ => continue,
        };
        value.insert(field.to_owned(), Value::from(rest.trim()));
    }
    serde_json::from_value(Value::Object(value)).map_err(|e| corrupt(path, &e.to_string()))
}

fn json(path: &Path, bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })
}

fn corrupt(path: &Path, reason: &str) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_session_file_reads_as_an_active_session() {
        let text = "session-1757167488-140545\nissue:250\nbranch:feature/250-work\n\
                    start:2025-09-06T14:04:48.251Z\nuser:cruzalex\n";
        let dev = DeveloperId::new("alice").unwrap();
        let s = parse_current_session(Path::new("x"), text.as_bytes(), &dev).unwrap();
        assert_eq!(s.session_id, "session-1757167488-140545");
        assert_eq!(s.task_id.as_ref().unwrap().as_str(), "250");
        assert_eq!(s.branch.as_deref(), Some("feature/250-work"));
        assert_eq!(s.developer_id, dev);
        assert_eq!(s.user(), Some("cruzalex"));
        assert!(s.active);
        assert_eq!(s.start_time.to_string(), "2025-09-06T14:04:48.251Z");
    }

    #[test]
    fn a_current_session_file_without_a_start_is_corrupt() {
        let dev = DeveloperId::new("alice").unwrap();
        let err =
            parse_current_session(Path::new("x"), b"session-1\nissue:250\n", &dev).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        let err = parse_current_session(Path::new("x"), b"", &dev).unwrap_err();
        assert!(err.to_string().contains("no session id"), "{err}");
    }
}
