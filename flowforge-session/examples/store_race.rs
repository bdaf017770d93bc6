//! `store-race`: several processes, each with several threads, increment one counter in one
//! `flowforge_session::store::Store` by compare-and-swap. Prints the conflicts they resolved
//! (lost races that were retried) and the final count, which is exact.
//!
//! ```sh
//! cargo run -p flowforge-session --example store_race -- --processes 4 --threads 4 --adds 200
//! ```
//!
//! The `worker` and `minutes` subcommands are what the processes run; `minutes` adds minutes
//! to a developer's time tracking through `Namespace::add_minutes` (the tests use it, and kill
//! it with SIGKILL).

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use flowforge_core::{DeveloperId, Layout};
use flowforge_session::{
    AddMinutes, Namespace, SessionOptions,
    fs::Durability,
    store::{Key, Store, StoreOptions},
};

#[derive(Debug, Parser)]
#[command(
    name = "store-race",
    about = "Processes and threads racing on one versioned store"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Writer processes to start.
    #[arg(long, default_value_t = 4)]
    processes: u32,
    #[command(flatten)]
    work: Work,
    /// The store directory (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args, Clone)]
struct Work {
    /// Writer threads per process.
    #[arg(long, default_value_t = 4)]
    threads: u32,
    /// Increments per thread.
    #[arg(long, default_value_t = 100)]
    adds: u64,
    /// Do not flush writes (Durability::Relaxed).
    #[arg(long)]
    relaxed: bool,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// One writer process: increment the counter in DIR; prints `conflicts <n>`.
    Worker {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        work: Work,
    },
    /// One writer process: add 1 minute ADDS times per thread to DEV's time tracking under
    /// the namespace root ROOT (forever with --forever).
    Minutes {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        dev: String,
        #[arg(long)]
        forever: bool,
        #[command(flatten)]
        work: Work,
    },
}

fn options(work: &Work) -> StoreOptions {
    let durability = if work.relaxed {
        Durability::Relaxed
    } else {
        Durability::Sync
    };
    StoreOptions {
        // Keep every version so the history can be audited.
        compaction: None,
        ..StoreOptions::with_durability(durability)
    }
}

fn counter_key() -> Key {
    Key::new("counter").expect("a valid key")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Worker { dir, work }) => worker(dir, &work),
        Some(Mode::Minutes {
            root,
            dev,
            forever,
            work,
        }) => minutes(root, &dev, forever, &work),
        None => orchestrate(cli.dir, cli.processes, &cli.work),
    }
}

fn worker(dir: PathBuf, work: &Work) -> anyhow::Result<()> {
    let store = Store::new(dir, options(work));
    let conflicts = AtomicU64::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..work.threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    for _ in 0..work.adds {
                        let mut attempts = 0u64;
                        store.update(&counter_key(), |n: Option<&u64>| {
                            attempts += 1;
                            Ok(n.copied().unwrap_or(0) + 1)
                        })?;
                        conflicts.fetch_add(attempts - 1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a writer thread panicked"))
    })?;
    println!("conflicts {}", conflicts.load(Ordering::Relaxed));
    Ok(())
}

fn minutes(root: PathBuf, dev: &str, forever: bool, work: &Work) -> anyhow::Result<()> {
    let layout = Layout::new(root);
    let dev: DeveloperId = dev.parse()?;
    let options = SessionOptions {
        store: options(work),
    };
    let ns = Namespace::open(&layout, &dev, options)?;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..work.threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let mut done = 0;
                    while forever || done < work.adds {
                        ns.add_minutes(1, &AddMinutes::default())?;
                        done += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a writer thread panicked"))
    })
}

fn orchestrate(dir: Option<PathBuf>, processes: u32, work: &Work) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().join("store"));
    let exe = std::env::current_exe()?;
    let children = (0..processes)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            cmd.arg("worker")
                .arg("--dir")
                .arg(&dir)
                .arg("--threads")
                .arg(work.threads.to_string())
                .arg("--adds")
                .arg(work.adds.to_string())
                .stdout(Stdio::piped());
            if work.relaxed {
                cmd.arg("--relaxed");
            }
            cmd.spawn().context("cannot start a worker")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut total_conflicts = 0;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("worker {i} failed: {}", out.status);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let conflicts: u64 = text
            .trim()
            .strip_prefix("conflicts ")
            .and_then(|n| n.parse().ok())
            .context("worker output")?;
        println!(
            "process {i}: {} threads x {} increments, {conflicts} conflicts resolved",
            work.threads, work.adds
        );
        total_conflicts += conflicts;
    }
    let store = Store::new(&dir, options(work));
    let got = store
        .get::<u64>(&counter_key())?
        .context("the counter exists")?;
    let expected = u64::from(processes) * u64::from(work.threads) * work.adds;
    println!(
        "final count {} (expected {expected}) at version {}; {total_conflicts} conflicts resolved in all",
        got.value, got.version
    );
    if got.value != expected {
        bail!("lost increments: {} of {expected}", got.value);
    }
    Ok(())
}
