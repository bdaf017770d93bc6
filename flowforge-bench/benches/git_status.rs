//! Working-tree status on a generated repository (default 50,000 tracked files in about 1,000
//! directories): flowforge-git against `git status --porcelain` as a process.
//!
//! Groups: `git_status_cold` (a new `Repo` and a full status from nothing, against one git
//! process and against libgit2's diffs alone), `git_status_warm` (a full status again on an open `Repo`, nothing changed), and
//! `git_status_one_edit` (one tracked file edited, then the kept status refreshed for that path,
//! against one git process).
//!
//! `FLOWFORGE_BENCH_FILES` sets the number of tracked files.

use std::{hint::black_box, path::PathBuf, time::Duration};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_bench::fixture::{Fixture, FixtureOptions};
use flowforge_git::{Engine, PorcelainOptions, Repo, StatusOptions};

fn git_status(repo: &std::path::Path) -> Vec<u8> {
    flowforge_testkit::git::ok(repo, &["status", "--porcelain"])
}

fn bench(c: &mut Criterion) {
    let files = std::env::var("FLOWFORGE_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let fixture = Fixture::create(&FixtureOptions {
        files,
        developers: 1,
        ..FixtureOptions::default()
    })
    .expect("the fixture is created");
    let path = fixture.repo().to_path_buf();
    let options = StatusOptions::default();

    // Both must agree before anything is timed.
    let repo = Repo::open(&path).expect("open");
    let ours = repo.status(&options).expect("status");
    assert_eq!(
        ours.porcelain(PorcelainOptions::default()),
        git_status(&path)
    );

    let mut group = c.benchmark_group("git_status_cold");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function(BenchmarkId::new("flowforge", files), |b| {
        b.iter(|| {
            let repo = Repo::open(black_box(&path)).expect("open");
            black_box(repo.status(&options).expect("status"))
        });
    });
    group.bench_function(BenchmarkId::new("git_process", files), |b| {
        b.iter(|| black_box(git_status(black_box(&path))));
    });
    let mut libgit2_only = StatusOptions::default();
    libgit2_only.engine = Engine::Libgit2;
    group.bench_function(BenchmarkId::new("flowforge_libgit2_only", files), |b| {
        b.iter(|| {
            let repo = Repo::open(black_box(&path)).expect("open");
            black_box(repo.status(&libgit2_only).expect("status"))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("git_status_warm");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("flowforge", files), |b| {
        b.iter(|| black_box(repo.status(&options).expect("status")));
    });
    group.finish();

    let editor = fixture.editor();
    let mut group = c.benchmark_group("git_status_one_edit");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut kept = repo.track_status(&options).expect("status");
    group.bench_function(BenchmarkId::new("flowforge_refresh", files), |b| {
        b.iter(|| {
            let edited = editor.edit_next_file().expect("edit");
            kept.refresh_paths(&repo, &[PathBuf::from(edited)])
                .expect("refresh");
            black_box(kept.status().changed_count())
        });
    });
    group.bench_function(BenchmarkId::new("git_process", files), |b| {
        b.iter(|| {
            editor.edit_next_file().expect("edit");
            black_box(git_status(&path))
        });
    });
    group.finish();

    // The kept status is still exactly git's.
    assert_eq!(
        kept.status().porcelain(PorcelainOptions::default()),
        git_status(&path)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
