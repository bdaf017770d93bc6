//! The schema of every `--json` output, pinned: each command runs on a real repository with
//! real namespaces, and the set of key paths of its output (`a.b`, `list[].c`) must be the
//! one written here. A key added, renamed or dropped fails this test until the list (and the
//! command's documented output struct) says so. Commands whose output is a library type
//! (`session show`, `time show`, `status`, `report --format json`) are pinned here too.
//! `remote status --json` needs a remote and is pinned by the remote tests' fields instead.

use std::{collections::BTreeSet, fs, path::Path, process::Output};

use serde_json::Value;

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::isolated_command(dir)
        .args(args)
        .output()
        .expect("flowforge runs")
}

/// Every key path of `value`: `a`, `a.b`, `list[]`, `list[].c`, the union over array elements.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[]");
            for item in items {
                key_paths(item, &path, out);
            }
        }
        _ => {}
    }
}

fn keys_of(out: &Output) -> Vec<String> {
    let value: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let mut paths = BTreeSet::new();
    key_paths(&value, "", &mut paths);
    paths.into_iter().collect()
}

fn git(dir: &Path, args: &[&str]) {
    flowforge_testkit::git::ok_text(dir, args);
}

#[test]
fn every_json_output_keeps_its_pinned_key_set() {
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path();
    git(dir, &["init", "-q", "-b", "main"]);
    fs::write(dir.join("README"), "readme\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "one"]);
    git(dir, &["branch", "feature/T-1-work"]);
    let ok = |args: &[&str]| {
        let out = flowforge(dir, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        out
    };
    ok(&["dev", "init", "alice", "--name", "Alice"]);
    ok(&["dev", "init", "bob"]);
    ok(&["--dev", "bob", "session", "start", "T-0"]);
    ok(&["--dev", "bob", "session", "end"]);
    ok(&[
        "--dev",
        "alice",
        "session",
        "start",
        "T-1",
        "--branch",
        "feature/T-1-work",
    ]);
    ok(&[
        "--dev",
        "alice",
        "time",
        "add",
        "--minutes",
        "5",
        "--task",
        "T-1",
    ]);
    fs::write(
        dir.join(".flowforge/.current-session"),
        "session-1\nissue:9\nstart:2025-09-06T14:04:48Z\n",
    )
    .unwrap();
    fs::write(dir.join("README"), "changed\n").unwrap();

    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["dev", "list", "--json"], DEV_LIST),
        (
            vec!["--dev", "alice", "dev", "status", "--json"],
            DEV_STATUS,
        ),
        (
            vec!["--dev", "alice", "dev", "clean", "--dry-run", "--json"],
            DEV_CLEAN,
        ),
        (
            vec!["--dev", "bob", "migrate", "--dry-run", "--json"],
            MIGRATE,
        ),
        (vec!["who", "T-1", "--json"], WHO),
        (vec!["active", "--json"], ACTIVE),
        (vec!["tasks", "T-*", "--json"], TASKS),
        (vec!["claim", "list", "--json"], CLAIM_LIST),
        (vec!["sync", "--json"], SYNC),
        (
            vec!["--dev", "alice", "session", "show", "--json"],
            SESSION_SHOW,
        ),
        (
            vec!["--dev", "bob", "session", "history", "--json"],
            SESSION_HISTORY,
        ),
        (vec!["--dev", "alice", "time", "show", "--json"], TIME_SHOW),
        (vec!["--dev", "alice", "status", "--json"], STATUS),
        (vec!["report", "daily", "--format", "json"], REPORT),
    ];
    let mut wrong = Vec::new();
    for (args, expected) in cases {
        let keys = keys_of(&ok(&args));
        if keys != expected {
            wrong.push(format!(
                "{args:?}:\n  expected {expected:?}\n  found    {keys:?}"
            ));
        }
    }
    // No daemon: exit 1 with the JSON saying why.
    let daemon = flowforge(dir, &["daemon", "status", "--json"]);
    assert_eq!(daemon.status.code(), Some(1), "{daemon:?}");
    if keys_of(&daemon) != DAEMON_STATUS {
        wrong.push(format!("daemon status: found {:?}", keys_of(&daemon)));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const DEV_LIST: &[&str] = &[
    "developers",
    "developers[].email",
    "developers[].id",
    "developers[].name",
    "developers[].namespace",
    "developers[].registered",
    "developers[].role",
];
const DEV_STATUS: &[&str] = &[
    "cache",
    "cache.bytes",
    "cache.files",
    "cache.path",
    "chosen_by",
    "claims",
    "default_developer",
    "developer",
    "logs",
    "logs.bytes",
    "logs.files",
    "logs.path",
    "namespace",
    "registration",
    "registration.email",
    "registration.name",
    "registration.role",
    "session",
    "session.active",
    "session.paused",
    "session.session_id",
    "session.start_time",
    "session.task",
    "session.worked_minutes",
    "temp",
    "temp.bytes",
    "temp.files",
    "temp.path",
    "time",
    "time.entries",
    "time.total_minutes",
];
const DEV_CLEAN: &[&str] = &["areas", "bytes", "developer", "dry_run", "kept", "removed"];
const MIGRATE: &[&str] = &[
    "backup",
    "claim",
    "developer",
    "id",
    "minutes",
    "outcome",
    "removed",
    "resumed",
    "session",
    "session.branch",
    "session.session_id",
    "session.start_time",
    "session.task",
    "sources",
    "sources[].file",
    "sources[].read_from",
];
const WHO: &[&str] = &[
    "claimed_at",
    "holder",
    "problems",
    "status",
    "task",
    "working",
];
const ACTIVE: &[&str] = &[
    "active",
    "active[].branch",
    "active[].developer",
    "active[].since",
    "active[].task",
    "problems",
];
const TASKS: &[&str] = &[
    "developers",
    "parallel",
    "pattern",
    "problems",
    "tasks",
    "tasks[].claimed_at",
    "tasks[].holder",
    "tasks[].status",
    "tasks[].task",
    "tasks[].working",
];
const CLAIM_LIST: &[&str] = &[
    "claims",
    "claims[].assignee",
    "claims[].claimed_at",
    "claims[].session_id",
    "claims[].status",
    "claims[].task",
    "claims[].version",
];
const SYNC: &[&str] = &[
    "base",
    "base.commit",
    "base.name",
    "developers",
    "developers[].branches",
    "developers[].branches[].base",
    "developers[].branches[].base.ahead",
    "developers[].branches[].base.behind",
    "developers[].branches[].commit",
    "developers[].branches[].name",
    "developers[].branches[].task",
    "developers[].branches[].upstream",
    "developers[].dirty",
    "developers[].dirty.clean",
    "developers[].dirty.conflicted",
    "developers[].dirty.staged",
    "developers[].dirty.unstaged",
    "developers[].dirty.untracked",
    "developers[].head",
    "developers[].head.branch",
    "developers[].head.commit",
    "developers[].head.detached",
    "developers[].head.upstream",
    "developers[].id",
    "elapsed_ms",
];
const SESSION_SHOW: &[&str] = &[
    "active",
    "branch",
    "developerId",
    "lastActivity",
    "metadata",
    "provider",
    "sessionId",
    "startTime",
    "status",
    "taskId",
    "user",
];
const SESSION_HISTORY: &[&str] = &[
    "[].active",
    "[].branch",
    "[].developerId",
    "[].duration",
    "[].endTime",
    "[].lastActivity",
    "[].metadata",
    "[].provider",
    "[].sessionId",
    "[].startTime",
    "[].status",
    "[].taskId",
    "[].user",
];
const TIME_SHOW: &[&str] = &[
    "sessions",
    "sessions[].minutes",
    "sessions[].recorded_at",
    "sessions[].task_id",
    "total_minutes",
];
const STATUS: &[&str] = &[
    "branch",
    "remote_status",
    "status",
    "timestamp",
    "uncommitted_changes",
    "untracked_files",
];
const REPORT: &[&str] = &[
    "active",
    "active[].branch",
    "active[].developer",
    "active[].since",
    "active[].task",
    "conflicts",
    "developers",
    "from",
    "generated_at",
    "period",
    "problems",
    "sessions",
    "sessions[].active",
    "sessions[].branch",
    "sessions[].developer",
    "sessions[].end",
    "sessions[].session_id",
    "sessions[].start",
    "sessions[].task",
    "tasks",
    "tasks[].claimed_at",
    "tasks[].holder",
    "tasks[].status",
    "tasks[].task",
    "tasks[].working",
    "time_per_developer",
    "time_per_developer[].minutes",
    "time_per_developer[].name",
    "time_per_task",
    "time_per_task[].minutes",
    "time_per_task[].name",
    "timezone",
    "to",
    "total_minutes",
];
const DAEMON_STATUS: &[&str] = &["daemon", "reason", "running"];
