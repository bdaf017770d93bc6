//! What the store benches share: the two durability modes, a temporary directory on a real
//! disk (Cargo's target tmp dir, so `Sync` pays real flushes) and a small session as the bash
//! tools write it.

use std::{cell::Cell, hint::black_box};

use criterion::{BenchmarkGroup, BenchmarkId, measurement::WallTime};
use flowforge_core::{DeveloperId, TaskId, model::Session};
use flowforge_session::{
    fs::Durability,
    store::{Key, Store},
};
use jiff::Timestamp;

/// Each durability mode with its name in the benchmark ids.
pub(crate) const MODES: [(&str, Durability); 2] =
    [("sync", Durability::Sync), ("relaxed", Durability::Relaxed)];

/// A temporary directory under Cargo's target tmp dir.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory")
}

/// A small session (~400 bytes), as the bash tools write it.
pub(crate) fn session() -> Session {
    Session {
        active: true,
        session_id: "session-1758189600000-4242-0".to_owned(),
        start_time: Timestamp::now(),
        task_id: Some(TaskId::new("feature-auth-42").expect("valid")),
        developer_id: DeveloperId::new("alice").expect("valid"),
        branch: Some("feature/42-auth".to_owned()),
        provider: Some("github".to_owned()),
        metadata: serde_json::Map::new(),
        end_time: None,
        extra: serde_json::Map::new(),
    }
}

/// Benchmarks `id`: one uncontended compare-and-swap of `value` on a new key `key` of `store`
/// per iteration, each on the version the previous one wrote.
pub(crate) fn bench_uncontended_cas(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    store: &Store,
    key: &str,
    value: &Session,
) {
    let key = Key::new(key).expect("valid key");
    let version = store
        .create(&key, value)
        .expect("create")
        .swapped()
        .expect("new key");
    let version = Cell::new(version);
    group.bench_function(id, |b| {
        b.iter(|| {
            let next = store
                .compare_and_swap(&key, Some(version.get()), black_box(value))
                .expect("cas")
                .swapped()
                .expect("uncontended");
            version.set(next);
        })
    });
}
