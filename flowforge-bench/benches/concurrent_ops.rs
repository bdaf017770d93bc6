//! Concurrent Ops: every developer on their own thread at once; naive against optimized, by
//! developer count (the baseline run's rounds; see `benches/common`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use flowforge_core::score::Operation;

fn bench(c: &mut Criterion) {
    common::operation(c, Operation::ConcurrentOps);
}

criterion_group!(benches, bench);
criterion_main!(benches);
