//! FlowForge v2 compatibility as a team adopting the CLI meets it: the namespace stays out of
//! `git status` (checked with the real git CLI), and the environment variables of the v2
//! tools name the developer and the root.

use std::{fs, path::Path, process::Output};

/// `flowforge` in `dir` with none of the developer or root variables inherited, then `env`.
fn flowforge(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = crate::isolated_command(dir);
    cmd.envs(env.iter().copied()).args(args);
    cmd.output().expect("flowforge runs")
}

use crate::succeeded as ok;

fn git(dir: &Path, args: &[&str]) -> String {
    flowforge_testkit::git::ok_text(dir, args)
}

/// A git repository with one commit and a `.gitignore` of its own.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
    fs::write(dir.path().join("README"), "readme\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "one"]);
    dir
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_namespace_stays_out_of_git_status_without_touching_the_users_gitignore() {
    let repo = repository();
    let root = repo.path();
    ok(flowforge(root, &[], &["dev", "init", "alice"]));
    assert_eq!(git(root, &["status", "--porcelain"]), "", "init");
    ok(flowforge(
        root,
        &[("FLOWFORGE_DEVELOPER", "alice")],
        &["session", "start", "T-1"],
    ));
    ok(flowforge(root, &[], &["who", "T-1"]));
    assert_eq!(git(root, &["status", "--porcelain"]), "", "after writes");
    assert_eq!(
        git(root, &["status", "--porcelain", "--ignored"]),
        "!! .flowforge/\n"
    );
    assert_eq!(
        fs::read_to_string(root.join(".gitignore")).unwrap(),
        "target/\n"
    );

    // Written once: a file the team changed stays as it is.
    let ignore = root.join(".flowforge/.gitignore");
    fs::write(&ignore, "*\n!team/\n").unwrap();
    ok(flowforge(
        root,
        &[("FLOWFORGE_DEVELOPER", "alice")],
        &["session", "end"],
    ));
    assert_eq!(fs::read_to_string(&ignore).unwrap(), "*\n!team/\n");

    // A namespace made before the ignore file existed gets it from the next command.
    fs::remove_file(&ignore).unwrap();
    assert_eq!(git(root, &["status", "--porcelain"]), "?? .flowforge/\n");
    ok(flowforge(root, &[], &["active"]));
    assert_eq!(git(root, &["status", "--porcelain"]), "");
}

#[test]
fn every_developer_variable_names_the_developer_and_dev_wins() {
    let repo = repository();
    let root = repo.path();
    for dev in ["alice", "bob", "carol", "dave"] {
        ok(flowforge(root, &[], &["dev", "init", dev]));
    }
    ok(flowforge(
        root,
        &[("FLOWFORGE_DEV_ID", "alice")],
        &["session", "start", "A"],
    ));
    ok(flowforge(
        root,
        &[("FLOWFORGE_DEVELOPER_ID", "bob")],
        &["session", "start", "B"],
    ));
    // FLOWFORGE_DEVELOPER before FLOWFORGE_DEVELOPER_ID before FLOWFORGE_DEV_ID; --dev first.
    let all = [
        ("FLOWFORGE_DEV_ID", "alice"),
        ("FLOWFORGE_DEVELOPER_ID", "bob"),
        ("FLOWFORGE_DEVELOPER", "carol"),
    ];
    ok(flowforge(root, &all, &["session", "start", "C"]));
    ok(flowforge(
        root,
        &all,
        &["--dev", "dave", "session", "start", "D"],
    ));
    for (task, holder) in [("A", "alice"), ("B", "bob"), ("C", "carol"), ("D", "dave")] {
        let out = ok(flowforge(root, &[], &["who", task]));
        assert!(stdout(&out).contains(holder), "{task}: {}", stdout(&out));
    }
    let out = flowforge(root, &[("FLOWFORGE_DEV_ID", "../x")], &["session", "show"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn flowforge_root_is_the_namespace_root_and_root_wins() {
    let repo = repository();
    let root = repo.path();
    ok(flowforge(
        root,
        &[("FLOWFORGE_ROOT", "shared-ns")],
        &["dev", "init", "alice"],
    ));
    assert!(root.join("shared-ns/dev-alice/config.json").is_file());
    assert!(!root.join(".flowforge").exists());
    let env = [
        ("FLOWFORGE_ROOT", "shared-ns"),
        ("FLOWFORGE_DEV_ID", "alice"),
    ];
    ok(flowforge(root, &env, &["session", "start", "T"]));
    let out = ok(flowforge(root, &env, &["who", "T"]));
    assert!(stdout(&out).contains("alice"), "{}", stdout(&out));
    let out = ok(flowforge(root, &env, &["--root", "other", "dev", "list"]));
    assert!(
        !stdout(&out).contains("alice"),
        "--root wins: {}",
        stdout(&out)
    );
}

#[test]
fn what_the_bash_tools_wrote_is_shown_ended_and_honoured() {
    let repo = repository();
    let root = repo.path();
    for dev in ["alice", "bob"] {
        ok(flowforge(root, &[], &["dev", "init", dev]));
    }
    let ns = root.join(".flowforge");
    // A claim in the bash tools' file: another developer's start exits 3 naming the holder.
    fs::write(
        ns.join("team/task-assignments.json"),
        r#"{"tasks":{"250":{"assignee":"alice","status":"in_progress","claimed_at":"2025-09-06T14:04:48Z"}}}"#,
    )
    .unwrap();
    let bob = [("FLOWFORGE_DEVELOPER", "bob")];
    let out = flowforge(root, &bob, &["session", "start", "250"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("alice"),
        "{out:?}"
    );

    // A reset session is no session.
    fs::write(
        ns.join("dev-bob/sessions/current.json"),
        r#"{"active":false,"sessionId":null,"startTime":null,"taskId":null}"#,
    )
    .unwrap();
    let out = ok(flowforge(root, &bob, &["session", "show", "--json"]));
    assert_eq!(stdout(&out).trim(), "null");
    let out = flowforge(root, &bob, &["session", "end"]);
    assert_eq!(out.status.code(), Some(1), "no active session: {out:?}");

    // A session only in current.json: shown, paused, resumed and ended.
    let alice = [("FLOWFORGE_DEVELOPER", "alice")];
    fs::write(
        ns.join("dev-alice/sessions/current.json"),
        r#"{"sessionId":"session-1757167488-140545","taskId":"250","branch":"feature/250-work",
            "startTime":"2025-09-06T14:04:48.251Z","user":"alice","status":"active"}"#,
    )
    .unwrap();
    let out = ok(flowforge(root, &alice, &["session", "show"]));
    assert!(
        stdout(&out).contains("session-1757167488-140545\ttask 250"),
        "{}",
        stdout(&out)
    );
    ok(flowforge(
        root,
        &alice,
        &["session", "pause", "Lunch break"],
    ));
    let out = ok(flowforge(root, &alice, &["session", "show"]));
    assert!(stdout(&out).contains("paused"), "{}", stdout(&out));
    let out = flowforge(root, &alice, &["session", "pause"]);
    assert_eq!(out.status.code(), Some(1), "already paused: {out:?}");
    ok(flowforge(root, &alice, &["session", "resume"]));
    let out = ok(flowforge(root, &alice, &["session", "show", "--json"]));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["user"], "alice");
    assert!(shown["lastActivity"].is_string());
    ok(flowforge(root, &alice, &["session", "end"]));
    let out = ok(flowforge(root, &alice, &["session", "history", "--json"]));
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history[0]["sessionId"], "session-1757167488-140545");
    assert_eq!(history[0]["interruptions"][0]["description"], "Lunch break");
}

#[test]
fn status_for_a_developer_is_cached_where_the_bash_tools_read_it() {
    let repo = repository();
    let root = repo.path();
    ok(flowforge(root, &[], &["dev", "init", "alice"]));
    fs::write(root.join("README"), "changed\n").unwrap();
    let cache = root.join(".flowforge/dev-alice/cache/git-status.json");
    ok(flowforge(root, &[], &["status"]));
    assert!(!cache.exists(), "no developer, no cache");
    ok(flowforge(
        root,
        &[("FLOWFORGE_DEV_ID", "alice")],
        &["status", "--porcelain"],
    ));
    let cached: serde_json::Value = serde_json::from_slice(&fs::read(&cache).unwrap()).unwrap();
    assert_eq!(cached["status"], git(root, &["status", "--porcelain"]));
    assert_eq!(cached["branch"], "main");
    assert_eq!(cached["uncommitted_changes"], 1);
}
