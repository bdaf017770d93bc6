//! Single flight: many threads asking at once cause one computation, and hits cost none.

use crate::cache_support;

use std::sync::Barrier;

use cache_support::{RepoExt as _, committed_repo, ours};
use flowforge_git::{Freshness, GitView};

/// Asks until an answer is a hit, so that nothing is pending when the test starts.
fn settle(view: &GitView) {
    for _ in 0..10 {
        if !view.status(Freshness::Synced).expect("status").computed {
            return;
        }
    }
    panic!("the view never settled: {:?}", view.stats());
}

fn hundred_threads_at_once(view: &GitView, freshness: Freshness) -> Vec<String> {
    let barrier = Barrier::new(100);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    ours(&view.status(freshness).expect("status").value)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

#[test]
fn a_hundred_threads_asking_at_once_cause_one_computation() {
    let repo = committed_repo();
    let view = repo.view();
    assert!(view.is_watching(), "{:?}", view.not_watching_because());

    // Cold: one full status for all of them.
    let answers = hundred_threads_at_once(&view, Freshness::Synced);
    let stats = view.stats();
    assert_eq!(stats.misses, 1, "{stats:?}");
    assert_eq!(stats.full_computations, 1, "{stats:?}");
    assert!(answers.iter().all(|a| *a == repo.git_porcelain()));
    settle(&view);

    // After an edit: one incremental refresh for all of them, and everyone sees the edit.
    let before = view.stats();
    repo.write("src/file1.txt", "edited\n");
    let answers = hundred_threads_at_once(&view, Freshness::Synced);
    let after = view.stats();
    assert_eq!(after.misses - before.misses, 1, "{after:?}");
    assert_eq!(
        after.full_computations, before.full_computations,
        "{after:?}"
    );
    let expected = repo.git_porcelain();
    assert!(expected.contains("src/file1.txt"));
    assert!(answers.iter().all(|a| *a == expected));
}

#[test]
fn unchanged_answers_are_hits_and_feed_the_hit_rate() {
    let repo = committed_repo();
    let view = repo.view();
    settle(&view);
    let before = view.stats();
    for freshness in [Freshness::Synced, Freshness::Cached] {
        for _ in 0..10 {
            assert!(!view.status(freshness).expect("status").computed);
        }
    }
    let after = view.stats();
    assert_eq!(after.misses, before.misses);
    assert_eq!(after.hits - before.hits, 20);
    let global = flowforge_core::metrics::Registry::global().snapshot();
    let rate = global.ratios[flowforge_core::metrics::names::CACHE_HIT_RATE];
    assert!(rate.hits >= 20, "{rate:?}");
}
