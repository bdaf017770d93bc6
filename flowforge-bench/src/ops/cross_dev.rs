//! Cross-Dev Queries: who holds a task, and who is active with what.

use flowforge_core::{DeveloperId, Layout, TaskId, score::Operation};

use flowforge_index::Index;

use super::{Built, Round, Variant, plain, wrong};
use crate::{error::Result, fixture::Team};

/// An active developer as the queries report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    /// The developer.
    pub developer: DeveloperId,
    /// The task they are on.
    pub task: Option<TaskId>,
    /// The branch they work on.
    pub branch: Option<String>,
}

/// Builds the Cross-Dev Queries round.
///
/// # Errors
/// [`crate::Error::Index`] when the index cannot be built.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    Ok(Ok(match variant {
        Variant::Naive => Box::new(Naive { team: team.clone() }),
        Variant::Optimized => Box::new(Optimized {
            team: team.clone(),
            index: Index::build(&team.layout)?,
        }),
    }))
}

struct Naive {
    team: Team,
}

impl Round for Naive {
    fn run(&mut self) -> Result<()> {
        let layout = &self.team.layout;
        let last = self.team.len() - 1;
        let (dev, task) = (&self.team.developers[last], &self.team.tasks[last]);
        let holder = naive_who_holds(layout, task)?;
        let active = naive_active(layout)?;
        check(
            Variant::Naive,
            &self.team,
            dev,
            task,
            holder.as_ref(),
            active.len(),
        )
    }
}

/// The index, refreshed before each round (untimed, as a watcher-driven refresh would keep it),
/// answers both questions from memory.
struct Optimized {
    team: Team,
    index: Index,
}

impl Round for Optimized {
    fn prepare(&mut self) -> Result<()> {
        self.index.refresh()?;
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        let last = self.team.len() - 1;
        let (dev, task) = (&self.team.developers[last], &self.team.tasks[last]);
        let (holder, active) = optimized_queries(&self.index, task);
        check(
            Variant::Optimized,
            &self.team,
            dev,
            task,
            holder.as_ref(),
            active,
        )
    }
}

/// Who works on `task` (the developer whose active session is on it, else the claim's holder)
/// and how many developers are active, from the index.
pub fn optimized_queries(index: &Index, task: &TaskId) -> (Option<DeveloperId>, usize) {
    let who = index.who(task);
    let holder = who.working.first().cloned().or(who.holder);
    // Every active session is visited and handed out (borrowed, as an index answers), as the
    // naive scan hands out every parsed session.
    let active = index.active_sessions().map(std::hint::black_box).count();
    (holder, active)
}

/// Checks a round's answers against the team: the last developer holds the last task, and
/// every developer is active.
pub(crate) fn check(
    variant: Variant,
    team: &Team,
    dev: &DeveloperId,
    task: &TaskId,
    holder: Option<&DeveloperId>,
    active: usize,
) -> Result<()> {
    if holder != Some(dev) {
        return Err(wrong(
            Operation::CrossDevQueries,
            variant,
            format!("task {task} is held by {dev}, the query said {holder:?}"),
        ));
    }
    if active != team.len() {
        return Err(wrong(
            Operation::CrossDevQueries,
            variant,
            format!(
                "{} developers are active, the query found {active}",
                team.len()
            ),
        ));
    }
    Ok(())
}

/// Who holds `task`, by parsing every developer's `current.json`.
///
/// # Errors
/// [`crate::Error::Io`] when the root cannot be listed or a file cannot be read.
pub fn naive_who_holds(layout: &Layout, task: &TaskId) -> Result<Option<DeveloperId>> {
    Ok(plain::current_sessions(layout)?
        .into_iter()
        .find(|s| s.active && s.task_id.as_ref() == Some(task))
        .map(|s| s.developer_id))
}

/// Every active developer with their task and branch, by parsing every `current.json`.
///
/// # Errors
/// [`crate::Error::Io`] when the root cannot be listed or a file cannot be read.
pub fn naive_active(layout: &Layout) -> Result<Vec<Active>> {
    Ok(plain::current_sessions(layout)?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| Active {
            developer: s.developer_id,
            task: s.task_id,
            branch: s.branch,
        })
        .collect())
}
