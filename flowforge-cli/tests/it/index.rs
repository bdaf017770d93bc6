//! `flowforge who|active|tasks|report|monitor` as scripts call them: a real process on real
//! namespace directories.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Output,
};

use serde_json::{Value, json};

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::flowforge_command()
        .current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("flowforge runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = flowforge(dir, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

fn write(path: PathBuf, value: Value) {
    fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

fn session(dev: &str, task: &str) -> Value {
    json!({"active": true, "sessionId": format!("s-{dev}"), "startTime": "2025-09-18T08:00:00Z",
        "taskId": task, "developerId": dev, "branch": format!("feature/{task}"),
        "provider": "github", "metadata": {}})
}

/// A repository with alice on feature-auth-1 (claimed), bob on feature-auth-2 (claimed by
/// alice too), and carol whose time-tracking file is corrupt.
fn team() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    for dev in ["alice", "bob", "carol"] {
        ok(&repo, &["dev", "init", dev]);
    }
    let ns = repo.join(".flowforge");
    write(
        ns.join("dev-alice/sessions/current.json"),
        session("alice", "feature-auth-1"),
    );
    write(
        ns.join("dev-bob/sessions/current.json"),
        session("bob", "feature-auth-2"),
    );
    write(
        ns.join("dev-carol/sessions/current.json"),
        session("carol", "feature-auth-3"),
    );
    fs::write(
        ns.join("dev-carol/time-tracking.json"),
        "{\"total_minutes\": ",
    )
    .unwrap();
    write(
        ns.join("dev-alice/time-tracking.json"),
        json!({"total_minutes": 90, "sessions": [{"task_id": "feature-auth-1", "minutes": 90,
            "recorded_at": "2025-09-18T09:00:00Z"}]}),
    );
    let claim = |dev: &str| json!({"assignee": dev, "status": "claimed", "claimed_at": "2025-09-18T07:00:00Z"});
    write(
        ns.join("team/task-assignments.json"),
        json!({"tasks": {"feature-auth-1": claim("alice"), "feature-auth-2": claim("alice")}}),
    );
    fs::create_dir(ns.join("dev-..sneaky")).unwrap();
    (tmp, repo)
}

/// Every namespace file with its content: the index's own directory excluded.
fn namespace_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("index") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn who_names_the_holder_or_nobody() {
    let (_tmp, repo) = team();
    let before = namespace_files(&repo.join(".flowforge"));
    let who = json_of(&repo, &["who", "feature-auth-2", "--json"]);
    assert_eq!(who["task"], "feature-auth-2");
    assert_eq!(who["holder"], "alice");
    assert_eq!(who["working"], json!(["bob"]));
    let nobody = json_of(&repo, &["who", "unclaimed-1", "--json"]);
    assert_eq!(nobody["holder"], Value::Null);
    let text = ok(&repo, &["who", "unclaimed-1"]);
    assert_eq!(text, "unclaimed-1: nobody holds it\n");
    assert!(ok(&repo, &["who", "feature-auth-1"]).starts_with("feature-auth-1: held by alice"));

    let bad = flowforge(&repo, &["who", "../etc"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("invalid task id"), "{stderr}");
    assert_eq!(
        before,
        namespace_files(&repo.join(".flowforge")),
        "no namespace file was written"
    );
    assert!(
        repo.join(".flowforge/index/snapshot.json").is_file(),
        "the index keeps its snapshot"
    );
}

#[test]
fn active_lists_sessions_and_problems() {
    let (_tmp, repo) = team();
    let active = json_of(&repo, &["active", "--json"]);
    assert_eq!(
        active["active"],
        json!([
            {"developer": "alice", "task": "feature-auth-1", "branch": "feature/feature-auth-1", "since": "2025-09-18T08:00:00Z"},
            {"developer": "bob", "task": "feature-auth-2", "branch": "feature/feature-auth-2", "since": "2025-09-18T08:00:00Z"},
        ])
    );
    let problems = active["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| {
        p["developer"] == "carol"
            && p["path"]
                .as_str()
                .unwrap()
                .ends_with("dev-carol/time-tracking.json")
    }));
    assert!(
        problems
            .iter()
            .any(|p| p["developer"].is_null()
                && p["path"].as_str().unwrap().ends_with("dev-..sneaky"))
    );

    // Text mode: the problems go to stderr, one line each.
    let out = flowforge(&repo, &["active"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 2);

    // A change is seen by the next run, through the snapshot's refresh.
    fs::remove_file(repo.join(".flowforge/dev-bob/sessions/current.json")).unwrap();
    let active = json_of(&repo, &["active", "--json"]);
    assert_eq!(active["active"].as_array().unwrap().len(), 1);
}

#[test]
fn tasks_detects_parallel_work() {
    let (_tmp, repo) = team();
    let tasks = json_of(&repo, &["tasks", "feature-auth-*", "--json"]);
    let names: Vec<&str> = (tasks["tasks"].as_array().unwrap().iter())
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["feature-auth-1", "feature-auth-2"],
        "carol is left out"
    );
    assert_eq!(tasks["developers"], json!(["alice", "bob"]));
    assert_eq!(tasks["parallel"], true);
    let text = ok(&repo, &["tasks", "feature-auth-1"]);
    assert!(!text.contains("parallel"), "{text}");
}

#[test]
fn report_formats_time_zones_and_output_file() {
    let (_tmp, repo) = team();
    let csv = ok(
        &repo,
        &[
            "report",
            "monthly",
            "--format",
            "csv",
            "--timezone",
            "Asia/Tokyo",
        ],
    );
    assert!(
        csv.starts_with("section,developer,task,branch,start,end,minutes,detail\n"),
        "{csv}"
    );
    assert!(csv.contains("timezone Asia/Tokyo"), "{csv}");
    assert!(csv.contains("problem,carol,"), "{csv}");
    let md = ok(&repo, &["report", "daily", "--timezone", "UTC"]);
    assert!(md.contains("- Time zone: UTC"), "{md}");
    assert!(md.contains("## Problems"));

    let out_file = repo.join("report.json");
    let out_arg = out_file.to_str().unwrap();
    assert_eq!(
        ok(
            &repo,
            &[
                "report",
                "weekly",
                "--format",
                "json",
                "--timezone",
                "Europe/Paris",
                "--output",
                out_arg
            ]
        ),
        ""
    );
    let report: Value = serde_json::from_slice(&fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(report["timezone"], "Europe/Paris");
    assert_eq!(report["period"], "weekly");

    for bad in [
        vec![
            "report",
            "daily",
            "--timezone",
            "Mars/Olympus",
            "--output",
            "bad.md",
        ],
        vec!["report", "hourly", "--output", "bad.md"],
        vec!["report", "daily", "--format", "xml", "--output", "bad.md"],
    ] {
        let out = flowforge(&repo, &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(!repo.join("bad.md").exists(), "{bad:?} wrote its output");
    }
}

#[test]
fn monitor_once_prints_one_uncoloured_frame() {
    let (_tmp, repo) = team();
    // Another FlowForge process persisted its metrics: a 50% git status cache hit rate.
    let metrics = repo.join(".flowforge/metrics");
    fs::create_dir(&metrics).unwrap();
    write(
        metrics.join("sync-daemon.json"),
        json!({"latencies": {"git_sync_time": {"count": 3, "p50_ms": 900.0, "p95_ms": 1600.0,
            "p99_ms": 1600.0, "max_ms": 1600.0, "last_ms": 700.0}},
            "counters": {}, "ratios": {"cache_hit_rate": {"hits": 1, "misses": 1, "rate": 0.5}}}),
    );
    fs::write(metrics.join("broken.json"), "{").unwrap();
    let frame = ok(&repo, &["monitor", "--once"]);
    assert!(
        !frame.contains('\x1b'),
        "no colour when not a terminal: {frame:?}"
    );
    assert!(
        frame.contains("Developers: 3   Active sessions: 2   Problems: 2"),
        "{frame}"
    );
    assert!(frame.contains("Git sync: n/a"), "{frame}");
    assert!(
        frame.contains("Git status cache hit rate: 50.0% (1 hits, 1 misses) [critical]"),
        "{frame}"
    );
    assert!(
        frame.contains("git_sync_time            sync-daemon"),
        "{frame}"
    );
    assert!(frame.contains("[critical]  (n=3)"), "{frame}");
    assert!(frame.contains("index_refresh_time"), "{frame}");
    assert!(frame.contains("unreadable metrics file"), "{frame}");
}

#[test]
fn monitor_once_measures_git_sync_in_a_real_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    flowforge_testkit::git::ok(repo, &["init", "-q", "-b", "main"]);
    flowforge_testkit::git::ok(repo, &["commit", "-q", "--allow-empty", "-m", "init"]);
    ok(repo, &["dev", "init", "alice"]);
    let frame = ok(repo, &["monitor", "--once"]);
    let git_line = frame.lines().find(|l| l.starts_with("Git sync: ")).unwrap();
    assert!(git_line.ends_with(" ms [ok]"), "{frame}");
    assert!(
        frame.contains("git_sync_time            monitor"),
        "{frame}"
    );
    assert!(
        frame.contains("Developers: 1   Active sessions: 0   Problems: 0"),
        "{frame}"
    );
}
