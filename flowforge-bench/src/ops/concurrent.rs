//! Concurrent Ops: every developer on their own thread at once: a session cycle, their File I/O
//! and one cross-developer query.

use flowforge_core::{DeveloperId, TaskId};

use super::{Built, Round, Variant, cross_dev, file_io, not_measured, session};
use crate::{error::Result, fixture::Team};

/// Builds the Concurrent Ops round.
///
/// # Errors
/// None yet; kept for set-up that can fail.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    match variant {
        Variant::Naive => Ok(Ok(Box::new(Concurrent { team: team.clone() }))),
        Variant::Optimized => Ok(not_measured(
            "flowforge-session's store and flowforge-index are not on main yet",
        )),
    }
}

struct Concurrent {
    team: Team,
}

impl Round for Concurrent {
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
