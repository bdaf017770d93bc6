//! `flowforge dev init|list` as the bash tools call it: a real process on real directories.

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Output};

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::flowforge_command()
        .current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .args(args)
        .output()
        .expect("flowforge runs")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn invalid_ids_exit_2_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir(&repo).unwrap();
    for bad in ["../x", "admin", "", "a/b", "-x", "Root", "\u{430}lice"] {
        let out = flowforge(&repo, &["dev", "init", "--", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("invalid developer id"), "{bad:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line per cause: {stderr}");
        assert!(
            entries(tmp.path()) == ["repo"],
            "{bad:?} created {:?}",
            entries(tmp.path())
        );
    }
}

#[test]
fn init_twice_registers_once_with_private_modes() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".git")).unwrap();
    let sub = tmp.path().join("src/deep");
    fs::create_dir_all(&sub).unwrap();
    // From a subdirectory: the namespace goes to the top of the work tree.
    let out = flowforge(
        &sub,
        &[
            "dev", "init", "alice", "--name", "Alice", "--email", "a@x.org",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = flowforge(tmp.path(), &["dev", "init", "alice"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already initialised"));

    let root = tmp.path().join(".flowforge");
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("team/config.json")).unwrap()).unwrap();
    let developers = config["team"]["developers"].as_object().unwrap();
    assert_eq!(developers.len(), 1);
    assert_eq!(developers["alice"]["name"], "Alice");
    assert_eq!(developers["alice"]["email"], "a@x.org");

    for path in walk(&root) {
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", path.display());
    }

    let out = flowforge(tmp.path(), &["dev", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["developers"][0]["id"], "alice");
    assert_eq!(list["developers"][0]["namespace"], true);
    assert_eq!(list["developers"].as_array().unwrap().len(), 1);
}

#[test]
fn a_second_developer_without_details_is_registered() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".git")).unwrap();
    for dev in ["alice", "bob"] {
        let out = flowforge(tmp.path(), &["dev", "init", dev]);
        assert!(out.status.success(), "{dev}: {out:?}");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join(".flowforge/team/config.json")).unwrap())
            .unwrap();
    let mut registered: Vec<_> = config["team"]["developers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    registered.sort();
    assert_eq!(registered, ["alice", "bob"], "{config}");
}

#[test]
fn a_missing_repository_is_bad_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowforge(tmp.path(), &["-C", "nope", "dev", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}

#[test]
fn a_corrupt_team_config_fails_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let team = tmp.path().join(".flowforge/team");
    fs::create_dir_all(&team).unwrap();
    fs::write(team.join("config.json"), "{").unwrap();
    let out = flowforge(tmp.path(), &["dev", "init", "bob"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("corrupt JSON in") && stderr.contains("config.json"),
        "{stderr}"
    );
    assert!(stderr.contains("caused by:"), "{stderr}");
    assert!(!tmp.path().join(".flowforge/dev-bob").exists());
}
