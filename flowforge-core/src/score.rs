//! The six baseline operations, their thresholds and alert levels, and the performance score.
//!
//! The rules are the optimization plan's: a cell (one operation at one developer count) is
//! *critical* above the operation's critical level and *warning* above its warning level; an
//! operation without alert levels of its own is critical when over its threshold. The score
//! starts at 100 and loses 10 per critical cell and 5 per warning cell, never below 0. The
//! status is `PASS` when no cell is over its threshold.
//!
//! ```
//! use flowforge_core::score::{Scorecard, OverallStatus, ORIGINAL_BASELINE};
//! let card = Scorecard::new(ORIGINAL_BASELINE.iter().copied());
//! assert_eq!(card.score(), 80);
//! assert_eq!(card.status(), OverallStatus::NeedsOptimization);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// One of the six operations of the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Session start, update and end.
    Session,
    /// Team report generation.
    ReportGeneration,
    /// Queries across developers' namespaces.
    CrossDevQueries,
    /// Namespace file reads and writes.
    FileIo,
    /// The developers' operations run in parallel.
    ConcurrentOps,
    /// Every developer's view of git.
    GitSync,
}

/// Warning and critical levels of an operation or metric, in milliseconds: a value strictly
/// above a level has reached it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertLevels {
    /// Above this: warning.
    pub warning_ms: f64,
    /// Above this: critical.
    pub critical_ms: f64,
}

/// How bad a measurement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Within limits.
    Ok,
    /// At warning level.
    Warning,
    /// At critical level.
    Critical,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OverallStatus {
    /// No cell is over its threshold.
    #[serde(rename = "PASS")]
    Pass,
    /// At least one cell is over its threshold.
    #[serde(rename = "NEEDS_OPTIMIZATION")]
    NeedsOptimization,
}

/// One measurement: an operation at a developer count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The operation.
    pub operation: Operation,
    /// How many developers.
    pub developers: u32,
    /// The measured time in milliseconds.
    pub ms: f64,
}

/// The cache hit rate levels FlowForge alerts at: warning below 80 %, critical below 60 %.
pub const CACHE_HIT_RATE_WARNING: f64 = 0.80;
/// See [`CACHE_HIT_RATE_WARNING`].
pub const CACHE_HIT_RATE_CRITICAL: f64 = 0.60;

/// The original FlowForge baseline: the bash FlowForge's own measurements of the six
/// operations at 1, 6 and 10 developers, from its performance baseline and optimization plan
/// of [`ORIGINAL_BASELINE_DATE`]. Scored with [`Scorecard`] it gives 80/100
/// `NEEDS_OPTIMIZATION`: Git Sync is critical at 6 and 10 developers. `docs/original-baseline.md`
/// in the repository tells its story.
pub const ORIGINAL_BASELINE: [Cell; 18] = {
    use Operation::*;
    const fn c(operation: Operation, developers: u32, ms: f64) -> Cell {
        Cell {
            operation,
            developers,
            ms,
        }
    }
    [
        c(Session, 1, 1.8),
        c(Session, 6, 7.2),
        c(Session, 10, 11.5),
        c(ReportGeneration, 1, 1.0),
        c(ReportGeneration, 6, 2.6),
        c(ReportGeneration, 10, 3.8),
        c(CrossDevQueries, 1, 0.6),
        c(CrossDevQueries, 6, 12.1),
        c(CrossDevQueries, 10, 35.5),
        c(FileIo, 1, 1.3),
        c(FileIo, 6, 4.4),
        c(FileIo, 10, 6.6),
        c(ConcurrentOps, 1, 1.6),
        c(ConcurrentOps, 6, 2.1),
        c(ConcurrentOps, 10, 2.4),
        c(GitSync, 1, 278.0),
        c(GitSync, 6, 1672.0),
        c(GitSync, 10, 2772.0),
    ]
};

/// When the original FlowForge baseline was measured.
pub const ORIGINAL_BASELINE_DATE: &str = "2025-09-18";

/// What one `git status --porcelain` cost in the original FlowForge baseline, in milliseconds;
/// its Git Sync ran one per developer (plus a `git rev-parse HEAD` of about 10 ms).
pub const ORIGINAL_GIT_STATUS_MS: f64 = 270.0;

const OPERATION_KEYS: &str =
    "session, report_generation, cross_dev_queries, file_io, concurrent_ops, git_sync";

impl Operation {
    /// All six, in the baseline table's order.
    pub const ALL: [Operation; 6] = [
        Operation::Session,
        Operation::ReportGeneration,
        Operation::CrossDevQueries,
        Operation::FileIo,
        Operation::ConcurrentOps,
        Operation::GitSync,
    ];

    /// The name in the baseline table, e.g. `Cross-Dev Queries`.
    pub fn label(self) -> &'static str {
        match self {
            Operation::Session => "Session",
            Operation::ReportGeneration => "Report Generation",
            Operation::CrossDevQueries => "Cross-Dev Queries",
            Operation::FileIo => "File I/O",
            Operation::ConcurrentOps => "Concurrent Ops",
            Operation::GitSync => "Git Sync",
        }
    }

    /// The machine name, e.g. `cross_dev_queries` (also its serde form).
    pub fn key(self) -> &'static str {
        match self {
            Operation::Session => "session",
            Operation::ReportGeneration => "report_generation",
            Operation::CrossDevQueries => "cross_dev_queries",
            Operation::FileIo => "file_io",
            Operation::ConcurrentOps => "concurrent_ops",
            Operation::GitSync => "git_sync",
        }
    }

    /// The threshold in milliseconds.
    pub fn threshold_ms(self) -> f64 {
        match self {
            Operation::Session => 500.0,
            Operation::ReportGeneration => 800.0,
            Operation::CrossDevQueries => 300.0,
            Operation::FileIo => 100.0,
            Operation::ConcurrentOps => 1500.0,
            Operation::GitSync => 1000.0,
        }
    }

    /// The alert levels (warning, critical), for the operations that have them.
    pub fn alert_levels(self) -> Option<AlertLevels> {
        let levels = |warning_ms, critical_ms| {
            Some(AlertLevels {
                warning_ms,
                critical_ms,
            })
        };
        match self {
            Operation::GitSync => levels(800.0, 1500.0),
            Operation::Session => levels(400.0, 500.0),
            Operation::ReportGeneration => levels(600.0, 800.0),
            _ => None,
        }
    }

    /// The level of a measurement of this operation.
    pub fn level(self, ms: f64) -> Level {
        match self.alert_levels() {
            Some(levels) if ms > levels.critical_ms => Level::Critical,
            Some(levels) if ms > levels.warning_ms => Level::Warning,
            Some(_) => Level::Ok,
            None if ms > self.threshold_ms() => Level::Critical,
            None => Level::Ok,
        }
    }

    /// Whether a measurement passes the threshold (at most equal to it).
    pub fn passes(self, ms: f64) -> bool {
        ms <= self.threshold_ms()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Operation {
    type Err = Error;

    /// Accepts the key (`git_sync`) or the label (`Git Sync`), without regard to case.
    fn from_str(s: &str) -> Result<Self, Error> {
        Operation::ALL
            .into_iter()
            .find(|op| op.key().eq_ignore_ascii_case(s) || op.label().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::UnknownOperation {
                name: s.to_owned(),
                expected: OPERATION_KEYS,
            })
    }
}

impl Level {
    /// The level of a cache hit rate in `0.0..=1.0`.
    pub fn of_cache_hit_rate(rate: f64) -> Level {
        if rate < CACHE_HIT_RATE_CRITICAL {
            Level::Critical
        } else if rate < CACHE_HIT_RATE_WARNING {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// `ok`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OverallStatus {
    /// `PASS` or `NEEDS_OPTIMIZATION`.
    pub fn as_str(self) -> &'static str {
        match self {
            OverallStatus::Pass => "PASS",
            OverallStatus::NeedsOptimization => "NEEDS_OPTIMIZATION",
        }
    }
}

impl fmt::Display for OverallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Cell {
    /// This cell's level.
    pub fn level(&self) -> Level {
        self.operation.level(self.ms)
    }

    /// Whether this cell is within its threshold.
    pub fn passes(&self) -> bool {
        self.operation.passes(self.ms)
    }
}

/// A set of cells, scored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scorecard {
    cells: Vec<Cell>,
}

impl Scorecard {
    /// Scores `cells`.
    pub fn new(cells: impl IntoIterator<Item = Cell>) -> Self {
        Self {
            cells: cells.into_iter().collect(),
        }
    }

    /// The cells.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// 100, minus 10 per critical cell and 5 per warning cell, never below 0.
    pub fn score(&self) -> u32 {
        let penalty: u32 = self
            .cells
            .iter()
            .map(|cell| match cell.level() {
                Level::Critical => 10,
                Level::Warning => 5,
                Level::Ok => 0,
            })
            .sum();
        100u32.saturating_sub(penalty)
    }

    /// `PASS` when every cell is within its threshold.
    pub fn status(&self) -> OverallStatus {
        if self.cells.iter().all(Cell::passes) {
            OverallStatus::Pass
        } else {
            OverallStatus::NeedsOptimization
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_baseline_scores_80_and_needs_optimization() {
        let card = Scorecard::new(ORIGINAL_BASELINE);
        assert_eq!(card.score(), 80);
        assert_eq!(card.status(), OverallStatus::NeedsOptimization);
        let critical: Vec<_> = card
            .cells()
            .iter()
            .filter(|c| c.level() == Level::Critical)
            .map(|c| (c.operation, c.developers))
            .collect();
        assert_eq!(
            critical,
            [(Operation::GitSync, 6), (Operation::GitSync, 10)]
        );
    }

    #[test]
    fn levels_follow_the_plan() {
        assert_eq!(Operation::GitSync.level(800.0), Level::Ok);
        assert_eq!(Operation::GitSync.level(800.1), Level::Warning);
        assert_eq!(Operation::GitSync.level(1500.1), Level::Critical);
        assert_eq!(Operation::Session.level(450.0), Level::Warning);
        assert_eq!(Operation::ReportGeneration.level(801.0), Level::Critical);
        assert_eq!(Operation::FileIo.level(100.0), Level::Ok);
        assert_eq!(Operation::FileIo.level(100.5), Level::Critical);
        assert_eq!(Level::of_cache_hit_rate(0.85), Level::Ok);
        assert_eq!(Level::of_cache_hit_rate(0.79), Level::Warning);
        assert_eq!(Level::of_cache_hit_rate(0.59), Level::Critical);
    }

    #[test]
    fn warnings_cost_five_and_the_score_stops_at_zero() {
        let warn = Cell {
            operation: Operation::GitSync,
            developers: 1,
            ms: 900.0,
        };
        let card = Scorecard::new([warn]);
        assert_eq!(card.score(), 95);
        assert_eq!(
            card.status(),
            OverallStatus::Pass,
            "900 ms is under the 1000 ms threshold"
        );
        let bad = Cell { ms: 5000.0, ..warn };
        assert_eq!(Scorecard::new([bad; 11]).score(), 0);
        assert_eq!(Scorecard::new([]).score(), 100);
    }

    #[test]
    fn operations_parse_by_key_and_label() {
        assert_eq!("git_sync".parse::<Operation>().unwrap(), Operation::GitSync);
        assert_eq!(
            "Cross-Dev Queries".parse::<Operation>().unwrap(),
            Operation::CrossDevQueries
        );
        let err = "sync".parse::<Operation>().unwrap_err().to_string();
        assert!(err.starts_with("unknown operation \"sync\""), "{err}");
        assert_eq!(
            serde_json::to_string(&Operation::FileIo).unwrap(),
            "\"file_io\""
        );
        assert_eq!(
            serde_json::to_string(&OverallStatus::NeedsOptimization).unwrap(),
            "\"NEEDS_OPTIMIZATION\""
        );
    }
}
