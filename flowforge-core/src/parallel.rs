//! The workspace's parallel maps, both returning the results in the slice's order:
//! [`map_chunks`] splits a slice into contiguous chunks, each mapped on its own scoped thread
//! (cheap to hand out, right when items cost alike); [`map_each`] hands the items out one at a
//! time to whichever thread is free, the calling thread among them once it has done its own
//! work (right when items cost very differently, as the directories of a work tree do).
//!
//! The callers decide how many threads are worth it (the namespace index caps at eight; the git
//! status engine uses one per core, [`cores`]); this module only splits, runs and joins.

/// How many threads this process can run at once: [`std::thread::available_parallelism`]
/// (1 when it cannot tell), asked once per process. Asking costs more than the small jobs it
/// sizes — on Linux the standard library reads the cgroup's CPU quota files each time — and a
/// refresh or a status asks on every call; the answer is a thread count, not a limit anyone
/// relies on, so a quota changed later is only a less fitting count.
///
/// ```
/// assert!(flowforge_core::parallel::cores() >= 1);
/// ```
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Runs `f` over `items` split into at most `threads` contiguous chunks, one scoped thread per
/// chunk, and concatenates the results in the order of `items`. With `threads <= 1` it runs `f`
/// once on the calling thread.
///
/// # Panics
///
/// A panic in `f` is resumed on the calling thread once every chunk has finished: no chunk's
/// results are silently dropped.
///
/// ```
/// let doubled = flowforge_core::parallel::map_chunks(&[1, 2, 3, 4, 5], 2, |chunk| {
///     chunk.iter().map(|n| n * 2).collect()
/// });
/// assert_eq!(doubled, [2, 4, 6, 8, 10]);
/// ```
pub fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return f(items);
    }
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Runs `f` on every item of `items` on `threads` threads and returns the results in the order
/// of `items`, with what `alongside` returned. The calling thread first runs `alongside` while
/// `threads - 1` scoped threads take items, then takes items itself; each item goes, in slice
/// order, to whichever thread is free, so put the costliest items first. With `threads <= 1`
/// everything runs on the calling thread, `alongside` first.
///
/// # Panics
///
/// A panic in `f` or `alongside` is resumed on the calling thread once every thread has finished.
///
/// ```
/// let (lengths, answer) =
///     flowforge_core::parallel::map_each(&["a", "bcd", "ef"], 2, || 42, |s| s.len());
/// assert_eq!(lengths, [1, 3, 2]);
/// assert_eq!(answer, 42);
/// ```
pub fn map_each<T: Sync, R: Send, A>(
    items: &[T],
    threads: usize,
    alongside: impl FnOnce() -> A,
    f: impl Fn(&T) -> R + Sync,
) -> (Vec<R>, A) {
    let helpers = threads.min(items.len()).saturating_sub(1);
    if helpers == 0 {
        let beside = alongside();
        return (items.iter().map(f).collect(), beside);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(at) else {
                return done;
            };
            done.push((at, f(item)));
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers).map(|_| scope.spawn(take)).collect();
        let beside = alongside();
        let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
        let mut place = |done: Vec<(usize, R)>| {
            for (at, result) in done {
                slots[at] = Some(result);
            }
        };
        place(take());
        for handle in handles {
            match handle.join() {
                Ok(done) => place(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let results = slots
            .into_iter()
            .map(|slot| slot.expect("every index below the length is taken by exactly one thread"))
            .collect();
        (results, beside)
    })
}

#[cfg(test)]
mod tests {
    use super::{map_chunks, map_each};

    #[test]
    fn map_each_keeps_the_order_and_runs_alongside_once() {
        let items: Vec<u32> = (0..103).collect();
        let expected: Vec<u64> = items.iter().map(|&n| u64::from(n) * 3).collect();
        for threads in [0, 1, 2, 3, 7, 103, 500] {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let (got, beside) = map_each(
                &items,
                threads,
                || calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                |&n| u64::from(n) * 3,
            );
            assert_eq!(got, expected, "{threads} threads");
            assert_eq!(beside, 0, "{threads} threads");
            assert_eq!(calls.into_inner(), 1, "{threads} threads");
        }
        let (none, beside) = map_each(&[] as &[u32], 4, || "ran", |&n| n);
        assert!(none.is_empty());
        assert_eq!(beside, "ran");
    }

    #[test]
    fn map_each_runs_items_while_alongside_runs() {
        // `alongside` returns only once every item has run: the helpers took them all
        // meanwhile, none on the calling thread.
        let items: Vec<u32> = (0..50).collect();
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let caller = std::thread::current().id();
        let (ran_on, ()) = map_each(
            &items,
            3,
            || {
                while finished.load(std::sync::atomic::Ordering::SeqCst) < items.len() {
                    std::thread::yield_now();
                }
            },
            |_| {
                finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::current().id()
            },
        );
        assert!(ran_on.iter().all(|id| *id != caller));
    }

    #[test]
    fn a_panicking_item_reaches_the_caller() {
        let items: Vec<u32> = (0..10).collect();
        let caught = std::panic::catch_unwind(|| {
            map_each(
                &items,
                4,
                || (),
                |&n| {
                    assert_ne!(n, 9, "item 9");
                    n
                },
            )
        });
        assert!(caught.is_err());
    }

    #[test]
    fn keeps_the_order_for_every_thread_count() {
        let items: Vec<u32> = (0..103).collect();
        let expected: Vec<u64> = items.iter().map(|&n| u64::from(n) * 3).collect();
        for threads in [0, 1, 2, 3, 7, 103, 500] {
            let got = map_chunks(&items, threads, |c| {
                c.iter().map(|&n| u64::from(n) * 3).collect()
            });
            assert_eq!(got, expected, "{threads} threads");
        }
        assert!(map_chunks(&[] as &[u32], 4, |c| c.to_vec()).is_empty());
    }

    #[test]
    fn a_panicking_chunk_reaches_the_caller() {
        let items: Vec<u32> = (0..10).collect();
        let caught = std::panic::catch_unwind(|| {
            map_chunks(&items, 4, |c| {
                assert!(!c.contains(&9), "chunk with 9");
                c.to_vec()
            })
        });
        assert!(caught.is_err());
    }
}
