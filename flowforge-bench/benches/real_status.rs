//! Fresh-process `flowforge status --porcelain` against `git status --porcelain` on a real
//! repository you cloned (git.git, gitoxide, libgit2…), warm page cache, in one run: the
//! ordinary case, and the call right after every tracked file was touched (a stale index, which
//! both refresh once).
//!
//! The repository is not part of FlowForge: pass its work tree in `FLOWFORGE_REAL_REPO`; without
//! it (or without a built `flowforge` beside the bench) the group says so and measures nothing.
//! The stale case rewrites the repository's index (as `git status` does). Example:
//! `FLOWFORGE_REAL_REPO=/tmp/libgit2 cargo bench -p flowforge-bench --bench real_status --
//! --warm-up-time 1 --measurement-time 3`

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

fn flowforge(exe: &Path, repo: &Path) -> Command {
    let mut command = Command::new(exe);
    // A fresh process answers: no daemon.
    command
        .current_dir(repo)
        .env("FLOWFORGE_DAEMON", "off")
        .args(["status", "--porcelain"]);
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
    let Some(repo) = std::env::var_os("FLOWFORGE_REAL_REPO").map(PathBuf::from) else {
        eprintln!("real_status: set FLOWFORGE_REAL_REPO to a cloned repository's work tree");
        return;
    };
    let Some(exe) = flowforge_bench::cli::default_flowforge() else {
        eprintln!(
            "real_status: no flowforge binary beside the bench; cargo build --release -p flowforge-cli"
        );
        return;
    };
    let ours = run(flowforge(&exe, &repo));
    assert_eq!(
        ours,
        run(git(&repo)),
        "flowforge and git disagree on {repo:?}"
    );
    let files: Vec<PathBuf> = run({
        let mut c = Command::new("git");
        c.current_dir(&repo).args(["ls-files", "-z"]);
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
    group.bench_function("git", |b| b.iter(|| black_box(run(git(&repo)))));
    group.bench_function("flowforge", |b| {
        b.iter(|| black_box(run(flowforge(&exe, &repo))))
    });
    group.bench_function("stale_index/git", |b| {
        b.iter_batched(
            || touch_all(&repo, &files),
            |()| black_box(run(git(&repo))),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("stale_index/flowforge", |b| {
        b.iter_batched(
            || touch_all(&repo, &files),
            |()| black_box(run(flowforge(&exe, &repo))),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
