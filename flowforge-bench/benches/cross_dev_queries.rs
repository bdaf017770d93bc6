//! Cross-Dev Queries: who holds a task, who is active; naive against optimized, by
//! developer count (the baseline run's rounds; see `benches/common`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use flowforge_core::score::Operation;

fn bench(c: &mut Criterion) {
    common::operation(c, Operation::CrossDevQueries);
}

criterion_group!(benches, bench);
criterion_main!(benches);
