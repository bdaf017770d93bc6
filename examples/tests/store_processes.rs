//! The store under real processes: N processes x M threads adding minutes, and writers killed
//! with SIGKILL at random points.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use flowforge_core::{
    DeveloperId, Layout,
    model::{DeveloperInfo, TimeTracking},
};
use flowforge_session::{
    AddMinutes, Namespace, SessionOptions, TIME_KEY, namespace,
    store::{Head, Key},
};

fn setup() -> (tempfile::TempDir, Layout, DeveloperId) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let dev = DeveloperId::new("alice").unwrap();
    namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
    (tmp, layout, dev)
}

fn minutes_writer(layout: &Layout, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_store-race"))
        .arg("minutes")
        .arg("--root")
        .arg(layout.root())
        .args(["--dev", "alice"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every kept version was built on its predecessor: version n holds n one-minute entries, the
/// first n - 1 of them exactly those of version n - 1, and the total is their sum.
fn assert_chain(history: &[Head<TimeTracking>]) {
    let mut previous: Option<&TimeTracking> = None;
    for (i, head) in history.iter().enumerate() {
        assert_eq!(head.generation, i as u64 + 1, "generations are consecutive");
        let time = head.value.as_ref().expect("no tombstones");
        assert_eq!(time.sessions.len() as u64, head.generation);
        assert_eq!(time.total_minutes, head.generation);
        if let Some(previous) = previous {
            assert_eq!(
                &time.sessions[..time.sessions.len() - 1],
                &previous.sessions[..]
            );
        }
        previous = Some(time);
    }
}

fn time_history(ns: &Namespace) -> Vec<Head<TimeTracking>> {
    ns.store().history(&Key::new(TIME_KEY).unwrap()).unwrap()
}

#[test]
fn processes_times_threads_adding_minutes_lose_nothing() {
    let (_tmp, layout, dev) = setup();
    let (processes, threads, adds) = (4, 3, 10);
    let children: Vec<Child> = (0..processes)
        .map(|p| {
            let mut args = vec!["--threads", "3", "--adds", "10"];
            // Half the writers flush, half do not: they interleave on the same key.
            if p % 2 == 0 {
                args.push("--relaxed");
            }
            minutes_writer(&layout, &args)
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let ns = Namespace::open(&layout, &dev, SessionOptions::default()).unwrap();
    let time = ns.time_tracking().unwrap().unwrap();
    let expected = processes * threads * adds;
    assert_eq!(time.value.total_minutes, expected);
    assert_eq!(time.version.get(), expected);
    let history = time_history(&ns);
    assert_eq!(history.len() as u64, expected);
    assert_chain(&history);
    // The view converged to the latest version.
    let view: TimeTracking =
        serde_json::from_slice(&std::fs::read(layout.time_tracking(&dev)).unwrap()).unwrap();
    assert_eq!(view, time.value);
}

fn jitter(max: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos ^ (nanos >> 7)) % max
}

fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count()
}

#[test]
fn writers_killed_with_sigkill_leave_a_readable_store_and_the_next_write_succeeds() {
    let (_tmp, layout, dev) = setup();
    let ns = Namespace::open(&layout, &dev, SessionOptions::default()).unwrap();
    let key = Key::new(TIME_KEY).unwrap();
    for round in 0..6 {
        let before = ns.store().generation(&key).unwrap();
        // Alternate flushed and unflushed writers.
        let mut args = vec!["--forever", "--threads", "2"];
        if round % 2 == 0 {
            args.push("--relaxed");
        }
        let mut child = minutes_writer(&layout, &args);
        // Kill it while it writes: once it has published something, after a random pause.
        while ns.store().generation(&key).unwrap() == before {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the writer died by itself"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(jitter(20_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // The store reads (a whole version, old or new), and every version is sound.
        let time = ns.time_tracking().unwrap().unwrap();
        assert_eq!(
            time.value.total_minutes,
            time.value.sessions.iter().map(|e| e.minutes).sum::<u64>()
        );
        let history = time_history(&ns);
        assert_eq!(history.last().unwrap().generation, time.version.get());
        assert_chain(&history);
        // The view holds some whole version (a writer may have died before updating it).
        let view: TimeTracking =
            serde_json::from_slice(&std::fs::read(layout.time_tracking(&dev)).unwrap()).unwrap();
        assert!(view.total_minutes <= time.value.total_minutes);

        // The next write succeeds, builds on the latest version and repairs the view.
        let next = ns.add_minutes(1, &AddMinutes::default()).unwrap();
        assert_eq!(next.version.get(), time.version.get() + 1);
        assert_eq!(next.value.total_minutes, time.value.total_minutes + 1);
        let view: TimeTracking =
            serde_json::from_slice(&std::fs::read(layout.time_tracking(&dev)).unwrap()).unwrap();
        assert_eq!(view, next.value);
    }
    // Stray temporary files of the killed writers go with an explicit compaction.
    let dir = ns.store().key_dir(&key);
    let report = ns.store().compact(&key, 1_000_000, Duration::ZERO).unwrap();
    assert_eq!(report.removed_versions, 0);
    assert_eq!(temp_files(&dir), 0);
    assert_chain(&time_history(&ns));
}
