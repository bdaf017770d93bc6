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
    AddMinutes, Namespace, SessionOptions, TIME_KEY,
    fs::Durability,
    namespace,
    store::{Key, Revision, StoreOptions},
    time::{SEGMENT_ENTRIES, sealed_segments},
};

pub(crate) fn setup() -> (tempfile::TempDir, Layout, DeveloperId) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let dev = DeveloperId::new("alice").unwrap();
    namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
    (tmp, layout, dev)
}

/// What a writer process does, read from its environment by [`minutes_worker`].
pub(crate) struct Work {
    pub(crate) threads: u32,
    pub(crate) adds: u64,
    pub(crate) relaxed: bool,
    pub(crate) forever: bool,
}

const WORKER_ROOT: &str = "FLOWFORGE_TEST_MINUTES_ROOT";

/// A writer process: this test binary again, running only [`minutes_worker`], which adds one
/// minute at a time to alice's time tracking from several threads.
pub(crate) fn minutes_writer(layout: &Layout, work: &Work) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "processes::minutes_worker", "--nocapture"])
        .env(WORKER_ROOT, layout.root())
        .env("FLOWFORGE_TEST_MINUTES_THREADS", work.threads.to_string())
        .env("FLOWFORGE_TEST_MINUTES_ADDS", work.adds.to_string())
        .env("FLOWFORGE_TEST_MINUTES_RELAXED", work.relaxed.to_string())
        .env("FLOWFORGE_TEST_MINUTES_FOREVER", work.forever.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `processes` writer processes of `threads` threads adding `adds` minutes each; half of them
/// flush and half do not, so they interleave on the same key.
pub(crate) fn minutes_writers(
    layout: &Layout,
    processes: u64,
    threads: u32,
    adds: u64,
) -> Vec<Child> {
    (0..processes)
        .map(|p| {
            let work = Work {
                threads,
                adds,
                relaxed: p % 2 == 0,
                forever: false,
            };
            minutes_writer(layout, &work)
        })
        .collect()
}

/// The body of a writer process started by [`minutes_writer`]; in the ordinary test run (no
/// root in the environment) there is nothing to do.
#[test]
fn minutes_worker() {
    let Some(root) = std::env::var_os(WORKER_ROOT) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let work = Work {
        threads: var("FLOWFORGE_TEST_MINUTES_THREADS").parse().unwrap(),
        adds: var("FLOWFORGE_TEST_MINUTES_ADDS").parse().unwrap(),
        relaxed: var("FLOWFORGE_TEST_MINUTES_RELAXED").parse().unwrap(),
        forever: var("FLOWFORGE_TEST_MINUTES_FOREVER").parse().unwrap(),
    };
    let durability = if work.relaxed {
        Durability::Relaxed
    } else {
        Durability::Sync
    };
    let options = SessionOptions {
        store: StoreOptions {
            // Keep every version so the history can be audited.
            compaction: None,
            ..StoreOptions::with_durability(durability)
        },
    };
    let layout = Layout::new(root);
    let dev = DeveloperId::new("alice").unwrap();
    let ns = Namespace::open(&layout, &dev, options).unwrap();
    std::thread::scope(|s| {
        for _ in 0..work.threads {
            s.spawn(|| {
                let mut done = 0;
                while work.forever || done < work.adds {
                    ns.add_minutes(1, &AddMinutes::default()).unwrap();
                    done += 1;
                }
            });
        }
    });
}

/// Every kept version was built on its predecessor: version n holds n one-minute entries (the
/// sealed segments' and its own), its own entries are those of version n - 1 plus one (less
/// the segment sealed on the way, if any), and the total is their sum.
fn assert_chain(history: &[Revision<TimeTracking>]) {
    let mut previous: Option<&TimeTracking> = None;
    for (i, head) in history.iter().enumerate() {
        assert_eq!(head.generation, i as u64 + 1, "generations are consecutive");
        let time = head.value.as_ref().expect("no tombstones");
        let sealed = sealed_segments(time);
        assert_eq!(
            sealed * SEGMENT_ENTRIES as u64 + time.sessions.len() as u64,
            head.generation
        );
        assert_eq!(time.total_minutes, head.generation);
        if let Some(previous) = previous {
            let kept = if sealed == sealed_segments(previous) {
                &previous.sessions[..]
            } else {
                assert_eq!(sealed, sealed_segments(previous) + 1);
                &previous.sessions[SEGMENT_ENTRIES..]
            };
            assert_eq!(&time.sessions[..time.sessions.len() - 1], kept);
        }
        previous = Some(time);
    }
}

fn time_history(ns: &Namespace) -> Vec<Revision<TimeTracking>> {
    ns.store().history(&Key::new(TIME_KEY).unwrap()).unwrap()
}

#[test]
fn processes_times_threads_adding_minutes_lose_nothing() {
    let (_tmp, layout, dev) = setup();
    let (processes, threads, adds): (u32, u32, u64) = (4, 3, 10);
    let children = minutes_writers(&layout, processes.into(), threads, adds);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let ns = Namespace::open(&layout, &dev, SessionOptions::default()).unwrap();
    let time = ns.time_tracking().unwrap().unwrap();
    let expected = u64::from(processes * threads) * adds;
    assert_eq!(time.value.total_minutes, expected);
    assert_eq!(time.version.get(), expected);
    let history = time_history(&ns);
    assert_eq!(history.len() as u64, expected);
    assert_chain(&history);
    // The view converged to the latest version: the total and the entries not sealed.
    let view: TimeTracking =
        serde_json::from_slice(&std::fs::read(layout.time_tracking(&dev)).unwrap()).unwrap();
    let head = ns
        .store()
        .get::<TimeTracking>(&Key::new(TIME_KEY).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(head.version, time.version);
    assert_eq!(view, head.value);
}

pub(crate) fn jitter(max: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos ^ (nanos >> 7)) % max
}

pub(crate) fn temp_files(dir: &Path) -> usize {
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
    // Keep every version, as the writers do: the chain is audited after each round, and an
    // automatic compaction by this process's own write would cut its bottom.
    let options = SessionOptions {
        store: StoreOptions {
            compaction: None,
            ..StoreOptions::default()
        },
    };
    let ns = Namespace::open(&layout, &dev, options).unwrap();
    let key = Key::new(TIME_KEY).unwrap();
    for round in 0..6 {
        let before = ns.store().generation(&key).unwrap();
        // Alternate flushed and unflushed writers.
        let work = Work {
            threads: 2,
            adds: 0,
            relaxed: round % 2 == 0,
            forever: true,
        };
        let mut child = minutes_writer(&layout, &work);
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
        // The view holds some whole version (a writer may have died before updating it, or
        // before writing it at all).
        if let Ok(bytes) = std::fs::read(layout.time_tracking(&dev)) {
            let view: TimeTracking = serde_json::from_slice(&bytes).unwrap();
            assert!(view.total_minutes <= time.value.total_minutes);
        }

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
    let report = ns.store().compact(&key, 1_000_000).unwrap();
    assert_eq!(report.removed_versions, 0);
    assert_eq!(temp_files(&dir), 0);
    assert_chain(&time_history(&ns));
}
