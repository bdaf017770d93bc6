//! Cross-Dev Queries: who holds a task, who is active; naive against optimized, by
//! developer count (the baseline run's rounds; see `benches/common`), plus the two optimized
//! queries apart (`index_who`, `index_active`), which show what limits the round at large teams.

mod common;

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_bench::fixture::{Fixture, FixtureOptions};
use flowforge_core::score::Operation;
use flowforge_index::Index;

fn bench(c: &mut Criterion) {
    common::operation(c, Operation::CrossDevQueries);
}

fn apart(c: &mut Criterion) {
    let mut fixture = Fixture::create(&FixtureOptions {
        files: 100,
        developers: 1,
        ..FixtureOptions::default()
    })
    .expect("the fixture is created");
    let mut group = c.benchmark_group("cross_dev_queries_apart");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in common::counts() {
        let team = fixture.new_team(n).expect("the team is created");
        let index = Index::build(&team.layout).expect("the index builds");
        let task = &team.tasks[n - 1];
        group.bench_function(BenchmarkId::new("index_who", n), |b| {
            b.iter(|| black_box(index.who(black_box(task))))
        });
        group.bench_function(BenchmarkId::new("index_active", n), |b| {
            b.iter(|| black_box(index.active()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench, apart);
criterion_main!(benches);
