//! The Linux backend: only events that can mean a change, recursive trees kept watched as
//! directories come, move and go, and a sync that reads the queue instead of writing a cookie.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use flowforge_watch::{StdCookieFiles, Watcher};
use notify::RecursiveMode;

use crate::Recorded;

const PATIENCE: Duration = Duration::from_secs(30);

/// A recursive watcher of `root` whose first (cookie) sync is done, with nothing recorded.
fn watching(root: &Path) -> Watcher<Recorded> {
    let watcher = Watcher::new(Recorded::default(), StdCookieFiles::new(root.to_owned()));
    watcher.start(notify::Config::default()).unwrap();
    watcher.watch(root, RecursiveMode::Recursive).unwrap();
    watcher.sync(PATIENCE).unwrap();
    // The cookie's removal, made before that sync returned, is read by this one.
    watcher.sync(PATIENCE).unwrap();
    watcher.events().paths.lock().unwrap().clear();
    watcher
}

fn take_seen(watcher: &Watcher<Recorded>) -> Vec<PathBuf> {
    std::mem::take(&mut *watcher.events().paths.lock().unwrap())
        .into_iter()
        .collect()
}

#[test]
fn reading_files_and_listing_directories_reports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/a"), "x").unwrap();
    let watcher = watching(root);

    for _ in 0..3 {
        assert_eq!(fs::read(root.join("sub/a")).unwrap(), b"x");
        assert_eq!(fs::read_dir(root.join("sub")).unwrap().count(), 1);
        drop(fs::File::open(root.join("sub/a")).unwrap());
    }
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(
        take_seen(&watcher),
        Vec::<PathBuf>::new(),
        "reads are no change"
    );

    // A write in the same place is.
    fs::write(root.join("sub/a"), "y").unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(take_seen(&watcher), [root.join("sub/a")]);
}

#[test]
fn directories_created_moved_in_and_out_keep_a_recursive_tree_watched() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path();
    let watcher = watching(root);

    // Created, then filled after the sync that saw it: watched from its event on.
    fs::create_dir_all(root.join("new/deeper")).unwrap();
    watcher.sync(PATIENCE).unwrap();
    fs::write(root.join("new/deeper/f"), "x").unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert!(take_seen(&watcher).contains(&root.join("new/deeper/f")));

    // Moved in from outside with a tree inside: every directory of it is watched.
    fs::create_dir_all(outside.path().join("tree/a/b")).unwrap();
    fs::rename(outside.path().join("tree"), root.join("tree")).unwrap();
    watcher.sync(PATIENCE).unwrap();
    fs::write(root.join("tree/a/b/f"), "x").unwrap();
    watcher.sync(PATIENCE).unwrap();
    let seen = take_seen(&watcher);
    assert!(seen.contains(&root.join("tree")), "{seen:?}");
    assert!(seen.contains(&root.join("tree/a/b/f")), "{seen:?}");

    // Renamed inside: the new names are reported, and the old ones are never used again.
    fs::rename(root.join("tree"), root.join("renamed")).unwrap();
    watcher.sync(PATIENCE).unwrap();
    take_seen(&watcher);
    fs::write(root.join("renamed/a/b/g"), "x").unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(take_seen(&watcher), [root.join("renamed/a/b/g")]);

    // Moved out: what happens to it there is no event of this tree.
    fs::rename(root.join("renamed"), outside.path().join("gone")).unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(take_seen(&watcher), [root.join("renamed")]);
    fs::write(outside.path().join("gone/a/b/h"), "x").unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(take_seen(&watcher), Vec::<PathBuf>::new());

    // Deleted and made again under the same name: watched again.
    fs::remove_dir_all(root.join("new")).unwrap();
    fs::create_dir_all(root.join("new/deeper")).unwrap();
    watcher.sync(PATIENCE).unwrap();
    take_seen(&watcher);
    fs::write(root.join("new/deeper/f2"), "x").unwrap();
    watcher.sync(PATIENCE).unwrap();
    assert_eq!(take_seen(&watcher), [root.join("new/deeper/f2")]);
    assert_eq!(*watcher.events().errors.lock().unwrap(), 0);
}

#[test]
fn a_change_by_another_process_is_seen_by_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let watcher = watching(root);
    for round in 0..20 {
        let file = root.join(format!("p{round}"));
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("mkdir -p \"$1\" && echo x > \"$1/f\"")
            .arg("sh")
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
        watcher.sync(PATIENCE).unwrap();
        let seen = take_seen(&watcher);
        assert!(seen.contains(&file), "round {round}: {seen:?}");
    }
}

/// A file written into a directory right after the directory was made, before the watcher
/// could add the directory's watch, is reported: a new directory is listed once watched.
#[test]
fn what_a_new_directory_holds_before_its_watch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let watcher = watching(root);
    for i in 0..20 {
        let new = root.join(format!("new-{i}/deeper"));
        fs::create_dir_all(&new).unwrap();
        fs::write(new.join("f"), "x").unwrap();
        watcher.sync(PATIENCE).unwrap();
        let seen = take_seen(&watcher);
        assert!(seen.contains(&new.join("f")), "round {i}: {seen:?}");
        // Written again once watched: an event of its own.
        fs::write(new.join("f"), "y").unwrap();
        watcher.sync(PATIENCE).unwrap();
        assert!(take_seen(&watcher).contains(&new.join("f")), "round {i}");
    }
}
