//! Reports count every session once, and minutes are bounded and summed without wrapping.

use std::{fs, path::Path, process::Output};

use flowforge_testkit::bash_tools;

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&str]) -> Output {
    crate::dev_command(dir, dev)
        .args(args)
        .output()
        .expect("run flowforge")
}

fn ok(dir: &Path, dev: Option<&str>, args: &[&str]) -> serde_json::Value {
    let out = flowforge(dir, dev, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn repo(devs: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".git")).unwrap();
    for dev in devs {
        ok(tmp.path(), None, &["dev", "init", dev]);
    }
    tmp
}

#[test]
fn the_last_ended_session_is_reported_once() {
    let tmp = repo(&["alice"]);
    let dir = tmp.path();
    for task in ["T-1", "T-2"] {
        ok(dir, Some("alice"), &["session", "start", task]);
        ok(dir, Some("alice"), &["session", "end"]);
    }
    let report = ok(dir, None, &["report", "daily", "--format", "json"]);
    let ids: Vec<&str> = (report["sessions"].as_array().unwrap().iter())
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{report:#}");
    assert_ne!(ids[0], ids[1], "{report:#}");
    let csv = flowforge(dir, None, &["report", "daily", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    for id in ids {
        assert_eq!(csv.matches(id).count(), 1, "{csv}");
    }
}

#[test]
fn minutes_beyond_the_bound_are_refused_and_huge_totals_are_reported_not_wrapped() {
    let tmp = repo(&["alice", "bob"]);
    let dir = tmp.path();
    let out = flowforge(
        dir,
        Some("alice"),
        &["time", "add", "--minutes", "18446744073709551615"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("525600"), "{err}");
    ok(dir, Some("alice"), &["time", "add", "--minutes", "525600"]);
    let shown = ok(dir, Some("alice"), &["time", "show", "--json"]);
    assert_eq!(shown["total_minutes"], 525_600, "{shown}");

    // bob's file, written by hand, holds entries no addition could make.
    let now = jiff::Timestamp::now().to_string();
    let huge = u64::MAX / 2 + 1;
    let tracking = serde_json::json!({
        "total_minutes": 9,
        "sessions": [
            {"minutes": huge, "recorded_at": now},
            {"minutes": huge, "recorded_at": now},
        ],
    });
    let bob = dir.join(".flowforge/dev-bob/time-tracking.json");
    bash_tools::write_json(&bob, &tracking).unwrap();
    let report = ok(dir, None, &["report", "daily", "--format", "json"]);
    assert_eq!(report["total_minutes"], u64::MAX, "{report:#}");
    let problems = report["problems"].to_string();
    assert!(problems.contains("corrupt"), "{problems}");
}
