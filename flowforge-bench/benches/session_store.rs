//! The versioned store and sessions on top of it: create, uncontended compare-and-swap, get,
//! `update` with 10 threads contending on one key, a session update (store + view) and a `time
//! add` (store + view, for a new developer and one adopted from the bash tools), each with
//! `Sync` (two flushes per write) and `Relaxed`.
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench session_store
//! ```
//!
//! The stores live under Cargo's target tmp dir (a real disk, so `Sync` pays real flushes).

mod store_sample;

use std::{
    cell::Cell,
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};
use store_sample::{MODES, bench_uncontended_cas, session, tempdir};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo, model::Session};
use flowforge_session::{
    Namespace, SessionOptions, StartOptions,
    fs::Durability,
    namespace,
    store::{Key, Store, StoreOptions},
};

fn store_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    for (mode, durability) in MODES {
        let dir = tempdir();
        let store = Store::new(dir.path(), StoreOptions::with_durability(durability));
        let value = session();

        let n = AtomicU64::new(0);
        group.bench_function(BenchmarkId::new("create", mode), |b| {
            b.iter(|| {
                let key = Key::new(&format!("k{}", n.fetch_add(1, Ordering::Relaxed)))
                    .expect("valid key");
                black_box(store.create(&key, black_box(&value)).expect("create"))
            })
        });

        bench_uncontended_cas(
            &mut group,
            BenchmarkId::new("cas_uncontended", mode),
            &store,
            "cas",
            &value,
        );
        let key = Key::new("cas").expect("valid key");

        group.bench_function(BenchmarkId::new("get", mode), |b| {
            b.iter(|| black_box(store.get::<Session>(black_box(&key)).expect("get")))
        });

        let key = Key::new("contended").expect("valid key");
        group.bench_function(BenchmarkId::new("update_10_threads", mode), |b| {
            b.iter_custom(|iters| contended_updates(&store, &key, iters, 10))
        });
    }
    group.finish();
}

/// `iters` increments spread over `threads` threads on one key; the time per increment the
/// system achieves.
fn contended_updates(store: &Store, key: &Key, iters: u64, threads: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let share = iters / threads + u64::from(t < iters % threads);
            s.spawn(move || {
                for _ in 0..share {
                    store
                        .update(key, |n: Option<&u64>| Ok(n.copied().unwrap_or(0) + 1))
                        .expect("update");
                }
            });
        }
    });
    start.elapsed()
}

fn session_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    for (mode, durability) in MODES {
        let dir = tempdir();
        let layout = Layout::for_repo(dir.path());
        let dev = DeveloperId::new("alice").expect("valid");
        namespace::init(&layout, &dev, &DeveloperInfo::default()).expect("init");
        let ns = Namespace::open(&layout, &dev, SessionOptions::with_durability(durability))
            .expect("open");
        let task = TaskId::new("T-1").expect("valid");
        ns.start_session(&task, &StartOptions::default())
            .expect("start");
        let i = Cell::new(0u64);
        // A session update: the store's compare-and-swap plus the current.json view.
        group.bench_function(BenchmarkId::new("update", mode), |b| {
            b.iter(|| {
                i.set(i.get() + 1);
                black_box(
                    ns.update_session(|s| {
                        s.metadata.insert("ticks".to_owned(), i.get().into());
                    })
                    .expect("update"),
                )
            })
        });
    }
    group.finish();
}

/// Entries in the bash tools' `time-tracking.json` of an adopted developer.
const ADOPTED_ENTRIES: usize = 10_000;

/// One `time add` (the store's compare-and-swap plus the `time-tracking.json` view) for a
/// developer who started with FlowForge and for one adopted from the bash tools with
/// [`ADOPTED_ENTRIES`] entries in `time-tracking.json` (~1.5 MB, sealed into segments by the
/// first addition). The adopted view stays as small as the other's; what could still differ
/// is the file the view's old bytes left behind, which the kernel caches in large folios.
fn time_ops(c: &mut Criterion) {
    use flowforge_session::AddMinutes;
    let mut group = c.benchmark_group("time");
    for (mode, durability) in MODES {
        for (name, entries) in [("add_fresh", 0), ("add_adopted", ADOPTED_ENTRIES)] {
            let dir = tempdir();
            let layout = Layout::for_repo(dir.path());
            let dev = DeveloperId::new("alice").expect("valid");
            namespace::init(&layout, &dev, &DeveloperInfo::default()).expect("init");
            let view = flowforge_bench::fixture::time_history_view(entries, jiff::Timestamp::now())
                .expect("bash time tracking");
            flowforge_testkit::bash_tools::write(&layout.time_tracking(&dev), &view)
                .expect("bash time tracking");
            let ns = Namespace::open(&layout, &dev, SessionOptions::with_durability(durability))
                .expect("open");
            group.bench_function(BenchmarkId::new(name, mode), |b| {
                b.iter(|| black_box(ns.add_minutes(1, &AddMinutes::default()).expect("add")))
            });
        }
    }
    group.finish();
}

/// What the targets are stated against, measured in the same run: one file written and
/// published with a hard link (the syscall pair a `Relaxed` version costs at the least), and
/// the same with the two flushes a `Sync` version needs.
fn reference(c: &mut Criterion) {
    use std::{fs, io::Write, os::unix::fs::OpenOptionsExt};
    let mut group = c.benchmark_group("reference");
    let bytes = serde_json::to_vec(&session()).expect("serialisable");
    for (mode, durability) in MODES {
        let dir = tempdir();
        let n = AtomicU64::new(0);
        group.bench_function(BenchmarkId::new("write_link", mode), |b| {
            b.iter(|| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                let tmp = dir.path().join(format!(".tmp-{i}"));
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .expect("create");
                file.write_all(black_box(&bytes)).expect("write");
                if durability == Durability::Sync {
                    file.sync_data().expect("sync");
                }
                drop(file);
                fs::hard_link(&tmp, dir.path().join(format!("{i:020}.json"))).expect("link");
                fs::remove_file(&tmp).expect("unlink");
                if durability == Durability::Sync {
                    fs::File::open(dir.path())
                        .and_then(|d| d.sync_all())
                        .expect("sync dir");
                }
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = reference, store_ops, session_ops, time_ops
}
criterion_main!(benches);
