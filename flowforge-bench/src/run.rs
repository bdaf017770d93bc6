//! The baseline run: every operation, both variants, every developer count, one fixture.

use flowforge_testkit::git::run as git;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use flowforge_core::score::{Operation, OverallStatus};

use crate::{
    baseline::{
        Baseline, BaselineRow, FileFloor, Machine, NotMeasuredRow, Reference, SessionReference,
        mark_scored, scorecard,
    },
    error::{Error, Result},
    fixture::Fixture,
    floor::Floor,
    ops::{self, Mode, Subject, Variant},
    original::Original,
    stats::{Summary, peak_rss_mib},
    targets,
};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Developer counts, e.g. `[1, 6, 10]`.
    pub developers: Vec<usize>,
    /// The most timed rounds per cell (after one untimed warm-up round).
    pub samples: usize,
    /// Once a cell has taken [`MIN_SAMPLES`] timed rounds, it takes no more after this long
    /// (slow cells, such as naive Git Sync at 10 developers, then use fewer samples).
    pub cell_budget: Duration,
    /// The operations to measure (all six by default); a run of fewer is not `complete`.
    pub operations: Vec<Operation>,
    /// The command line, recorded in the JSON.
    pub command: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            developers: vec![1, 6, 10],
            samples: 15,
            cell_budget: Duration::from_secs(8),
            operations: Operation::ALL.to_vec(),
            command: String::new(),
        }
    }
}

/// The fewest timed rounds of a cell (unless [`RunOptions::samples`] is smaller): the median
/// of three.
pub const MIN_SAMPLES: usize = 3;

/// Progress of a run, for a progress bar or log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Cells done.
    pub done: usize,
    /// Cells in all.
    pub total: usize,
    /// The cell starting now, e.g. `git_sync after_edit optimized @ 10`.
    pub label: String,
}

/// Runs the baseline on `fixture`, calling `progress` before each cell.
///
/// # Errors
/// [`Error::InvalidOptions`] for an empty developer list, a zero count or zero samples;
/// [`Error::WrongAnswer`] when a variant answers wrongly (a stale git status, a wrong holder);
/// otherwise the first failure of a round.
pub fn run(
    fixture: &mut Fixture,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Baseline> {
    let mut counts = options.developers.clone();
    counts.sort_unstable();
    counts.dedup();
    let operations: Vec<Operation> = Operation::ALL
        .into_iter()
        .filter(|op| options.operations.contains(op))
        .collect();
    if counts.is_empty() || counts[0] == 0 || options.samples == 0 || operations.is_empty() {
        return Err(Error::InvalidOptions {
            reason: "developer counts and samples must be at least 1, with one operation at least"
                .to_owned(),
        });
    }
    let cells_per_count: usize = operations
        .iter()
        .map(|&op| ops::modes(op).len() * Variant::ALL.len())
        .sum();
    // The file-system floor beside the per-developer Session target: at the smallest and the
    // largest counts, after the cells.
    let floor = (operations.contains(&Operation::Session) && counts.len() > 1)
        .then(|| [counts[0], counts[counts.len() - 1]]);
    let total = cells_per_count * counts.len() + 1 + usize::from(floor.is_some());
    let mut done = 0;
    let mut rows = Vec::new();
    let mut not_measured: BTreeMap<(Operation, Variant, Option<Mode>), String> = BTreeMap::new();
    let load_before = load_average();

    progress(Progress {
        done,
        total,
        label: "reference: one git status".to_owned(),
    });
    let mut reference = Reference {
        git_status_ms: time_samples(options.samples, || {
            git(fixture.repo(), ["status", "--porcelain"])
                .map(drop)
                .map_err(Into::into)
        })?
        .map(|s| s.median_ms),
        session_without_history: None,
        file_floor: None,
    };
    done += 1;
    // Before anything else allocates: what the git view adds, warm, for the largest team.
    let git_cache_rss_mib = if operations.contains(&Operation::GitSync) {
        ops::git_sync::resident_footprint_mib(fixture.repo(), &fixture.team())?
    } else {
        None
    };

    // The reference of the per-developer target: the optimized Session round on a team of
    // the smallest size made without history, timed beside the largest team's (see
    // `time_beside`).
    let mut without_history = None;
    let largest = counts[counts.len() - 1];
    for &n in &counts {
        if n == counts[0] && fixture.history() > 0 && operations.contains(&Operation::Session) {
            without_history = Some(Subject {
                team: fixture.new_team_with_history(n, 0)?,
                repo: fixture.repo().to_owned(),
                editor: fixture.editor(),
            });
        }
        let mut subjects = BTreeMap::new();
        for variant in Variant::ALL {
            subjects.insert(
                variant,
                Subject {
                    team: fixture.new_team(n)?,
                    repo: fixture.repo().to_owned(),
                    editor: fixture.editor(),
                },
            );
        }
        fixture.settle()?;
        for &operation in &operations {
            for mode in ops::modes(operation) {
                for variant in Variant::ALL {
                    let label = format!(
                        "{}{} {variant} @ {n}",
                        operation.key(),
                        mode.map_or(String::new(), |m| format!(" {m}"))
                    );
                    progress(Progress { done, total, label });
                    done += 1;
                    let round = match ops::build(operation, variant, mode, &subjects[&variant])? {
                        Ok(round) => round,
                        Err(why) => {
                            not_measured.insert((operation, variant, mode), why.reason);
                            continue;
                        }
                    };
                    let summary = match &without_history {
                        Some(subject)
                            if n == largest
                                && operation == Operation::Session
                                && variant == Variant::Optimized =>
                        {
                            let reference_round =
                                ops::build(Operation::Session, Variant::Optimized, None, subject)?
                                    .map_err(|why| Error::InvalidOptions { reason: why.reason })?;
                            let developers = subject.team.developers.len();
                            let per_round = n / developers;
                            let (summary, alone) =
                                time_beside(round, Some((reference_round, per_round)), options)?;
                            reference.session_without_history =
                                alone.map(|alone| SessionReference {
                                    developers,
                                    median_ms: alone.median_ms,
                                });
                            summary
                        }
                        _ => time_cell(round, options)?,
                    };
                    rows.push(BaselineRow::new(operation, variant, mode, n, summary));
                }
            }
        }
    }
    if let Some([small, large]) = floor {
        progress(Progress {
            done,
            total,
            label: format!("reference: file-system floor @ {small} and {large}"),
        });
        let dir = fixture.dir().join("floor");
        let small_round = Floor::create(&dir.join(small.to_string()), small)?;
        let large_round = Floor::create(&dir.join(large.to_string()), large)?;
        fixture.settle()?;
        let (large_summary, small_summary) = time_beside(
            Box::new(large_round),
            Some((Box::new(small_round), large / small)),
            options,
        )?;
        let per_developer = |ms: f64, n: usize| ms * 1000.0 / n as f64;
        reference.file_floor = small_summary.map(|small_summary| FileFloor {
            developers: [small, large],
            us_per_developer: [
                per_developer(small_summary.median_ms, small),
                per_developer(large_summary.median_ms, large),
            ],
        });
    }
    mark_scored(&mut rows);

    let mut score = BTreeMap::new();
    let mut status = BTreeMap::new();
    let mut complete = BTreeMap::new();
    for variant in Variant::ALL {
        let card = scorecard(&rows, variant);
        score.insert(variant, card.score());
        status.insert(
            variant,
            if card.cells().is_empty() {
                OverallStatus::NeedsOptimization
            } else {
                card.status()
            },
        );
        complete.insert(variant, !not_measured.keys().any(|(_, v, _)| *v == variant));
    }
    let mut baseline = Baseline {
        schema_version: crate::baseline::SCHEMA_VERSION,
        generated_at: jiff::Timestamp::now(),
        command: options.command.clone(),
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_owned(),
            load_before,
            load_after: load_average(),
        },
        fixture: fixture.description().clone(),
        history: fixture.history(),
        developers: counts,
        samples: options.samples,
        cell_budget_s: options.cell_budget.as_secs_f64(),
        calibration: fixture.calibration().cloned(),
        original: Original::new(),
        score,
        status,
        complete,
        peak_rss_mib: peak_rss_mib(),
        git_cache_rss_mib,
        reference,
        naive_torn_reads: ops::torn_reads(),
        rows,
        not_measured: not_measured
            .into_iter()
            .map(|((operation, variant, mode), reason)| NotMeasuredRow {
                operation,
                variant,
                mode,
                reason,
            })
            .collect(),
        targets: Vec::new(),
    };
    baseline.targets = targets::check(&baseline);
    Ok(baseline)
}

/// Times one cell: one untimed round (it fills caches for warm, and pays one-time costs),
/// then timed rounds up to the samples and the cell's budget.
fn time_cell(round: Box<dyn ops::Round>, options: &RunOptions) -> Result<Summary> {
    Ok(time_beside(round, None, options)?.0)
}

/// Times `round` as [`time_cell`] does and, given one, a `reference` round beside it: before
/// each timed round of `round`, `per_round` timed rounds of the reference (one untimed
/// first), so that both see the machine as it is then (a shared machine's load, the disk's
/// write-back, what the page cache holds) and their ratio does not swing with what ran
/// between two cells measured apart. The reference's summary counts each of its rounds.
fn time_beside(
    mut round: Box<dyn ops::Round>,
    mut reference: Option<(Box<dyn ops::Round>, usize)>,
    options: &RunOptions,
) -> Result<(Summary, Option<Summary>)> {
    round.prepare()?;
    round.run()?;
    if let Some((reference, _)) = &mut reference {
        reference.prepare()?;
        reference.run()?;
    }
    let mut samples = Vec::with_capacity(options.samples);
    let mut beside = Vec::new();
    let mut spent = Duration::ZERO;
    while samples.len() < options.samples
        && (samples.len() < MIN_SAMPLES || spent < options.cell_budget)
    {
        if let Some((reference, per_round)) = &mut reference {
            for _ in 0..(*per_round).max(1) {
                beside.push(timed(reference.as_mut())?.as_secs_f64() * 1000.0);
            }
        }
        let took = timed(round.as_mut())?;
        spent += took;
        samples.push(took.as_secs_f64() * 1000.0);
    }
    let summary = Summary::of(&samples).expect("samples is at least 1");
    Ok((summary, Summary::of(&beside)))
}

/// How long one round of `round` takes (prepared first, untimed).
fn timed(round: &mut dyn ops::Round) -> Result<Duration> {
    round.prepare()?;
    let start = Instant::now();
    round.run()?;
    Ok(start.elapsed())
}

/// The 1-minute load average (`/proc/loadavg`), where there is one.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn time_samples(samples: usize, mut f: impl FnMut() -> Result<()>) -> Result<Option<Summary>> {
    f()?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Summary::of(&times))
}
