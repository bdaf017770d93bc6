//! Task claims: one versioned document per task in the team store (`team/store/claim-<task>/`),
//! taken with a put-if-absent so that among any number of developers racing for a task
//! exactly one wins, and released by a tombstone — explicitly, never by a timeout.
//!
//! `team/task-assignments.json` is the claims' view for the bash tools: rewritten after every
//! claim change from all claims, then re-checked against [`claims_version`] and rewritten if a
//! claim changed meanwhile, so it converges like the other [views](crate::view). Tasks in it
//! that were never claimed through the store (written by the bash tools) are kept.

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{TaskAssignment, TaskAssignments},
};
use jiff::Timestamp;
use serde_json::Value;

use crate::{
    error::{Error, Result},
    fs::{Durability, FileStat, read_json, write_json},
    handle::team_store,
    store::{Cas, Key, Store, StoreOptions, Version, Versioned},
};

/// The `status` of a claim taken by FlowForge.
pub const CLAIMED: &str = "claimed";
/// The field of a claim naming the session that took it.
pub const SESSION_FIELD: &str = "session_id";

/// A task claim as read from the team store.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The task.
    pub task: TaskId,
    /// Who holds it (`assignee`), since when (`claimed_at`), and any other fields.
    pub assignment: TaskAssignment,
    /// The claim's version.
    pub version: Version,
}

impl Claim {
    /// The developer holding the task.
    pub fn holder(&self) -> &DeveloperId {
        &self.assignment.assignee
    }

    /// The session that took the claim, if recorded.
    pub fn session_id(&self) -> Option<&str> {
        self.assignment.extra.get(SESSION_FIELD)?.as_str()
    }
}

/// A cheap change detector over all claims: each claimed-ever task with its latest
/// generation and the `lstat` data of that version file. Computing it lists `team/store/`
/// (one entry per task ever claimed, not per version) and reads one small hint per task; it
/// changes whenever [`list_claims`] would, a version file edited in place included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClaimsVersion(Vec<(Key, u64, Option<FileStat>)>);

impl ClaimsVersion {
    /// The `lstat` data of each claim's latest version file, in task order.
    pub fn files(&self) -> impl Iterator<Item = &Option<FileStat>> {
        self.0.iter().map(|(_, _, file)| file)
    }
}

/// Who releases a claim, and whether another developer's claim may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseOptions {
    /// Release the claim even when another developer holds it (their process is gone).
    pub force: bool,
}

/// The claim of `task`, `None` when nobody holds it.
///
/// # Errors
/// The store's read errors, naming the claim's version file.
pub fn claim_of(layout: &Layout, task: &TaskId) -> Result<Option<Claim>> {
    let store = team_store(layout, StoreOptions::default());
    Ok(store
        .get::<TaskAssignment>(&Key::claim(task))?
        .map(|v| to_claim(task.clone(), v)))
}

/// Every held claim, sorted by task.
///
/// # Errors
/// The store's read errors, naming the claim's version file.
pub fn list_claims(layout: &Layout) -> Result<Vec<Claim>> {
    let store = team_store(layout, StoreOptions::default());
    let mut claims = Vec::new();
    for key in store.keys()? {
        if let Some(task) = key.claim_task() {
            if let Some(v) = store.get::<TaskAssignment>(&key)? {
                claims.push(to_claim(task, v));
            }
        }
    }
    Ok(claims)
}

/// The [`ClaimsVersion`] of the team store.
///
/// # Errors
/// [`Error::Io`] when `team/store/` cannot be listed.
pub fn claims_version(layout: &Layout) -> Result<ClaimsVersion> {
    versions(&team_store(layout, StoreOptions::default()))
}

fn versions(store: &Store) -> Result<ClaimsVersion> {
    let mut out = Vec::new();
    for key in store.keys()? {
        if key.claim_task().is_some() {
            let (generation, file) = store.generation_stat(&key)?;
            out.push((key, generation, file));
        }
    }
    Ok(ClaimsVersion(out))
}

/// Claims `task` for `dev` on behalf of `session_id`. Taking over one's own claim (a new
/// session on the same task) succeeds. Before the team store holds any version of the task's
/// claim, an assignment the bash tools wrote into `team/task-assignments.json` is honoured
/// ([`compat`](crate::compat)).
///
/// # Errors
/// [`Error::ClaimHeld`] naming the holder when another developer holds it, or the store's
/// errors.
pub(crate) fn acquire(
    team: &Store,
    layout: &Layout,
    task: &TaskId,
    dev: &DeveloperId,
    session_id: &str,
) -> Result<Versioned<TaskAssignment>> {
    let key = Key::claim(task);
    let mut extra = serde_json::Map::new();
    extra.insert(SESSION_FIELD.to_owned(), Value::from(session_id));
    let assignment = TaskAssignment {
        assignee: dev.clone(),
        status: CLAIMED.to_owned(),
        claimed_at: Timestamp::now(),
        extra,
    };
    if team.generation(&key)? == 0 {
        if let Some(held) = crate::compat::view_claim(layout, task) {
            if held.assignee != *dev {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder: held.assignee,
                });
            }
        }
    }
    let mut expected = None;
    for _ in 0..team.options().retry.max_attempts {
        match team.compare_and_swap(&key, expected, &assignment)? {
            Cas::Swapped(version) => {
                return Ok(Versioned {
                    value: assignment,
                    version,
                });
            }
            Cas::Conflict(Some(current)) if current.value.assignee == *dev => {
                expected = Some(current.version);
            }
            Cas::Conflict(Some(current)) => {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder: current.value.assignee,
                });
            }
            // Released meanwhile: try to take it again.
            Cas::Conflict(None) => expected = None,
        }
    }
    Err(Error::Contended {
        key: key.to_string(),
        attempts: team.options().retry.max_attempts,
    })
}

/// Releases `task` if `dev` holds it for `session_id` (or for any session when `None`);
/// returns whether it did. A claim taken over meanwhile by another session is left alone.
pub(crate) fn release_if_held(
    team: &Store,
    task: &TaskId,
    dev: &DeveloperId,
    session_id: Option<&str>,
) -> Result<bool> {
    let key = Key::claim(task);
    for _ in 0..team.options().retry.max_attempts {
        let Some(current) = team.get::<TaskAssignment>(&key)? else {
            return Ok(false);
        };
        let claim = to_claim(task.clone(), current);
        let ours = claim.holder() == dev
            && session_id.is_none_or(|id| claim.session_id().is_none_or(|s| s == id));
        if !ours {
            return Ok(false);
        }
        if team
            .delete::<TaskAssignment>(&key, claim.version)?
            .swapped()
            .is_some()
        {
            return Ok(true);
        }
    }
    Err(contended(team, &key))
}

fn contended(team: &Store, key: &Key) -> Error {
    Error::Contended {
        key: key.to_string(),
        attempts: team.options().retry.max_attempts,
    }
}

/// Releases `task`: `dev`'s own claim, or with [`ReleaseOptions::force`] anyone's. Returns
/// the released claim. A claim only `team/task-assignments.json` records (written by the bash
/// tools) is taken over by the store first, so the release removes it from the file too.
///
/// # Errors
/// [`Error::NotClaimed`] when nobody holds it, [`Error::ClaimHeld`] when another developer
/// holds it and `force` is off, or the store's errors.
pub fn release(
    layout: &Layout,
    dev: &DeveloperId,
    task: &TaskId,
    options: ReleaseOptions,
    store_options: StoreOptions,
) -> Result<Claim> {
    let team = team_store(layout, store_options);
    let key = Key::claim(task);
    // A claim only the bash tools' file records: the store takes it over, then releases it.
    if team.generation(&key)? == 0 {
        if let Some(held) = crate::compat::view_claim(layout, task) {
            if held.assignee != *dev && !options.force {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder: held.assignee,
                });
            }
            // Losing this race means the store holds a claim now: released below as usual.
            let _ = team.compare_and_swap(&key, None, &held)?;
        }
    }
    for _ in 0..team.options().retry.max_attempts {
        let Some(current) = team.get::<TaskAssignment>(&key)? else {
            return Err(Error::NotClaimed { task: task.clone() });
        };
        let claim = to_claim(task.clone(), current);
        if claim.holder() != dev && !options.force {
            return Err(Error::ClaimHeld {
                task: task.clone(),
                holder: claim.holder().clone(),
            });
        }
        if team
            .delete::<TaskAssignment>(&key, claim.version)?
            .swapped()
            .is_some()
        {
            publish_view(&team, layout)?;
            return Ok(claim);
        }
    }
    Err(contended(&team, &key))
}

/// How many times a writer rewrites `task-assignments.json` for claims that changed meanwhile.
const CHASE: usize = 16;

/// Rewrites `team/task-assignments.json` from the claims until no claim changed while it was
/// being written.
pub(crate) fn publish_view(team: &Store, layout: &Layout) -> Result<()> {
    let path = layout.task_assignments();
    for _ in 0..CHASE {
        let before = versions(team)?;
        // A corrupt view is replaced, never a reason to refuse a claim.
        let mut view: TaskAssignments = read_json(layout.root(), &path)
            .ok()
            .flatten()
            .unwrap_or_default();
        for (key, _, _) in &before.0 {
            if let Some(task) = key.claim_task() {
                match team.get::<TaskAssignment>(key)? {
                    Some(claim) => view.tasks.insert(task, claim.value),
                    None => view.tasks.remove(&task),
                };
            }
        }
        write_json(layout.root(), &path, &view, Durability::Relaxed)?;
        if versions(team)? == before {
            return Ok(());
        }
    }
    Ok(())
}

fn to_claim(task: TaskId, v: Versioned<TaskAssignment>) -> Claim {
    Claim {
        task,
        assignment: v.value,
        version: v.version,
    }
}
