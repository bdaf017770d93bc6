//! `flowforge sync` as the bash tools call it: a real process on a real repository.

use std::{path::Path, process::Output};

use flowforge_core::{DeveloperId, Layout, TaskId};
use flowforge_session::{Namespace, SessionOptions, StartOptions};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) -> String {
    flowforge_testkit::git::ok_text(dir, args)
}

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::flowforge_command()
        .current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .args(args)
        .output()
        .expect("command runs")
}

/// A repository with alice's and bob's namespaces, a branch each, and a task held by bob.
fn team_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("a.txt"), "a\n").expect("write");
    git(repo, &["add", "a.txt"]);
    git(repo, &["commit", "-q", "-m", "one"]);
    git(repo, &["branch", "dev-alice/login"]);
    git(repo, &["branch", "feature/t-1-work"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", "two"]);
    for dev in ["alice", "bob"] {
        let out = flowforge(repo, &["dev", "init", dev]);
        assert!(out.status.success(), "{out:?}");
    }
    let layout = Layout::for_repo(repo);
    let bob = DeveloperId::new("bob").expect("id");
    Namespace::open(&layout, &bob, SessionOptions::default())
        .expect("namespace")
        .start_session(&TaskId::new("t-1").expect("task"), &StartOptions::default())
        .expect("session");
    std::fs::write(repo.join("a.txt"), "changed\n").expect("write");
    tmp
}

fn json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn sync_shows_every_registered_developer_with_their_branches() {
    let tmp = team_repo();
    let repo = tmp.path();
    let report = json(&flowforge(repo, &["sync", "--json"]));
    let devs = report["developers"].as_array().expect("developers");
    let ids: Vec<&str> = devs.iter().map(|d| d["id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["alice", "bob"]);

    let head = git(repo, &["rev-parse", "HEAD"]);
    let porcelain = git(repo, &["--no-optional-locks", "status", "--porcelain"]);
    let untracked = porcelain.lines().filter(|l| l.starts_with("??")).count();
    for dev in devs {
        assert_eq!(dev["head"]["branch"], "main");
        assert_eq!(dev["head"]["commit"], head.trim());
        assert_eq!(dev["dirty"]["unstaged"], 1);
        assert_eq!(dev["dirty"]["untracked"], untracked);
    }
    assert_eq!(devs[0]["branches"][0]["name"], "dev-alice/login");
    assert_eq!(devs[0]["branches"][0]["base"]["behind"], 1);
    assert_eq!(devs[1]["branches"][0]["name"], "feature/t-1-work");
    assert_eq!(devs[1]["branches"][0]["task"], "t-1");

    // Only the developers asked for, from a subdirectory, as text.
    std::fs::create_dir(repo.join("sub")).expect("mkdir");
    let out = flowforge(&repo.join("sub"), &["sync", "--dev", "bob"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("HEAD main "), "{text}");
    assert!(text.contains("\nbob\n  feature/t-1-work "), "{text}");
    assert!(!text.contains("alice"), "{text}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let tmp = team_repo();
    let out = flowforge(tmp.path(), &["sync", "--dev", "../x"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        1,
        "{out:?}"
    );

    let not_a_repo = tempfile::tempdir().expect("temp dir");
    let out = flowforge(not_a_repo.path(), &["sync", "--dev", "alice"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("flowforge: error: not a git repository"),
        "{stderr}"
    );
}
