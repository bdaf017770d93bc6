//! The live monitor's frames: what `flowforge monitor` shows every second.
//!
//! A monitor is its own process, so it cannot see other processes' in-memory metrics. It shows
//! two honest sources, labelled as such:
//!
//! - what its own process measures each tick, recorded into
//!   [`Registry::global`](flowforge_core::metrics::Registry::global): the index refresh (stamp
//!   checks and reloads of changed namespaces, i.e. the cost of loading session data), the
//!   generation of a daily report, and whatever other FlowForge crates record there — the git
//!   sync its caller runs (flowforge-git records `git_sync_time` and its status cache's
//!   `cache_hit_rate`); plus the index's read-through cache hit rate;
//! - metric snapshots other FlowForge processes persisted as `metrics/<name>.json` under the
//!   namespace root (each a serialised [`flowforge_core::metrics::Snapshot`]): their latencies
//!   and their git status cache hit rate.
//!
//! Latencies are coloured against [`Operation::level`], hit rates against
//! [`Level::of_cache_hit_rate`]; [`render`] adds colour only when asked to.
//!
//! ```
//! use flowforge_core::Layout;
//! use flowforge_index::monitor::{GitSync, Monitor, RenderOptions, render};
//! let repo = tempfile::tempdir()?;
//! let mut monitor = Monitor::new(&Layout::for_repo(repo.path()))?;
//! let frame = monitor.tick(GitSync::Unavailable("not measured".into()))?;
//! let text = render(&frame, &RenderOptions { colour: false });
//! assert!(text.contains("Git sync: n/a (not measured)"));
//! assert!(!text.contains('\x1b'));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt::Write, path::PathBuf, time::Duration};

use flowforge_core::{
    Layout,
    metrics::{Registry, Snapshot, names},
    score::{Level, Operation},
};
use jiff::Timestamp;

use crate::{
    error::Result,
    index::{CacheCounts, Index, RefreshStats},
    record::Problem,
    report::{Format, Period, Report, ReportOptions, Zone},
};

/// The latency the monitor records for its index refreshes.
pub const INDEX_REFRESH_TIME: &str = "index_refresh_time";

/// At most this many persisted metric files are read per tick.
const MAX_METRIC_FILES: usize = 32;

/// The git sync time of a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum GitSync {
    /// Measured by the caller this tick.
    Measured(Duration),
    /// Not measured; the text says why.
    Unavailable(String),
}

/// Options of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// Colour levels with ANSI escapes (only for a terminal).
    pub colour: bool,
}

/// One screenful of the monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// When the frame was taken.
    pub at: Timestamp,
    /// Namespaces indexed.
    pub developers: usize,
    /// Active sessions (one per developer at most).
    pub active_sessions: usize,
    /// Problems the index reports.
    pub problems: usize,
    /// This tick's index refresh.
    pub refresh: RefreshStats,
    /// The index's cache counts since the monitor started.
    pub index_cache: CacheCounts,
    /// The git sync time.
    pub git_sync: GitSync,
    /// The monitor process's metrics.
    pub own: Snapshot,
    /// Snapshots persisted by other processes, by file name, sorted.
    pub persisted: Vec<(String, Snapshot)>,
    /// Persisted metric files that could not be read.
    pub metric_problems: Vec<Problem>,
}

/// A monitor: an index kept fresh, and its process's metrics.
#[derive(Debug)]
pub struct Monitor {
    index: Index,
    registry: &'static Registry,
}

impl Monitor {
    /// Opens the index of `layout` (from its snapshot when possible).
    ///
    /// # Errors
    /// As [`Index::open`].
    pub fn new(layout: &Layout) -> Result<Self> {
        Ok(Self {
            index: Index::open(layout)?.index,
            registry: Registry::global(),
        })
    }

    /// The monitor's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Takes one frame: refreshes the index and makes a daily report, timing both into the
    /// process's registry, and reads the persisted metric snapshots. `git_sync` is what the
    /// caller measured this tick (a git sync records its own latency in the registry).
    ///
    /// # Errors
    /// As [`Index::refresh`] and [`Report::generate`].
    pub fn tick(&mut self, git_sync: GitSync) -> Result<Frame> {
        let refresh = self.index.refresh()?;
        self.registry
            .latency(INDEX_REFRESH_TIME)
            .record(refresh.elapsed);
        let now = Timestamp::now();
        let options = ReportOptions {
            period: Period::Daily,
            zone: Zone::utc(),
            now,
        };
        let latency = self.registry.latency(names::REPORT_GENERATION_TIME);
        latency
            .time(|| Report::generate(&self.index, &options).map(|r| r.render(Format::Markdown)))?;
        let (persisted, metric_problems) = read_persisted(self.index.layout());
        Ok(Frame {
            at: now,
            developers: self.index.namespace_count(),
            active_sessions: self.index.active_sessions().count(),
            problems: self.index.problems().len(),
            refresh,
            index_cache: self.index.cache_counts(),
            git_sync,
            own: self.registry.snapshot(),
            persisted,
            metric_problems,
        })
    }
}

fn read_persisted(layout: &Layout) -> (Vec<(String, Snapshot)>, Vec<Problem>) {
    let dir = layout.metrics_dir();
    let root = layout.root();
    let Ok(Some(entries)) = flowforge_session::fs::list_dir(root, &dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut files: Vec<PathBuf> = (entries.into_iter())
        .filter(|e| e.kind == flowforge_session::fs::FileKind::File)
        .map(|e| dir.join(e.name))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.truncate(MAX_METRIC_FILES);
    let (mut snapshots, mut problems) = (Vec::new(), Vec::new());
    for path in files {
        match flowforge_session::fs::read_json::<Snapshot>(root, &path) {
            Ok(Some(snapshot)) => {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                snapshots.push((name.into_owned(), snapshot));
            }
            Ok(None) => {}
            Err(e) => problems.push(Problem::from_error(&path, None, &e)),
        }
    }
    (snapshots, problems)
}

/// The operation whose levels colour a latency metric.
fn operation_of(metric: &str) -> Option<Operation> {
    match metric {
        names::GIT_SYNC_TIME => Some(Operation::GitSync),
        names::SESSION_CREATE_TIME => Some(Operation::Session),
        names::REPORT_GENERATION_TIME => Some(Operation::ReportGeneration),
        INDEX_REFRESH_TIME => Some(Operation::CrossDevQueries),
        _ => None,
    }
}

fn paint(text: &str, level: Option<Level>, options: &RenderOptions) -> String {
    let code = match level {
        Some(Level::Ok) => "32",
        Some(Level::Warning) => "33",
        Some(Level::Critical) => "31",
        None => return text.to_owned(),
    };
    if options.colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn rate(hits: u64, misses: u64, options: &RenderOptions) -> String {
    let total = hits + misses;
    if total == 0 {
        return "n/a (nothing recorded)".to_owned();
    }
    let r = hits as f64 / total as f64;
    let text = format!("{:.1}% ({hits} hits, {misses} misses)", r * 100.0);
    let level = Level::of_cache_hit_rate(r);
    format!("{} [{level}]", paint(&text, Some(level), options))
}

/// Renders a frame as text, coloured when `options.colour`.
pub fn render(frame: &Frame, options: &RenderOptions) -> String {
    let mut out = String::with_capacity(1024);
    let _ = writeln!(out, "=== FlowForge Performance Monitor ===");
    let _ = writeln!(out, "Time: {}", frame.at.strftime("%Y-%m-%d %H:%M:%S UTC"));
    let _ = writeln!(
        out,
        "Developers: {}   Active sessions: {}   Problems: {}",
        frame.developers, frame.active_sessions, frame.problems
    );
    let git = match &frame.git_sync {
        GitSync::Measured(d) => {
            let ms = d.as_secs_f64() * 1000.0;
            let level = Operation::GitSync.level(ms);
            format!(
                "{} [{level}]",
                paint(&format!("{ms:.1} ms"), Some(level), options)
            )
        }
        GitSync::Unavailable(why) => format!("n/a ({why})"),
    };
    let _ = writeln!(out, "Git sync: {git}");
    let refresh_ms = frame.refresh.elapsed.as_secs_f64() * 1000.0;
    let _ = writeln!(
        out,
        "Index refresh: {refresh_ms:.2} ms ({} checked, {} reloaded)",
        frame.refresh.checked,
        frame.refresh.reloaded.len()
    );
    let _ = writeln!(
        out,
        "Index cache hit rate: {}",
        rate(frame.index_cache.hits, frame.index_cache.misses, options)
    );
    let (hits, misses) = std::iter::once(&frame.own)
        .chain(frame.persisted.iter().map(|(_, s)| s))
        .filter_map(|s| s.ratios.get(names::CACHE_HIT_RATE))
        .fold((0, 0), |(h, m), r| (h + r.hits, m + r.misses));
    let git_cache = rate(hits, misses, options);
    let _ = writeln!(out, "Git status cache hit rate: {git_cache}");
    let _ = writeln!(out, "\nRecent operation latencies (p50 / p95 / last):");
    let sources = std::iter::once(("monitor", &frame.own))
        .chain(frame.persisted.iter().map(|(n, s)| (n.as_str(), s)));
    let mut any = false;
    for (source, snapshot) in sources {
        for (name, l) in &snapshot.latencies {
            any = true;
            let level = operation_of(name).map(|op| op.level(l.p95_ms));
            let text = format!("{:.2} / {:.2} / {:.2} ms", l.p50_ms, l.p95_ms, l.last_ms);
            let mark = level.map(|l| format!(" [{l}]")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {name:<24} {source:<12} {}{mark}  (n={})",
                paint(&text, level, options),
                l.count
            );
        }
    }
    if !any {
        out.push_str("  none recorded yet\n");
    }
    for p in &frame.metric_problems {
        let _ = writeln!(
            out,
            "unreadable metrics file {}: {}",
            p.path.display(),
            p.message
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use flowforge_core::metrics::RatioSummary;

    use super::*;

    fn frame(git_ms: u64, hit_rate: (u64, u64)) -> Frame {
        let mut other = Snapshot::default();
        other.ratios.insert(
            names::CACHE_HIT_RATE.to_owned(),
            RatioSummary {
                hits: hit_rate.0,
                misses: hit_rate.1,
                rate: None,
            },
        );
        Frame {
            at: Timestamp::UNIX_EPOCH,
            developers: 10,
            active_sessions: 4,
            problems: 0,
            refresh: RefreshStats::default(),
            index_cache: CacheCounts { hits: 9, misses: 1 },
            git_sync: GitSync::Measured(Duration::from_millis(git_ms)),
            own: Snapshot::default(),
            persisted: vec![("daemon".to_owned(), other)],
            metric_problems: Vec::new(),
        }
    }

    #[test]
    fn levels_pick_the_colours_and_plain_text_has_none() {
        let colour = RenderOptions { colour: true };
        let text = render(&frame(1600, (7, 3)), &colour);
        assert!(
            text.contains("Git sync: \x1b[31m1600.0 ms\x1b[0m [critical]"),
            "{text}"
        );
        assert!(
            text.contains("\x1b[33m70.0% (7 hits, 3 misses)\x1b[0m [warning]"),
            "{text}"
        );
        assert!(
            text.contains("\x1b[32m90.0% (9 hits, 1 misses)\x1b[0m [ok]"),
            "{text}"
        );
        let text = render(&frame(900, (5, 5)), &colour);
        assert!(text.contains("\x1b[33m900.0 ms\x1b[0m [warning]"), "{text}");
        assert!(text.contains("\x1b[31m50.0%"), "{text}");
        let plain = render(&frame(1600, (7, 3)), &RenderOptions { colour: false });
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("Git sync: 1600.0 ms [critical]"), "{plain}");
    }
}
