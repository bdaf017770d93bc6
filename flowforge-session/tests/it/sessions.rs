//! Sessions, claims, time tracking and their views, on real files.

use std::{fs, os::unix::fs::PermissionsExt};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{DeveloperInfo, Session, TaskAssignments, TimeTracking},
};
use flowforge_session::{
    AddMinutes, Error, Namespace, ReleaseOptions, SessionOptions, StartOptions, claim, list_claims,
    load_namespace, namespace, namespace_version,
};

fn setup(devs: &[&str]) -> (tempfile::TempDir, Layout, Vec<Namespace>) {
    setup_with(devs, SessionOptions::default())
}

/// A repository root with each of `devs` initialised and opened with `options`.
pub(crate) fn setup_with(
    devs: &[&str],
    options: SessionOptions,
) -> (tempfile::TempDir, Layout, Vec<Namespace>) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let namespaces = devs
        .iter()
        .map(|d| {
            let dev = DeveloperId::new(d).unwrap();
            namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
            Namespace::open(&layout, &dev, options).unwrap()
        })
        .collect();
    (tmp, layout, namespaces)
}

pub(crate) fn task(s: &str) -> TaskId {
    TaskId::new(s).unwrap()
}

fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> T {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_session_claims_its_task_and_ending_it_archives_releases_and_counts() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let (alice, bob) = (&ns[0], &ns[1]);
    // A task the bash tools assigned before: the claims view keeps it.
    fs::write(
        layout.task_assignments(),
        r#"{"tasks":{"old":{"assignee":"bob","status":"in_progress","claimed_at":"2025-09-18T10:00:00Z"}}}"#,
    )
    .unwrap();
    let started = alice
        .start_session(&task("t-1"), &StartOptions::default())
        .unwrap();
    let view: Session = read(&layout.current_session(alice.developer()));
    assert_eq!(view, started.session.value);
    let assignments: TaskAssignments = read(&layout.task_assignments());
    assert_eq!(assignments.tasks[&task("t-1")].assignee.as_str(), "alice");
    assert_eq!(assignments.tasks[&task("old")].status, "in_progress");

    // Bob cannot take Alice's task; the error names her.
    let err = bob
        .start_session(&task("t-1"), &StartOptions::default())
        .unwrap_err();
    assert!(matches!(&err, Error::ClaimHeld { holder, .. } if holder.as_str() == "alice"));
    assert!(err.is_conflict());
    assert!(err.to_string().contains("alice"), "{err}");
    assert!(
        bob.current_session().unwrap().is_none(),
        "nothing was written for bob"
    );

    // A second session while one is active is refused, and its task stays unclaimed.
    let err = alice
        .start_session(&task("t-2"), &StartOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::SessionActive { .. }), "{err}");
    assert_eq!(list_claims(&layout).unwrap().len(), 1);

    let updated = alice
        .update_session(|s| {
            s.metadata.insert("note".into(), "x".into());
        })
        .unwrap();
    assert_eq!(updated.version.get(), started.session.version.get() + 1);

    let ended = alice.end_session().unwrap();
    assert!(!ended.session.value.active && ended.session.value.end_time.is_some());
    assert!(list_claims(&layout).unwrap().is_empty());
    let assignments: TaskAssignments = read(&layout.task_assignments());
    assert_eq!(
        assignments
            .tasks
            .keys()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["old"]
    );
    let history = alice.history().unwrap();
    assert_eq!(history, std::slice::from_ref(&ended.session.value));
    let time: TimeTracking = read(&layout.time_tracking(alice.developer()));
    assert_eq!(time.sessions.len(), 1);
    assert_eq!(
        time.sessions[0].session_id.as_deref(),
        Some(history[0].session_id.as_str())
    );
    let view: Session = read(&layout.current_session(alice.developer()));
    assert!(!view.active);
    assert!(matches!(
        alice.end_session(),
        Err(Error::NoActiveSession { .. })
    ));

    // Now Bob can.
    bob.start_session(&task("t-1"), &StartOptions::default())
        .unwrap();
    assert_eq!(list_claims(&layout).unwrap()[0].holder().as_str(), "bob");

    for path in [
        layout.current_session(alice.developer()),
        layout.time_tracking(alice.developer()),
        layout
            .session_history_dir(alice.developer())
            .join(format!("{}.json", history[0].session_id)),
    ] {
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{path:?}"
        );
    }
    for dir in [
        layout.dev_store_dir(alice.developer()),
        layout.team_store_dir(),
    ] {
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "{dir:?}"
        );
    }
}

#[test]
fn replace_ends_the_active_session_and_restore_resumes_an_ended_one() {
    let (_tmp, layout, ns) = setup(&["alice"]);
    let alice = &ns[0];
    let first = alice
        .start_session(&task("a"), &StartOptions::default())
        .unwrap();
    let replace = StartOptions {
        replace: true,
        ..StartOptions::default()
    };
    let second = alice.start_session(&task("b"), &replace).unwrap();
    let replaced = second.replaced.unwrap();
    assert_eq!(
        replaced.session.value.session_id,
        first.session.value.session_id
    );
    let claims: Vec<String> = list_claims(&layout)
        .unwrap()
        .iter()
        .map(|c| c.task.to_string())
        .collect();
    assert_eq!(claims, ["b"]);
    // Replacing with the same task keeps the claim, now for the new session.
    let third = alice.start_session(&task("b"), &replace).unwrap();
    let claim = claim::claim_of(&layout, &task("b")).unwrap().unwrap();
    assert_eq!(
        claim.session_id(),
        Some(third.session.value.session_id.as_str())
    );
    alice.end_session().unwrap();

    let restored = alice
        .restore_session(&first.session.value.session_id, &StartOptions::default())
        .unwrap();
    assert_eq!(restored.session.value.task_id, Some(task("a")));
    assert_eq!(
        restored.session.value.metadata["restoredFrom"],
        first.session.value.session_id.as_str()
    );
    assert_eq!(
        claim::claim_of(&layout, &task("a"))
            .unwrap()
            .unwrap()
            .holder()
            .as_str(),
        "alice"
    );
    assert!(matches!(
        alice.restore_session("../../etc/passwd", &replace),
        Err(Error::InvalidSessionId { .. })
    ));
    assert!(matches!(
        alice.restore_session("session-none", &replace),
        Err(Error::NotInHistory { .. })
    ));
    assert_eq!(alice.history().unwrap().len(), 3);
}

#[test]
fn releasing_a_claim_is_explicit_and_force_is_needed_for_another_developers() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let (alice, bob) = (&ns[0], &ns[1]);
    alice
        .start_session(&task("t"), &StartOptions::default())
        .unwrap();
    let options = SessionOptions::default().store;
    let err = claim::release(
        &layout,
        bob.developer(),
        &task("t"),
        ReleaseOptions::default(),
        options,
    )
    .unwrap_err();
    assert!(matches!(&err, Error::ClaimHeld { holder, .. } if holder.as_str() == "alice"));
    let released = claim::release(
        &layout,
        bob.developer(),
        &task("t"),
        ReleaseOptions { force: true },
        options,
    )
    .unwrap();
    assert_eq!(released.claim.holder().as_str(), "alice");
    assert!(matches!(
        claim::release(
            &layout,
            bob.developer(),
            &task("t"),
            ReleaseOptions { force: true },
            options
        ),
        Err(Error::NotClaimed { .. })
    ));
    bob.start_session(&task("t"), &StartOptions::default())
        .unwrap();
    // Alice's session ends without touching Bob's claim.
    alice.end_session().unwrap();
    assert_eq!(
        claim::claim_of(&layout, &task("t"))
            .unwrap()
            .unwrap()
            .holder()
            .as_str(),
        "bob"
    );
}

#[test]
fn the_namespace_version_changes_exactly_when_the_state_does() {
    let (_tmp, layout, ns) = setup(&["alice"]);
    let alice = &ns[0];
    let dev = alice.developer().clone();
    let v0 = namespace_version(&layout, &dev).unwrap();
    assert_eq!(namespace_version(&layout, &dev).unwrap(), v0);
    alice.add_minutes(5, &AddMinutes::default()).unwrap();
    let v1 = namespace_version(&layout, &dev).unwrap();
    assert_ne!(v1, v0);
    alice
        .start_session(&task("x"), &StartOptions::default())
        .unwrap();
    let v2 = namespace_version(&layout, &dev).unwrap();
    assert_ne!(v2, v1);
    let state = load_namespace(&layout, &dev).unwrap();
    assert_eq!(state.version, v2);
    assert_eq!(state.time.unwrap().value.total_minutes, 5);
    assert!(state.session.unwrap().value.active);
    assert!(state.history.is_empty());
    alice.end_session().unwrap();
    let state = load_namespace(&layout, &dev).unwrap();
    assert_ne!(state.version, v2);
    assert_eq!(state.history.len(), 1);
    assert_eq!(namespace_version(&layout, &dev).unwrap(), state.version);

    // The latest version file edited in place, same size, modification time set back.
    let time = alice.time_tracking().unwrap().unwrap();
    let file = layout
        .dev_store_dir(&dev)
        .join("time-tracking")
        .join(format!("{:020}.json", time.version.get()));
    let before = fs::metadata(&file).unwrap();
    let text = fs::read_to_string(&file).unwrap();
    let edited = text.replacen("\"total_minutes\":5", "\"total_minutes\":7", 1);
    assert_ne!(edited, text);
    fs::write(&file, &edited).unwrap();
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(before.modified().unwrap()))
        .unwrap();
    assert_eq!(fs::metadata(&file).unwrap().len(), before.len());
    assert_ne!(namespace_version(&layout, &dev).unwrap(), state.version);
}

#[test]
fn time_starts_from_the_bash_tools_file_and_uninitialised_developers_are_refused() {
    let (_tmp, layout, ns) = setup(&["alice"]);
    let alice = &ns[0];
    fs::write(
        layout.time_tracking(alice.developer()),
        r#"{"total_minutes":90,"sessions":[{"minutes":90,"recorded_at":"2025-09-18T10:00:00Z"}],"version":2}"#,
    )
    .unwrap();
    let time = alice.add_minutes(10, &AddMinutes::default()).unwrap();
    assert_eq!(time.value.total_minutes, 100);
    assert_eq!(time.value.sessions.len(), 2);
    assert_eq!(time.value.extra["version"], 2, "unknown fields are kept");
    let view: TimeTracking = read(&layout.time_tracking(alice.developer()));
    assert_eq!(view, time.value);

    let carol = DeveloperId::new("carol").unwrap();
    let err = Namespace::open(&layout, &carol, SessionOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotInitialised { .. }), "{err}");
    assert!(!layout.dev_dir(&carol).exists());
}

#[test]
fn a_claim_whose_session_was_never_written_is_released_by_the_holders_next_change() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let (alice, bob) = (&ns[0], &ns[1]);
    bob.start_session(&task("b"), &StartOptions::default())
        .unwrap();
    // A process of Alice's died after claiming "lost" and before writing its session (two
    // hours ago), and another one claimed "fresh" a moment ago and is still starting; both
    // in the shard of "a", which her next start changes.
    let shard = claim::claim_shard(&task("a"));
    let in_shard = |prefix: &str| {
        (0..)
            .map(|n| format!("{prefix}{n}"))
            .find(|t| claim::claim_shard(&task(t)) == shard)
            .unwrap()
    };
    let (lost, fresh) = (in_shard("lost"), in_shard("fresh"));
    let team = flowforge_session::store::Store::new(
        layout.team_store_dir(),
        flowforge_session::store::StoreOptions::relaxed(),
    );
    let key = flowforge_session::store::Key::new(&format!("claims-{shard:02x}")).unwrap();
    team.update(&key, |doc: Option<&serde_json::Value>| {
        let mut doc = doc
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"claims": {}}));
        for (task, age_secs) in [(&lost, 7200), (&fresh, 1)] {
            let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(age_secs);
            doc["claims"][task] = serde_json::json!({
                "a": {"assignee": "alice", "status": "claimed", "claimed_at": at.to_string(),
                      "session_id": format!("session-{task}")},
                "g": 1,
            });
        }
        Ok(doc)
    })
    .unwrap();
    let held = |layout: &Layout| -> Vec<String> {
        list_claims(layout)
            .unwrap()
            .iter()
            .map(|c| c.task.to_string())
            .collect()
    };
    assert_eq!(held(&layout), ["b", fresh.as_str(), lost.as_str()]);
    alice
        .start_session(&task("a"), &StartOptions::default())
        .unwrap();
    assert_eq!(held(&layout), ["a", "b", fresh.as_str()]);
    let view: TaskAssignments = read(&layout.task_assignments());
    let shown: Vec<_> = view.tasks.keys().map(|t| t.to_string()).collect();
    assert_eq!(shown, ["a", "b", fresh.as_str()]);
}

#[test]
fn a_history_file_already_there_is_replaced_by_the_ended_session() {
    // A retry after a crash finds the archive it wrote before (here: something else under
    // that name): the put-if-absent publication refuses, and the file is replaced whole.
    let (_tmp, layout, namespaces) = setup(&["alice"]);
    let alice = &namespaces[0];
    let started = alice
        .start_session(&task("t-1"), &StartOptions::default())
        .unwrap();
    let dir = layout.session_history_dir(alice.developer());
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", started.session.value.session_id));
    fs::write(&path, "{ half written").unwrap();
    let ended = alice.end_session().unwrap();
    assert_eq!(read::<Session>(&path), ended.session.value);
    assert_eq!(alice.history().unwrap(), [ended.session.value]);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "no temporary file or spare is left: {names:?}"
    );
}

#[test]
fn concurrent_updates_of_one_session_lose_no_change() {
    // Each update builds on the session it read once and, after a lost race, on the one that
    // won: four handles of the same developer, 25 increments each, all counted.
    let (_tmp, layout, namespaces) = setup_with(&["alice"], SessionOptions::relaxed());
    namespaces[0]
        .start_session(&task("t-1"), &StartOptions::default())
        .unwrap();
    let dev = namespaces[0].developer().clone();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
            s.spawn(move || {
                for _ in 0..25 {
                    ns.update_session(|session| {
                        let n = session.metadata.get("n").and_then(|v| v.as_u64());
                        session
                            .metadata
                            .insert("n".to_owned(), (n.unwrap_or(0) + 1).into());
                    })
                    .unwrap();
                }
            });
        }
    });
    let current = namespaces[0].current_session().unwrap().unwrap();
    assert_eq!(current.value.metadata["n"], 100);
    assert!(current.value.active);
}
