//! `session end` + `session start` as fresh `flowforge` processes, at each team size: what a
//! developer's shell pays per session cycle, and whether it grows with the team or with the
//! claims made over time (`--history`). Writes are never routed to the daemon, so this is
//! the process's own cost (`FLOWFORGE_DAEMON=off`).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use crate::{
    error::{Error, Result},
    fixture::Fixture,
    stats::Summary,
};

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCliOptions {
    /// The `flowforge` binary (a release build to mean anything).
    pub flowforge: PathBuf,
    /// Team sizes.
    pub developers: Vec<usize>,
    /// Timed cycles per team size, after one untimed cycle.
    pub samples: usize,
}

/// One team size's cycle time, and its stores' size before and after `gc`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionCliRow {
    /// The team size.
    pub developers: usize,
    /// One `session end` + `session start` pair, fresh processes.
    pub cycle: Summary,
    /// Bytes of every file under the team's store directories after the measured cycles.
    pub store_bytes: u64,
    /// The same after `flowforge_session::gc`.
    pub store_bytes_after_gc: u64,
    /// Of which `team/store/` (the claims and the registrations), after `gc`.
    pub team_store_bytes_after_gc: u64,
}

/// Measures every team size on a team of its own (made with the fixture's history): each
/// cycle is one developer's `session end` then `session start <their task>`, the developers
/// taken in turn.
///
/// # Errors
/// [`Error::InvalidOptions`] without samples, [`Error::WrongAnswer`] when a command fails, or
/// the fixture's errors.
pub fn run(fixture: &mut Fixture, options: &SessionCliOptions) -> Result<Vec<SessionCliRow>> {
    if options.samples == 0 {
        return Err(Error::InvalidOptions {
            reason: "the session cycle needs at least one sample".to_owned(),
        });
    }
    let mut rows = Vec::new();
    for &n in &options.developers {
        let team = fixture.new_team(n)?;
        fixture.settle()?;
        let repo = fixture.repo().to_owned();
        let root = team.layout.root().to_owned();
        let mut times = Vec::with_capacity(options.samples);
        for k in 0..=options.samples {
            let i = k % n;
            let dev = team.developers[i].to_string();
            let task = team.tasks[i].to_string();
            let start = Instant::now();
            flowforge(&options.flowforge, &repo, &root, &dev, &["session", "end"])?;
            flowforge(
                &options.flowforge,
                &repo,
                &root,
                &dev,
                &["session", "start", &task],
            )?;
            if k > 0 {
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let cycle = Summary::of(&times).expect("at least one sample");
        let (team_bytes, dev_bytes) = store_size(&root)?;
        flowforge_session::gc(&team.layout, flowforge_session::GcOptions::default())?;
        let (team_after, dev_after) = store_size(&root)?;
        rows.push(SessionCliRow {
            developers: n,
            cycle,
            store_bytes: team_bytes + dev_bytes,
            store_bytes_after_gc: team_after + dev_after,
            team_store_bytes_after_gc: team_after,
        });
    }
    Ok(rows)
}

/// Bytes of the files under `team/store/`, and under every `dev-<id>/store/`, of `root`.
fn store_size(root: &Path) -> Result<(u64, u64)> {
    fn walk(dir: &Path) -> Result<u64> {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).map_err(Error::io("cannot list", dir))? {
            let entry = entry.map_err(Error::io("cannot list", dir))?;
            let meta = entry
                .metadata()
                .map_err(Error::io("cannot stat", entry.path()))?;
            total += if meta.is_dir() {
                walk(&entry.path())?
            } else {
                meta.len()
            };
        }
        Ok(total)
    }
    let (mut team, mut devs) = (0, 0);
    for entry in std::fs::read_dir(root).map_err(Error::io("cannot list", root))? {
        let dir = entry.map_err(Error::io("cannot list", root))?.path();
        let store = dir.join("store");
        if store.is_dir() {
            let bytes = walk(&store)?;
            if dir.file_name().is_some_and(|n| n == "team") {
                team += bytes;
            } else {
                devs += bytes;
            }
        }
    }
    Ok((team, devs))
}

fn flowforge(binary: &Path, repo: &Path, root: &Path, dev: &str, args: &[&str]) -> Result<()> {
    let mut command = Command::new(binary);
    command
        .current_dir(repo)
        .env("FLOWFORGE_DAEMON", "off")
        .arg("--root")
        .arg(root)
        .args(["--dev", dev])
        .args(args);
    let out = command
        .output()
        .map_err(Error::io("cannot run", binary.to_owned()))?;
    // A committed change with a warning is still the cycle done.
    if !out.status.success() {
        return Err(Error::WrongAnswer {
            operation: "session_cli",
            variant: "optimized",
            detail: format!(
                "flowforge {} exited with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// The rows as a table, each team size's median against the smallest team's.
pub fn table(rows: &[SessionCliRow]) -> String {
    let mut out = String::from(
        "CLI session cycle (fresh processes: session end + session start)\n\
         developers  median ms  p95 ms  × smallest team  store KiB  after gc KiB  per developer after gc  team/store after gc\n",
    );
    let base = rows.first().map(|r| r.cycle.median_ms);
    for row in rows {
        let ratio = base.map_or(1.0, |b| row.cycle.median_ms / b);
        out.push_str(&format!(
            "{:>10}  {:>9.2}  {:>6.2}  {ratio:>14.2}×  {:>9}  {:>12}  {:>20} B  {:>17} B\n",
            row.developers,
            row.cycle.median_ms,
            row.cycle.p95_ms,
            row.store_bytes / 1024,
            row.store_bytes_after_gc / 1024,
            row.store_bytes_after_gc / row.developers.max(1) as u64,
            row.team_store_bytes_after_gc,
        ));
    }
    out
}
