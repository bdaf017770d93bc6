//! One compare-and-swap update of a session-sized document (~400 bytes) per storage engine,
//! the figures behind the store's choice of engine (see `ARCHITECTURE.md`):
//!
//! - `store_fresh`: the file-per-version store, each version written to a new temporary file
//!   and published with `renameat2(RENAME_NOREPLACE)` (the store's default);
//! - `store_fallocated`: the same with the length reserved by `posix_fallocate` first
//!   (`StoreOptions::preallocate`);
//! - `sqlite_wal`: SQLite in WAL mode, `UPDATE kv SET ver = ver + 1, value = ?
//!   WHERE key = ? AND ver = ?` in its own transaction.
//!
//! each with `sync` (the store's `Durability::Sync`: two flushes; SQLite `synchronous=FULL`)
//! and `relaxed` (no flush; SQLite `synchronous=NORMAL`, which in WAL mode flushes only at
//! checkpoints).
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench publish -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Everything lives under Cargo's target tmp dir (a real disk, so `sync` pays real flushes).

mod store_sample;

use std::{cell::Cell, hint::black_box};
use store_sample::{MODES, bench_uncontended_cas, session, tempdir};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_session::{
    fs::Durability,
    store::{Store, StoreOptions},
};

fn store_cas(c: &mut Criterion) {
    let mut group = c.benchmark_group("cas");
    let value = session();
    for (mode, durability) in MODES {
        for (engine, preallocate) in [("store_fresh", false), ("store_fallocated", true)] {
            let dir = tempdir();
            let store = Store::new(
                dir.path(),
                StoreOptions {
                    preallocate,
                    ..StoreOptions::with_durability(durability)
                },
            );
            bench_uncontended_cas(
                &mut group,
                BenchmarkId::new(engine, mode),
                &store,
                "session",
                &value,
            );
        }

        let dir = tempdir();
        let db = rusqlite::Connection::open(dir.path().join("store.db")).expect("open");
        let synchronous = match durability {
            Durability::Sync => "FULL",
            Durability::Relaxed => "NORMAL",
        };
        db.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};
             CREATE TABLE kv (key TEXT PRIMARY KEY, ver INTEGER NOT NULL, value BLOB NOT NULL);"
        ))
        .expect("schema");
        let bytes = serde_json::to_vec(&value).expect("serialise");
        db.execute(
            "INSERT INTO kv (key, ver, value) VALUES ('session', 1, ?1)",
            [&bytes],
        )
        .expect("insert");
        let mut update = db
            .prepare("UPDATE kv SET ver = ver + 1, value = ?1 WHERE key = 'session' AND ver = ?2")
            .expect("prepare");
        let version = Cell::new(1i64);
        group.bench_function(BenchmarkId::new("sqlite_wal", mode), |b| {
            b.iter(|| {
                let bytes = serde_json::to_vec(black_box(&value)).expect("serialise");
                let changed = update
                    .execute(rusqlite::params![bytes, version.get()])
                    .expect("update");
                assert_eq!(changed, 1, "uncontended");
                version.set(version.get() + 1);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, store_cas);
criterion_main!(benches);
