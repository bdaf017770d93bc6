//! Exponential backoff with jitter for [`Store::update`](super::Store::update).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Retry;

pub(crate) struct Backoff {
    retry: Retry,
    current: Duration,
    rng: u64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(retry: Retry) -> Self {
        Self {
            retry,
            current: retry.initial_backoff,
            rng: 0,
            attempts: 0,
        }
    }

    /// Seeds from the clock, the process and the thread so racing writers spread out; done
    /// on the second lost race only, so an uncontended update pays nothing.
    fn seed() -> u64 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        let thread = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::thread::current().id().hash(&mut h);
            h.finish()
        };
        (nanos ^ thread ^ ((std::process::id() as u64) << 32)) | 1
    }

    /// Sleeps a random time up to the current backoff, which then doubles up to the maximum.
    /// The first lost race only yields: the winner is usually done already.
    pub(crate) fn pause(&mut self) {
        self.attempts += 1;
        if self.attempts == 1 {
            std::thread::yield_now();
            return;
        }
        if self.rng == 0 {
            self.rng = Self::seed();
        }
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let max = self.current.as_nanos().max(1) as u64;
        std::thread::sleep(Duration::from_nanos(self.rng % max));
        self.current = (self.current * 2).min(self.retry.max_backoff);
    }
}
