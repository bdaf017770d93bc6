//! Concurrent Ops: every developer on their own thread at once: a session cycle, their File I/O
//! and one cross-developer query.

use flowforge_core::{DeveloperId, TaskId};
use flowforge_index::Index;
use flowforge_session::Namespace;

use super::{Built, Round, Variant, cross_dev, file_io, session};
use crate::{error::Result, fixture::Team};

/// Builds the Concurrent Ops round.
///
/// # Errors
/// [`crate::Error::Session`] or [`crate::Error::Index`] when the namespaces or the index cannot
/// be opened.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    Ok(Ok(match variant {
        Variant::Naive => Box::new(Naive { team: team.clone() }),
        Variant::Optimized => Box::new(Optimized {
            team: team.clone(),
            namespaces: session::open_namespaces(team)?,
            index: Index::build(&team.layout)?,
        }),
    }))
}

struct Naive {
    team: Team,
}

impl Round for Naive {
    fn run(&mut self) -> Result<()> {
        let team = &self.team;
        std::thread::scope(|scope| {
            let handles: Vec<_> = team
                .developers
                .iter()
                .zip(&team.tasks)
                .map(|(dev, task)| scope.spawn(move || naive_developer(team, dev, task)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("a developer thread does not panic"))
        })
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
    team: Team,
    namespaces: Vec<(Namespace, TaskId)>,
    index: Index,
}

impl Round for Optimized {
    fn prepare(&mut self) -> Result<()> {
        self.index.refresh()?;
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        let (team, index) = (&self.team, &self.index);
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .namespaces
                .iter()
                .zip(&team.developers)
                .map(|((ns, task), dev)| {
                    scope.spawn(move || -> Result<()> {
                        session::optimized_cycle(ns, task)?;
                        file_io::write_and_read(Variant::Optimized, &team.layout, dev)?;
                        std::hint::black_box(cross_dev::optimized_queries(index, task));
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("a developer thread does not panic"))
        })
    }
}
