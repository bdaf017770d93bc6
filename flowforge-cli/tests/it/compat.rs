//! FlowForge v2 compatibility as a team adopting the CLI meets it: the namespace stays out of
//! `git status` (checked with the real git CLI), and the environment variables of the v2
//! tools name the developer and the root.

use std::{fs, path::Path, process::Output};

/// `flowforge` in `dir` with none of the developer or root variables inherited, then `env`.
fn flowforge(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = crate::flowforge_command();
    cmd.current_dir(dir);
    for var in [
        "FLOWFORGE_DEVELOPER",
        "FLOWFORGE_DEVELOPER_ID",
        "FLOWFORGE_DEV_ID",
        "FLOWFORGE_ROOT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).args(args);
    cmd.output().expect("flowforge runs")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{out:?}");
    out
}

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
