//! One compare-and-swap update of a session-sized document (~400 bytes) per storage engine,
//! the figures behind the store's choice of engine (see `ARCHITECTURE.md`):
//!
//! - `store_spares`: the file-per-version store as it ships (automatic compaction moves the
//!   versions it drops to spare slots, and each new version is written into a spare and
//!   published with `renameat2(RENAME_NOREPLACE)`);
//! - `store_fresh`: the same without compaction, so each version is a new temporary file
//!   (what a store without spares pays: ext4 allocates the blocks at the rename);
//! - `store_fallocated`: `store_fresh` with the length reserved by `posix_fallocate` first
//!   (`StoreOptions::preallocate`);
//! - `sqlite_wal`: SQLite in WAL mode, `UPDATE kv SET ver = ver + 1, value = ?
//!   WHERE key = ? AND ver = ?` in its own transaction, on an open connection with the
//!   statement prepared.
//!
//! each with `sync` (the store's `Durability::Sync`: two flushes; SQLite `synchronous=FULL`)
//! and `relaxed` (no flush; SQLite `synchronous=NORMAL`, which in WAL mode flushes only at
//! checkpoints).
//!
//! The `open_cas` group is what one short process pays (the CLI's case): open the engine
//! (a new `Store`, whose memo of the latest generation starts empty; a new SQLite connection
//! with its pragmas and the statement prepared), then one compare-and-swap, in each mode; SQLite
//! both as the only connection (closing it checkpoints) and beside one that stays open.
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench publish -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Everything lives under Cargo's target tmp dir (a real disk, so `sync` pays real flushes).

mod store_sample;

use std::{cell::Cell, hint::black_box, path::Path};
use store_sample::{MODES, bench_uncontended_cas, session, tempdir};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_core::model::Session;
use flowforge_session::{
    fs::Durability,
    store::{Key, Store, StoreOptions},
};

/// The update both SQLite groups run: the compare-and-swap of one key.
const SQLITE_CAS: &str =
    "UPDATE kv SET ver = ver + 1, value = ?1 WHERE key = 'session' AND ver = ?2";

fn store_cas(c: &mut Criterion) {
    let mut group = c.benchmark_group("cas");
    let value = session();
    for (mode, durability) in MODES {
        for (engine, compaction, preallocate) in [
            ("store_spares", true, false),
            ("store_fresh", false, false),
            ("store_fallocated", false, true),
        ] {
            let dir = tempdir();
            let defaults = StoreOptions::with_durability(durability);
            let store = Store::new(
                dir.path(),
                StoreOptions {
                    preallocate,
                    compaction: defaults.compaction.filter(|_| compaction),
                    ..defaults
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
        let db = sqlite_open(dir.path(), durability);
        sqlite_create(&db, &value);
        let mut update = db.prepare(SQLITE_CAS).expect("prepare");
        let version = Cell::new(1i64);
        group.bench_function(BenchmarkId::new("sqlite_wal", mode), |b| {
            b.iter(|| {
                sqlite_cas(&mut update, black_box(&value), version.get());
                version.set(version.get() + 1);
            })
        });
    }
    group.finish();
}

fn open_cas(c: &mut Criterion) {
    let mut group = c.benchmark_group("open_cas");
    let value = session();
    let key = Key::new("session").expect("valid key");
    for (mode, durability) in MODES {
        let dir = tempdir();
        let options = || StoreOptions::with_durability(durability);
        let version = Store::new(dir.path(), options())
            .create(&key, &value)
            .expect("create")
            .swapped()
            .expect("new key");
        let version = Cell::new(version);
        group.bench_function(BenchmarkId::new("store_spares", mode), |b| {
            b.iter(|| {
                let store = Store::new(dir.path(), options());
                let next = store
                    .compare_and_swap(&key, Some(version.get()), black_box(&value))
                    .expect("cas")
                    .swapped()
                    .expect("uncontended");
                version.set(next);
            })
        });

        // Alone, each process is the database's last connection: closing it checkpoints the
        // WAL into the database and deletes it. Beside a connection that stays open (another
        // process, or a daemon), it does not.
        for (engine, beside) in [
            ("sqlite_wal_alone", false),
            ("sqlite_wal_beside_another", true),
        ] {
            let dir = tempdir();
            let first = sqlite_open(dir.path(), durability);
            sqlite_create(&first, &value);
            let _other = beside.then_some(first);
            let version = Cell::new(1i64);
            group.bench_function(BenchmarkId::new(engine, mode), |b| {
                b.iter(|| {
                    let db = sqlite_open(dir.path(), durability);
                    let mut update = db.prepare(SQLITE_CAS).expect("prepare");
                    sqlite_cas(&mut update, black_box(&value), version.get());
                    version.set(version.get() + 1);
                })
            });
        }
    }
    group.finish();
}

/// Opens (creating) `store.db` in `dir` in WAL mode with the synchronous level of `durability`.
fn sqlite_open(dir: &Path, durability: Durability) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(dir.join("store.db")).expect("open");
    let synchronous = match durability {
        Durability::Sync => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    db.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};"
    ))
    .expect("pragmas");
    db
}

/// Creates the table and the key's first version.
fn sqlite_create(db: &rusqlite::Connection, value: &Session) {
    db.execute_batch(
        "CREATE TABLE kv (key TEXT PRIMARY KEY, ver INTEGER NOT NULL, value BLOB NOT NULL);",
    )
    .expect("schema");
    let bytes = serde_json::to_vec(value).expect("serialise");
    db.execute(
        "INSERT INTO kv (key, ver, value) VALUES ('session', 1, ?1)",
        [&bytes],
    )
    .expect("insert");
}

/// One uncontended compare-and-swap from `version`.
fn sqlite_cas(update: &mut rusqlite::Statement<'_>, value: &Session, version: i64) {
    let bytes = serde_json::to_vec(value).expect("serialise");
    let changed = update
        .execute(rusqlite::params![bytes, version])
        .expect("update");
    assert_eq!(changed, 1, "uncontended");
}

criterion_group!(benches, store_cas, open_cas);
criterion_main!(benches);
