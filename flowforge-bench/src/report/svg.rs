//! The chart: time against developers, naive and optimized beside the original FlowForge
//! baseline's figures, one panel per operation, log-scaled time (and log-scaled developers when
//! the counts span a factor of ten or more).

use std::fmt::Write as _;

use flowforge_core::score::Operation;

use crate::{
    baseline::Baseline,
    ops::{self, Mode, Variant},
};

const PANEL_W: f64 = 400.0;
const PANEL_H: f64 = 280.0;
const COLUMNS: usize = 3;
const LEGEND_H: f64 = 40.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 42.0;

/// One line of a panel: a variant (and mode) and its `(developers, median ms)` points.
type Series = (Variant, Option<Mode>, Vec<(usize, f64)>);

fn color(variant: Variant) -> &'static str {
    match variant {
        Variant::Naive => "#d62728",
        Variant::Optimized => "#2ca02c",
    }
}

/// The original FlowForge baseline's line.
const ORIGINAL_COLOR: &str = "#1f77b4";
const ORIGINAL_DASH: &str = "1,3";

fn dash(mode: Option<Mode>) -> &'static str {
    match mode {
        Some(Mode::Cold) => "7,4",
        Some(Mode::AfterEdit) => "2,3",
        Some(Mode::Warm) | None => "none",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document of a run.
pub fn svg(b: &Baseline) -> String {
    let rows = Operation::ALL.len().div_ceil(COLUMNS);
    let width = PANEL_W * COLUMNS as f64;
    let height = LEGEND_H + PANEL_H * rows as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    legend(&mut out, b);
    for (i, operation) in Operation::ALL.into_iter().enumerate() {
        let x0 = PANEL_W * (i % COLUMNS) as f64;
        let y0 = LEGEND_H + PANEL_H * (i / COLUMNS) as f64;
        panel(&mut out, b, operation, x0, y0);
    }
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String, b: &Baseline) {
    let title = format!(
        "FlowForge baseline — {} files, at most {} samples per cell, medians; score original {} / naive {} / optimized {}",
        b.fixture.tracked_files,
        b.samples,
        b.original.score,
        b.score.get(&Variant::Naive).copied().unwrap_or(0),
        b.score.get(&Variant::Optimized).copied().unwrap_or(0),
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="16" font-size="13" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    let mut x = 10.0;
    for variant in Variant::ALL {
        for mode in [None, Some(Mode::Cold), Some(Mode::AfterEdit)] {
            let label = match mode {
                None => format!("{variant} (warm)"),
                Some(m) => format!("{variant} git {}", m.label()),
            };
            let _ = writeln!(
                out,
                r#"<line x1="{x}" y1="30" x2="{}" y2="30" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{}" y="34">{label}</text>"#,
                x + 24.0,
                color(variant),
                dash(mode),
                x + 28.0
            );
            x += 165.0;
        }
    }
    let _ = writeln!(
        out,
        r#"<line x1="{x}" y1="30" x2="{}" y2="30" stroke="{ORIGINAL_COLOR}" stroke-width="2" stroke-dasharray="{ORIGINAL_DASH}"/><rect x="{}" y="27" width="6" height="6" fill="{ORIGINAL_COLOR}"/><text x="{}" y="34">original ({})</text>"#,
        x + 24.0,
        x + 9.0,
        x + 28.0,
        escape(&b.original.date)
    );
}

fn panel(out: &mut String, b: &Baseline, operation: Operation, x0: f64, y0: f64) {
    let series: Vec<Series> = Variant::ALL
        .into_iter()
        .flat_map(|variant| {
            ops::modes(operation)
                .into_iter()
                .map(move |mode| (variant, mode))
        })
        .map(|(variant, mode)| {
            let points = b
                .developers
                .iter()
                .filter_map(|&n| b.row(operation, variant, mode, n).map(|r| (n, r.median_ms)))
                .collect();
            (variant, mode, points)
        })
        .collect();
    let original: Vec<(usize, f64)> = b
        .original
        .rows
        .iter()
        .filter(|r| r.operation == operation)
        .map(|r| (r.developers as usize, r.ms))
        .collect();
    let threshold = operation.threshold_ms();
    let values = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, ms)| ms))
        .chain(original.iter().map(|&(_, ms)| ms))
        .chain([threshold])
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (y_lo, y_hi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let (plot_w, plot_h) = (PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM);
    let y = |ms: f64| y0 + TOP + plot_h * (1.0 - (ms.log10() - y_lo) / (y_hi - y_lo));

    // The axis holds the run's counts and the original's.
    let mut counts: Vec<usize> = b
        .developers
        .iter()
        .copied()
        .chain(original.iter().map(|&(n, _)| n))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    let first = *counts.first().unwrap_or(&1) as f64;
    let last = *counts.last().unwrap_or(&1) as f64;
    let log_x = last / first >= 10.0;
    let x = |n: usize| {
        let (n, a, z) = if log_x {
            ((n as f64).log10(), first.log10(), last.log10())
        } else {
            (n as f64, first, last)
        };
        let t = if z > a { (n - a) / (z - a) } else { 0.5 };
        x0 + LEFT + plot_w * t
    };

    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
        x0 + LEFT,
        y0 + 18.0,
        escape(operation.label())
    );
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##,
        x0 + LEFT,
        y0 + TOP
    );
    // Decades on the time axis.
    let mut decade = y_lo;
    while decade <= y_hi + 1e-9 {
        let ms = 10f64.powf(decade);
        let yy = y(ms);
        let _ = writeln!(
            out,
            r##"<line x1="{}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + LEFT,
            x0 + LEFT + plot_w,
            x0 + LEFT - 4.0,
            yy + 4.0,
            escape(&super::format_ms(ms))
        );
        decade += 1.0;
    }
    for &n in &counts {
        let xx = x(n);
        let _ = writeln!(
            out,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{n}</text>"#,
            y0 + TOP + plot_h + 14.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">developers{}</text>"#,
        x0 + LEFT + plot_w / 2.0,
        y0 + TOP + plot_h + 30.0,
        if log_x { " (log)" } else { "" }
    );
    let ty = y(threshold);
    let _ = writeln!(
        out,
        r##"<line x1="{}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#555" stroke-dasharray="4,4"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555">threshold {threshold} ms</text>"##,
        x0 + LEFT,
        x0 + LEFT + plot_w,
        x0 + LEFT + plot_w - 2.0,
        ty - 3.0
    );
    if !original.is_empty() {
        let floor = 10f64.powf(y_lo);
        let path: Vec<String> = original
            .iter()
            .map(|&(n, ms)| format!("{:.1},{:.1}", x(n), y(ms.max(floor))))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{ORIGINAL_COLOR}" stroke-width="2" stroke-dasharray="{ORIGINAL_DASH}"/>"#,
            path.join(" ")
        );
        for &(n, ms) in &original {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="6" height="6" fill="{ORIGINAL_COLOR}"><title>original @ {n}: {}</title></rect>"#,
                x(n) - 3.0,
                y(ms.max(floor)) - 3.0,
                escape(&super::format_ms(ms))
            );
        }
    }
    for (variant, mode, points) in &series {
        if points.is_empty() {
            continue;
        }
        let path: Vec<String> = points
            .iter()
            .map(|&(n, ms)| format!("{:.1},{:.1}", x(n), y(ms.max(10f64.powf(y_lo)))))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
            path.join(" "),
            color(*variant),
            dash(*mode)
        );
        for &(n, ms) in points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{variant}{} @ {n}: {}</title></circle>"#,
                x(n),
                y(ms.max(10f64.powf(y_lo))),
                color(*variant),
                mode.map_or(String::new(), |m| format!(" {}", m.label())),
                escape(&super::format_ms(ms))
            );
        }
    }
}
