//! Session: every developer ends their session, starts a new one on their task and updates it.

use std::fs;

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
    score::Operation,
};
use flowforge_session::{Namespace, SessionOptions, StartOptions};
use jiff::Timestamp;

use super::{Built, Round, Variant, plain, wrong};
use crate::{
    error::{Error, Result},
    fixture::Team,
};

/// Builds the Session round.
///
/// # Errors
/// [`Error::Session`] when a namespace cannot be opened.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    Ok(Ok(match variant {
        Variant::Naive => Box::new(Naive { team: team.clone() }),
        Variant::Optimized => Box::new(Optimized {
            namespaces: open_namespaces(team)?,
        }),
    }))
}

/// Every developer's namespace with their task, opened with relaxed durability.
///
/// # Errors
/// [`Error::Session`] when a namespace was not initialised.
pub fn open_namespaces(team: &Team) -> Result<Vec<(Namespace, TaskId)>> {
    team.developers
        .iter()
        .zip(&team.tasks)
        .map(|(dev, task)| {
            Ok((
                Namespace::open(&team.layout, dev, SessionOptions::relaxed())?,
                task.clone(),
            ))
        })
        .collect()
}

struct Naive {
    team: Team,
}

impl Round for Naive {
    fn run(&mut self) -> Result<()> {
        for (dev, task) in self.team.developers.iter().zip(&self.team.tasks) {
            naive_cycle(&self.team.layout, dev, task)?;
        }
        Ok(())
    }
}

struct Optimized {
    namespaces: Vec<(Namespace, TaskId)>,
}

impl Round for Optimized {
    fn run(&mut self) -> Result<()> {
        for (ns, task) in &self.namespaces {
            optimized_cycle(ns, task)?;
        }
        Ok(())
    }
}

/// One developer's end + start + update through flowforge-session: the session store's
/// compare-and-swap, a put-if-absent claim, the `current.json` view kept in step.
///
/// # Errors
/// [`Error::Session`] (a claim held by someone else, a lost race, an I/O error).
pub fn optimized_cycle(ns: &Namespace, task: &TaskId) -> Result<()> {
    match ns.end_session() {
        Ok(_) | Err(flowforge_session::Error::NoActiveSession { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    ns.start_session(
        task,
        &StartOptions {
            branch: Some(format!("feature/{task}-work")),
            provider: Some("github".to_owned()),
            ..StartOptions::default()
        },
    )?;
    ns.update_session(|session| {
        session.metadata.insert(
            "lastActivity".to_owned(),
            serde_json::Value::String(Timestamp::now().to_string()),
        );
    })?;
    Ok(())
}

/// One developer's naive end + start + update, as the bash tools do it: a lock file beside
/// `current.json`, read-modify-write of `team/task-assignments.json`, plain writes.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file; [`Error::WrongAnswer`] when the session
/// read back is not the one written.
pub fn naive_cycle(layout: &Layout, dev: &DeveloperId, task: &TaskId) -> Result<()> {
    let current_path = layout.current_session(dev);
    let lock = plain::lock_file(layout, dev);

    // End the current session: archive it, add its time, release the claim, drop the lock.
    if let Some(mut current) = plain::read_json::<Session>(&current_path)? {
        if current.active {
            let now = Timestamp::now();
            current.active = false;
            current.end_time = Some(now);
            let archived = layout
                .session_history_dir(dev)
                .join(format!("{}.json", current.session_id));
            plain::write_json(&archived, &current)?;
            let tracking_path = layout.time_tracking(dev);
            let mut tracking: TimeTracking = plain::read_json(&tracking_path)?.unwrap_or_default();
            let minutes = (now.as_second() - current.start_time.as_second()).max(0) as u64 / 60;
            tracking.total_minutes += minutes;
            tracking.sessions.push(TimeEntry {
                session_id: Some(current.session_id.clone()),
                task_id: current.task_id.clone(),
                minutes,
                recorded_at: now,
                extra: serde_json::Map::new(),
            });
            plain::write_json(&tracking_path, &tracking)?;
            update_assignments(layout, |tasks| {
                tasks.tasks.remove(task);
            })?;
            match fs::remove_file(&lock) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("cannot remove", &lock)(e));
                }
                _ => {}
            }
        }
    }

    // Start: lock file, claim, current.json.
    plain::write(&lock, b"LOCK\n")?;
    let now = Timestamp::now();
    update_assignments(layout, |tasks| {
        tasks.tasks.insert(
            task.clone(),
            TaskAssignment {
                assignee: dev.clone(),
                status: "in_progress".to_owned(),
                claimed_at: now,
                extra: serde_json::Map::new(),
            },
        );
    })?;
    let session = Session {
        active: true,
        session_id: plain::next_session_id(dev),
        start_time: now,
        task_id: Some(task.clone()),
        developer_id: dev.clone(),
        branch: Some(format!("feature/{task}-work")),
        provider: Some("github".to_owned()),
        metadata: serde_json::Map::new(),
        end_time: None,
        extra: serde_json::Map::new(),
    };
    plain::write_json(&current_path, &session)?;

    // Update: read, touch, write.
    let mut read: Session = plain::read_json(&current_path)?.ok_or_else(|| {
        wrong(
            Operation::Session,
            Variant::Naive,
            format!("{} vanished after it was written", current_path.display()),
        )
    })?;
    if read.session_id != session.session_id {
        return Err(wrong(
            Operation::Session,
            Variant::Naive,
            format!(
                "{dev} read back {} instead of {}",
                read.session_id, session.session_id
            ),
        ));
    }
    read.metadata.insert(
        "lastActivity".to_owned(),
        serde_json::Value::String(Timestamp::now().to_string()),
    );
    plain::write_json(&current_path, &read)
}

/// Read-modify-write of `team/task-assignments.json`; a torn file reads as empty, as `jq`
/// failing into `{}` would.
fn update_assignments(layout: &Layout, change: impl FnOnce(&mut TaskAssignments)) -> Result<()> {
    let path = layout.task_assignments();
    let mut tasks: TaskAssignments = plain::read_json_tolerant(&path)?.unwrap_or_default();
    change(&mut tasks);
    plain::write_json(&path, &tasks)
}
