//! Reclaiming space while others write: a writer stalled at each step of its write while
//! other writers and a compaction run (driven step by step through the store's pause hook,
//! no sleeps), a compaction stalled between its listing and its removals, and `gc` over a
//! whole namespace.

use std::{
    fs,
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo};
use flowforge_session::{
    AddMinutes, GcOptions, Namespace, SessionOptions, StartOptions,
    store::{Compaction, Key, PausePoint, Store, StoreOptions},
};

/// A pause point: the first time a write or compaction of the store reaches `step`, it says
/// so and waits until the test lets it go.
struct Gate {
    arrived: mpsc::Receiver<()>,
    go: mpsc::Sender<()>,
}

fn gated(store: Store, step: PausePoint) -> (Store, Gate) {
    let (arrived_tx, arrived) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let armed = AtomicBool::new(true);
    let store = store.with_pause(move |at, _key| {
        if at == step && armed.swap(false, Ordering::SeqCst) {
            arrived_tx.send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap();
        }
    });
    (store, Gate { arrived, go })
}

fn options() -> StoreOptions {
    StoreOptions {
        compaction: None,
        ..StoreOptions::relaxed()
    }
}

fn increment(store: &Store, key: &Key) -> u64 {
    store
        .update(key, |n: Option<&u64>| Ok(n.copied().unwrap_or(0) + 1))
        .unwrap()
        .value
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The generations kept, which must form one contiguous range ending at the latest, each
/// holding its own generation as the counter's value (no update lost, none applied twice).
fn assert_sound(store: &Store, key: &Key, latest: u64) {
    let history = store.history::<u64>(key).unwrap();
    let kept: Vec<u64> = history.iter().map(|h| h.generation).collect();
    let first = kept[0];
    assert_eq!(kept, (first..=latest).collect::<Vec<_>>(), "contiguous");
    for head in &history {
        assert_eq!(
            head.value,
            Some(head.generation),
            "version {}",
            head.generation
        );
    }
}

#[test]
fn a_writer_stalled_at_any_step_neither_resurrects_nor_loses_anything() {
    for step in [PausePoint::Read, PausePoint::Written, PausePoint::Checked] {
        let tmp = tempfile::tempdir().unwrap();
        let key = Key::new("counter").unwrap();
        let others = Store::new(tmp.path(), options());
        for _ in 0..5 {
            increment(&others, &key);
        }
        let (stalled, gate) = gated(Store::new(tmp.path(), options()), step);
        std::thread::scope(|s| {
            let writer = s.spawn(|| increment(&stalled, &key));
            gate.arrived.recv().unwrap();
            // While it stands still (its base is generation 5): ten more versions, then the
            // most aggressive compaction there is.
            for _ in 0..10 {
                increment(&others, &key);
            }
            let report = others.compact(&key, 1).unwrap();
            assert_eq!(report.latest, 15);
            let kept = files(&others.key_dir(&key));
            if step == PausePoint::Read {
                // Nothing announced yet: everything but the latest goes.
                assert_eq!(report.removed_versions, 14, "{step:?}");
            } else {
                // Its temporary file names generation 6: nothing from 6 up is removed.
                assert_eq!(report.removed_versions, 5, "{step:?}: {kept:?}");
                assert!(kept.iter().any(|n| n.starts_with(".tmp-")), "{kept:?}");
            }
            gate.go.send(()).unwrap();
            // It lost its race, read again, and counted on top of everything.
            assert_eq!(writer.join().unwrap(), 16, "{step:?}");
        });
        assert_eq!(others.get::<u64>(&key).unwrap().unwrap().version.get(), 16);
        assert_sound(&others, &key, 16);
        others.compact(&key, 1).unwrap();
        assert_eq!(
            files(&others.key_dir(&key))
                .iter()
                .filter(|n| n.ends_with(".json") || n.starts_with(".tmp-"))
                .count(),
            1,
            "{step:?}"
        );
    }
}

#[test]
fn the_first_version_of_a_key_is_never_written_below_a_compaction() {
    // A writer about to create a key stalls after its check; meanwhile others create it,
    // write on, and compaction removes generation 1. Its put-if-absent must not re-create 1.
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new("fresh").unwrap();
    let others = Store::new(tmp.path(), options());
    let (stalled, gate) = gated(Store::new(tmp.path(), options()), PausePoint::Read);
    std::thread::scope(|s| {
        let writer = s.spawn(|| increment(&stalled, &key));
        gate.arrived.recv().unwrap();
        for _ in 0..3 {
            increment(&others, &key);
        }
        assert_eq!(others.compact(&key, 1).unwrap().removed_versions, 2);
        gate.go.send(()).unwrap();
        assert_eq!(writer.join().unwrap(), 4);
    });
    assert_sound(&others, &key, 4);
}

#[test]
fn a_compaction_stalled_after_its_listing_removes_only_what_it_saw_superseded() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new("counter").unwrap();
    let writers = Store::new(tmp.path(), options());
    for _ in 0..10 {
        increment(&writers, &key);
    }
    let (compactor, gate) = gated(Store::new(tmp.path(), options()), PausePoint::Listed);
    std::thread::scope(|s| {
        let compaction = s.spawn(|| compactor.compact(&key, 1).unwrap());
        gate.arrived.recv().unwrap();
        for _ in 0..20 {
            increment(&writers, &key);
        }
        gate.go.send(()).unwrap();
        let report = compaction.join().unwrap();
        assert_eq!((report.latest, report.removed_versions), (10, 9));
    });
    assert_sound(&writers, &key, 30);
    assert_eq!(increment(&writers, &key), 31);
}

#[test]
fn concurrent_writers_and_compactions_count_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new("counter").unwrap();
    let store = Store::new(
        tmp.path(),
        StoreOptions {
            compaction: Some(Compaction { keep: 1, every: 2 }),
            ..StoreOptions::relaxed()
        },
    );
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..100 {
                        increment(&store, &key);
                    }
                })
            })
            .collect();
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                store.compact(&key, 1).unwrap();
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let got = store.get::<u64>(&key).unwrap().unwrap();
    assert_eq!((got.value, got.version.get()), (400, 400));
    assert_sound(&store, &key, 400);
}

fn task(s: &str) -> TaskId {
    s.parse().unwrap()
}

#[test]
fn gc_keeps_the_latest_of_every_key_and_reports_what_it_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let devs: Vec<DeveloperId> = ["alice", "bob"]
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
    for dev in &devs {
        flowforge_session::namespace::init(&layout, dev, &DeveloperInfo::default()).unwrap();
    }
    let ns: Vec<Namespace> = devs
        .iter()
        .map(|d| Namespace::open(&layout, d, SessionOptions::relaxed()).unwrap())
        .collect();
    // History: 30 sessions each, all ended (their claims released).
    for round in 0..30 {
        for n in &ns {
            n.start_session(
                &task(&format!("{}-{round}", n.developer())),
                &StartOptions::default(),
            )
            .unwrap();
            n.end_session().unwrap();
        }
    }
    ns[0].add_minutes(5, &AddMinutes::default()).unwrap();
    ns[1]
        .start_session(&task("live"), &StartOptions::default())
        .unwrap();
    // What crashed writers left: a stray in a key directory and one beside a view.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let shard = flowforge_session::claim::claim_shard(&task("live"));
    let claims_dir = layout.team_store_dir().join(format!("claims-{shard:02x}"));
    fs::write(
        claims_dir.join(format!(".tmp-{dead}-3-00000000000000009999.json")),
        "x",
    )
    .unwrap();
    let sessions = layout.sessions_dir(&devs[0]);
    fs::write(sessions.join(format!(".tmp-{dead}-0-current.json")), "half").unwrap();
    // A store written before the claims document: a released per-task key.
    let legacy = layout.team_store_dir().join("claim-old");
    fs::create_dir(&legacy).unwrap();
    fs::write(
        legacy.join("00000000000000000001.json"),
        r#"{"generation":1,"deleted":true,"value":null}"#,
    )
    .unwrap();

    let before = flowforge_session::list_claims(&layout).unwrap();
    let time_before = ns[0].time_tracking().unwrap().unwrap().value;
    let dry = flowforge_session::gc(&layout, GcOptions { dry_run: true }).unwrap();
    assert!(dry.dry_run);
    assert!(legacy.exists(), "a dry run removes nothing");
    let report = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(
        (
            report.superseded_versions,
            report.legacy_claim_keys,
            report.temp_files,
            report.bytes
        ),
        (
            dry.superseded_versions,
            dry.legacy_claim_keys,
            dry.temp_files,
            dry.bytes
        ),
        "the dry run said what gc did"
    );
    assert_eq!((report.legacy_claim_keys, report.temp_files), (1, 2));
    assert!(
        report.superseded_versions > 0 && report.bytes > 0,
        "{report:?}"
    );
    assert!(!legacy.exists());
    // Every key holds its latest version only, and reads the same.
    for store_dir in [
        layout.team_store_dir(),
        layout.dev_store_dir(&devs[0]),
        layout.dev_store_dir(&devs[1]),
    ] {
        for key in fs::read_dir(&store_dir).unwrap() {
            let key = key.unwrap().path();
            if key.ends_with(".claims") {
                continue; // the claims' journal and view bookkeeping, not a key
            }
            let versions = files(&key).iter().filter(|n| n.ends_with(".json")).count();
            assert_eq!(versions, 1, "{}: {:?}", key.display(), files(&key));
            assert!(!files(&key).iter().any(|n| n.starts_with(".tmp-")));
        }
    }
    assert_eq!(flowforge_session::list_claims(&layout).unwrap(), before);
    assert_eq!(ns[0].time_tracking().unwrap().unwrap().value, time_before);
    assert_eq!(ns[0].history().unwrap().len(), 30);
    // Nothing left to do, and writing goes on from the latest versions.
    let again = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(
        (again.superseded_versions, again.temp_files, again.bytes),
        (0, 0, 0)
    );
    ns[0]
        .start_session(&task("next"), &StartOptions::default())
        .unwrap();
    let err = ns[0]
        .start_session(
            &task("live"),
            &StartOptions {
                replace: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
}
