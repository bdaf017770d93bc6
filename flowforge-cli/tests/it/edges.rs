//! Edge cases of ordinary commands: ids that are not UTF-8, a deleted history directory, a
//! bare repository, a namespace its owner cannot read.

use std::{
    ffi::OsStr,
    fs,
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::Path,
    process::Output,
};

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&OsStr]) -> Output {
    crate::dev_command(dir, dev)
        .args(args)
        .output()
        .expect("run flowforge")
}

fn run(dir: &Path, dev: Option<&str>, args: &[&str]) -> Output {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    flowforge(dir, dev, &args)
}

fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".git")).unwrap();
    tmp
}

#[test]
fn an_id_that_is_not_utf8_is_refused_for_its_character() {
    let tmp = repo();
    let id = OsStr::from_bytes(b"al\xffce");
    let out = flowforge(
        tmp.path(),
        None,
        &[OsStr::new("dev"), OsStr::new("init"), id],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("al\\xffce") && err.contains("position 2"),
        "{err}"
    );
    assert!(!err.contains("empty"), "{err}");
    assert!(!tmp.path().join(".flowforge").exists());
}

/// A repository where alice has an active session on T-1.
fn alice_on_t1() -> tempfile::TempDir {
    let tmp = repo();
    let dir = tmp.path();
    assert!(run(dir, None, &["dev", "init", "alice"]).status.success());
    assert!(
        run(dir, Some("alice"), &["session", "start", "T-1"])
            .status
            .success()
    );
    tmp
}

#[test]
fn session_end_recreates_a_deleted_history_directory() {
    let tmp = alice_on_t1();
    let dir = tmp.path();
    let history = dir.join(".flowforge/dev-alice/sessions/history");
    fs::remove_dir_all(&history).unwrap();
    let out = run(dir, Some("alice"), &["session", "end"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_dir(&history).unwrap().count(), 1);
    let out = run(dir, Some("alice"), &["session", "history", "--json"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("T-1"));
}

#[test]
fn a_bare_repository_is_refused_and_nothing_is_written_into_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("bare.git");
    let out = std::process::Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&bare)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for dir in [bare.clone(), bare.join("refs")] {
        let out = run(&dir, None, &["dev", "init", "alice"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bare repository"), "{err}");
    }
    assert!(!bare.join(".flowforge").exists());
    assert!(!bare.join("refs/.flowforge").exists());
}

/// The output of a command line as `user` (`setpriv`), or as this process when `None`.
fn run_as(user: Option<&(String, String)>, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = match user {
        Some((uid, gid)) => {
            let mut cmd = std::process::Command::new("setpriv");
            cmd.args(["--reuid", uid, "--regid", gid, "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_flowforge"));
            cmd
        }
        None => std::process::Command::new(env!("CARGO_BIN_EXE_flowforge")),
    };
    cmd.current_dir(dir)
        .env("FLOWFORGE_DAEMON", "off")
        .env("FLOWFORGE_DEVELOPER", "alice")
        .env("HOME", dir)
        .args(args)
        .output()
        .expect("run flowforge")
}

fn text(command: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(command)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn an_unreadable_namespace_is_a_clear_error_not_a_missing_one() {
    let tmp = alice_on_t1();
    let dir = tmp.path();
    // Mode 000 stops the owner, not root: as root, the tree goes to `nobody` and the commands
    // run as `nobody`.
    let user = if text("id", &["-u"]).as_deref() == Some("0") {
        let (Some(uid), Some(gid)) = (text("id", &["-u", "nobody"]), text("id", &["-g", "nobody"]))
        else {
            eprintln!("skipped: running as root and there is no user nobody to run as");
            return;
        };
        let chown = std::process::Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(dir)
            .status()
            .unwrap();
        assert!(chown.success());
        let user = (uid, gid);
        if !run_as(Some(&user), dir, &["dev", "list"]).status.success() {
            eprintln!(
                "skipped: running as root, and nobody cannot reach {} (setpriv missing or a \
                 parent directory closed)",
                dir.display()
            );
            return;
        }
        Some(user)
    } else {
        None
    };
    let namespace = dir.join(".flowforge/dev-alice");
    fs::set_permissions(&namespace, fs::Permissions::from_mode(0o000)).unwrap();
    for args in [
        &["session", "show"][..],
        &["session", "end"],
        &["time", "add", "--minutes", "5"],
        &["time", "show"],
    ] {
        let out = run_as(user.as_ref(), dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(
            err.contains(&format!("cannot open directory {}", namespace.display()))
                && err.contains("Permission denied"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("dev init"), "{args:?}: {err}");
    }
    // Team answers leave it out and say why.
    let out = run_as(user.as_ref(), dir, &["active"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("left out {}", namespace.display())),
        "{err}"
    );
    fs::set_permissions(&namespace, fs::Permissions::from_mode(0o700)).unwrap();
    let out = run_as(user.as_ref(), dir, &["session", "show", "--json"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("T-1"),
        "the session is untouched: {out:?}"
    );
}
