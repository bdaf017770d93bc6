//! `remote_claims`: what sharing state through a git remote costs, over a bare repository on
//! the local file system and real clones of it.
//!
//! At each clone count N the remote holds what N clones publish (one developer ref and one
//! live claim each), and one clone measures:
//!
//! | measure | what is timed |
//! |---|---|
//! | `claim` | [`Remote::claim`] of a free task (a create-only push); released untimed |
//! | `publish` | [`Remote::publish`] after one new time entry (fetch, merge, push) |
//! | `pull` | [`Remote::pull`]: fetch every FlowForge ref, write the view of N−1 machines |
//! | `plain_push` | `git push` of one ref to a new commit (made untimed): the floor every push pays |
//!
//! and, with one clone, `claim` and `plain_push` as the remote's live claims grow (every push
//! reads the remote's whole ref advertisement). Every round checks its answer (the claim is
//! new, the publication pushed, the pull saw every claim and developer).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo};
use flowforge_remote::{Claimed, Options, Remote, use_remote};
use flowforge_session::{AddMinutes, Namespace, SessionOptions, fs::Durability};
use flowforge_testkit::git;

use crate::stats::Summary;

/// What can go wrong measuring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteBenchError {
    /// Setting up the repositories failed.
    #[error(transparent)]
    Git(#[from] flowforge_testkit::GitError),
    /// The remote operation failed.
    #[error(transparent)]
    Remote(#[from] flowforge_remote::Error),
    /// Namespace storage failed.
    #[error(transparent)]
    Session(#[from] flowforge_session::Error),
    /// A temporary directory could not be made.
    #[error("cannot create a temporary directory: {0}")]
    Io(#[from] std::io::Error),
    /// A round answered wrongly.
    #[error("wrong answer: {0}")]
    WrongAnswer(String),
}

type Result<T> = std::result::Result<T, RemoteBenchError>;

/// A bare repository and clones of it, each with its own `.flowforge` and one developer, all
/// published, each holding one live claim.
pub struct RemoteBench {
    _tmp: tempfile::TempDir,
    bare: PathBuf,
    clones: Vec<(PathBuf, Layout, DeveloperId)>,
    live: usize,
    next: u64,
    empty_tree: String,
}

impl RemoteBench {
    /// Sets up `clones` clones (at least one) and `extra_live` more live claims of clone 0.
    ///
    /// # Errors
    /// Any failure of git or of the remote operations.
    pub fn new(clones: usize, extra_live: usize) -> Result<Self> {
        let tmp = tempfile::tempdir()?;
        let bare = tmp.path().join("team.git");
        git::run(tmp.path(), ["init", "-q", "--bare", &path_str(&bare)])?;
        let url = format!("file://{}", bare.display());
        let mut all = Vec::new();
        for i in 0..clones.max(1) {
            let dir = tmp.path().join(format!("clone{i}"));
            git::run(tmp.path(), ["init", "-q", &path_str(&dir)])?;
            git::run(&dir, ["remote", "add", "origin", &url])?;
            use_remote(&dir, "origin", Some(&format!("m{i}")))?;
            let layout = Layout::for_repo(&dir);
            let dev: DeveloperId = format!("d{i}").parse().expect("a valid id");
            flowforge_session::namespace::init(&layout, &dev, &DeveloperInfo::default())?;
            let remote = remote(&dir)?;
            remote.claim(&task(&format!("live-{i}")), &dev, None)?;
            add_minute(&layout, &dev)?;
            remote.publish(&layout, &dev)?;
            all.push((dir, layout, dev));
        }
        let (dir0, _, dev0) = &all[0];
        let remote0 = remote(dir0)?;
        let tasks: Vec<TaskId> = (0..extra_live)
            .map(|k| task(&format!("extra-{k}")))
            .collect();
        for chunk in tasks.chunks(1000) {
            remote0.claim_all(chunk, dev0)?;
        }
        // The tree of the plain push's commits (one new commit per round).
        let empty_tree = String::from_utf8_lossy(&git::run(
            dir0,
            ["hash-object", "-t", "tree", "-w", "/dev/null"],
        )?)
        .trim()
        .to_owned();
        Ok(Self {
            _tmp: tmp,
            bare,
            live: clones.max(1) + extra_live,
            clones: all,
            next: 0,
            empty_tree,
        })
    }

    /// The live claims on the remote.
    pub fn live_claims(&self) -> usize {
        self.live
    }

    /// Times one claim of a free task by clone 0; releases it untimed.
    ///
    /// # Errors
    /// The remote's errors; [`RemoteBenchError::WrongAnswer`] when the claim was not new.
    pub fn claim(&mut self) -> Result<Duration> {
        self.next += 1;
        let t = task(&format!("bench-{}", self.next));
        let (dir, _, dev) = &self.clones[0];
        let remote = remote(dir)?;
        let started = Instant::now();
        let claimed = remote.claim(&t, dev, None)?;
        let elapsed = started.elapsed();
        if claimed != Claimed::New {
            return Err(RemoteBenchError::WrongAnswer(format!(
                "claim of {t}: {claimed:?}"
            )));
        }
        remote.release(&t, dev, false)?;
        Ok(elapsed)
    }

    /// Adds a time entry to clone 0 (untimed) and times its publication.
    ///
    /// # Errors
    /// The remote's errors; [`RemoteBenchError::WrongAnswer`] when nothing was pushed.
    pub fn publish(&mut self) -> Result<Duration> {
        let (dir, layout, dev) = &self.clones[0];
        add_minute(layout, dev)?;
        let remote = remote(dir)?;
        let started = Instant::now();
        let published = remote.publish(layout, dev)?;
        let elapsed = started.elapsed();
        if !published.pushed {
            return Err(RemoteBenchError::WrongAnswer(
                "a new entry was not pushed".into(),
            ));
        }
        Ok(elapsed)
    }

    /// Times a pull by clone 0.
    ///
    /// # Errors
    /// The remote's errors; [`RemoteBenchError::WrongAnswer`] when a claim or developer is
    /// missing from what was pulled.
    pub fn pull(&mut self) -> Result<Duration> {
        let (dir, layout, _) = &self.clones[0];
        let remote = remote(dir)?;
        let started = Instant::now();
        let pulled = remote.pull(layout)?;
        let elapsed = started.elapsed();
        if (pulled.claims, pulled.developers) != (self.live, self.clones.len()) {
            return Err(RemoteBenchError::WrongAnswer(format!(
                "pulled {} claims and {} developers, expected {} and {}",
                pulled.claims,
                pulled.developers,
                self.live,
                self.clones.len()
            )));
        }
        Ok(elapsed)
    }

    /// Times `git push` of one ref to a new commit (made untimed, like the objects a claim or
    /// a publication builds before its push): the floor of every push that carries something.
    ///
    /// # Errors
    /// When the commit or the push fails.
    pub fn plain_push(&mut self) -> Result<Duration> {
        self.next += 1;
        let dir = &self.clones[0].0;
        let message = format!("plain {}", self.next);
        let commit = git::run(dir, ["commit-tree", &self.empty_tree, "-m", &message])?;
        let commit = String::from_utf8_lossy(&commit).trim().to_owned();
        let started = Instant::now();
        git::run(
            dir,
            [
                "push",
                "-q",
                "--force",
                "origin",
                &format!("{commit}:refs/bench/plain"),
            ],
        )?;
        Ok(started.elapsed())
    }

    /// The bare repository.
    pub fn bare(&self) -> &Path {
        &self.bare
    }
}

/// One measured cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteClaimsRow {
    /// `claim`, `publish`, `pull` or `plain_push`.
    pub measure: &'static str,
    /// Clones publishing to the remote.
    pub clones: usize,
    /// Live claims on the remote.
    pub live_claims: usize,
    /// Median of the samples, ms.
    pub median_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Median over the plain push's median at the same remote.
    pub ratio_to_plain_push: f64,
}

/// Measures every cell: `claim`, `publish`, `pull` and `plain_push` at each clone count, then
/// `claim` and `plain_push` with one clone at each count of extra live claims.
///
/// # Errors
/// The first failure.
pub fn run(
    clone_counts: &[usize],
    live_counts: &[usize],
    samples: usize,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<RemoteClaimsRow>> {
    let mut rows = Vec::new();
    let mut cells: Vec<(usize, usize, Vec<&'static str>)> = Vec::new();
    for &n in clone_counts {
        cells.push((n, 0, vec!["plain_push", "claim", "publish", "pull"]));
    }
    for &l in live_counts {
        cells.push((1, l, vec!["plain_push", "claim"]));
    }
    for (n, extra, measures) in cells {
        progress(&format!(
            "remote_claims: {n} clones, {extra} extra live claims (setting up)"
        ));
        let mut bench = RemoteBench::new(n, extra)?;
        let mut plain_median = f64::NAN;
        for measure in measures {
            progress(&format!(
                "remote_claims: {measure} at {n} clones, {} live claims",
                bench.live_claims()
            ));
            let mut samples_ms = Vec::with_capacity(samples);
            for i in 0..=samples {
                let d = match measure {
                    "claim" => bench.claim()?,
                    "publish" => bench.publish()?,
                    "pull" => bench.pull()?,
                    _ => bench.plain_push()?,
                };
                if i > 0 {
                    samples_ms.push(d.as_secs_f64() * 1000.0);
                }
            }
            let s = Summary::of(&samples_ms).expect("at least one sample");
            if measure == "plain_push" {
                plain_median = s.median_ms;
            }
            progress(&format!(
                "remote_claims: {measure} at {n} clones, {} live claims: median {:.1} ms",
                bench.live_claims(),
                s.median_ms
            ));
            rows.push(RemoteClaimsRow {
                measure,
                clones: n,
                live_claims: bench.live_claims(),
                median_ms: s.median_ms,
                p95_ms: s.p95_ms,
                ratio_to_plain_push: s.median_ms / plain_median,
            });
        }
    }
    Ok(rows)
}

/// The rows as a table.
pub fn text(rows: &[RemoteClaimsRow], samples: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "remote_claims: a bare repository on the local file system, medians of {samples} samples"
    );
    let _ = writeln!(
        out,
        "| measure | clones | live claims | median ms | p95 ms | × plain git push |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.2} |",
            r.measure, r.clones, r.live_claims, r.median_ms, r.p95_ms, r.ratio_to_plain_push
        );
    }
    out
}

fn remote(dir: &Path) -> Result<Remote> {
    Remote::open(dir, Options::default())?
        .ok_or_else(|| RemoteBenchError::WrongAnswer("no remote configured".into()))
}

fn add_minute(layout: &Layout, dev: &DeveloperId) -> Result<()> {
    let ns = Namespace::open(
        layout,
        dev,
        SessionOptions::with_durability(Durability::Relaxed),
    )?;
    ns.add_minutes(1, &AddMinutes::default())?;
    Ok(())
}

fn task(t: &str) -> TaskId {
    t.parse().expect("bench task ids are valid")
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Whether the command line asked for `remote_claims`, and whether only for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Not asked for.
    No,
    /// Asked for beside baseline operations.
    Also,
    /// The only operation asked for: no baseline fixture is needed.
    Only,
}

/// Takes `remote_claims` out of `--ops` (which parses the baseline's operations only) and says
/// whether it was there.
pub fn take_op(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> (Vec<std::ffi::OsString>, Requested) {
    let mut out = Vec::new();
    let mut requested = Requested::No;
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let (list, inline) = if text == "--ops" {
            match args.next() {
                Some(v) => (v.to_string_lossy().into_owned(), false),
                None => {
                    out.push(arg);
                    continue;
                }
            }
        } else if let Some(v) = text.strip_prefix("--ops=") {
            (v.to_owned(), true)
        } else {
            out.push(arg);
            continue;
        };
        let _ = inline;
        let rest: Vec<&str> = list
            .split(',')
            .filter(|o| o.trim() != "remote_claims")
            .collect();
        if rest.len() == list.split(',').count() {
            out.push("--ops".into());
            out.push(list.into());
            continue;
        }
        if rest.is_empty() {
            if requested == Requested::No {
                requested = Requested::Only;
            }
        } else {
            requested = Requested::Also;
            out.push("--ops".into());
            out.push(rest.join(",").into());
        }
    }
    if requested == Requested::Only && out.iter().any(|a| a == "--ops") {
        requested = Requested::Also;
    }
    (out, requested)
}

/// Runs the `remote_claims` cells (clone counts from `$FLOWFORGE_BENCH_CLONES`, default
/// 1,10,100; extra live claims from `$FLOWFORGE_BENCH_LIVE`, default 100,1000) and
/// returns the table.
///
/// # Errors
/// The first failure.
pub fn run_from_env(samples: usize, progress: &mut dyn FnMut(&str)) -> Result<String> {
    let counts = |var: &str, default: &[usize]| -> Vec<usize> {
        std::env::var(var).ok().map_or_else(
            || default.to_vec(),
            |v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        )
    };
    let clones = counts("FLOWFORGE_BENCH_CLONES", &[1, 10, 100]);
    let live = counts("FLOWFORGE_BENCH_LIVE", &[100, 1000]);
    let rows = run(&clones, &live, samples, progress)?;
    Ok(text(&rows, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<std::ffi::OsString> {
        list.iter().map(Into::into).collect()
    }

    #[test]
    fn remote_claims_is_taken_out_of_ops() {
        assert_eq!(
            take_op(args(&["b", "--ops", "remote_claims"])),
            (args(&["b"]), Requested::Only)
        );
        assert_eq!(
            take_op(args(&["b", "--ops=session,remote_claims", "--devs", "1"])),
            (
                args(&["b", "--ops", "session", "--devs", "1"]),
                Requested::Also
            )
        );
        assert_eq!(
            take_op(args(&["b", "--ops", "session"])),
            (args(&["b", "--ops", "session"]), Requested::No)
        );
        assert_eq!(take_op(args(&["b"])), (args(&["b"]), Requested::No));
    }
}
