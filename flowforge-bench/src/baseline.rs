//! The result of a baseline run, as written to JSON.
//!
//! # The JSON schema (version 1)
//!
//! One object:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `schema_version` | integer | `1` |
//! | `generated_at` | string | RFC 3339 time of the run's end |
//! | `command` | string | the command line |
//! | `machine` | object | `cpus` (integer), `os` (string), `load_before`, `load_after` (1-minute load average at the start and end of the run, number or null: other work on the machine) |
//! | `fixture` | object | `source` (`{"kind": "generated"}` or `{"kind": "clone", "origin": path}`), `repo` (string), `tracked_files`, `directories`, `branches`, `developers` (integers), `kept` (boolean) |
//! | `developers` | array of integers | the developer counts measured |
//! | `samples` | integer | the most timed rounds per cell (after one untimed warm-up round); a row's own `samples` may be fewer |
//! | `cell_budget_s` | number | once a cell has taken 3 timed rounds, it takes no more after this many seconds of them (slow naive cells) |
//! | `calibration` | object or null | how the generated repository was sized (null with `--files` or `--repo`): `target_ms` (one `git status --porcelain`), `tolerance_percent`, `files` (chosen), `git_status_ms` (measured at that size), `reached` (boolean), `stopped_by` (null, `"max_files"`, `"one file"`, `"time budget"` or `"max steps"`), `seconds`, `steps` (array of `files`, `git_status_ms`) |
//! | `original` | object | the original FlowForge baseline: `source` (string), `date` (`YYYY-MM-DD`), `git_status_ms` (one `git status` there), `developers` (`[1, 6, 10]`), `score` (80), `status` (`"NEEDS_OPTIMIZATION"`), `rows` (array of `operation`, `developers`, `ms`, `threshold_ms`, `level`, `status` as in rows) |
//! | `score` | object | `naive`, `optimized`: integer 0–100 from `flowforge_core::score` |
//! | `status` | object | `naive`, `optimized`: `"PASS"` or `"NEEDS_OPTIMIZATION"` |
//! | `complete` | object | `naive`, `optimized`: boolean, false when a cell of the variant was not measured or the run measured only some operations (`--ops`); the score and status cover the measured cells only |
//! | `peak_rss_mib` | number or null | the run's peak resident memory (`VmHWM`); child `git` processes are not included |
//! | `git_cache_rss_mib` | number or null | resident memory added by the optimized git view of the fixture: RSS after opening a watched view and two synced Git Syncs of the largest team, minus RSS before, measured before any other cell |
//! | `history` | integer | `--history`: claims every team made (and released) and time entries each developer had before measuring |
//! | `reference` | object | `git_status_ms`: median of one `git status --porcelain` process on the fixture, team included, measured at the start of the run; `session_without_history` (null unless Session was measured with a history): `developers` (the smallest count), `median_ms` of the optimized Session round on a team of that size made without history, its rounds timed beside the largest count's optimized Session cell (before each of its rounds, as many rounds of the reference as make as many developer cycles), so both see the machine alike; `file_floor` (null unless Session was measured at two or more counts): the file-system floor of a per-developer cost (`flowforge_bench::floor`: per developer, four tear-free publications of a small view of its own — the spare written, then swapped in —, nothing else) at the smallest and largest counts, `developers` (`[smallest, largest]`) and `us_per_developer` (the median round divided by its developers, in microseconds, for each), the largest's rounds timed with the smallest's beside them as for `session_without_history` |
//! | `naive_torn_reads` | integer | reads of a file another thread was rewriting, met by the naive variants (Concurrent Ops) |
//! | `rows` | array of row objects | one per measured cell, below |
//! | `not_measured` | array | `operation`, `variant`, `mode` (as in rows), `reason` (string): cells that could not be measured |
//! | `targets` | array | `name` (string), `measured` (number or null), `target` (number), `unit` (string), `met` (boolean or null when not measured) |
//!
//! A row:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `operation` | string | `session`, `report_generation`, `cross_dev_queries`, `file_io`, `concurrent_ops`, `git_sync` |
//! | `variant` | string | `naive` or `optimized` |
//! | `mode` | string or null | `cold`, `warm` or `after_edit` for `git_sync`, otherwise null |
//! | `developers` | integer | the developer count |
//! | `median_ms`, `p95_ms` | number | the round's time in milliseconds |
//! | `samples` | integer | timed rounds |
//! | `threshold_ms` | number | the operation's threshold |
//! | `level` | string | `ok`, `warning` or `critical` (of the median) |
//! | `status` | string | `PASS` (median within the threshold) or `FAIL` |
//! | `scored` | boolean | whether the row is a cell of the variant's score: every row but Git Sync's, and for Git Sync the slowest of the three modes at each developer count |

use std::collections::BTreeMap;

use flowforge_core::score::{Cell, Level, Operation, OverallStatus, Scorecard};
use serde::{Deserialize, Serialize};

use crate::{
    fixture::{Calibration, Description},
    ops::{Mode, Variant},
    original::Original,
};

/// The version of the JSON schema written.
pub const SCHEMA_VERSION: u32 = 1;

/// What the run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the run ended.
    pub generated_at: jiff::Timestamp,
    /// The command line.
    pub command: String,
    /// The machine.
    pub machine: Machine,
    /// The fixture.
    pub fixture: Description,
    /// The developer counts measured.
    pub developers: Vec<usize>,
    /// The most timed rounds per cell.
    pub samples: usize,
    /// Seconds of timed rounds after which a cell with 3 rounds takes no more.
    pub cell_budget_s: f64,
    /// How the generated repository was sized, when it was calibrated.
    pub calibration: Option<Calibration>,
    /// The original FlowForge baseline, for comparison.
    pub original: Original,
    /// Score per variant.
    pub score: BTreeMap<Variant, u32>,
    /// OverallStatus per variant.
    pub status: BTreeMap<Variant, OverallStatus>,
    /// Whether every cell of the variant was measured.
    pub complete: BTreeMap<Variant, bool>,
    /// Peak resident memory of the run, in MiB (child processes not included).
    pub peak_rss_mib: Option<f64>,
    /// Resident memory added by the optimized git view, in MiB.
    pub git_cache_rss_mib: Option<f64>,
    /// The history every team had before measuring (`--history`).
    #[serde(default)]
    pub history: usize,
    /// Reference timings.
    pub reference: Reference,
    /// Torn reads met by the naive variants.
    pub naive_torn_reads: u64,
    /// The measured cells.
    pub rows: Vec<BaselineRow>,
    /// The cells that could not be measured.
    pub not_measured: Vec<NotMeasuredRow>,
    /// The targets set for the optimized variant, checked.
    pub targets: Vec<Target>,
}

/// The machine the run was on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Available parallelism.
    pub cpus: usize,
    /// `std::env::consts::OS`.
    pub os: String,
    /// The 1-minute load average when the run started (other work on the machine).
    pub load_before: Option<f64>,
    /// The 1-minute load average when it ended.
    pub load_after: Option<f64>,
}

/// Reference timings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Median of one `git status --porcelain` process.
    pub git_status_ms: Option<f64>,
    /// With a history: the optimized Session round at the smallest developer count on a team
    /// made without history, the reference of the per-developer target.
    #[serde(default)]
    pub session_without_history: Option<SessionReference>,
    /// With Session measured at two or more counts: the file-system floor of a per-developer
    /// cost at the smallest and the largest ([`crate::floor`]).
    #[serde(default)]
    pub file_floor: Option<FileFloor>,
}

/// The file-system floor ([`crate::floor`]) at two team sizes: what the machine alone adds per
/// developer to anything that writes each developer's own files, as the team grows. The
/// per-developer Session target compares the same two sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FileFloor {
    /// The smallest and the largest developer counts.
    pub developers: [usize; 2],
    /// The median round divided by its developers, in microseconds, for each count.
    pub us_per_developer: [f64; 2],
}

impl FileFloor {
    /// The largest count's per-developer cost over the smallest's.
    pub fn ratio(&self) -> f64 {
        self.us_per_developer[1] / self.us_per_developer[0]
    }
}

/// The optimized Session round on a team without history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionReference {
    /// The team's size.
    pub developers: usize,
    /// Median of the round (every developer's cycle), in milliseconds.
    pub median_ms: f64,
}

/// One measured cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// The operation.
    pub operation: Operation,
    /// The variant.
    pub variant: Variant,
    /// The Git Sync mode.
    pub mode: Option<Mode>,
    /// The developer count.
    pub developers: usize,
    /// Median round time.
    pub median_ms: f64,
    /// 95th percentile round time.
    pub p95_ms: f64,
    /// Timed rounds.
    pub samples: usize,
    /// The operation's threshold.
    pub threshold_ms: f64,
    /// The median's alert level.
    pub level: Level,
    /// `PASS` or `FAIL`.
    pub status: CellStatus,
    /// Whether the row counts in the score.
    pub scored: bool,
    /// `library`: the operation called in this process (the CLI path's rows say `cli`).
    #[serde(default = "library")]
    pub via: String,
}

fn library() -> String {
    "library".to_owned()
}

/// Whether a cell is within its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellStatus {
    /// Within.
    #[serde(rename = "PASS")]
    Pass,
    /// Over.
    #[serde(rename = "FAIL")]
    Fail,
}

/// A cell that could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMeasuredRow {
    /// The operation.
    pub operation: Operation,
    /// The variant.
    pub variant: Variant,
    /// The Git Sync mode.
    pub mode: Option<Mode>,
    /// Why.
    pub reason: String,
}

/// One of the targets set for the optimized variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// What is targeted.
    pub name: String,
    /// The measured figure.
    pub measured: Option<f64>,
    /// The figure to reach.
    pub target: f64,
    /// `x` (a ratio), `ms`, `MiB`, `points`.
    pub unit: String,
    /// Whether it was reached; `None` when not measured.
    pub met: Option<bool>,
}

impl BaselineRow {
    /// A row from a summary; `scored` is decided later by [`mark_scored`].
    pub fn new(
        operation: Operation,
        variant: Variant,
        mode: Option<Mode>,
        developers: usize,
        summary: crate::stats::Summary,
    ) -> BaselineRow {
        BaselineRow {
            operation,
            variant,
            mode,
            developers,
            median_ms: summary.median_ms,
            p95_ms: summary.p95_ms,
            samples: summary.samples,
            threshold_ms: operation.threshold_ms(),
            level: operation.level(summary.median_ms),
            status: if operation.passes(summary.median_ms) {
                CellStatus::Pass
            } else {
                CellStatus::Fail
            },
            scored: false,
            via: library(),
        }
    }
}

/// Marks the rows that are cells of the score: all rows without a mode, and for each variant,
/// operation and developer count with modes, the slowest mode.
pub fn mark_scored(rows: &mut [BaselineRow]) {
    let mut slowest: BTreeMap<(Variant, Operation, usize), (usize, f64)> = BTreeMap::new();
    for (i, row) in rows.iter_mut().enumerate() {
        row.scored = row.mode.is_none();
        if row.mode.is_some() {
            let key = (row.variant, row.operation, row.developers);
            let entry = slowest.entry(key).or_insert((i, row.median_ms));
            if row.median_ms > entry.1 {
                *entry = (i, row.median_ms);
            }
        }
    }
    for (i, _) in slowest.into_values() {
        rows[i].scored = true;
    }
}

/// The scorecard of a variant's scored rows.
pub fn scorecard(rows: &[BaselineRow], variant: Variant) -> Scorecard {
    Scorecard::new(
        rows.iter()
            .filter(|r| r.variant == variant && r.scored)
            .map(|r| Cell {
                operation: r.operation,
                developers: u32::try_from(r.developers).unwrap_or(u32::MAX),
                ms: r.median_ms,
            }),
    )
}

impl Baseline {
    /// The row of a cell, if measured.
    pub fn row(
        &self,
        operation: Operation,
        variant: Variant,
        mode: Option<Mode>,
        developers: usize,
    ) -> Option<&BaselineRow> {
        self.rows.iter().find(|r| {
            r.operation == operation
                && r.variant == variant
                && r.mode == mode
                && r.developers == developers
        })
    }

    /// Whether some optimized cell is over its threshold (the run then exits 1).
    pub fn optimized_fails(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.variant == Variant::Optimized && r.status == CellStatus::Fail)
    }
}
