//! One parallel map for the workspace: a slice split into contiguous chunks, each chunk mapped
//! on its own scoped thread, the results concatenated in the slice's order.
//!
//! The callers decide how many threads are worth it (the git status engine uses twice the cores
//! because its `lstat`s wait on the kernel; the namespace index caps at eight); this module only
//! splits, runs and joins.

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

#[cfg(test)]
mod tests {
    use super::map_chunks;

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
