//! Concurrent Ops: every developer on their own thread at once: a session cycle, their File I/O
//! and one cross-developer query.
//!
//! The developers' threads live as long as the round's cell (a crew): each round releases
//! them together and ends when the last one is done, so a round times the developers' work
//! running side by side, not the start and end of a thread per developer.

use std::{
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{
        Arc, Barrier, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use flowforge_core::{DeveloperId, TaskId};
use flowforge_index::Index;

use super::{Built, Round, Variant, cross_dev, file_io, session};
use crate::{
    error::{Error, Result},
    fixture::Team,
};

/// Builds the Concurrent Ops round.
///
/// # Errors
/// [`crate::Error::Session`] or [`crate::Error::Index`] when the namespaces or the index cannot
/// be opened.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    let team = Arc::new(team.clone());
    Ok(Ok(match variant {
        Variant::Naive => {
            let work = (0..team.len()).map(|i| {
                let team = Arc::clone(&team);
                Box::new(move || naive_developer(&team, &team.developers[i], &team.tasks[i]))
                    as Work
            });
            Box::new(Naive {
                crew: Crew::new(work.collect()),
            })
        }
        Variant::Optimized => {
            let index = Arc::new(RwLock::new(Index::build(&team.layout)?));
            let namespaces = session::open_namespaces(&team)?;
            let work = namespaces.into_iter().zip(0..).map(|((ns, task), i)| {
                let (team, index) = (Arc::clone(&team), Arc::clone(&index));
                Box::new(move || -> Result<()> {
                    session::optimized_cycle(&ns, &task)?;
                    file_io::write_and_read(Variant::Optimized, &team.layout, &team.developers[i])?;
                    let index = index.read().unwrap_or_else(PoisonError::into_inner);
                    std::hint::black_box(cross_dev::optimized_queries(&index, &task));
                    Ok(())
                }) as Work
            });
            Box::new(Optimized {
                crew: Crew::new(work.collect()),
                index,
            })
        }
    }))
}

struct Naive {
    crew: Crew,
}

impl Round for Naive {
    fn run(&mut self) -> Result<()> {
        self.crew.run()
    }
}

/// One developer's naive work. Other threads rewrite shared files meanwhile, so the query's
/// answer is not checked here (torn reads are counted by [`super::plain::torn_reads`]).
fn naive_developer(team: &Team, dev: &DeveloperId, task: &TaskId) -> Result<()> {
    session::naive_cycle(&team.layout, dev, task)?;
    file_io::write_and_read(Variant::Naive, &team.layout, dev)?;
    std::hint::black_box(cross_dev::naive_who_holds(&team.layout, task)?);
    Ok(())
}

/// The optimized pieces on the same threads; the index, shared read-only by every thread, is
/// refreshed before each round (untimed).
struct Optimized {
    crew: Crew,
    index: Arc<RwLock<Index>>,
}

impl Round for Optimized {
    fn prepare(&mut self) -> Result<()> {
        (self.index.write().unwrap_or_else(PoisonError::into_inner)).refresh()?;
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        self.crew.run()
    }
}

/// One developer's share of a round.
type Work = Box<dyn FnMut() -> Result<()> + Send>;

/// A thread per developer, each waiting for the next round: [`Crew::run`] releases them all at
/// once and returns when every one has done its work.
struct Crew {
    /// Passed by every thread and the caller to start a round.
    start: Arc<Barrier>,
    /// Passed by every thread and the caller once the round's work is done.
    done: Arc<Barrier>,
    /// The round's outcome: the first error, or a panic's payload.
    failed: Arc<Mutex<Option<Failure>>>,
    /// Set before the last release: the threads return instead of working.
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

enum Failure {
    Error(Error),
    Panic(Box<dyn std::any::Any + Send>),
}

impl Crew {
    fn new(work: Vec<Work>) -> Self {
        let start = Arc::new(Barrier::new(work.len() + 1));
        let done = Arc::new(Barrier::new(work.len() + 1));
        let failed = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (work.into_iter())
            .map(|mut work| {
                let (start, done) = (Arc::clone(&start), Arc::clone(&done));
                let (failed, stop) = (Arc::clone(&failed), Arc::clone(&stop));
                std::thread::spawn(move || {
                    loop {
                        start.wait();
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        let failure = match catch_unwind(AssertUnwindSafe(&mut work)) {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(Failure::Error(e)),
                            Err(payload) => Some(Failure::Panic(payload)),
                        };
                        if let Some(failure) = failure {
                            failed
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(failure);
                        }
                        done.wait();
                    }
                })
            })
            .collect();
        Self {
            start,
            done,
            failed,
            stop,
            threads,
        }
    }

    /// One round: every thread's work, at once.
    fn run(&mut self) -> Result<()> {
        self.start.wait();
        self.done.wait();
        let failure = (self.failed.lock().unwrap_or_else(PoisonError::into_inner)).take();
        match failure {
            None => Ok(()),
            Some(Failure::Error(e)) => Err(e),
            Some(Failure::Panic(payload)) => resume_unwind(payload),
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.start.wait();
        for thread in self.threads.drain(..) {
            // A thread that panicked reported it through `failed` already.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::AtomicUsize,
        time::{Duration, Instant},
    };

    use super::*;

    /// Work that counts its runs in `runs` and, each time, waits (up to 10 s) until all `n`
    /// workers of the round have started: `together` counts the runs that saw every other one.
    fn meeting(n: usize, runs: &Arc<AtomicUsize>, together: &Arc<AtomicUsize>) -> Vec<Work> {
        let arrived = Arc::new(AtomicUsize::new(0));
        (0..n)
            .map(|_| {
                let (runs, together, arrived) =
                    (Arc::clone(runs), Arc::clone(together), Arc::clone(&arrived));
                Box::new(move || {
                    let round = runs.fetch_add(1, Ordering::SeqCst) / n;
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while arrived.load(Ordering::SeqCst) < (round + 1) * n {
                        if Instant::now() > deadline {
                            return Ok(());
                        }
                        std::thread::yield_now();
                    }
                    together.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }) as Work
            })
            .collect()
    }

    #[test]
    fn every_round_runs_every_developers_work_once_and_all_at_once() {
        let (runs, together) = (Arc::default(), Arc::default());
        let mut crew = Crew::new(meeting(4, &runs, &together));
        for round in 1..=3 {
            crew.run().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 4 * round);
            assert_eq!(together.load(Ordering::SeqCst), 4 * round);
        }
    }

    #[test]
    fn a_developers_error_fails_its_round_only() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&rounds);
        let work: Vec<Work> = vec![
            Box::new(|| Ok(())),
            Box::new(move || match counted.fetch_add(1, Ordering::SeqCst) {
                1 => Err(Error::InvalidOptions {
                    reason: "second round".to_owned(),
                }),
                _ => Ok(()),
            }),
        ];
        let mut crew = Crew::new(work);
        crew.run().unwrap();
        let e = crew.run().unwrap_err();
        assert!(e.to_string().contains("second round"), "{e}");
        crew.run().unwrap();
        assert_eq!(rounds.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_developers_panic_reaches_the_caller_and_the_crew_still_stops() {
        let work: Vec<Work> = vec![Box::new(|| Ok(())), Box::new(|| panic!("developer down"))];
        let mut crew = Crew::new(work);
        let payload = catch_unwind(AssertUnwindSafe(|| crew.run())).unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"developer down"));
        drop(crew);
    }
}
