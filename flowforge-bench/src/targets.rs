//! The targets set for the optimized variant, checked against one run's figures.

use flowforge_core::score::{Operation, OverallStatus};

use crate::{
    baseline::{Baseline, Target},
    ops::{Mode, Variant},
};

/// The targets, each with its measured figure (ratios come from the same run).
pub fn check(b: &Baseline) -> Vec<Target> {
    let median = |op, variant, mode, n| b.row(op, variant, mode, n).map(|r| r.median_ms);
    let ratio = |op, mode, n| {
        Some(median(op, Variant::Naive, mode, n)? / median(op, Variant::Optimized, mode, n)?)
    };
    let mut targets = Vec::new();
    let push = |targets: &mut Vec<Target>,
                name: String,
                measured: Option<f64>,
                target: f64,
                unit: &str,
                at_most: bool| {
        let met = measured.map(|m| if at_most { m <= target } else { m >= target });
        targets.push(Target {
            name,
            measured,
            target,
            unit: unit.to_owned(),
            met,
        });
    };
    let git = Operation::GitSync;
    push(
        &mut targets,
        "git_sync after_edit @10: naive / optimized".to_owned(),
        ratio(git, Some(Mode::AfterEdit), 10),
        50.0,
        "x",
        false,
    );
    push(
        &mut targets,
        "git_sync cold @10 / one naive git status".to_owned(),
        median(git, Variant::Optimized, Some(Mode::Cold), 10)
            .zip(b.reference.git_status_ms)
            .map(|(cold, status)| cold / status),
        1.0,
        "x",
        true,
    );
    for mode in Mode::ALL {
        push(
            &mut targets,
            format!("git_sync {mode} optimized: 10 devs / 1 dev"),
            median(git, Variant::Optimized, Some(mode), 10)
                .zip(median(git, Variant::Optimized, Some(mode), 1))
                .map(|(ten, one)| ten / one),
            1.5,
            "x",
            true,
        );
    }
    push(
        &mut targets,
        "cross_dev_queries @1000: naive / optimized".to_owned(),
        ratio(Operation::CrossDevQueries, None, 1000),
        100.0,
        "x",
        false,
    );
    push(
        &mut targets,
        "session optimized @10 (start + update + end, relaxed)".to_owned(),
        median(Operation::Session, Variant::Optimized, None, 10),
        1.0,
        "ms",
        true,
    );
    // Per developer, the largest team (with the run's history) against the smallest (on a
    // team made without history when the run has one, else the smallest count's own row).
    if let (Some(&small), Some(&large)) = (b.developers.first(), b.developers.last()) {
        if large > small {
            let reference = match b.reference.session_without_history {
                Some(r) => Some(r.median_ms / r.developers as f64),
                None if b.history == 0 => {
                    median(Operation::Session, Variant::Optimized, None, small)
                        .map(|ms| ms / small as f64)
                }
                None => None,
            };
            let history = if b.history > 0 {
                format!(" (history {}) / @{small} without history", b.history)
            } else {
                format!(" / @{small}")
            };
            push(
                &mut targets,
                format!("session optimized per developer @{large}{history}"),
                median(Operation::Session, Variant::Optimized, None, large)
                    .map(|ms| ms / large as f64)
                    .zip(reference)
                    .map(|(large, small)| large / small),
                1.2,
                "x",
                true,
            );
        }
    }
    let complete = |v| b.complete.get(&v).copied().unwrap_or(false);
    push(
        &mut targets,
        "optimized score (PASS, all cells measured)".to_owned(),
        b.score
            .get(&Variant::Optimized)
            .filter(|_| complete(Variant::Optimized))
            .map(|&s| f64::from(s)),
        100.0,
        "points",
        false,
    );
    if let Some(t) = targets.last_mut() {
        let passes = b.status.get(&Variant::Optimized) == Some(&OverallStatus::Pass);
        t.met = t.met.map(|met| met && passes);
    }
    push(
        &mut targets,
        "naive status NEEDS_OPTIMIZATION (1 = yes)".to_owned(),
        b.status.get(&Variant::Naive).map(|&s| {
            if s == OverallStatus::NeedsOptimization {
                1.0
            } else {
                0.0
            }
        }),
        1.0,
        "bool",
        false,
    );
    push(
        &mut targets,
        "git cache resident memory".to_owned(),
        b.git_cache_rss_mib,
        10.0,
        "MiB",
        true,
    );
    targets
}
