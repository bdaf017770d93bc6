//! Cross-Dev Queries: who holds a task, and who is active with what.

use flowforge_core::{DeveloperId, Layout, TaskId, score::Operation};

use super::{Built, Round, Variant, not_measured, plain, wrong};
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
/// None yet; kept for set-up that can fail.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    match variant {
        Variant::Naive => Ok(Ok(Box::new(Naive { team: team.clone() }))),
        Variant::Optimized => Ok(not_measured("flowforge-index is not on main yet")),
    }
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
            &active,
        )
    }
}

/// Checks a round's answers against the team: the last developer holds the last task, and
/// every developer is active.
pub(crate) fn check(
    variant: Variant,
    team: &Team,
    dev: &DeveloperId,
    task: &TaskId,
    holder: Option<&DeveloperId>,
    active: &[Active],
) -> Result<()> {
    if holder != Some(dev) {
        return Err(wrong(
            Operation::CrossDevQueries,
            variant,
            format!("task {task} is held by {dev}, the query said {holder:?}"),
        ));
    }
    if active.len() != team.len() {
        return Err(wrong(
            Operation::CrossDevQueries,
            variant,
            format!(
                "{} developers are active, the query found {}",
                team.len(),
                active.len()
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
