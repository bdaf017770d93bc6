//! Watching a tree one directory at a time: every directory below is watched, the skipped
//! ones and what is below them are not, and a directory made later is not until asked.

use std::{fs, time::Duration};

use flowforge_watch::{StdCookieFiles, Watcher};

use crate::Recorded;

#[test]
fn every_directory_but_the_skipped_ones_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["a/b/c", "a/skip/deep", "cookies"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    let watcher = Watcher::new(
        Recorded::default(),
        StdCookieFiles::new(root.join("cookies")),
    );
    watcher.start(notify::Config::default()).unwrap();
    watcher.watch_tree(root, &[root.join("a/skip")]).unwrap();

    let watched = [root.join("top"), root.join("a/b/c/deep"), root.join("a/x")];
    let skipped = [root.join("a/skip/s"), root.join("a/skip/deep/s")];
    for file in watched.iter().chain(&skipped) {
        fs::write(file, "x").unwrap();
    }
    fs::create_dir(root.join("later")).unwrap();
    fs::write(root.join("later/inside"), "x").unwrap();
    watcher.sync(Duration::from_secs(30)).unwrap();
    let seen = watcher.events().paths.lock().unwrap().clone();
    for file in &watched {
        assert!(seen.contains(file), "{file:?} not seen: {seen:?}");
    }
    for file in &skipped {
        assert!(!seen.contains(file), "{file:?} seen in a skipped directory");
    }
    assert!(
        seen.contains(&root.join("later")),
        "the new directory itself is seen"
    );
    assert!(
        !seen.contains(&root.join("later/inside")),
        "not watched until asked"
    );

    watcher.watch_tree(&root.join("later"), &[]).unwrap();
    fs::write(root.join("later/next"), "x").unwrap();
    watcher.sync(Duration::from_secs(30)).unwrap();
    assert!(
        watcher
            .events()
            .paths
            .lock()
            .unwrap()
            .contains(&root.join("later/next"))
    );
    assert_eq!(*watcher.events().errors.lock().unwrap(), 0);
}
