//! A single-flight cell: concurrent callers that miss share one computation.
//!
//! The cell holds the last value together with the *version* it covers: a number that grows
//! whenever something the value depends on changes (the watcher bumps it for every relevant
//! event). A caller asks for a value covering at least version `need`:
//!
//! - the stored value covers it: a hit, no work;
//! - a computation is running that started at a version `>= need`: wait for it and share it;
//! - otherwise (after any older computation has finished) this caller computes, and every caller
//!   arriving meanwhile with a `need` it covers waits for it.
//!
//! So 100 threads asking at once cause one computation, and a caller never receives a value
//! computed from a state older than the one it asked for.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::{Condvar, Mutex};

/// A value shared by concurrent callers, recomputed once per change.
#[derive(Debug)]
pub(super) struct SingleFlight<T> {
    inner: Mutex<Inner<T>>,
    done: Condvar,
}

/// What [`SingleFlight::get`] returned and how.
#[derive(Debug)]
pub(super) struct Fetched<T> {
    /// The value.
    pub value: Arc<T>,
    /// When the value was computed.
    pub computed_at: Instant,
    /// How this caller obtained it.
    pub how: How,
}

/// How a caller obtained its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    /// The stored value was recent enough: no computation.
    Hit,
    /// Another caller's computation, shared.
    Shared,
    /// This caller computed it.
    Computed,
}

#[derive(Debug)]
struct Inner<T> {
    value: Option<Stored<T>>,
    /// The version the running computation covers, if one is running.
    running: Option<u64>,
    computations: u64,
}

#[derive(Debug)]
struct Stored<T> {
    value: Arc<T>,
    version: u64,
    computed_at: Instant,
}

/// Clears `running` even if the computation panics, so waiters never hang.
struct RunningGuard<'a, T> {
    cell: &'a SingleFlight<T>,
}

impl<T> Drop for RunningGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.inner.lock().running = None;
        self.cell.done.notify_all();
    }
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SingleFlight<T> {
    /// An empty cell.
    pub(super) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                value: None,
                running: None,
                computations: 0,
            }),
            done: Condvar::new(),
        }
    }

    /// A value covering at least version `need`, computing it if needed.
    ///
    /// `version_now` reads the current version; it is called once, just before `compute`
    /// starts, and must be read *before* `compute` looks at the state it depends on (reading it
    /// early only makes the value claim less than it covers, which is safe). `compute` receives
    /// the previous value, if any, to update incrementally.
    ///
    /// # Errors
    /// The error of `compute` when this caller ran it. Callers waiting on a computation that
    /// failed do not receive its error: they retry, computing themselves if needed.
    pub(super) fn get<E>(
        &self,
        need: u64,
        version_now: impl FnOnce() -> u64,
        compute: impl FnOnce(Option<Arc<T>>) -> Result<T, E>,
    ) -> Result<Fetched<T>, E> {
        let mut inner = self.inner.lock();
        let mut waited = false;
        loop {
            if let Some(stored) = inner.value.as_ref().filter(|s| s.version >= need) {
                return Ok(Fetched {
                    value: Arc::clone(&stored.value),
                    computed_at: stored.computed_at,
                    how: if waited { How::Shared } else { How::Hit },
                });
            }
            match inner.running {
                // A computation is running; whether it covers `need` or not, wait for it:
                // either it answers us, or we compute after it.
                Some(_) => {
                    waited = true;
                    self.done.wait(&mut inner);
                }
                None => break,
            }
        }
        // We compute. The version is read under the cell's lock, so callers arriving from now
        // on see `running` and wait for us when it covers them.
        let version = version_now();
        inner.running = Some(version);
        inner.computations += 1;
        let previous = inner.value.as_ref().map(|s| Arc::clone(&s.value));
        drop(inner);

        let guard = RunningGuard { cell: self };
        let result = compute(previous);
        let computed_at = Instant::now();
        let mut inner = self.inner.lock();
        let out = result.map(|value| {
            let value = Arc::new(value);
            // Never replace a newer value (cannot happen with one computation at a time, but
            // keep the invariant local).
            if inner.value.as_ref().is_none_or(|s| s.version <= version) {
                inner.value = Some(Stored {
                    value: Arc::clone(&value),
                    version,
                    computed_at,
                });
            }
            Fetched {
                value,
                computed_at,
                how: How::Computed,
            }
        });
        drop(inner);
        drop(guard);
        out
    }

    /// The stored value if it was computed less than `max_age` ago, without waiting.
    pub(super) fn get_if_younger(&self, max_age: Duration) -> Option<Fetched<T>> {
        let inner = self.inner.lock();
        let stored = inner.value.as_ref()?;
        (stored.computed_at.elapsed() < max_age).then(|| Fetched {
            value: Arc::clone(&stored.value),
            computed_at: stored.computed_at,
            how: How::Hit,
        })
    }

    /// How many computations this cell has started.
    #[cfg(test)]
    fn computations(&self) -> u64 {
        self.inner.lock().computations
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Barrier,
        atomic::{AtomicU64, Ordering},
    };

    use super::*;

    #[test]
    fn a_hundred_threads_asking_at_once_cause_one_computation() {
        let cell = SingleFlight::<u64>::new();
        let runs = AtomicU64::new(0);
        let barrier = Barrier::new(100);
        let hows: Vec<How> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..100)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let fetched = cell
                            .get(
                                1,
                                || 1,
                                |_| {
                                    runs.fetch_add(1, Ordering::SeqCst);
                                    // Long enough that every thread arrives while it runs.
                                    std::thread::sleep(Duration::from_millis(200));
                                    Ok::<_, ()>(42)
                                },
                            )
                            .unwrap();
                        assert_eq!(*fetched.value, 42);
                        fetched.how
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cell.computations(), 1);
        assert_eq!(hows.iter().filter(|h| **h == How::Computed).count(), 1);
    }

    #[test]
    fn a_caller_needing_a_newer_version_does_not_take_an_older_computation() {
        let cell = SingleFlight::<u64>::new();
        let version = AtomicU64::new(1);
        let started = Barrier::new(2);
        let release = Barrier::new(2);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| {
                cell.get(
                    1,
                    || version.load(Ordering::SeqCst),
                    |_| {
                        started.wait();
                        release.wait();
                        Ok::<_, ()>(1)
                    },
                )
                .unwrap()
            });
            started.wait();
            // A change arrives while the first computation runs.
            version.store(2, Ordering::SeqCst);
            let second = scope.spawn(|| {
                cell.get(
                    2,
                    || version.load(Ordering::SeqCst),
                    |prev| Ok::<_, ()>(prev.map_or(0, |p| *p) + 1),
                )
                .unwrap()
            });
            release.wait();
            assert_eq!(*first.join().unwrap().value, 1);
            let second = second.join().unwrap();
            assert_eq!(*second.value, 2);
        });
        assert_eq!(cell.computations(), 2);
    }

    #[test]
    fn a_failed_computation_is_retried_by_the_next_caller() {
        let cell = SingleFlight::<u64>::new();
        assert!(cell.get(1, || 1, |_| Err("boom")).is_err());
        let ok = cell.get(1, || 1, |_| Ok::<_, &str>(7)).unwrap();
        assert_eq!((*ok.value, ok.how), (7, How::Computed));
        let hit = cell.get(1, || 1, |_| Ok::<_, &str>(8)).unwrap();
        assert_eq!((*hit.value, hit.how), (7, How::Hit));
    }

    #[test]
    fn a_panicking_computation_does_not_hang_the_others() {
        let cell = SingleFlight::<u64>::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.get(1, || 1, |_| -> Result<u64, ()> { panic!("compute failed") })
        }));
        assert!(caught.is_err());
        assert_eq!(*cell.get(1, || 1, |_| Ok::<_, ()>(3)).unwrap().value, 3);
    }
}
