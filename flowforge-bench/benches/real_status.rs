//! Fresh-process `flowforge status --porcelain` against `git status --porcelain` on real
//! repositories you cloned (git.git, gitoxide, libgit2…), warm page cache, in one run: the
//! ordinary case answered in-process (`FLOWFORGE_DAEMON=off`) and by the repository's daemon,
//! and the call right after every tracked file was touched (a stale index, which both refresh
//! once).
//!
//! The repositories are not part of FlowForge: pass their work trees in `FLOWFORGE_REAL_REPO`,
//! separated by `:` as in `PATH`; without it (or without a built `flowforge` beside the bench)
//! the group says so and measures nothing. The stale case rewrites each repository's index (as
//! `git status` does); the daemon case starts the repository's daemon and stops it after.
//! Example: `FLOWFORGE_REAL_REPO=/tmp/git:/tmp/gitoxide:/tmp/libgit2 cargo bench -p
//! flowforge-bench --bench real_status -- --warm-up-time 1 --measurement-time 3`

use std::{
    fs::File,
    hint::black_box,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn git(repo: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(repo).args(["status", "--porcelain"]);
    command
}

/// `flowforge status --porcelain` answered in-process (`daemon = "off"`) or by the
/// repository's daemon (`"require"`).
fn flowforge(exe: &Path, repo: &Path, daemon: &str) -> Command {
    let mut command = Command::new(exe);
    command
        .current_dir(repo)
        .env("FLOWFORGE_DAEMON", daemon)
        .args(["status", "--porcelain"]);
    command
}

/// `flowforge daemon start` or `stop` in `repo`.
fn daemon(exe: &Path, repo: &Path, action: &str) -> Command {
    let mut command = Command::new(exe);
    command.current_dir(repo).args(["daemon", action]);
    command
}

fn run(mut command: Command) -> Vec<u8> {
    let out = command.output().expect("the process starts");
    assert!(out.status.success(), "{command:?}: {out:?}");
    out.stdout
}

/// Every tracked file's modification time set a minute back, as a checkout or build leaves it.
fn touch_all(repo: &Path, files: &[PathBuf]) {
    let past = SystemTime::now() - Duration::from_secs(60);
    for file in files {
        if let Ok(f) = File::options().write(true).open(repo.join(file)) {
            let _ = f.set_modified(past);
        }
    }
    // The status must start in a later second than the touch for the refresh to be cached.
    std::thread::sleep(Duration::from_millis(1_050));
}

fn bench(c: &mut Criterion) {
    let Some(repos) = std::env::var_os("FLOWFORGE_REAL_REPO") else {
        eprintln!("real_status: set FLOWFORGE_REAL_REPO to cloned repositories' work trees");
        return;
    };
    let Some(exe) = flowforge_bench::cli::default_flowforge() else {
        eprintln!(
            "real_status: no flowforge binary beside the bench; cargo build --release -p flowforge-cli"
        );
        return;
    };
    for repo in std::env::split_paths(&repos) {
        bench_repo(c, &exe, &repo);
    }
}

fn bench_repo(c: &mut Criterion, exe: &Path, repo: &Path) {
    let ours = run(flowforge(exe, repo, "off"));
    assert_eq!(
        ours,
        run(git(repo)),
        "flowforge and git disagree on {repo:?}"
    );
    let files: Vec<PathBuf> = run({
        let mut c = Command::new("git");
        c.current_dir(repo).args(["ls-files", "-z"]);
        c
    })
    .split(|&b| b == 0)
    .filter(|p| !p.is_empty())
    .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
    .collect();
    let name = repo
        .file_name()
        .map_or_else(|| "repo".into(), |n| n.to_string_lossy().into_owned());

    let mut group = c.benchmark_group(format!("real_status/{name}"));
    group.sample_size(10);
    group.bench_function("git", |b| b.iter(|| black_box(run(git(repo)))));
    group.bench_function("flowforge", |b| {
        b.iter(|| black_box(run(flowforge(exe, repo, "off"))))
    });
    run(daemon(exe, repo, "start"));
    assert_eq!(
        run(flowforge(exe, repo, "require")),
        ours,
        "the daemon agrees"
    );
    group.bench_function("flowforge_daemon", |b| {
        b.iter(|| black_box(run(flowforge(exe, repo, "require"))))
    });
    run(daemon(exe, repo, "stop"));
    group.bench_function("stale_index/git", |b| {
        b.iter_batched(
            || touch_all(repo, &files),
            |()| black_box(run(git(repo))),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("stale_index/flowforge", |b| {
        b.iter_batched(
            || touch_all(repo, &files),
            |()| black_box(run(flowforge(exe, repo, "off"))),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
