//! The cost of recording one metric: cheap enough to leave on.

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use flowforge_core::metrics::{Registry, names};

fn record(c: &mut Criterion) {
    let registry = Registry::new();
    let latency = registry.latency(names::GIT_SYNC_TIME);
    let ratio = registry.ratio(names::CACHE_HIT_RATE);
    let counter = registry.counter(names::CONCURRENT_OPERATIONS);
    let mut group = c.benchmark_group("metrics");
    group.bench_function("latency_record", |b| {
        b.iter(|| latency.record(black_box(Duration::from_micros(1234))))
    });
    group.bench_function("ratio_hit", |b| b.iter(|| black_box(&ratio).hit()));
    group.bench_function("counter_incr", |b| b.iter(|| black_box(&counter).incr()));
    group.bench_function("lookup_and_record", |b| {
        b.iter(|| {
            registry
                .latency(black_box(names::SESSION_CREATE_TIME))
                .record(Duration::from_micros(1))
        })
    });
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
