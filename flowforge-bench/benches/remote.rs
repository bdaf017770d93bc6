//! Team state through a git remote (`flowforge-remote`) over a bare repository on the local
//! file system: claim, time-entry publication and pull at 1, 10 and 100 clones, a plain
//! `git push` of one ref as the floor, and claim and plain push as live claims grow.
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench remote -- --warm-up-time 1 --measurement-time 3
//! FLOWFORGE_BENCH_CLONES=1,10 FLOWFORGE_BENCH_LIVE=100 cargo bench -p flowforge-bench --bench remote
//! ```
//!
//! The same rounds as `flowforge-bench --ops remote_claims`; only the timed part of each is
//! counted (a claim's release and a publication's new entry are not).

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_bench::remote_claims::RemoteBench;

fn counts(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var).ok().map_or_else(
        || default.to_vec(),
        |v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    )
}

type Step =
    fn(&mut RemoteBench) -> Result<Duration, flowforge_bench::remote_claims::RemoteBenchError>;

fn measure(
    c: &mut Criterion,
    group: &str,
    param: usize,
    bench: &mut RemoteBench,
    steps: &[(&str, Step)],
) {
    let mut g = c.benchmark_group(group);
    for (name, step) in steps {
        g.bench_function(BenchmarkId::new(*name, param), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| black_box(step(bench).expect("the round succeeds")))
                    .sum()
            });
        });
    }
    g.finish();
}

fn by_clones(c: &mut Criterion) {
    for n in counts("FLOWFORGE_BENCH_CLONES", &[1, 10, 100]) {
        let mut bench = RemoteBench::new(n, 0).expect("set-up");
        let steps: [(&str, Step); 4] = [
            ("plain_push", RemoteBench::plain_push),
            ("claim", RemoteBench::claim),
            ("publish", RemoteBench::publish),
            ("pull", RemoteBench::pull),
        ];
        measure(c, "remote", n, &mut bench, &steps);
    }
}

fn by_live_claims(c: &mut Criterion) {
    for live in counts("FLOWFORGE_BENCH_LIVE", &[100, 1000]) {
        let mut bench = RemoteBench::new(1, live).expect("set-up");
        let steps: [(&str, Step); 2] = [
            ("plain_push", RemoteBench::plain_push),
            ("claim", RemoteBench::claim),
        ];
        measure(c, "remote_live_claims", live, &mut bench, &steps);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = by_clones, by_live_claims
}
criterion_main!(benches);
