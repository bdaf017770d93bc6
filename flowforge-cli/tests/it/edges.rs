//! Edge cases of ordinary commands: ids that are not UTF-8, a deleted history directory, a
//! bare repository.

use std::{ffi::OsStr, fs, os::unix::ffi::OsStrExt, path::Path, process::Output};

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&OsStr]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"));
    cmd.current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .args(args);
    if let Some(dev) = dev {
        cmd.env("FLOWFORGE_DEVELOPER", dev);
    }
    cmd.output().expect("run flowforge")
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

#[test]
fn session_end_recreates_a_deleted_history_directory() {
    let tmp = repo();
    let dir = tmp.path();
    assert!(run(dir, None, &["dev", "init", "alice"]).status.success());
    assert!(
        run(dir, Some("alice"), &["session", "start", "T-1"])
            .status
            .success()
    );
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
