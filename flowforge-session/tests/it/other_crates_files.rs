//! The files other crates have written through flowforge-session: the namespace index's
//! snapshot and cookies, a git remote's pulled view, a report saved for people. Each is
//! private (files 0600, directories 0700), atomic, and never written through a link.

use std::{collections::BTreeMap, fs, os::unix::fs::PermissionsExt, path::Path};

use flowforge_core::{
    DeveloperId, Layout,
    model::{Session, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_session::{Error, export, index_files, pulled};

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

fn session(id: &str) -> Session {
    serde_json::from_value(serde_json::json!({
        "active": false,
        "sessionId": id,
        "developerId": "alice",
        "startTime": "2026-01-01T10:00:00Z",
        "taskId": "t1"
    }))
    .unwrap()
}

fn developer(history: &[&str]) -> pulled::PulledDeveloper {
    pulled::PulledDeveloper {
        session: None,
        history: history.iter().map(|id| session(id)).collect(),
        time: TimeTracking {
            total_minutes: 5,
            sessions: vec![TimeEntry {
                session_id: Some("s1".into()),
                task_id: Some("t1".parse().unwrap()),
                minutes: 5,
                recorded_at: "2026-01-01T11:00:00Z".parse().unwrap(),
                extra: serde_json::Map::new(),
            }],
            extra: serde_json::Map::new(),
        },
    }
}

#[test]
fn a_pulled_view_is_replaced_whole_private_and_only_beneath_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let (alice, bob): (DeveloperId, DeveloperId) =
        ("alice".parse().unwrap(), "bob".parse().unwrap());
    let tasks = TaskAssignments::default();
    let record = serde_json::json!({"pull": 1});
    let devs = BTreeMap::from([
        (alice.clone(), developer(&["s1", "../escape"])),
        (bob.clone(), developer(&[])),
    ]);
    pulled::write_view(&layout, "origin", &record, &tasks, &devs).unwrap();
    let view = Layout::new(pulled::view_root(&layout, "origin"));
    let history = view.session_history_dir(&alice);
    let mut names: Vec<_> = fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["s1.json"],
        "a session id that is no file name is left out"
    );
    for file in [
        view.task_assignments(),
        view.time_tracking(&bob),
        history.join("s1.json"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for dir in [
        layout.root().join("remote"),
        view.root().to_owned(),
        history,
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }

    // The next pull replaces the view whole: bob is gone, nothing is left beside it.
    let devs = BTreeMap::from([(alice.clone(), developer(&["s2"]))]);
    pulled::write_view(
        &layout,
        "origin",
        &serde_json::json!({"pull": 2}),
        &tasks,
        &devs,
    )
    .unwrap();
    assert!(!view.dev_dir(&bob).exists());
    assert!(view.session_history_dir(&alice).join("s2.json").exists());
    assert!(!view.session_history_dir(&alice).join("s1.json").exists());
    let pulled: serde_json::Value =
        serde_json::from_slice(&fs::read(view.root().join("pulled.json")).unwrap()).unwrap();
    assert_eq!(pulled["pull"], 2);
    let beside: Vec<_> = fs::read_dir(layout.root().join("remote"))
        .unwrap()
        .collect();
    assert_eq!(beside.len(), 1, "no temporary view is left");

    // A remote name that is not one plain name, or a link on the way, writes nothing.
    for name in ["../team", "a/b", ".hidden", ""] {
        let err = pulled::write_view(&layout, name, &record, &tasks, &devs).unwrap_err();
        assert!(matches!(err, Error::Outside { .. }), "{name}: {err}");
    }
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let other = Layout::for_repo(tmp.path().join("other"));
    fs::create_dir_all(other.root()).unwrap();
    std::os::unix::fs::symlink(&outside, other.root().join("remote")).unwrap();
    let err = pulled::write_view(&other, "origin", &record, &tasks, &devs).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn the_index_files_stay_in_index_and_a_link_is_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    index_files::write_snapshot(&layout, b"one").unwrap();
    index_files::write_snapshot(&layout, b"two").unwrap();
    assert_eq!(fs::read(layout.index_snapshot()).unwrap(), b"two");
    assert_eq!(mode(&layout.index_snapshot()), 0o600);
    assert_eq!(mode(&layout.index_dir()), 0o700);

    let cookie = index_files::create_cookie(&layout, ".cookie-1").unwrap();
    assert_eq!(cookie, Some(layout.index_dir().join(".cookie-1")));
    assert_eq!(
        index_files::create_cookie(&layout, ".cookie-1").unwrap(),
        None
    );
    assert!(index_files::remove_cookie(&layout, ".cookie-1").unwrap());
    assert!(!index_files::remove_cookie(&layout, ".cookie-1").unwrap());
    for name in ["../dev-alice/x", "a/b", "..", "", "snapshot.json"] {
        let err = index_files::create_cookie(&layout, name).unwrap_err();
        assert!(matches!(err, Error::Outside { .. }), "{name}: {err}");
    }
    assert_eq!(fs::read(layout.index_snapshot()).unwrap(), b"two");

    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    fs::remove_file(layout.index_snapshot()).unwrap();
    std::os::unix::fs::symlink(&victim, layout.index_snapshot()).unwrap();
    let err = index_files::write_snapshot(&layout, b"evil").unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn an_exported_file_is_private_atomic_and_never_written_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.md");
    export::write_file(&report, b"# one\n").unwrap();
    export::write_file(&report, b"# two\n").unwrap();
    assert_eq!(fs::read(&report).unwrap(), b"# two\n");
    assert_eq!(mode(&report), 0o600);
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no temporary file is left"
    );

    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let link = tmp.path().join("link.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let err = export::write_file(&link, b"evil").unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(export::write_file(&tmp.path().join("no/such/dir/r.md"), b"x").is_err());
}
