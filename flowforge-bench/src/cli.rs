//! The CLI path: every developer is a separate process, as the bash tools, shell prompts and
//! coding agents call FlowForge.
//!
//! Naive is what the bash tools run per developer: a `git status --porcelain` and a
//! `git rev-parse HEAD` process for git sync, a `jq` over `team/task-assignments.json` for who
//! holds a task. Optimized is the `flowforge` binary answered by the repository's warm daemon
//! (`FLOWFORGE_DAEMON=require`). Every timed status call follows an edit and must show it, and
//! `who` is timed twice: with nothing changed, and right after a claim change made by another
//! process, which the answer must show: a stale answer fails the run. The references are one
//! `git status --porcelain` process and the process start itself (`flowforge --version`). The
//! `who` targets divide by a `flowforge --version` timed between the `who` calls themselves
//! (untimed for them), so both sides of the ratio see the same load: on a shared machine the
//! load drifts within a run, and a reference timed minutes earlier moved the ratio by 2×.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Instant,
};

use flowforge_core::TaskId;
use flowforge_session::{Namespace, SessionOptions, StartOptions};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    fixture::{Fixture, Team},
    stats::Summary,
};

/// The operation of the `who` rows timed right after a claim change.
pub const WHO_AFTER_CLAIM: &str = "who_claim";

/// The largest team whose git sync is measured.
pub const SYNC_MAX_DEVELOPERS: usize = 100;

/// What to measure on the CLI path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliOptions {
    /// The `flowforge` binary (a release build to mean anything).
    pub flowforge: PathBuf,
    /// Developer counts for `sync` and `who`.
    pub developers: Vec<usize>,
    /// Timed rounds per cell, after one untimed round.
    pub samples: usize,
}

/// One measured CLI cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CliRow {
    /// `status`, `git_sync`, `who` (nothing changed since the previous question) or
    /// `who_claim` (right after a claim change).
    pub operation: String,
    /// `naive` or `optimized`.
    pub variant: String,
    /// Always `cli`: each developer a process.
    pub via: String,
    /// The developer count (1 for status).
    pub developers: usize,
    /// Median round time.
    pub median_ms: f64,
    /// 95th percentile round time.
    pub p95_ms: f64,
    /// Timed rounds.
    pub samples: usize,
}

/// One of the CLI path's targets, as a ratio measured in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CliTarget {
    /// What is compared.
    pub name: String,
    /// The measured ratio.
    pub ratio: f64,
    /// `<=` or `>=` the goal.
    pub goal: String,
    /// Whether it is met.
    pub met: bool,
    /// The median of the reference the ratio divides by, in ms, where it was timed for this
    /// target (`flowforge --version` between the calls measured).
    #[serde(default)]
    pub reference_ms: Option<f64>,
}

/// Everything the CLI path measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CliReport {
    /// The `flowforge` binary measured.
    pub flowforge: PathBuf,
    /// Median of `flowforge --version` (the process start).
    pub version_ms: f64,
    /// Median of one `git status --porcelain` process.
    pub git_status_ms: f64,
    /// The rows.
    pub rows: Vec<CliRow>,
    /// The daemon's resident memory after the run, with every team's index loaded.
    pub daemon_rss_mib: Option<f64>,
    /// Of which the git view's part: the growth while it was opened and first computed.
    #[serde(default)]
    pub daemon_git_mib: Option<f64>,
    /// Of which the namespace indexes' part (every root asked about), likewise.
    #[serde(default)]
    pub daemon_index_mib: Option<f64>,
    /// The targets.
    pub targets: Vec<CliTarget>,
}

/// The `flowforge` binary beside this executable (`target/<profile>/`), if built.
pub fn default_flowforge() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("flowforge"), dir.parent()?.join("flowforge")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The repository's daemon, started for the run in a private runtime directory and stopped
/// when dropped.
struct Daemon {
    flowforge: PathBuf,
    repo: PathBuf,
    runtime: tempfile::TempDir,
}

impl Daemon {
    fn start(flowforge: &Path, repo: &Path) -> Result<Self> {
        let runtime = tempfile::Builder::new()
            .prefix("ffd")
            .tempdir_in("/tmp")
            .map_err(Error::io("cannot create a runtime directory in", "/tmp"))?;
        let daemon = Self {
            flowforge: flowforge.to_owned(),
            repo: repo.to_owned(),
            runtime,
        };
        daemon.checked("daemon start", &["daemon", "start"], None)?;
        Ok(daemon)
    }

    fn command(&self, args: &[&str], root: Option<&Path>) -> Command {
        let mut command = Command::new(&self.flowforge);
        command
            .current_dir(&self.repo)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("FLOWFORGE_DAEMON", "require")
            .env_remove("FLOWFORGE_DEVELOPER");
        if let Some(root) = root {
            command.arg("--root").arg(root);
        }
        command.args(args);
        command
    }

    fn checked(&self, what: &'static str, args: &[&str], root: Option<&Path>) -> Result<Output> {
        output(what, self.command(args, root))
    }

    /// The daemon's resident memory, and the parts its git view and its indexes took when
    /// opened, in MiB (from `daemon status --json`).
    fn memory_mib(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let Ok(out) = self.checked("daemon status", &["daemon", "status", "--json"], None) else {
            return (None, None, None);
        };
        let Ok(status) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return (None, None, None);
        };
        let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
        let daemon = &status["daemon"];
        let rss = daemon["memory_rss_bytes"].as_u64().map(mib);
        let trees = daemon["handler"]["work_trees"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // One git view per work tree, whatever the number of namespace roots in it.
        let mut git = std::collections::BTreeMap::new();
        let mut index = 0;
        for tree in &trees {
            if let Some(bytes) = tree["git"]["memory_bytes_when_opened"].as_u64() {
                git.insert(tree["work_tree"].to_string(), bytes);
            }
            index += tree["index"]["memory_bytes_when_opened"]
                .as_u64()
                .unwrap_or(0);
        }
        let git = (!git.is_empty()).then(|| mib(git.values().sum()));
        let index = (!trees.is_empty()).then(|| mib(index));
        (rss, git, index)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.command(&["daemon", "stop"], None).output();
    }
}

/// Runs a process to completion; a failure to start or a non-zero exit is an error.
fn output(what: &'static str, mut command: Command) -> Result<Output> {
    let out = command.output().map_err(Error::io(
        "cannot run",
        PathBuf::from(command.get_program()),
    ))?;
    if !out.status.success() {
        return Err(Error::WrongAnswer {
            operation: what,
            variant: "cli",
            detail: format!(
                "{} exited with {}: {}",
                command.get_program().to_string_lossy(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(out)
}

/// Times `samples` rounds of `round` after one untimed round.
fn time(samples: usize, round: impl FnMut(bool) -> Result<()>) -> Result<Summary> {
    time_prepared(samples, || Ok(()), round)
}

/// Like [`time`], with `prepare` run untimed right before each round (a change the round's
/// answer must show).
fn time_prepared(
    samples: usize,
    mut prepare: impl FnMut() -> Result<()>,
    mut round: impl FnMut(bool) -> Result<()>,
) -> Result<Summary> {
    prepare()?;
    round(false)?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        prepare()?;
        let start = Instant::now();
        round(true)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Summary::of(&times).ok_or_else(|| Error::InvalidOptions {
        reason: "no samples".to_owned(),
    })
}

fn git(repo: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command.current_dir(repo).args(args);
    command
}

fn row(operation: &str, variant: &str, developers: usize, s: &Summary, samples: usize) -> CliRow {
    CliRow {
        operation: operation.to_owned(),
        variant: variant.to_owned(),
        via: "cli".to_owned(),
        developers,
        median_ms: s.median_ms,
        p95_ms: s.p95_ms,
        samples,
    }
}

/// Measures the CLI path on `fixture`; see the [module documentation](self).
///
/// # Errors
/// [`Error::InvalidOptions`] without a `flowforge` binary; [`Error::WrongAnswer`] when a
/// process fails or an answer is stale or wrong; [`Error::Io`] when a process cannot start.
pub fn run(fixture: &mut Fixture, options: &CliOptions) -> Result<CliReport> {
    if !options.flowforge.is_file() || options.samples == 0 {
        return Err(Error::InvalidOptions {
            reason: format!(
                "no flowforge binary at {} (cargo build --release -p flowforge-cli)",
                options.flowforge.display()
            ),
        });
    }
    let samples = options.samples;
    let repo = fixture.repo().to_owned();
    let flowforge = options.flowforge.clone();
    let mut rows = Vec::new();

    let version_once = || {
        let mut command = Command::new(&flowforge);
        command.arg("--version");
        output("flowforge --version", command).map(drop)
    };
    let version = time(samples, |_| version_once())?;
    // One `flowforge --version` timed between the calls a ratio compares with it, so both
    // sides of the ratio see the same load (a shared machine's load drifts within a run).
    let timed_version = |times: &mut Vec<f64>| -> Result<()> {
        let start = Instant::now();
        version_once()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        Ok(())
    };
    let git_status = time(samples, |_| {
        output("git status", git(&repo, &["status", "--porcelain"])).map(drop)
    })?;

    let daemon = Daemon::start(&flowforge, &repo)?;
    // Status, warm: an edit right before each call must be in its answer.
    let editor = fixture.editor();
    let status = time(samples, |_| {
        let edited = editor.edit_next_file()?;
        let out = daemon.checked("status", &["status", "--porcelain"], None)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !text.lines().any(|l| l.ends_with(&edited)) {
            return Err(Error::WrongAnswer {
                operation: "status",
                variant: "optimized",
                detail: format!("{edited} edited before the call is missing: stale answer"),
            });
        }
        Ok(())
    })?;
    rows.push(row("status", "naive", 1, &git_status, samples));
    rows.push(row("status", "optimized", 1, &status, samples));

    let mut sync_10 = None;
    let mut who_1000 = None;
    let mut who_claim_1000 = None;
    let mut counts = options.developers.clone();
    counts.sort_unstable();
    counts.dedup();
    for &n in &counts {
        // Every CLI call only reads: the repository's own team serves its size (creating
        // another 1,000 developers would double the fixture's time), a new team any other.
        let own = fixture.team();
        let team: Team = if own.len() == n {
            own
        } else {
            fixture.new_team(n)?
        };
        fixture.settle()?;
        let root = team.layout.root().to_owned();
        // Git sync: one process (or two, naive) per developer; up to SYNC_MAX_DEVELOPERS (the
        // naive round at 1,000 would be 2,000 processes, each a status of the whole tree).
        if n <= SYNC_MAX_DEVELOPERS {
            let naive = time(samples, |_| {
                editor.edit_next_file()?;
                for _ in 0..n {
                    output("git status", git(&repo, &["status", "--porcelain"]))?;
                    output("git rev-parse", git(&repo, &["rev-parse", "HEAD"]))?;
                }
                Ok(())
            })?;
            let optimized = time(samples, |_| {
                editor.edit_next_file()?;
                for dev in &team.developers {
                    daemon.checked("git_sync", &["sync", "--dev", dev.as_str()], Some(&root))?;
                }
                Ok(())
            })?;
            if n == 10 {
                sync_10 = Some(naive.median_ms / optimized.median_ms);
            }
            rows.push(row("git_sync", "naive", n, &naive, samples));
            rows.push(row("git_sync", "optimized", n, &optimized, samples));
        }

        // Who holds a task: one process per question, twice. First with nothing changed
        // since the previous question; then right after a claim change, the common case of an
        // agent claiming a task while teammates ask who holds it: right before each call
        // (untimed) a developer starts a session on a new task, which claims it in another
        // process, and the answer must name them or the run fails as stale.
        let assignments = team.layout.task_assignments();
        let jq = |i: usize, task: &TaskId| -> Result<()> {
            let mut command = Command::new("jq");
            command
                .args(["-r", "--arg", "t", task.as_str()])
                .arg(".tasks[$t].assignee // \"nobody\"")
                .arg(&assignments);
            let out = output("who", command)?;
            check_holder("naive", &out, team.developers[i].as_str())
        };
        let mut k = 0;
        let naive = time(samples, |_| {
            k += 1;
            let i = k % n;
            jq(i, &team.tasks[i])
        })?;
        let mut between = Vec::with_capacity(samples + 1);
        let optimized = time_prepared(
            samples,
            || timed_version(&mut between),
            |_| {
                k += 1;
                let i = k % n;
                let out = daemon.checked("who", &["who", team.tasks[i].as_str()], Some(&root))?;
                check_holder("optimized", &out, team.developers[i].as_str())
            },
        )?;
        rows.push(row("who", "naive", n, &naive, samples));
        rows.push(row("who", "optimized", n, &optimized, samples));
        if n == 1000 {
            who_1000 = Summary::of(&between).map(|v| (optimized.median_ms, v.median_ms));
        }

        let moved = std::cell::Cell::new(0);
        let mut claim = || -> Result<()> {
            k += 1;
            let i = k % n;
            let task = TaskId::new(&format!("cli-{k}"))?;
            Namespace::open(&team.layout, &team.developers[i], SessionOptions::relaxed())?
                .start_session(
                    &task,
                    &StartOptions {
                        replace: true,
                        ..StartOptions::default()
                    },
                )?;
            moved.set(k);
            Ok(())
        };
        let moved_task = || -> Result<(usize, TaskId)> {
            let k = moved.get();
            Ok((k % n, TaskId::new(&format!("cli-{k}"))?))
        };
        let naive = time_prepared(samples, &mut claim, |_| {
            let (i, task) = moved_task()?;
            jq(i, &task)
        })?;
        let mut between = Vec::with_capacity(samples + 1);
        let mut version_then_claim = || {
            timed_version(&mut between)?;
            claim()
        };
        let optimized = time_prepared(samples, &mut version_then_claim, |_| {
            let (i, task) = moved_task()?;
            let out = daemon.checked("who", &["who", task.as_str()], Some(&root))?;
            check_holder("optimized", &out, team.developers[i].as_str())
        })?;
        if n == 1000 {
            who_claim_1000 = Summary::of(&between).map(|v| (optimized.median_ms, v.median_ms));
        }
        rows.push(row(WHO_AFTER_CLAIM, "naive", n, &naive, samples));
        rows.push(row(WHO_AFTER_CLAIM, "optimized", n, &optimized, samples));
    }

    let mut targets = vec![CliTarget {
        name: "CLI status --porcelain, warm / one git status --porcelain".to_owned(),
        ratio: status.median_ms / git_status.median_ms,
        goal: "<= 0.1".to_owned(),
        met: status.median_ms / git_status.median_ms <= 0.1,
        reference_ms: None,
    }];
    if let Some(ratio) = sync_10 {
        targets.push(CliTarget {
            name: "CLI git sync, 10 developers as 10 processes: naive / optimized".to_owned(),
            ratio,
            goal: ">= 20".to_owned(),
            met: ratio >= 20.0,
            reference_ms: None,
        });
    }
    if let Some((who, version)) = who_1000 {
        targets.push(CliTarget {
            name: "CLI who at 1,000 developers / flowforge --version".to_owned(),
            ratio: who / version,
            goal: "<= 2".to_owned(),
            met: who / version <= 2.0,
            reference_ms: Some(version),
        });
    }
    if let Some((who, version)) = who_claim_1000 {
        targets.push(CliTarget {
            name: "CLI who at 1,000 developers right after a claim change / flowforge --version"
                .to_owned(),
            ratio: who / version,
            goal: "<= 2".to_owned(),
            met: who / version <= 2.0,
            reference_ms: Some(version),
        });
    }
    let (daemon_rss_mib, daemon_git_mib, daemon_index_mib) = daemon.memory_mib();
    if let Some(git) = daemon_git_mib {
        targets.push(CliTarget {
            name: "daemon memory, git part (MiB)".to_owned(),
            ratio: git,
            goal: "<= 10".to_owned(),
            met: git <= 10.0,
            reference_ms: None,
        });
    }
    Ok(CliReport {
        flowforge,
        version_ms: version.median_ms,
        git_status_ms: git_status.median_ms,
        rows,
        daemon_rss_mib,
        daemon_git_mib,
        daemon_index_mib,
        targets,
    })
}

fn check_holder(variant: &'static str, out: &Output, holder: &str) -> Result<()> {
    let text = String::from_utf8_lossy(&out.stdout);
    // jq prints the name alone; flowforge `<task>: held by <dev> (<status>, since <time>)`.
    let named = text.trim() == holder || text.contains(&format!(": held by {holder} ("));
    if named {
        Ok(())
    } else {
        Err(Error::WrongAnswer {
            operation: "who",
            variant,
            detail: format!("expected {holder}, got {text:?}"),
        })
    }
}

/// The CLI rows as a table: naive and optimized per cell, and the improvement.
pub fn table(report: &CliReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Via CLI (each developer a process; flowforge --version {:.2} ms, git status {:.2} ms)\n",
        report.version_ms, report.git_status_ms
    ));
    out.push_str(&format!(
        "{:<10} {:>6} {:>12} {:>12} {:>9}\n",
        "operation", "devs", "naive ms", "cli ms", "speed-up"
    ));
    for naive in report.rows.iter().filter(|r| r.variant == "naive") {
        let Some(opt) = report.rows.iter().find(|r| {
            r.variant == "optimized"
                && r.operation == naive.operation
                && r.developers == naive.developers
        }) else {
            continue;
        };
        out.push_str(&format!(
            "{:<10} {:>6} {:>12.2} {:>12.2} {:>8.1}x\n",
            naive.operation,
            naive.developers,
            naive.median_ms,
            opt.median_ms,
            naive.median_ms / opt.median_ms
        ));
    }
    if let Some(rss) = report.daemon_rss_mib {
        out.push_str(&format!(
            "daemon resident memory after the run: {rss:.1} MiB (git view {}, indexes {} when opened)\n",
            report.daemon_git_mib.map_or("?".to_owned(), |m| format!("{m:.1} MiB")),
            report.daemon_index_mib.map_or("?".to_owned(), |m| format!("{m:.1} MiB")),
        ));
    }
    for t in &report.targets {
        let reference = (t.reference_ms)
            .map(|ms| format!(", against {ms:.2} ms timed between its calls"))
            .unwrap_or_default();
        out.push_str(&format!(
            "target {}: {:.3} (goal {}{reference}) {}\n",
            t.name,
            t.ratio,
            t.goal,
            if t.met { "MET" } else { "MISSED" }
        ));
    }
    out
}
