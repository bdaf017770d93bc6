//! The original FlowForge baseline, printed and charted beside each run's own figures.
//!
//! The figures, thresholds, alert levels and score rules live in [`flowforge_core::score`]
//! ([`ORIGINAL_BASELINE`]); this module only lays them out as the run's report shows them, so
//! there is one source of truth. `docs/original-baseline.md` tells where they come from.

use flowforge_core::score::{
    Level, ORIGINAL_BASELINE, ORIGINAL_BASELINE_DATE, ORIGINAL_GIT_STATUS_MS, Operation,
    OverallStatus, Scorecard,
};
use serde::{Deserialize, Serialize};

use crate::baseline::CellStatus;

/// The original FlowForge baseline: its table, scored by today's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Original {
    /// Where the figures come from, in words.
    pub source: String,
    /// When they were measured (`YYYY-MM-DD`).
    pub date: String,
    /// What one `git status --porcelain` cost there, in milliseconds.
    pub git_status_ms: f64,
    /// The developer counts of its table.
    pub developers: Vec<u32>,
    /// Its score, 0–100.
    pub score: u32,
    /// Its status.
    pub status: OverallStatus,
    /// One row per operation and developer count.
    pub rows: Vec<OriginalRow>,
}

/// One cell of the original table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OriginalRow {
    /// The operation.
    pub operation: Operation,
    /// The developer count.
    pub developers: u32,
    /// The time the original measured, in milliseconds.
    pub ms: f64,
    /// The operation's threshold.
    pub threshold_ms: f64,
    /// The time's alert level.
    pub level: Level,
    /// `PASS` or `FAIL`.
    pub status: CellStatus,
}

impl Original {
    /// The original baseline from [`ORIGINAL_BASELINE`].
    pub fn new() -> Self {
        let card = Scorecard::new(ORIGINAL_BASELINE);
        let mut developers: Vec<u32> = ORIGINAL_BASELINE.iter().map(|c| c.developers).collect();
        developers.sort_unstable();
        developers.dedup();
        Self {
            source: "the original bash FlowForge's performance baseline and optimization plan"
                .to_owned(),
            date: ORIGINAL_BASELINE_DATE.to_owned(),
            git_status_ms: ORIGINAL_GIT_STATUS_MS,
            developers,
            score: card.score(),
            status: card.status(),
            rows: ORIGINAL_BASELINE
                .iter()
                .map(|cell| OriginalRow {
                    operation: cell.operation,
                    developers: cell.developers,
                    ms: cell.ms,
                    threshold_ms: cell.operation.threshold_ms(),
                    level: cell.level(),
                    status: if cell.passes() {
                        CellStatus::Pass
                    } else {
                        CellStatus::Fail
                    },
                })
                .collect(),
        }
    }

    /// The original's time for `operation` at `developers`, if its table has that cell.
    pub fn ms(&self, operation: Operation, developers: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.operation == operation && r.developers as usize == developers)
            .map(|r| r.ms)
    }
}

impl Default for Original {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_is_the_core_table_scored_80() {
        let original = Original::new();
        assert_eq!(original.developers, [1, 6, 10]);
        assert_eq!(original.rows.len(), 18);
        assert_eq!(
            (original.score, original.status),
            (80, OverallStatus::NeedsOptimization)
        );
        assert_eq!(original.ms(Operation::GitSync, 6), Some(1672.0));
        assert_eq!(original.ms(Operation::GitSync, 2), None);
        let failing: Vec<_> = original
            .rows
            .iter()
            .filter(|r| r.status == CellStatus::Fail)
            .map(|r| (r.operation, r.developers, r.level))
            .collect();
        assert_eq!(
            failing,
            [
                (Operation::GitSync, 6, Level::Critical),
                (Operation::GitSync, 10, Level::Critical)
            ]
        );
    }
}
