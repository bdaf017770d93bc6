//! N simulated developers share one watched view of git while files change: each thread asks
//! for its synced git view every few milliseconds, a writer edits and creates files meanwhile,
//! and at the end every developer's last answer is compared with `git status --porcelain`.
//!
//! ```sh
//! cargo run --release -p flowforge-git --example shared_git_view [-- DEVELOPERS [REPO]]
//! ```
//!
//! Without `REPO` a small demonstration repository is created (with the `git` CLI) in a
//! temporary directory. With `REPO` the writer works in `flowforge-demo/` inside it and removes
//! that directory at the end.

use std::{
    path::{Path, PathBuf},
    sync::{
        Barrier,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use flowforge_core::DeveloperId;
use flowforge_git::{DeveloperRequest, Fresh, Freshness, GitView, ViewOptions};

const ROUNDS: usize = 40;

/// What one developer saw in one round.
struct Seen {
    dirty_lines: usize,
    computed: bool,
}

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = flowforge_testkit::git::run(repo, args)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A repository of 200 files in 20 directories, one commit.
fn demo_repo(dir: &Path) -> anyhow::Result<PathBuf> {
    let repo = dir.join("demo");
    for d in 0..20 {
        std::fs::create_dir_all(repo.join(format!("src/m{d}")))?;
        for f in 0..10 {
            std::fs::write(
                repo.join(format!("src/m{d}/f{f}.rs")),
                format!("// {d}/{f}\n"),
            )?;
        }
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "demo"])?;
    Ok(repo)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let developers: usize = args.next().map_or(Ok(6), |n| n.parse())?;
    let tmp = tempfile::tempdir()?;
    let repo = match args.next() {
        Some(path) => PathBuf::from(path),
        None => demo_repo(tmp.path())?,
    };
    let work = repo.join("flowforge-demo");

    let opened = Instant::now();
    let view = GitView::open(&repo, &ViewOptions::default())?;
    println!(
        "opened {} in {:.1} ms, watching: {}",
        repo.display(),
        opened.elapsed().as_secs_f64() * 1000.0,
        view.not_watching_because()
            .map_or_else(|| "yes".to_owned(), |why| format!("no ({why})"))
    );

    let ids: Vec<DeveloperId> = (1..=developers)
        .map(|i| DeveloperId::new(&format!("dev{i}")))
        .collect::<Result<_, _>>()?;
    let done = AtomicBool::new(false);
    let start = Barrier::new(developers + 1);
    let started = Instant::now();
    let seen: Vec<Vec<Seen>> = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> anyhow::Result<usize> {
            start.wait();
            let mut edits = 0;
            while !done.load(Ordering::Relaxed) {
                let dir = work.join(format!("batch{}", edits / 10));
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join(format!("file{edits}.txt")), "new\n")?;
                let tracked = repo.join(format!("src/m{}/f{}.rs", edits % 20, edits % 10));
                if tracked.exists() {
                    std::fs::write(&tracked, format!("// edited {edits}\n"))?;
                }
                edits += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
            Ok(edits)
        });
        let readers: Vec<_> = ids
            .iter()
            .map(|id| {
                let view = &view;
                let start = &start;
                scope.spawn(move || -> anyhow::Result<Vec<Seen>> {
                    start.wait();
                    let me = [DeveloperRequest::new(id.clone())];
                    let mut rounds = Vec::with_capacity(ROUNDS);
                    for _ in 0..ROUNDS {
                        let report = view.sync(&me, Freshness::Synced)?;
                        let dirty = report.developers[0].dirty;
                        rounds.push(Seen {
                            dirty_lines: dirty.staged.max(dirty.unstaged) + dirty.untracked,
                            computed: report.status.computed,
                        });
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Ok(rounds)
                })
            })
            .collect();
        let seen = readers
            .into_iter()
            .map(|r| r.join().expect("reader thread"))
            .collect::<anyhow::Result<Vec<_>>>();
        done.store(true, Ordering::Relaxed);
        let edits = writer.join().expect("writer thread");
        println!(
            "{developers} developers x {ROUNDS} synced questions in {:.0} ms while {} edits were made",
            started.elapsed().as_secs_f64() * 1000.0,
            edits.as_ref().map_or(0, |n| *n)
        );
        seen
    })?;

    for (id, rounds) in ids.iter().zip(&seen) {
        let computed = rounds.iter().filter(|r| r.computed).count();
        let lines: Vec<String> = rounds.iter().map(|r| r.dirty_lines.to_string()).collect();
        println!(
            "{id:>6}: dirty lines seen {} (computed {computed} of {ROUNDS})",
            lines.join(" ")
        );
    }
    let stats = view.stats();
    let questions = developers * ROUNDS;
    println!(
        "{questions} questions, {} computations ({} full, {} incremental), {} answered without computing",
        stats.misses, stats.full_computations, stats.incremental_refreshes, stats.hits
    );

    // The last word: a synced answer equals git's.
    let last = view.status(Freshness::Synced)?;
    let ours = String::from_utf8(last.value.porcelain(Default::default()))?;
    let theirs = git(&repo, &["--no-optional-locks", "status", "--porcelain"])?;
    println!(
        "final synced answer ({}) equals `git status --porcelain`: {}",
        match last.fresh {
            Fresh::Synced => "synced",
            Fresh::Recomputed => "recomputed",
            _ => "other",
        },
        ours == theirs
    );
    if std::fs::remove_dir_all(&work).is_err() {
        eprintln!("could not remove {}", work.display());
    }
    if ours != theirs {
        bail!("the synced answer differs from git's");
    }
    Ok(())
}
