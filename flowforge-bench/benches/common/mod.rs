//! Criterion glue shared by the per-operation benches: the same fixture and the same
//! [`flowforge_bench::ops::Round`]s as the baseline run.
//!
//! Environment: `FLOWFORGE_BENCH_DEVS` (developer counts, default `1,6,10`) and
//! `FLOWFORGE_BENCH_FILES` (tracked files of the repository for Git Sync, default 50,000; the
//! other operations do not read the repository and use 500).

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion};
use flowforge_bench::{
    fixture::{Fixture, FixtureOptions},
    ops::{self, Mode, Subject, Variant},
};
use flowforge_core::score::Operation;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name).ok().map_or_else(
        || default.to_vec(),
        |v| {
            v.split(',')
                .map(|n| n.trim().parse().expect("a comma-separated list of counts"))
                .collect()
        },
    )
}

/// The developer counts: `$FLOWFORGE_BENCH_DEVS` or `1,6,10`.
pub(crate) fn counts() -> Vec<usize> {
    env_list("FLOWFORGE_BENCH_DEVS", &[1, 6, 10])
}

/// Benchmarks `operation` in each of its modes: one group per mode (`session`,
/// `git_sync_after_edit`, …), ids `naive/<devs>` and `optimized/<devs>`.
pub(crate) fn operation(c: &mut Criterion, operation: Operation) {
    let counts = counts();
    let files = if operation == Operation::GitSync {
        env_list("FLOWFORGE_BENCH_FILES", &[50_000])[0]
    } else {
        500
    };
    let max = counts.iter().copied().max().unwrap_or(1);
    let mut fixture = Fixture::create(&FixtureOptions {
        files,
        developers: max,
        ..FixtureOptions::default()
    })
    .expect("the fixture is created");
    for mode in ops::modes(operation) {
        let name = match mode {
            Some(mode) => format!("{}_{}", operation.key(), mode.as_str()),
            None => operation.key().to_owned(),
        };
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for &n in &counts {
            for variant in Variant::ALL {
                bench_cell(&mut group, &mut fixture, operation, variant, mode, n);
            }
        }
        group.finish();
    }
}

fn bench_cell(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fixture: &mut Fixture,
    operation: Operation,
    variant: Variant,
    mode: Option<Mode>,
    n: usize,
) {
    let subject = Subject {
        team: fixture.new_team(n).expect("the team is created"),
        repo: fixture.repo().to_owned(),
        editor: fixture.editor(),
    };
    let mut round = match ops::build(operation, variant, mode, &subject).expect("the round builds")
    {
        Ok(round) => round,
        Err(why) => {
            eprintln!(
                "{} {variant} @ {n}: not measured: {}",
                operation.key(),
                why.reason
            );
            return;
        }
    };
    group.bench_function(BenchmarkId::new(variant.as_str(), n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round.prepare().expect("the round prepares");
                let start = Instant::now();
                round.run().expect("the round answers correctly");
                total += start.elapsed();
            }
            black_box(total)
        })
    });
}
