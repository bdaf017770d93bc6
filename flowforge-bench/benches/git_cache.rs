//! flowforge-git's watched cache at 50,000 tracked files: a status unchanged since the last
//! answer (synced and cached), one file edited then a synced status, a cold open, and git sync
//! for 1, 6 and 10 developers (warm and after an edit). Every after-edit answer is checked to
//! contain the edit.
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench git_cache
//! FLOWFORGE_BENCH_FILES=5000 cargo bench -p flowforge-bench --bench git_cache   # quicker
//! ```
//!
//! It also prints, once before measuring, the resident memory of a plain libgit2 status of the
//! fixture and what the view adds on top (watcher, cached status, ref snapshot).

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_bench::fixture::{Editor, Fixture, FixtureOptions};
use flowforge_git::{
    DeveloperRequest, Freshness, GitView, Repo, StatusOptions, ViewOptions, WatchMode,
    status::EntryKind,
};

fn files() -> usize {
    std::env::var("FLOWFORGE_BENCH_FILES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(50_000)
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Edits one more file and returns a check that an answer shows it.
fn edit(editor: &Editor) -> Vec<u8> {
    editor
        .edit_next_file()
        .expect("the fixture file is edited")
        .into_bytes()
}

fn assert_edited(status: &flowforge_git::Status, path: &[u8]) {
    let found = status.entries().into_iter().any(|e| {
        e.path == path
            && matches!(
                e.kind,
                EntryKind::Tracked {
                    unstaged: Some(_),
                    ..
                }
            )
    });
    assert!(
        found,
        "stale answer: {} not shown as modified",
        String::from_utf8_lossy(path)
    );
}

fn bench(c: &mut Criterion) {
    let fixture = Fixture::create(&FixtureOptions {
        files: files(),
        developers: 10,
        ..FixtureOptions::default()
    })
    .expect("the fixture is created");
    let repo = fixture.repo().to_owned();
    let editor = fixture.editor();

    // Memory: libgit2's own share (the index of 50,000 entries, read by any status) first,
    // then what the view adds on the same handle: watcher, cached status, ref snapshot.
    let before = rss();
    let handle = Repo::open(&repo).expect("the repository opens");
    black_box(handle.status(&StatusOptions::default()).expect("status"));
    let engine = rss();
    let view = GitView::new(handle, &ViewOptions::default());
    view.status(Freshness::Synced).expect("status");
    view.refs(Freshness::Synced).expect("refs");
    if let (Some(before), Some(engine), Some(after)) = (before, engine, rss()) {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        eprintln!(
            "git_cache: {} tracked files; resident memory: libgit2 status {:.1} MB, \
             the view (watcher, cache, refs) {:.1} MB more; watching: {}",
            fixture.tracked_files(),
            mb(engine.saturating_sub(before)),
            mb(after.saturating_sub(engine)),
            view.is_watching()
        );
    }

    let mut group = c.benchmark_group("git_cache");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, freshness) in [("synced", Freshness::Synced), ("cached", Freshness::Cached)] {
        group.bench_function(BenchmarkId::new("warm_unchanged", name), |b| {
            b.iter(|| black_box(view.status(freshness).expect("status")))
        });
    }
    group.bench_function("edit_then_synced", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let path = edit(&editor);
                let start = Instant::now();
                let answer = view.status(Freshness::Synced).expect("status");
                total += start.elapsed();
                assert_edited(&answer.value, &path);
            }
            total
        })
    });
    for (name, watch) in [("watched", WatchMode::Watch), ("unwatched", WatchMode::Off)] {
        let options = ViewOptions {
            watch,
            ..ViewOptions::default()
        };
        group.bench_function(BenchmarkId::new("cold_open_and_status", name), |b| {
            b.iter(|| {
                let view = GitView::open(&repo, &options).expect("the view opens");
                black_box(view.status(Freshness::Synced).expect("status"))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("git_cache_sync");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1, 6, 10] {
        let devs: Vec<DeveloperRequest> = fixture
            .first_developers(n)
            .iter()
            .cloned()
            .map(DeveloperRequest::new)
            .collect();
        group.bench_function(BenchmarkId::new("warm", n), |b| {
            b.iter(|| black_box(view.sync(&devs, Freshness::Synced).expect("sync")))
        });
        group.bench_function(BenchmarkId::new("after_edit", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let path = edit(&editor);
                    let start = Instant::now();
                    let report = view.sync(&devs, Freshness::Synced).expect("sync");
                    total += start.elapsed();
                    for dev in &report.developers {
                        assert_edited(dev.status(), &path);
                    }
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
