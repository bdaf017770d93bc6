//! The CLI path: one `flowforge` process per question, answered by the repository's warm
//! daemon, against the processes the bash tools run and the process start itself.
//!
//! Needs a built `flowforge` binary beside the bench (`cargo build --release -p flowforge-cli`);
//! without one the group says so and measures nothing. Example:
//! `cargo bench -p flowforge-bench --bench cli -- --warm-up-time 1 --measurement-time 3`

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    process::Command,
};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_bench::fixture::{Fixture, FixtureOptions};

const FILES: usize = 5_000;
const DEVELOPERS: usize = 1_000;

fn run(command: &mut Command) -> Vec<u8> {
    let out = command.output().expect("the process starts");
    assert!(out.status.success(), "{command:?}: {out:?}");
    out.stdout
}

fn flowforge(exe: &Path, repo: &Path, runtime: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(exe);
    command
        .current_dir(repo)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("FLOWFORGE_DAEMON", "require")
        .args(args);
    command
}

fn bench(c: &mut Criterion) {
    let Some(exe) = flowforge_bench::cli::default_flowforge() else {
        eprintln!(
            "cli: no flowforge binary beside the bench; cargo build --release -p flowforge-cli"
        );
        return;
    };
    let fixture = Fixture::create(&FixtureOptions {
        files: FILES,
        developers: DEVELOPERS,
        ..FixtureOptions::default()
    })
    .expect("fixture");
    let repo: PathBuf = fixture.repo().to_owned();
    let runtime = tempfile::Builder::new()
        .prefix("ffd")
        .tempdir_in("/tmp")
        .expect("runtime dir");
    let rt = runtime.path();
    run(&mut flowforge(&exe, &repo, rt, &["daemon", "start"]));
    let editor = fixture.editor();
    let team = fixture.team();

    let mut group = c.benchmark_group("cli");
    group.bench_function("process_start/flowforge_version", |b| {
        b.iter(|| black_box(run(Command::new(&exe).arg("--version"))));
    });
    group.bench_function(BenchmarkId::new("status_porcelain/git", FILES), |b| {
        b.iter(|| {
            black_box(run(Command::new("git")
                .current_dir(&repo)
                .args(["status", "--porcelain"])))
        });
    });
    group.bench_function(
        BenchmarkId::new("status_porcelain/flowforge_daemon_after_edit", FILES),
        |b| {
            b.iter(|| {
                let edited = editor.edit_next_file().expect("edit");
                let out = run(&mut flowforge(&exe, &repo, rt, &["status", "--porcelain"]));
                assert!(
                    String::from_utf8_lossy(&out).contains(&edited),
                    "stale answer"
                );
                black_box(out)
            });
        },
    );
    let mut i = 0;
    group.bench_function(
        BenchmarkId::new("who/jq_task_assignments", DEVELOPERS),
        |b| {
            b.iter(|| {
                i = (i + 1) % DEVELOPERS;
                black_box(run(Command::new("jq")
                    .args(["-r", "--arg", "t", team.tasks[i].as_str()])
                    .arg(".tasks[$t].assignee // \"nobody\"")
                    .arg(team.layout.task_assignments())))
            });
        },
    );
    group.bench_function(BenchmarkId::new("who/flowforge_daemon", DEVELOPERS), |b| {
        b.iter(|| {
            i = (i + 1) % DEVELOPERS;
            black_box(run(&mut flowforge(
                &exe,
                &repo,
                rt,
                &["who", team.tasks[i].as_str()],
            )))
        });
    });
    group.finish();
    let _ = flowforge(&exe, &repo, rt, &["daemon", "stop"]).output();
}

criterion_group!(benches, bench);
criterion_main!(benches);
