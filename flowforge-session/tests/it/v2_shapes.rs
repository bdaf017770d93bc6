//! The documents of the FlowForge v2 documentation (`tests/fixtures/v2/`, see its README):
//! every shape reads, and what the bash tools left behind is honoured by the store.

use std::{fs, path::PathBuf};

use flowforge_core::{
    Layout,
    model::{GitStatusCache, Session, TaskAssignments, TimeTracking},
};
use flowforge_session::{
    AddMinutes, Error, Namespace, ReleaseOptions, SessionOptions, StartOptions, claim, compat,
    list_claims, pause,
};
use jiff::{SignedDuration, Timestamp};

use crate::sessions::task;
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v2")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn value(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn setup(devs: &[&str]) -> (tempfile::TempDir, Layout, Vec<Namespace>) {
    crate::sessions::setup_with(devs, SessionOptions::relaxed())
}

#[test]
fn every_documented_session_shape_reads() {
    let path = PathBuf::from("current.json");
    for name in [
        "session-schema-example.json",
        "session-migration-guide.json",
        "session-api.json",
    ] {
        let session = compat::parse_session(&path, value(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: read as no session"));
        assert_eq!(session.developer_id.as_str(), "cruzalex", "{name}");
        assert_eq!(session.session_id, "session-1757167488-140545", "{name}");
        assert!(session.active, "{name}");
        // What the schema has and the model does not is kept for the bash tools.
        let back = serde_json::to_value(&session).unwrap();
        for (field, original) in value(name).as_object().unwrap() {
            assert_eq!(&back[field], original, "{name}: {field}");
        }
    }
    let schema = compat::parse_session(&path, value("session-schema-example.json"))
        .unwrap()
        .unwrap();
    assert_eq!(schema.task_id, Some(task("250")));
    assert_eq!(schema.user(), Some("cruzalex"));
    assert_eq!(
        schema.last_activity(),
        Some("2025-09-06T14:30:00Z".parse().unwrap())
    );
    // The reset session is no session, not a corrupt one.
    assert_eq!(
        compat::parse_session(&path, value("session-reset.json")).unwrap(),
        None
    );
    // A v2 session that ended is not active.
    let mut ended = value("session-migration-guide.json");
    ended["status"] = "ended".into();
    assert!(!compat::parse_session(&path, ended).unwrap().unwrap().active);
    // Nothing names the developer: corrupt, naming the file.
    let mut anonymous = value("session-migration-guide.json");
    anonymous.as_object_mut().unwrap().remove("user");
    let err = compat::parse_session(&path, anonymous).unwrap_err();
    assert!(err.to_string().contains("current.json"), "{err}");
}

#[test]
fn documented_time_claim_and_cache_shapes_read() {
    let recovered: TimeTracking =
        serde_json::from_slice(&fixture("time-tracking-recovered.json")).unwrap();
    assert_eq!(recovered.total_minutes, 90, "totalTime is seconds");
    let manual: TimeTracking =
        serde_json::from_slice(&fixture("time-tracking-manual.json")).unwrap();
    assert_eq!(manual.total_minutes, 120);
    assert_eq!(
        manual.extra["note"],
        value("time-tracking-manual.json")["note"]
    );
    let assignments: TaskAssignments =
        serde_json::from_slice(&fixture("task-assignments-reset.json")).unwrap();
    assert!(assignments.tasks.is_empty());
    let cache: GitStatusCache = serde_json::from_slice(&fixture("git-status-api.json")).unwrap();
    assert_eq!(cache.timestamp, 1_758_189_600);
    assert_eq!(cache.untracked_files, 1);
    let tasks = value("tasks-schema-example.json");
    let session: Session = serde_json::from_value(tasks["timeSessions"]["1"].clone()).unwrap();
    assert_eq!(session.task_id, Some(task("1")), "a numeric taskId");
    assert!(!session.active, "it has an endTime");
}

#[test]
fn a_session_only_in_current_json_is_shown_ended_and_counted() {
    let (_tmp, layout, ns) = setup(&["cruzalex"]);
    let ns = &ns[0];
    let mut doc = value("session-migration-guide.json");
    let start = Timestamp::now() - SignedDuration::from_mins(45);
    doc["startTime"] = start.to_string().into();
    fs::write(layout.current_session(ns.developer()), doc.to_string()).unwrap();

    let shown = ns.session().unwrap().unwrap();
    assert_eq!(shown.session_id, "session-1757167488-140545");
    assert!(
        ns.current_session().unwrap().is_none(),
        "the store holds nothing yet"
    );
    // Active: another start is refused, as for a session the store wrote.
    let err = ns
        .start_session(&task("9"), &StartOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::SessionActive { .. }), "{err}");

    let ended = ns.end_session().unwrap();
    assert_eq!(ended.minutes, 45);
    assert_eq!(ended.session.value.extra["taskTitle"], doc["taskTitle"]);
    assert_eq!(ended.session.value.status(), Some("ended"));
    assert_eq!(ns.history().unwrap().len(), 1);
    assert_eq!(ns.time_tracking().unwrap().unwrap().value.total_minutes, 45);
    let view: Value =
        serde_json::from_slice(&fs::read(layout.current_session(ns.developer())).unwrap()).unwrap();
    assert_eq!(view["active"], false);
    assert_eq!(view["user"], "cruzalex");

    // A reset current.json is no session: nothing to end, a start works.
    let (_tmp, layout, ns) = setup(&["bob"]);
    fs::write(
        layout.current_session(ns[0].developer()),
        fixture("session-reset.json"),
    )
    .unwrap();
    assert_eq!(ns[0].session().unwrap(), None);
    assert!(matches!(
        ns[0].end_session(),
        Err(Error::NoActiveSession { .. })
    ));
    ns[0]
        .start_session(&task("9"), &StartOptions::default())
        .unwrap();
}

#[test]
fn a_claim_the_bash_tools_wrote_holds_until_the_store_takes_it_over() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let (alice, bob) = (&ns[0], &ns[1]);
    fs::write(
        layout.task_assignments(),
        r#"{"assignments":{"250":{"assignee":"alice","status":"in_progress","claimed_at":"2025-09-06T14:04:48Z"},
            "251":{"assignee":"alice","status":"completed","claimed_at":"2025-09-06T14:04:48Z"}}}"#,
    )
    .unwrap();
    let err = bob
        .start_session(&task("250"), &StartOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::ClaimHeld { holder, .. } if holder.as_str() == "alice"),
        "{err}"
    );
    assert!(err.is_conflict());
    // A completed assignment holds nothing.
    bob.start_session(&task("251"), &StartOptions::default())
        .unwrap();
    bob.end_session().unwrap();

    // The holder starts on it: the store takes the claim over; ending releases it for all.
    alice
        .start_session(&task("250"), &StartOptions::default())
        .unwrap();
    assert_eq!(list_claims(&layout).unwrap()[0].holder().as_str(), "alice");
    alice.end_session().unwrap();
    let view: TaskAssignments =
        serde_json::from_slice(&fs::read(layout.task_assignments()).unwrap()).unwrap();
    assert!(!view.tasks.contains_key(&task("250")), "{view:?}");
    bob.start_session(&task("250"), &StartOptions::default())
        .unwrap();
}

#[test]
fn a_file_only_claim_is_released_through_the_store() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    fs::write(
        layout.task_assignments(),
        r#"{"tasks":{"7":{"assignee":"alice","status":"claimed","claimed_at":"2025-09-06T14:04:48Z"}}}"#,
    )
    .unwrap();
    let bob = ns[1].developer();
    let err = claim::release(
        &layout,
        bob,
        &task("7"),
        ReleaseOptions::default(),
        Default::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ClaimHeld { .. }), "{err}");
    let released = claim::release(
        &layout,
        bob,
        &task("7"),
        ReleaseOptions { force: true },
        Default::default(),
    )
    .unwrap();
    assert_eq!(released.claim.holder().as_str(), "alice");
    ns[1]
        .start_session(&task("7"), &StartOptions::default())
        .unwrap();
}

#[test]
fn time_of_the_v2_tools_is_the_starting_point_and_stays_in_step() {
    let (_tmp, layout, ns) = setup(&["alice"]);
    let alice = &ns[0];
    let cache = compat::cache_time_tracking(&layout, alice.developer());
    fs::write(&cache, fixture("time-tracking-recovered.json")).unwrap();
    let tracking = alice.add_minutes(10, &AddMinutes::default()).unwrap().value;
    assert_eq!(tracking.total_minutes, 100);
    assert_eq!(tracking.extra["totalTime"], 6000, "seconds, kept in step");
}

#[test]
fn paused_time_is_not_counted() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let alice = &ns[0];
    alice
        .start_session(&task("1"), &StartOptions::default())
        .unwrap();
    assert!(matches!(
        alice.resume_session(),
        Err(Error::NotPaused { .. })
    ));
    let paused = alice.pause_session(Some("Lunch break")).unwrap().value;
    assert!(pause::is_paused(&paused));
    assert_eq!(
        paused.extra["interruptions"][0]["description"],
        "Lunch break"
    );
    assert!(matches!(
        alice.pause_session(None),
        Err(Error::AlreadyPaused { .. })
    ));
    let resumed = alice.resume_session().unwrap().value;
    assert_eq!(resumed.status(), Some("active"));
    assert!(resumed.extra["interruptions"][0]["endTime"].is_string());
    alice.end_session().unwrap();
    assert!(matches!(
        alice.pause_session(None),
        Err(Error::NoActiveSession { .. })
    ));

    // Two hours ago, a closed pause of 30 minutes and an open one of 20: 70 minutes worked.
    let now = Timestamp::now();
    let at = |mins: i64| (now - SignedDuration::from_mins(mins)).to_string();
    let doc = serde_json::json!({
        "active": true, "sessionId": "session-1-1", "startTime": at(120), "taskId": "2",
        "developerId": "bob", "status": "paused",
        "interruptions": [
            {"id": "int-1", "type": "break", "startTime": at(100), "endTime": at(70), "duration": 1800},
            {"id": "int-2", "type": "meeting", "startTime": at(20)}
        ]
    });
    // Written by the bash tools into a namespace whose store never held a session.
    fs::write(layout.current_session(ns[1].developer()), doc.to_string()).unwrap();
    let ended = ns[1].end_session().unwrap();
    assert_eq!(ended.minutes, 70);
    assert_eq!(
        ended.session.value.extra["interruptions"][1]["duration"]
            .as_i64()
            .map(|s| s / 60),
        Some(20)
    );
}
