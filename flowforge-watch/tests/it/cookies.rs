//! Cookie syncs: every event before the sync is recorded when it returns; a watcher that
//! cannot be trusted, or a cookie that cannot be written, is an error, never a silent return.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use flowforge_watch::{CookieError, CookieFiles, StdCookieFiles, Watcher};
use notify::RecursiveMode;

use crate::Recorded;

/// A long timeout: the tests wait for real inotify events on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Cookie files in `dir` that count how many were written.
#[derive(Debug)]
struct Counted {
    inner: StdCookieFiles,
    written: Arc<AtomicUsize>,
}

impl CookieFiles for Counted {
    fn dir(&self) -> &Path {
        self.inner.dir()
    }
    fn create(&self, name: &str) -> Result<(), String> {
        self.written.fetch_add(1, Ordering::Relaxed);
        self.inner.create(name)
    }
    fn remove(&self, name: &str) {
        self.inner.remove(name);
    }
}

fn watched(dir: &Path) -> (Watcher<Recorded>, Arc<AtomicUsize>) {
    let written = Arc::new(AtomicUsize::new(0));
    let cookies = Counted {
        inner: StdCookieFiles::new(dir.to_owned()),
        written: Arc::clone(&written),
    };
    let watcher = Watcher::new(Recorded::default(), cookies);
    watcher.start(notify::Config::default()).unwrap();
    watcher.watch(dir, RecursiveMode::Recursive).unwrap();
    (watcher, written)
}

#[test]
fn a_sync_returns_once_every_earlier_change_is_recorded_and_leaves_no_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (watcher, written) = watched(dir.path());
    for round in 0..3 {
        let files: Vec<PathBuf> = (0..40)
            .map(|i| dir.path().join(format!("f-{round}-{i}")))
            .collect();
        for file in &files {
            fs::write(file, "x").unwrap();
        }
        watcher.sync(PATIENCE).unwrap();
        let seen = watcher.events().paths.lock().unwrap().clone();
        let missing: Vec<_> = files.iter().filter(|f| !seen.contains(*f)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: not seen before sync returned: {missing:?}"
        );
    }
    // On Linux the first cookie proves events arrive; later syncs read inotify's queue.
    let expected = if cfg!(target_os = "linux") { 1 } else { 3 };
    assert_eq!(written.load(Ordering::Relaxed), expected, "cookies written");
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("cookie-"))
        .collect();
    assert!(left.is_empty(), "cookies left behind: {left:?}");
}

#[test]
fn threads_syncing_together_each_see_their_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (watcher, written) = watched(dir.path());
    let watcher = Arc::new(watcher);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (watcher, file) = (Arc::clone(&watcher), dir.path().join(format!("t{t}")));
            std::thread::spawn(move || {
                fs::write(&file, "x").unwrap();
                watcher.sync(PATIENCE).unwrap();
                assert!(
                    watcher.events().paths.lock().unwrap().contains(&file),
                    "{file:?}"
                );
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let cookies = written.load(Ordering::Relaxed);
    assert!(
        (1..=16).contains(&cookies),
        "{cookies} cookies for 16 syncs"
    );
}

#[test]
fn a_distrusted_watcher_fails_every_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (watcher, _) = watched(dir.path());
    watcher.sync(PATIENCE).unwrap();
    watcher.distrust();
    assert!(matches!(watcher.sync(PATIENCE), Err(CookieError::Broken)));
    assert!(matches!(watcher.sync(PATIENCE), Err(CookieError::Broken)));
}

#[test]
fn a_cookie_that_cannot_be_written_or_is_never_seen_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let watcher = Watcher::new(Recorded::default(), StdCookieFiles::new(gone.clone()));
    watcher.start(notify::Config::default()).unwrap();
    watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    match watcher.sync(PATIENCE) {
        Err(CookieError::Write(why)) => assert!(why.contains("gone"), "{why}"),
        other => panic!("expected a write error, got {other:?}"),
    }
    // Written where nothing watches: the event never comes, and the cookie is removed.
    let unwatched = tempfile::tempdir().unwrap();
    let watcher = Watcher::new(
        Recorded::default(),
        StdCookieFiles::new(unwatched.path().to_owned()),
    );
    watcher.start(notify::Config::default()).unwrap();
    watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();
    assert!(matches!(
        watcher.sync(Duration::from_millis(200)),
        Err(CookieError::Timeout)
    ));
    assert_eq!(fs::read_dir(unwatched.path()).unwrap().count(), 0);
    // Not started: nothing can be watched.
    let idle = Watcher::new(Recorded::default(), StdCookieFiles::new(gone));
    assert!(idle.watch(dir.path(), RecursiveMode::Recursive).is_err());
}
