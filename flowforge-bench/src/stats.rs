//! Summaries of timed samples, and the process's memory use.

/// Median and 95th percentile of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median (the mean of the two middle samples for an even count).
    pub median_ms: f64,
    /// The 95th percentile, nearest rank.
    pub p95_ms: f64,
    /// How many samples.
    pub samples: usize,
}

impl Summary {
    /// Summarises `samples_ms`; `None` when there are none.
    pub fn of(samples_ms: &[f64]) -> Option<Summary> {
        if samples_ms.is_empty() {
            return None;
        }
        let mut sorted = samples_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median_ms = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        // Nearest rank: the smallest value with at least 95 % of the samples at or below it.
        let rank = (0.95 * n as f64).ceil() as usize;
        let p95_ms = sorted[rank.clamp(1, n) - 1];
        Some(Summary {
            median_ms,
            p95_ms,
            samples: n,
        })
    }
}

/// The process's peak resident set size (`VmHWM`) in MiB; `None` where `/proc` is missing.
/// Child processes (the naive variants' `git`) are not included.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_kib("VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// The process's current resident set size (`VmRSS`) in MiB.
pub fn current_rss_mib() -> Option<f64> {
    proc_status_kib("VmRSS:").map(|kib| kib as f64 / 1024.0)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95_follow_their_definitions() {
        assert_eq!(Summary::of(&[]), None);
        let one = Summary::of(&[3.0]).unwrap();
        assert_eq!((one.median_ms, one.p95_ms, one.samples), (3.0, 3.0, 1));
        let four = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((four.median_ms, four.p95_ms), (2.5, 4.0));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&hundred).unwrap();
        assert_eq!((s.median_ms, s.p95_ms), (50.5, 95.0));
    }

    #[test]
    fn memory_is_read_from_proc() {
        // Current first: the peak read after it can only be higher or equal.
        let now = current_rss_mib().unwrap();
        let peak = peak_rss_mib().unwrap();
        assert!(peak > 0.0 && now > 0.0 && peak >= now, "{peak} {now}");
    }
}
