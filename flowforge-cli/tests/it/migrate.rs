//! `flowforge migrate` from seeded FlowForge v1 trees: the session, its claim and its minutes
//! arrive through the store, a backup is kept, a second run changes nothing, and a migration
//! killed at any step boundary is finished by the next run.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Output, Stdio},
};

use serde_json::Value;

const HALT_VAR: &str = "FLOWFORGE_TEST_MIGRATE_HALT_AFTER";

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::isolated_command(dir)
        .env_remove(HALT_VAR)
        .args(args)
        .output()
        .expect("flowforge runs")
}

use crate::succeeded as ok;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The v1 tasks database: alice works on 250 and 251, bob on 252, alice finished 253.
const TASKS: &str = r#"{
  "tasks": [
    {"id": 250, "title": "JSON Schema v2.0 Documentation", "status": "in_progress", "assignee": "alice"},
    {"id": 251, "title": "Second task", "status": "in_progress", "assignee": "alice"},
    {"id": 252, "title": "Bob's task", "status": "in_progress", "assignee": "bob"},
    {"id": 253, "title": "Done", "status": "completed", "assignee": "alice"}
  ],
  "version": "2.0.0"
}"#;

/// A work tree as FlowForge v1 left it: alice's session on task 250 started 90 minutes ago
/// (`.current-session`), 7200 s (120 min) of recorded time, and the tasks database.
fn v1_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join(".flowforge");
    fs::create_dir_all(root.join("cache")).unwrap();
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(90);
    fs::write(
        root.join(".current-session"),
        format!(
            "session-1757167488-140545\nissue:250\nbranch:feature/250-work\nstart:{start}\nuser:cruzalex\n"
        ),
    )
    .unwrap();
    fs::write(
        root.join("cache/time-tracking.json"),
        r#"{"totalTime": 7200, "lastUpdated": "2025-09-18T10:00:00Z", "sessions": []}"#,
    )
    .unwrap();
    fs::write(root.join("tasks.json"), TASKS).unwrap();
    ok(flowforge(dir.path(), &["dev", "init", "alice"]));
    ok(flowforge(dir.path(), &["dev", "init", "bob"]));
    dir
}

fn holder(dir: &Path, task: &str) -> Value {
    json(&ok(flowforge(dir, &["who", task, "--json"])))["holder"].clone()
}

fn total_minutes(dir: &Path) -> u64 {
    let out = ok(flowforge(
        dir,
        &["--dev", "alice", "time", "show", "--json"],
    ));
    json(&out)["total_minutes"].as_u64().expect("total_minutes")
}

/// Everything a completed migration leaves: alice's active v1 session, its task 250 claimed
/// by her (251 is not: a claim belongs to a session), 120 minutes counted once, the moved
/// files gone and their backup kept.
fn assert_migrated(dir: &Path, backup: &Path) {
    let root = dir.join(".flowforge");
    let show = json(&ok(flowforge(
        dir,
        &["--dev", "alice", "session", "show", "--json"],
    )));
    assert_eq!(show["sessionId"], "session-1757167488-140545", "{show}");
    assert_eq!(show["active"], true);
    assert_eq!(show["taskId"], "250");
    assert_eq!(show["metadata"]["migratedFrom"]["user"], "cruzalex");
    assert_eq!(show["taskTitle"], "JSON Schema v2.0 Documentation");
    assert_eq!(holder(dir, "250"), "alice");
    assert_eq!(holder(dir, "251"), Value::Null);
    assert_eq!(total_minutes(dir), 120);
    assert!(!root.join(".current-session").exists());
    assert!(!root.join("cache/time-tracking.json").exists());
    assert_eq!(fs::read_to_string(root.join("tasks.json")).unwrap(), TASKS);
    for file in [".current-session", "cache/time-tracking.json", "tasks.json"] {
        let copy = backup.join(file);
        let mode = fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{copy:?}");
    }
    assert_eq!(
        fs::read_to_string(backup.join("tasks.json")).unwrap(),
        TASKS
    );
}

#[test]
fn v1_state_moves_into_the_namespace_through_the_store_once() {
    let tree = v1_tree();
    let dir = tree.path();
    let init = ok(flowforge(dir, &["dev", "init", "carol"]));
    let hint = String::from_utf8_lossy(&init.stderr);
    assert!(hint.contains("flowforge migrate --dev carol"), "{hint}");

    // A dry run reports and writes nothing.
    let dry = json(&ok(flowforge(
        dir,
        &["--dev", "alice", "migrate", "--dry-run", "--json"],
    )));
    assert_eq!(dry["outcome"], "dry_run", "{dry}");
    assert_eq!(dry["claim"], "250");
    assert_eq!(dry["minutes"], 120);
    assert!(dir.join(".flowforge/.current-session").exists());
    assert!(!dir.join(".flowforge/backups").exists());
    assert_eq!(holder(dir, "250"), Value::Null);

    let done = json(&ok(flowforge(
        dir,
        &["--dev", "alice", "migrate", "--json"],
    )));
    assert_eq!(done["outcome"], "migrated", "{done}");
    assert_eq!(done["resumed"], false);
    let backup = Path::new(done["backup"].as_str().expect("backup")).to_owned();
    assert!(
        backup.starts_with(dir.join(".flowforge/backups")),
        "{backup:?}"
    );
    assert_migrated(dir, &backup);
    // Nobody else can take the migrated session's task.
    let bob = flowforge(dir, &["--dev", "bob", "session", "start", "250"]);
    assert_eq!(bob.status.code(), Some(3), "{bob:?}");
    // Nothing happens again, and nothing is counted twice.
    let again = json(&ok(flowforge(
        dir,
        &["--dev", "alice", "migrate", "--json"],
    )));
    assert_eq!(again["outcome"], "already_migrated", "{again}");
    assert_eq!(total_minutes(dir), 120);
    // The session's minutes count from its v1 start: 90 of them.
    ok(flowforge(dir, &["--dev", "alice", "session", "end"]));
    assert_eq!(total_minutes(dir), 210);
    assert_eq!(holder(dir, "250"), Value::Null);
    // The state moved: bob finds nothing (tasks.json stays, the team's database).
    let bob = json(&ok(flowforge(dir, &["--dev", "bob", "migrate", "--json"])));
    assert_eq!(bob["outcome"], "nothing_to_migrate", "{bob}");
}

#[test]
fn a_migration_killed_at_any_step_boundary_is_finished_by_the_next_run() {
    for step in ["journal", "backup", "session", "minutes", "remove"] {
        let tree = v1_tree();
        let dir = tree.path();
        let mut child = crate::flowforge_command()
            .current_dir(dir)
            .env(HALT_VAR, step)
            .args(["--dev", "alice", "migrate"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowforge runs");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), format!("flowforge: halted after {step}"));
        child.kill().unwrap();
        assert!(!child.wait().unwrap().success());

        let done = json(&ok(flowforge(
            dir,
            &["--dev", "alice", "migrate", "--json"],
        )));
        assert_eq!(done["outcome"], "migrated", "{step}: {done}");
        assert_eq!(done["resumed"], true, "{step}");
        let backup = Path::new(done["backup"].as_str().expect("backup")).to_owned();
        assert_migrated(dir, &backup);
        let again = json(&ok(flowforge(
            dir,
            &["--dev", "alice", "migrate", "--json"],
        )));
        assert_eq!(again["outcome"], "already_migrated", "{step}");
        assert_eq!(total_minutes(dir), 120, "{step}");
    }
}

#[test]
fn a_v2_current_json_migrates_and_bad_input_writes_nothing() {
    // The v2 shape in sessions/current.json (its `user` names nobody of this team).
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path();
    let root = dir.join(".flowforge");
    fs::create_dir_all(root.join("sessions")).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../flowforge-session/tests/fixtures/v2/session-migration-guide.json"
    );
    fs::copy(fixture, root.join("sessions/current.json")).unwrap();
    ok(flowforge(dir, &["dev", "init", "alice"]));
    ok(flowforge(dir, &["dev", "init", "bob"]));

    // bob holds task 250 already: nothing is written, exit 3.
    ok(flowforge(dir, &["--dev", "bob", "session", "start", "250"]));
    let held = flowforge(dir, &["--dev", "alice", "migrate"]);
    assert_eq!(held.status.code(), Some(3), "{held:?}");
    assert!(!root.join("backups").exists());
    assert!(root.join("sessions/current.json").exists());
    ok(flowforge(dir, &["--dev", "bob", "session", "end"]));

    let done = json(&ok(flowforge(
        dir,
        &["--dev", "alice", "migrate", "--json"],
    )));
    assert_eq!(done["outcome"], "migrated", "{done}");
    assert_eq!(done["session"]["session_id"], "session-1757167488-140545");
    assert_eq!(holder(dir, "250"), "alice");
    assert!(!root.join("sessions/current.json").exists());

    // A v1 file holding nothing known: exit 1 naming it, nothing written.
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path();
    fs::create_dir_all(dir.join(".flowforge/cache")).unwrap();
    fs::write(dir.join(".flowforge/cache/time-tracking.json"), "{oops").unwrap();
    ok(flowforge(dir, &["dev", "init", "alice"]));
    let bad = flowforge(dir, &["--dev", "alice", "migrate"]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("time-tracking.json"),
        "{bad:?}"
    );
    assert!(!dir.join(".flowforge/backups").exists());
    assert_eq!(total_minutes(dir), 0);
}
