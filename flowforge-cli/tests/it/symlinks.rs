//! Symbolic links committed into `.flowforge/` and checked out by a real `git clone`: never
//! followed, reported as errors naming them (exit 1) and as problems of the team answers, and
//! nothing outside the namespace root is created or changed.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&str]) -> Output {
    crate::dev_command(dir, dev)
        .args(args)
        .output()
        .expect("run flowforge")
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// Every file and link under `dir` with its bytes (a link: its target), recursively.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let bytes = if meta.is_symlink() {
                fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if meta.is_dir() {
                stack.push(path.clone());
                b"<dir>".to_vec()
            } else {
                fs::read(&path).unwrap()
            };
            out.insert(path, bytes);
        }
    }
    out
}

/// An upstream repository whose `.flowforge/` has `devs` initialised, `plant` run on it, and
/// everything committed; returns the upstream and a real clone of it.
fn cloned(devs: &[&str], plant: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = tmp.path().join("upstream");
    fs::create_dir(&upstream).unwrap();
    git(&upstream, &["init", "-q"]);
    for dev in devs {
        let out = flowforge(&upstream, None, &["dev", "init", dev]);
        assert!(out.status.success(), "{out:?}");
    }
    plant(&upstream.join(".flowforge"));
    // The root ignores itself; a teammate forces the links in.
    git(&upstream, &["add", "-f", ".flowforge"]);
    git(
        &upstream,
        &["commit", "-q", "-m", "team state with planted links"],
    );
    git(tmp.path(), &["clone", "-q", "upstream", "clone"]);
    (tmp, PathBuf::from("clone"))
}

fn refused(out: &Output, naming: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(naming) && err.contains("symbolic link"),
        "stderr should name {naming}: {err}"
    );
}

fn problems(dir: &Path, command: &[&str]) -> String {
    let out = flowforge(dir, None, &[command, &["--json"]].concat());
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["problems"].to_string()
}

#[test]
fn links_planted_in_namespaces_are_never_followed_after_a_clone() {
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path();
    fs::write(out.join("authorized_keys"), "ssh-ed25519 AAAA precious\n").unwrap();
    fs::create_dir(out.join("carol-sessions")).unwrap();
    fs::create_dir(out.join("dave")).unwrap();
    fs::write(out.join("dave/config.json"), "{}\n").unwrap();
    let (tmp, clone) = cloned(&["alice", "bob", "carol", "dave", "erin"], |root| {
        let key = root.join("dev-alice/store/session");
        fs::create_dir_all(&key).unwrap();
        symlink(out.join("authorized_keys"), key.join("HEAD")).unwrap();
        let key = root.join("dev-bob/store/time-tracking");
        fs::create_dir_all(&key).unwrap();
        symlink(out.join("dangling"), key.join("HEAD")).unwrap();
        fs::remove_dir_all(root.join("dev-carol/sessions")).unwrap();
        symlink(out.join("carol-sessions"), root.join("dev-carol/sessions")).unwrap();
        fs::remove_dir_all(root.join("dev-dave")).unwrap();
        symlink(out.join("dave"), root.join("dev-dave")).unwrap();
        fs::create_dir_all(root.join("dev-erin/store")).unwrap();
        // `dev init` made the key's directory (with its spare slots): the link replaces it.
        let _ = fs::remove_dir_all(root.join("dev-erin/store/time-tracking"));
        symlink(
            out.join("authorized_keys"),
            root.join("dev-erin/store/time-tracking"),
        )
        .unwrap();
    });
    let dir = tmp.path().join(clone);
    let before = snapshot(out);

    refused(
        &flowforge(&dir, Some("alice"), &["session", "start", "T-1"]),
        "dev-alice/store/session/HEAD",
    );
    refused(
        &flowforge(&dir, Some("bob"), &["time", "add", "--minutes", "5"]),
        "dev-bob/store/time-tracking/HEAD",
    );
    refused(
        &flowforge(&dir, Some("carol"), &["session", "start", "T-3"]),
        "dev-carol/sessions",
    );
    refused(
        &flowforge(&dir, Some("dave"), &["session", "start", "T-4"]),
        "dev-dave",
    );
    refused(
        &flowforge(&dir, Some("erin"), &["time", "add", "--minutes", "5"]),
        "dev-erin/store/time-tracking",
    );
    refused(&flowforge(&dir, None, &["dev", "init", "dave"]), "dev-dave");
    // Nothing half-written: no claim was taken by the refused starts.
    for task in ["T-1", "T-3", "T-4"] {
        let who = flowforge(&dir, None, &["who", task, "--json"]);
        assert!(who.status.success(), "{who:?}");
        let who: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
        assert!(who["holder"].is_null(), "{who}");
    }

    for command in [&["active"][..], &["who", "T-1"]] {
        let listed = problems(&dir, command);
        for name in [
            "dev-alice/store/session/HEAD",
            "dev-bob/store/time-tracking/HEAD",
            "dev-carol/sessions\"",
            "dev-dave\"",
            "dev-erin/store/time-tracking\"",
        ] {
            assert!(
                listed.contains(name),
                "{command:?}: {name} missing in {listed}"
            );
        }
    }
    assert_eq!(snapshot(out), before, "nothing outside the root changed");
    assert!(!out.join("dangling").exists());
}

#[test]
fn a_linked_team_directory_is_refused_for_everyone() {
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path();
    fs::create_dir(out.join("team")).unwrap();
    let (tmp, clone) = cloned(&["alice"], |root| {
        fs::remove_dir_all(root.join("team")).unwrap();
        symlink(out.join("team"), root.join("team")).unwrap();
    });
    let dir = tmp.path().join(clone);
    refused(
        &flowforge(&dir, Some("alice"), &["session", "start", "T-1"]),
        "team",
    );
    refused(&flowforge(&dir, None, &["dev", "init", "bob"]), "team");
    assert!(!dir.join(".flowforge/dev-bob").exists());
    let listed = problems(&dir, &["active"]);
    assert!(listed.contains(".flowforge/team"), "{listed}");
    assert_eq!(fs::read_dir(out.join("team")).unwrap().count(), 0);
}
