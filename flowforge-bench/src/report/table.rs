//! The terminal report: the original FlowForge baseline's table, the same table for each
//! variant, the improvement per cell, targets.

use std::fmt::Write as _;

use flowforge_core::score::{Level, Operation};

use crate::{
    baseline::{Baseline, CellStatus},
    fixture::Calibration,
    ops::{self, Mode, Variant},
    original::Original,
};

/// A duration for a table: µs below 0.1 ms, then 3, 2, 1 and 0 decimals as it grows.
pub fn format_ms(ms: f64) -> String {
    if ms < 0.1 {
        format!("{:.1} µs", ms * 1000.0)
    } else if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn row_label(operation: Operation, mode: Option<Mode>) -> String {
    match mode {
        Some(mode) => format!("{} ({})", operation.label(), mode.label()),
        None => operation.label().to_owned(),
    }
}

fn header(out: &mut String, developers: &[usize], last: &str) {
    let mut line = format!("| {:<24} |", "Operation");
    for &n in developers {
        let head = if n == 1 {
            "1 Dev".to_owned()
        } else {
            format!("{n} Devs")
        };
        let _ = write!(line, " {head:>11} |");
    }
    let _ = writeln!(out, "{line} {last:>9} |");
    let mut rule = format!("|{:-<26}|", "");
    for _ in developers {
        rule.push_str(&format!("{:-<13}|", ""));
    }
    let _ = writeln!(out, "{rule}{:-<11}|", "");
}

fn mark(level: Level) -> &'static str {
    match level {
        Level::Ok => "  ",
        Level::Warning => "! ",
        Level::Critical => "!!",
    }
}

/// One line on a calibration: the target, the size chosen and its time, the steps.
pub fn calibration(c: &Calibration) -> String {
    let steps: Vec<String> = c
        .steps
        .iter()
        .map(|s| format!("{} files {}", s.files, format_ms(s.git_status_ms)))
        .collect();
    format!(
        "Calibration: one `git status --porcelain` should take {} (the original FlowForge \
         baseline's ~{:.0} ms unless --git-status-ms): {} files measured {} ({}, tolerance \
         {} %), in {:.1} s; steps: {}",
        format_ms(c.target_ms),
        flowforge_core::score::ORIGINAL_GIT_STATUS_MS,
        c.files,
        format_ms(c.git_status_ms),
        match &c.stopped_by {
            None => "reached".to_owned(),
            Some(why) => format!("NOT reached, stopped by {why}"),
        },
        c.tolerance_percent,
        c.seconds,
        steps.join(", ")
    )
}

/// The original FlowForge baseline's table, scored.
fn original_table(out: &mut String, o: &Original) {
    let _ = writeln!(
        out,
        "Original FlowForge baseline ({}, bash, one `git status` ~{:.0} ms) — score {}/100, \
         status {}",
        o.date,
        o.git_status_ms,
        o.score,
        o.status.as_str()
    );
    let developers: Vec<usize> = o.developers.iter().map(|&n| n as usize).collect();
    header(out, &developers, "Threshold");
    for operation in Operation::ALL {
        let mut line = format!("| {:<24} |", operation.label());
        let mut pass = true;
        for &n in &developers {
            let cell = match o
                .rows
                .iter()
                .find(|r| r.operation == operation && r.developers as usize == n)
            {
                Some(row) => {
                    pass &= row.status == CellStatus::Pass;
                    format!("{}{}", format_ms(row.ms), mark(row.level))
                }
                None => "n/m  ".to_owned(),
            };
            let _ = write!(line, " {cell:>11} |");
        }
        let _ = writeln!(
            out,
            "{line} {:>9} | {}",
            format!("{} ms", operation.threshold_ms()),
            if pass { "PASS" } else { "FAIL" }
        );
    }
    out.push('\n');
}

/// The whole terminal report.
pub fn text(b: &Baseline) -> String {
    let mut out = String::new();
    let f = &b.fixture;
    let _ = writeln!(
        out,
        "Fixture: {} tracked files in {} directories, {} branches ({})",
        f.tracked_files,
        f.directories,
        f.branches,
        f.repo.display(),
    );
    if let Some(c) = &b.calibration {
        let _ = writeln!(out, "{}", calibration(c));
    }
    let _ = writeln!(
        out,
        "Machine: {} CPUs, 1-minute load average {} at the start, {} at the end\n\
         Samples: at most {} timed rounds per cell after one warm-up, no more once a cell has \
         3 and has spent {:.0} s; times are medians; ! warning, !! critical\n",
        b.machine.cpus,
        b.machine
            .load_before
            .map_or("n/a".to_owned(), |l| format!("{l:.1}")),
        b.machine
            .load_after
            .map_or("n/a".to_owned(), |l| format!("{l:.1}")),
        b.samples,
        b.cell_budget_s
    );
    original_table(&mut out, &b.original);
    for variant in Variant::ALL {
        let _ = writeln!(
            out,
            "{} — score {}/100, status {}{}",
            match variant {
                Variant::Naive => "Naive (the original bash FlowForge)",
                Variant::Optimized =>
                    "Optimized (flowforge-git, flowforge-session, flowforge-index)",
            },
            b.score.get(&variant).copied().unwrap_or(0),
            b.status.get(&variant).map_or("-", |s| s.as_str()),
            if b.complete.get(&variant) == Some(&true) {
                ""
            } else {
                " (not every cell measured: score over the measured cells only)"
            }
        );
        header(&mut out, &b.developers, "Threshold");
        for operation in Operation::ALL {
            for mode in ops::modes(operation) {
                let mut line = format!("| {:<24} |", row_label(operation, mode));
                let mut status = None;
                for &n in &b.developers {
                    let cell = match b.row(operation, variant, mode, n) {
                        Some(row) => {
                            let pass = row.status == CellStatus::Pass;
                            status = Some(status.unwrap_or(true) && pass);
                            format!("{}{}", format_ms(row.median_ms), mark(row.level))
                        }
                        None => "n/m  ".to_owned(),
                    };
                    let _ = write!(line, " {cell:>11} |");
                }
                let status = match status {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "n/m",
                };
                let _ = writeln!(
                    out,
                    "{line} {:>9} | {status}",
                    format!("{} ms", operation.threshold_ms())
                );
            }
        }
        let fewer: Vec<String> = b
            .rows
            .iter()
            .filter(|r| r.variant == variant && r.samples < b.samples)
            .map(|r| {
                format!(
                    "{} @ {}: {}",
                    row_label(r.operation, r.mode),
                    r.developers,
                    r.samples
                )
            })
            .collect();
        if !fewer.is_empty() {
            let _ = writeln!(out, "Fewer samples (time budget): {}", fewer.join(", "));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "Improvement (naive median / optimized median)");
    header(&mut out, &b.developers, "");
    for operation in Operation::ALL {
        for mode in ops::modes(operation) {
            let mut line = format!("| {:<24} |", row_label(operation, mode));
            for &n in &b.developers {
                let ratio = b
                    .row(operation, Variant::Naive, mode, n)
                    .zip(b.row(operation, Variant::Optimized, mode, n))
                    .map(|(naive, opt)| naive.median_ms / opt.median_ms);
                let cell = ratio.map_or("n/m".to_owned(), |r| format!("{r:.1}×"));
                let _ = write!(line, " {cell:>11} |");
            }
            let _ = writeln!(out, "{line} {:>9} |", "");
        }
    }

    let _ = writeln!(out, "\nTargets");
    for t in &b.targets {
        let measured = t
            .measured
            .map_or("not measured".to_owned(), |m| format!("{m:.2} {}", t.unit));
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        let _ = writeln!(
            out,
            "  {:<56} {:>16}  (target {} {})  {verdict}",
            t.name, measured, t.target, t.unit
        );
    }
    let mib = |v: Option<f64>| v.map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"));
    let _ = writeln!(
        out,
        "\nPeak memory (VmHWM, this process; child git processes not included): {}\n\
         Git cache resident memory (optimized, warm): {}\n\
         One `git status --porcelain`: {}\n\
         Naive torn reads (files read while another thread rewrote them): {}",
        mib(b.peak_rss_mib),
        mib(b.git_cache_rss_mib),
        b.reference
            .git_status_ms
            .map_or("n/a".to_owned(), format_ms),
        b.naive_torn_reads
    );
    if let Some(r) = b.reference.session_without_history {
        let _ = writeln!(
            out,
            "Session optimized @ {} on a team without history (the per-developer reference): {}",
            r.developers,
            format_ms(r.median_ms)
        );
    }
    if let Some(f) = b.reference.file_floor {
        let [small, large] = f.developers;
        let [small_us, large_us] = f.us_per_developer;
        let _ = writeln!(
            out,
            "File-system floor per developer (four tear-free publications of a small view of \
             their own, nothing else): {small_us:.1} µs @ {small}, {large_us:.1} µs @ {large}: {:.2}× — \
             what the machine alone adds per developer as the team grows",
            f.ratio()
        );
    }
    if !b.not_measured.is_empty() {
        let _ = writeln!(out, "\nNot measured");
        for m in &b.not_measured {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                row_label(m.operation, m.mode),
                m.variant,
                m.reason
            );
        }
    }
    out
}
