//! Git Sync: every developer's view of git, cold, warm and after an edit; naive against optimized, by
//! developer count (the baseline run's rounds; see `benches/common`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use flowforge_core::score::Operation;

fn bench(c: &mut Criterion) {
    common::operation(c, Operation::GitSync);
}

criterion_group!(benches, bench);
criterion_main!(benches);
