//! Writing namespaces as FlowForge's tools do (the shared JSON views), for the tests.

use std::{fs, path::Path};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{GitStatusCache, Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_testkit::bash_tools::{create_dir_all as create_private_dir_all, write_json};
use jiff::{Timestamp, ToSpan};

pub(crate) fn dev(id: &str) -> DeveloperId {
    DeveloperId::new(id).unwrap()
}

pub(crate) fn task(id: &str) -> TaskId {
    TaskId::new(id).unwrap()
}

/// A fixed instant, so that reports are reproducible.
pub(crate) fn base() -> Timestamp {
    "2025-09-18T08:00:00Z".parse().unwrap()
}

/// What one developer's namespace holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct DevSpec {
    /// `(active, task, branch)` of the current session.
    pub session: Option<(bool, Option<String>, Option<String>)>,
    /// Ended sessions: `(task, start hour offset)`.
    pub history: Vec<(Option<String>, i64)>,
    /// `(task, minutes, hour offset)`.
    pub time: Vec<(Option<String>, u64, i64)>,
    /// Changed paths, as the git status cache lists them.
    pub paths: Vec<String>,
    /// Write a corrupt time-tracking file.
    pub corrupt: bool,
}

pub(crate) fn session(
    dev_id: &DeveloperId,
    serial: usize,
    task: Option<&str>,
    start: Timestamp,
) -> Session {
    Session {
        active: true,
        session_id: format!("s-{dev_id}-{serial}"),
        start_time: start,
        task_id: task.map(|t| TaskId::new(t).unwrap()),
        developer_id: dev_id.clone(),
        branch: None,
        provider: Some("github".into()),
        metadata: Default::default(),
        end_time: None,
        extra: Default::default(),
    }
}

/// Writes `spec` into `id`'s namespace, replacing what was there.
pub(crate) fn write_dev(layout: &Layout, id: &DeveloperId, spec: &DevSpec) {
    for dir in layout.namespace_dirs(id) {
        create_private_dir_all(&dir).unwrap();
    }
    let current = layout.current_session(id);
    match &spec.session {
        Some((active, task, branch)) => {
            let mut s = session(id, 0, task.as_deref(), base() + 1.hours());
            s.active = *active;
            s.branch = branch.clone();
            if !active {
                s.end_time = Some(base() + 2.hours());
            }
            write_json(&current, &s).unwrap();
        }
        None => {
            let _ = fs::remove_file(&current);
        }
    }
    let history = layout.session_history_dir(id);
    for entry in fs::read_dir(&history).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (i, (task, hours)) in spec.history.iter().enumerate() {
        let mut s = session(id, i + 1, task.as_deref(), base() + hours.hours());
        s.active = false;
        s.end_time = Some(base() + (hours + 1).hours());
        write_json(&history.join(format!("{}.json", s.session_id)), &s).unwrap();
    }
    let time_path = layout.time_tracking(id);
    if spec.corrupt {
        flowforge_testkit::bash_tools::write(&time_path, b"{\"sessions\": [").unwrap();
    } else {
        let sessions: Vec<TimeEntry> = (spec.time.iter())
            .map(|(task, minutes, hours)| TimeEntry {
                session_id: None,
                task_id: task.as_deref().map(|t| TaskId::new(t).unwrap()),
                minutes: *minutes,
                recorded_at: base() + hours.hours(),
                extra: Default::default(),
            })
            .collect();
        let tracking = TimeTracking {
            total_minutes: sessions.iter().map(|e| e.minutes).sum(),
            sessions,
            extra: Default::default(),
        };
        write_json(&time_path, &tracking).unwrap();
    }
    let cache = layout.git_status_cache(id);
    if spec.paths.is_empty() {
        let _ = fs::remove_file(&cache);
    } else {
        let status: String = spec.paths.iter().map(|p| format!(" M {p}\n")).collect();
        let snapshot = GitStatusCache {
            timestamp: 0,
            branch: "main".into(),
            status,
            uncommitted_changes: spec.paths.len() as u64,
            untracked_files: 0,
            remote_status: "up-to-date".into(),
            extra: Default::default(),
        };
        write_json(&cache, &snapshot).unwrap();
    }
}

/// Writes `team/task-assignments.json`.
pub(crate) fn write_claims(layout: &Layout, claims: &[(&str, &DeveloperId)]) {
    create_private_dir_all(&layout.team_dir()).unwrap();
    let mut assignments = TaskAssignments::default();
    for (i, (t, holder)) in claims.iter().enumerate() {
        assignments.tasks.insert(
            task(t),
            TaskAssignment {
                assignee: (*holder).clone(),
                status: "claimed".into(),
                claimed_at: base() + (i as i64).minutes(),
                extra: Default::default(),
            },
        );
    }
    write_json(&layout.task_assignments(), &assignments).unwrap();
}

/// What a developer does through the session store, as the `flowforge` tools do.
#[derive(Debug, Clone)]
pub(crate) enum StoreOp {
    /// Start (replacing any active session) a session on the task, on a branch.
    Start(String, Option<String>),
    /// End the active session.
    End,
    /// Add minutes to a task.
    Minutes(Option<String>, u64),
}

/// Applies `op` to `id`'s namespace through flowforge-session, creating the namespace first if
/// needed. Refusals (a task held by another developer, no active session, a corrupt view the
/// store will not take over) change nothing and are ignored, as a developer would see them and
/// move on.
pub(crate) fn store_op(layout: &Layout, id: &DeveloperId, op: &StoreOp) {
    use flowforge_session::{AddMinutes, Error, Namespace, SessionOptions, StartOptions};
    flowforge_session::namespace::init(layout, id, &Default::default()).unwrap();
    let ns = Namespace::open(layout, id, SessionOptions::relaxed()).unwrap();
    let result = match op {
        StoreOp::Start(t, branch) => {
            let options = StartOptions {
                replace: true,
                branch: branch.clone(),
                provider: None,
            };
            ns.start_session(&task(t), &options).map(|_| ())
        }
        StoreOp::End => ns.end_session().map(|_| ()),
        StoreOp::Minutes(t, minutes) => {
            let what = AddMinutes {
                session_id: None,
                task_id: t.as_deref().map(task),
                since: None,
            };
            ns.add_minutes(*minutes, &what).map(|_| ())
        }
    };
    match result {
        Ok(())
        | Err(Error::ClaimHeld { .. } | Error::NoActiveSession { .. } | Error::Json { .. }) => {}
        Err(e) => panic!("{op:?} for {id}: {e}"),
    }
}

pub(crate) fn spec(task: &str, paths: &[&str], time: &[(&str, u64, i64)]) -> DevSpec {
    DevSpec {
        session: Some((true, Some(task.into()), Some(format!("feature/{task}")))),
        time: (time.iter())
            .map(|(t, m, h)| (Some(t.to_string()), *m, *h))
            .collect(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    }
}

/// alice and bob active, carol's session ended; bob works on carol's claim; alice and bob both
/// change src/lib.rs.
pub(crate) fn team(root: &Path) -> Layout {
    let layout = Layout::for_repo(root);
    write_dev(
        &layout,
        &dev("alice"),
        &spec(
            "feature-auth-1",
            &["src/auth/login.rs", "src/lib.rs"],
            &[("feature-auth-1", 30, 1), ("feature-auth-1", 45, 30)],
        ),
    );
    write_dev(
        &layout,
        &dev("bob"),
        &spec(
            "feature-auth-2",
            &["src/lib.rs"],
            &[("feature-auth-2", 20, 2)],
        ),
    );
    let mut carol = spec("billing-1", &[], &[("billing-1", 60, 3)]);
    carol.session.as_mut().unwrap().0 = false;
    carol.history = vec![(Some("billing-0".into()), -30)];
    write_dev(&layout, &dev("carol"), &carol);
    write_claims(
        &layout,
        &[
            ("feature-auth-1", &dev("alice")),
            ("feature-auth-2", &dev("carol")),
        ],
    );
    layout
}
