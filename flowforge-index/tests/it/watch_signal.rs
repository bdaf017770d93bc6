//! What a long-lived owner of a watched index relies on to refresh it as changes arrive: the
//! watcher's signal wakes a waiting thread when a change is filed, and a refresh that fails
//! loses none of the changes it took.

use std::time::Duration;

use flowforge_core::Layout;
use flowforge_index::{Index, Watcher};
use flowforge_session::{Namespace, SessionOptions, StartOptions};

use crate::common::{dev, task};

const SYNC: Duration = Duration::from_secs(10);

fn team() -> (tempfile::TempDir, Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    for d in ["alice", "bob"] {
        flowforge_session::namespace::init(&layout, &dev(d), &Default::default()).unwrap();
    }
    (tmp, layout)
}

fn start(layout: &Layout, who: &str, what: &str) {
    let options = StartOptions {
        replace: true,
        ..StartOptions::default()
    };
    Namespace::open(layout, &dev(who), SessionOptions::relaxed())
        .unwrap()
        .start_session(&task(what), &options)
        .unwrap();
}

#[test]
fn the_signal_wakes_a_waiting_thread_when_a_change_is_filed() {
    let (_tmp, layout) = team();
    let mut watcher = Watcher::new(&layout).unwrap();
    let mut index = Index::build(&layout).unwrap();
    let signal = watcher.signal();
    watcher.refresh_synced(&mut index, SYNC).unwrap();
    assert!(
        !signal.wait(Duration::from_millis(50)),
        "nothing pending after a synced refresh"
    );

    let waiter = std::thread::spawn(move || signal.wait(SYNC));
    start(&layout, "bob", "t-1");
    assert!(waiter.join().unwrap(), "the change woke the waiting thread");
    // The waiting took nothing: refreshes find the change. The first of its events woke the
    // waiter; the watcher's thread may file the last ones (the session's) a little later.
    let mut seen = None;
    for _ in 0..100 {
        watcher.refresh(&mut index).unwrap();
        seen = index.task_of(&dev("bob")).cloned();
        if seen.is_some() {
            break;
        }
        watcher.signal().wait(Duration::from_millis(100));
    }
    assert_eq!(seen, Some(task("t-1")));
    // A synced question afterwards still sees everything, and leaves nothing pending.
    watcher.refresh_synced(&mut index, SYNC).unwrap();
    assert_eq!(index.who(&task("t-1")).holder, Some(dev("bob")));
    assert!(!watcher.signal().wait(Duration::from_millis(50)));
}

#[test]
fn a_failed_refresh_leaves_the_next_one_full() {
    let (tmp, layout) = team();
    let mut watcher = Watcher::new(&layout).unwrap();
    let mut index = Index::build(&layout).unwrap();
    watcher.refresh_synced(&mut index, SYNC).unwrap();

    // A new namespace: the refresh must list the root again.
    flowforge_session::namespace::init(&layout, &dev("carol"), &Default::default()).unwrap();
    assert!(watcher.signal().wait(SYNC));
    // The root is a symbolic link while the refresh runs: it refuses to list it and fails.
    let away = tmp.path().join("away");
    std::fs::rename(layout.root(), &away).unwrap();
    std::os::unix::fs::symlink(&away, layout.root()).unwrap();
    assert!(watcher.refresh(&mut index).is_err());
    std::fs::remove_file(layout.root()).unwrap();
    std::fs::rename(&away, layout.root()).unwrap();
    // Nothing changed in carol's namespace since: only a full refresh finds it.
    assert_eq!(index.namespace_count(), 2);
    watcher.refresh(&mut index).unwrap();
    assert_eq!(index.namespace_count(), 3);
}
