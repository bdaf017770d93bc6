//! A thread-safe registry for FlowForge's monitoring metrics.
//!
//! Three kinds: [`Latency`] (an HDR histogram with p50/p95/p99), [`Counter`] and [`Ratio`]
//! (hits against misses, e.g. the cache hit rate). Handles are `Arc`s: look one up once and
//! record through it; recording is one uncontended lock (latency) or one atomic add.
//!
//! ```
//! use std::time::Duration;
//! use flowforge_core::metrics::{names, Registry};
//! let registry = Registry::new();
//! let sync = registry.latency(names::GIT_SYNC_TIME);
//! sync.record(Duration::from_millis(3));
//! registry.ratio(names::CACHE_HIT_RATE).hit();
//! let snapshot = registry.snapshot();
//! assert_eq!(snapshot.latencies[names::GIT_SYNC_TIME].count, 1);
//! assert_eq!(snapshot.ratios[names::CACHE_HIT_RATE].rate, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    collections::BTreeMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// The metric names FlowForge records and the monitor shows.
pub mod names {
    /// Latency: every developer's view of git.
    pub const GIT_SYNC_TIME: &str = "git_sync_time";
    /// Latency: session creation.
    pub const SESSION_CREATE_TIME: &str = "session_create_time";
    /// Latency: team report generation.
    pub const REPORT_GENERATION_TIME: &str = "report_generation_time";
    /// Ratio: git status cache hits against misses.
    pub const CACHE_HIT_RATE: &str = "cache_hit_rate";
    /// Counter: operations run concurrently.
    pub const CONCURRENT_OPERATIONS: &str = "concurrent_operations";
}

/// Latencies are recorded in microseconds, from 1 µs to one hour, with 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram.
#[derive(Debug)]
pub struct Latency {
    histogram: Mutex<Histogram<u64>>,
    last_micros: AtomicU64,
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

/// Hits against misses.
#[derive(Debug, Default)]
pub struct Ratio {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// A named set of metrics, shared across threads.
#[derive(Debug, Default)]
pub struct Registry {
    latencies: RwLock<BTreeMap<String, Arc<Latency>>>,
    counters: RwLock<BTreeMap<String, Arc<Counter>>>,
    ratios: RwLock<BTreeMap<String, Arc<Ratio>>>,
}

/// A point-in-time copy of a [`Latency`], in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Recorded values.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest value.
    pub max_ms: f64,
    /// The most recent value.
    pub last_ms: f64,
}

/// A point-in-time copy of a [`Ratio`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioSummary {
    /// Hits.
    pub hits: u64,
    /// Misses.
    pub misses: u64,
    /// `hits / (hits + misses)`, or `None` before anything was recorded.
    pub rate: Option<f64>,
}

/// A point-in-time copy of a whole [`Registry`], serialisable for the monitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Latencies by name.
    pub latencies: BTreeMap<String, LatencySummary>,
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Ratios by name.
    pub ratios: BTreeMap<String, RatioSummary>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            histogram: Mutex::new(
                Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("bounds are valid"),
            ),
            last_micros: AtomicU64::new(0),
        }
    }
}

impl Latency {
    /// Records one duration (clamped to 1 µs..1 h).
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_MICROS);
        self.histogram.lock().saturating_record(micros);
        self.last_micros.store(micros, Ordering::Relaxed);
    }

    /// Runs `f`, records how long it took, and returns its result.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.record(start.elapsed());
        out
    }

    /// The current percentiles.
    pub fn summary(&self) -> LatencySummary {
        let h = self.histogram.lock();
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            last_ms: ms(self.last_micros.load(Ordering::Relaxed)),
        }
    }
}

impl Counter {
    /// Adds one.
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Ratio {
    /// Counts a hit.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a miss.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// The current counts and rate.
    pub fn summary(&self) -> RatioSummary {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let total = hits + misses;
        RatioSummary {
            hits,
            misses,
            rate: (total > 0).then(|| hits as f64 / total as f64),
        }
    }
}

fn get_or_insert<T: Default>(map: &RwLock<BTreeMap<String, Arc<T>>>, name: &str) -> Arc<T> {
    if let Some(found) = map.read().get(name) {
        return Arc::clone(found);
    }
    Arc::clone(map.write().entry(name.to_owned()).or_default())
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry that the FlowForge crates record into.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The latency named `name`, created on first use.
    pub fn latency(&self, name: &str) -> Arc<Latency> {
        get_or_insert(&self.latencies, name)
    }

    /// The counter named `name`, created on first use.
    pub fn counter(&self, name: &str) -> Arc<Counter> {
        get_or_insert(&self.counters, name)
    }

    /// The ratio named `name`, created on first use.
    pub fn ratio(&self, name: &str) -> Arc<Ratio> {
        get_or_insert(&self.ratios, name)
    }

    /// A copy of every metric.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            latencies: (self.latencies.read().iter())
                .map(|(k, v)| (k.clone(), v.summary()))
                .collect(),
            counters: (self.counters.read().iter())
                .map(|(k, v)| (k.clone(), v.get()))
                .collect(),
            ratios: (self.ratios.read().iter())
                .map(|(k, v)| (k.clone(), v.summary()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_values() {
        let registry = Registry::new();
        let latency = registry.latency(names::SESSION_CREATE_TIME);
        for ms in 1..=100 {
            latency.record(Duration::from_millis(ms));
        }
        let s = registry.snapshot().latencies[names::SESSION_CREATE_TIME];
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p95_ms - 95.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.last_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn concurrent_recording_loses_nothing() {
        let registry = Arc::new(Registry::new());
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let ratio = registry.ratio(names::CACHE_HIT_RATE);
                    let counter = registry.counter(names::CONCURRENT_OPERATIONS);
                    let latency = registry.latency(names::GIT_SYNC_TIME);
                    for i in 0..1000 {
                        if i % 4 == 0 {
                            ratio.miss()
                        } else {
                            ratio.hit()
                        }
                        counter.incr();
                        latency.record(Duration::from_micros(i + 1));
                    }
                });
            }
        });
        let s = registry.snapshot();
        assert_eq!(s.counters[names::CONCURRENT_OPERATIONS], 8000);
        assert_eq!(s.latencies[names::GIT_SYNC_TIME].count, 8000);
        let ratio = s.ratios[names::CACHE_HIT_RATE];
        assert_eq!((ratio.hits, ratio.misses), (6000, 2000));
        assert_eq!(ratio.rate, Some(0.75));
    }

    #[test]
    fn an_empty_ratio_has_no_rate() {
        assert_eq!(Ratio::default().summary().rate, None);
    }
}
