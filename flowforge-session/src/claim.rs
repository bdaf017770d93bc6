//! Task claims: one document in the team store (key [`CLAIMS_KEY`], `team/store/claims/`)
//! holding every claim currently held, changed by compare-and-swap, so that among any number
//! of developers racing for a task exactly one wins. A claim is released by removing it from
//! the document — explicitly, never by a timeout — so the document holds live claims only and
//! its size follows the team, not the history.
//!
//! A task the bash tools gave to a developer in `team/task-assignments.json` (an entry without
//! [`SESSION_FIELD`] that [holds](TaskAssignment::holds) the task) is claimed while the
//! document does not hold it ([`compat`](crate::compat)): another developer is refused, the
//! holder's start takes it over, and a release (the holder's, or a forced one) takes it over
//! and releases it. A taken-over entry is remembered in the document by its task and
//! `claimed_at` (`dropped`), so no view writer — however stale the file it read — brings it
//! back; only entries the bash tools wrote enter that list, never FlowForge's own claims.
//!
//! Its generation is the claims' change counter ([`claims_version`]): a hint read and a
//! `stat` or two, whatever the number of claims ever made.
//!
//! `team/task-assignments.json` is the claims' view for the bash tools, written by the change
//! itself from the document it published (no other claim is read), then re-checked against
//! the generation and rewritten if a claim changed meanwhile, so it converges like the other
//! [views](crate::view). Tasks in it that FlowForge did not claim (entries without a
//! [`SESSION_FIELD`], written by the bash tools) are kept.
//!
//! Stores written before this document existed hold one key per task (`claim-<task>/`): the
//! first change seeds the document from their held claims, after which they are ignored and
//! `flowforge gc` removes them.

use std::collections::BTreeMap;

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{TaskAssignment, TaskAssignments},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::{Error, Result},
    fs::{Durability, FileStat, read_json, write_json},
    namespace::team_store,
    store::{Cas, Key, Store, StoreOptions, Version, Versioned},
};

/// The `status` of a claim taken by FlowForge.
pub const CLAIMED: &str = "claimed";
/// The field of a claim naming the session that took it. An entry of
/// `team/task-assignments.json` carrying it was written by FlowForge.
pub const SESSION_FIELD: &str = "session_id";
/// The key of the claims document in the team store.
pub const CLAIMS_KEY: &str = "claims";

pub(crate) fn claims_key() -> Key {
    Key::new(CLAIMS_KEY).expect("a valid constant key")
}

/// A task claim as read from the team store.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The task.
    pub task: TaskId,
    /// Who holds it (`assignee`), since when (`claimed_at`), and any other fields.
    pub assignment: TaskAssignment,
    /// The claim's version: the generation of the claims document that took it.
    pub version: Version,
}

impl Claim {
    /// The developer holding the task.
    pub fn holder(&self) -> &DeveloperId {
        &self.assignment.assignee
    }

    /// The session that took the claim, if recorded.
    pub fn session_id(&self) -> Option<&str> {
        session_of(&self.assignment)
    }
}

fn session_of(assignment: &TaskAssignment) -> Option<&str> {
    assignment.extra.get(SESSION_FIELD)?.as_str()
}

/// Whether an entry of `team/task-assignments.json` was written by FlowForge (it names the
/// session that took it); other entries belong to the bash tools.
pub fn is_flowforge_entry(assignment: &TaskAssignment) -> bool {
    session_of(assignment).is_some()
}

/// A cheap change detector over all claims: the generation of the claims document and the
/// `lstat` data of that version file (and, before the document's first version, the same for
/// the per-task keys of older stores). Computing it costs a hint read and a `stat` or two; it
/// changes whenever [`list_claims`] would, a version file edited in place included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClaimsVersion {
    generation: u64,
    file: Option<FileStat>,
    legacy: Vec<(Key, u64, Option<FileStat>)>,
}

impl ClaimsVersion {
    /// The generation of the claims document (0 before its first version).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The `lstat` data of the claims' latest version files: the document's, then those of
    /// older stores' per-task keys (only before the document's first version).
    pub fn files(&self) -> impl Iterator<Item = &Option<FileStat>> {
        std::iter::once(&self.file).chain(self.legacy.iter().map(|(_, _, file)| file))
    }
}

/// Who releases a claim, and whether another developer's claim may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseOptions {
    /// Release the claim even when another developer holds it (their process is gone).
    pub force: bool,
}

/// One held claim in the document: the assignment and the generation that took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Held {
    #[serde(rename = "a")]
    assignment: TaskAssignment,
    #[serde(rename = "g")]
    generation: u64,
}

/// The claims document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Claims {
    claims: BTreeMap<TaskId, Held>,
    /// Entries of the bash tools taken over by the store: task → their `claimed_at`.
    #[serde(
        default,
        rename = "dropped",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    dropped: BTreeMap<TaskId, Timestamp>,
}

impl Claims {
    /// Whether `assignment`, an entry of `team/task-assignments.json` the bash tools wrote
    /// for `task`, was taken over by the store.
    fn was_dropped(&self, task: &TaskId, assignment: &TaskAssignment) -> bool {
        self.dropped.get(task) == Some(&assignment.claimed_at)
    }

    /// The bash tools' claim of `task` in `view` (read before the change) that still
    /// counts: the document does not hold the task and never took this entry over.
    fn file_claim(&self, task: &TaskId, view: Option<&TaskAssignment>) -> Option<TaskAssignment> {
        view.filter(|a| !self.claims.contains_key(task) && !self.was_dropped(task, a))
            .cloned()
    }
}

/// The bash tools' entry of `task` in `team/task-assignments.json` if it holds the task
/// (FlowForge's own entries only mirror the document, the truth for them).
fn bash_claim(layout: &Layout, task: &TaskId) -> Option<TaskAssignment> {
    crate::compat::view_claim(layout, task).filter(|a| !is_flowforge_entry(a))
}

impl Claims {
    fn to_claims(&self) -> Vec<Claim> {
        self.claims
            .iter()
            .map(|(task, held)| Claim {
                task: task.clone(),
                assignment: held.assignment.clone(),
                version: Version::new(held.generation),
            })
            .collect()
    }
}

/// The held claims at their generation: the document, or before its first version the
/// per-task keys of an older store.
fn read_claims(team: &Store) -> Result<(Option<Version>, Claims)> {
    match team.get::<Claims>(&claims_key())? {
        Some(current) => Ok((Some(current.version), current.value)),
        None => Ok((None, legacy_claims(team)?)),
    }
}

/// The held claims of the per-task keys (`claim-<task>/`) of a store written before the
/// claims document: lists the store once. A damaged one is left out (its task can be claimed
/// again) rather than stopping every developer's claims.
fn legacy_claims(team: &Store) -> Result<Claims> {
    let mut claims = Claims::default();
    for key in team.keys()? {
        if let Some(task) = key.claim_task() {
            if let Ok(Some(v)) = team.get::<TaskAssignment>(&key) {
                claims.claims.insert(
                    task,
                    Held {
                        assignment: v.value,
                        generation: 0,
                    },
                );
            }
        }
    }
    Ok(claims)
}

/// The claim of `task`, `None` when nobody holds it.
///
/// # Errors
/// The store's read errors, naming the document's version file.
pub fn claim_of(layout: &Layout, task: &TaskId) -> Result<Option<Claim>> {
    let team = team_store(layout, StoreOptions::default());
    let (_, claims) = read_claims(&team)?;
    Ok(claims.claims.get(task).map(|held| Claim {
        task: task.clone(),
        assignment: held.assignment.clone(),
        version: Version::new(held.generation),
    }))
}

/// Every held claim, sorted by task: one document read.
///
/// # Errors
/// The store's read errors, naming the document's version file.
pub fn list_claims(layout: &Layout) -> Result<Vec<Claim>> {
    let team = team_store(layout, StoreOptions::default());
    Ok(read_claims(&team)?.1.to_claims())
}

/// The [`ClaimsVersion`] of the team store.
///
/// # Errors
/// [`Error::Io`] when the store cannot be read.
pub fn claims_version(layout: &Layout) -> Result<ClaimsVersion> {
    let team = team_store(layout, StoreOptions::default());
    let (generation, file) = team.generation_stat(&claims_key())?;
    let mut legacy = Vec::new();
    if generation == 0 {
        for key in team.keys()? {
            if key.claim_task().is_some() {
                let (g, file) = team.generation_stat(&key)?;
                legacy.push((key, g, file));
            }
        }
    }
    Ok(ClaimsVersion {
        generation,
        file,
        legacy,
    })
}

/// Applies `change` to the claims and publishes the result by compare-and-swap, retrying on
/// lost races; `change` returns `Ok(None)` to publish nothing. Returns what it returned and
/// the document published.
pub(crate) fn change<R>(
    team: &Store,
    mut change: impl FnMut(&mut Claims, u64) -> Result<Option<R>>,
) -> Result<Option<(R, Versioned<Claims>)>> {
    let key = claims_key();
    let mut backoff = crate::store::Backoff::new(team.options().retry);
    for _ in 0..team.options().retry.max_attempts {
        let (expected, mut claims) = read_claims(team)?;
        let next = expected.map_or_else(|| team.generation(&key), |v| Ok(v.get()))? + 1;
        let Some(outcome) = change(&mut claims, next)? else {
            return Ok(None);
        };
        if let Cas::Swapped(version) = team.compare_and_swap(&key, expected, &claims)? {
            return Ok(Some((
                outcome,
                Versioned {
                    value: claims,
                    version,
                },
            )));
        }
        backoff.pause();
    }
    Err(Error::Contended {
        key: key.to_string(),
        attempts: team.options().retry.max_attempts,
    })
}

/// How old a claim of a developer whose session does not know it must be before a change by
/// that developer releases it as orphaned (a process that died between taking the claim and
/// writing the session). Younger ones may belong to a start still in flight.
pub(crate) const ORPHAN_AGE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A developer and their latest session, to tell the developer's orphaned claims apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) dev: &'a DeveloperId,
    /// Whether `session` is known; when not, no claim is taken for an orphan.
    pub(crate) known: bool,
    /// The id of the developer's latest session and whether it is active (`None`: the
    /// developer has no session).
    pub(crate) session: Option<(&'a str, bool)>,
}

/// Removes `owner`'s claims no session will release: the claim of the latest session when
/// it has ended (a process died between ending it and releasing the claim), and claims of
/// other sessions older than [`ORPHAN_AGE`] (a process died between taking the claim and
/// writing the session). Returns the tasks released.
fn sweep_orphans(claims: &mut Claims, owner: Owner<'_>, keep: &TaskId) -> Vec<TaskId> {
    if !owner.known {
        return Vec::new();
    }
    let now = Timestamp::now();
    let orphans: Vec<TaskId> = claims
        .claims
        .iter()
        .filter(|(task, held)| {
            let Some(session) = session_of(&held.assignment) else {
                return false;
            };
            *task != keep
                && held.assignment.assignee == *owner.dev
                && match owner.session {
                    Some((latest, active)) if session == latest => !active,
                    _ => now.duration_since(held.assignment.claimed_at) >= ORPHAN_AGE,
                }
        })
        .map(|(task, _)| task.clone())
        .collect();
    for task in &orphans {
        claims.claims.remove(task);
    }
    orphans
}

/// Claims `task` for `dev` on behalf of `session_id`, releasing `dev`'s orphaned claims in
/// the same change. Taking over one's own claim (a new session on the same task) succeeds,
/// and so does taking over the bash tools' claim of `dev` in `team/task-assignments.json`;
/// their claim of another developer refuses the task.
///
/// # Errors
/// [`Error::ClaimHeld`] naming the holder when another developer holds it, or the store's
/// errors.
pub(crate) fn acquire(
    team: &Store,
    layout: &Layout,
    task: &TaskId,
    owner: Owner<'_>,
    session_id: &str,
) -> Result<Versioned<Claims>> {
    let in_file = bash_claim(layout, task);
    let mut extra = serde_json::Map::new();
    extra.insert(SESSION_FIELD.to_owned(), Value::from(session_id));
    let assignment = TaskAssignment {
        assignee: owner.dev.clone(),
        status: CLAIMED.to_owned(),
        claimed_at: Timestamp::now(),
        extra,
    };
    let changed = change(team, |claims, next| {
        if let Some(held) = claims.claims.get(task) {
            if held.assignment.assignee != *owner.dev {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder: held.assignment.assignee.clone(),
                });
            }
        }
        if let Some(held) = claims.file_claim(task, in_file.as_ref()) {
            if held.assignee != *owner.dev {
                return Err(Error::ClaimHeld {
                    task: task.clone(),
                    holder: held.assignee,
                });
            }
            claims.dropped.insert(task.clone(), held.claimed_at);
        }
        sweep_orphans(claims, owner, task);
        claims.claims.insert(
            task.clone(),
            Held {
                assignment: assignment.clone(),
                generation: next,
            },
        );
        Ok(Some(()))
    })?;
    Ok(changed.expect("the change always publishes").1)
}

/// Releases `task` if `owner.dev` holds it for `session_id` (or for any session when
/// `None`), and `owner.dev`'s orphaned claims; returns the published document when anything
/// was released. A claim taken over meanwhile by another session is left alone.
pub(crate) fn release_if_held(
    team: &Store,
    task: &TaskId,
    owner: Owner<'_>,
    session_id: Option<&str>,
) -> Result<Option<Versioned<Claims>>> {
    let changed = change(team, |claims, _| {
        let ours = claims.claims.get(task).is_some_and(|held| {
            held.assignment.assignee == *owner.dev
                && session_id.is_none_or(|id| session_of(&held.assignment).is_none_or(|s| s == id))
        });
        let mut released = sweep_orphans(claims, owner, task);
        if ours {
            claims.claims.remove(task);
            released.push(task.clone());
        }
        Ok((!released.is_empty()).then_some(()))
    })?;
    Ok(changed.map(|(_, published)| published))
}

/// What [`release`] did.
#[derive(Debug)]
pub struct Released {
    /// The released claim.
    pub claim: Claim,
    /// A follow-up step that failed after the release was committed (rewriting
    /// `team/task-assignments.json`); the next claim change repairs it.
    pub warning: Option<Error>,
}

/// Releases `task`: `dev`'s own claim, or with [`ReleaseOptions::force`] anyone's. A claim
/// only `team/task-assignments.json` records (written by the bash tools) is taken over by the
/// store in the same change, so the release removes it from the file too.
///
/// # Errors
/// [`Error::NotClaimed`] when nobody holds it, [`Error::ClaimHeld`] when another developer
/// holds it and `force` is off, or the store's errors. Nothing was released then.
pub fn release(
    layout: &Layout,
    dev: &DeveloperId,
    task: &TaskId,
    options: ReleaseOptions,
    store_options: StoreOptions,
) -> Result<Released> {
    let team = team_store(layout, store_options);
    let in_file = bash_claim(layout, task);
    let (claim, published) = change(&team, |claims, next| {
        let (assignment, generation) = match claims.claims.get(task) {
            Some(held) => (held.assignment.clone(), held.generation),
            None => match claims.file_claim(task, in_file.as_ref()) {
                Some(held) => (held, next),
                None => return Err(Error::NotClaimed { task: task.clone() }),
            },
        };
        if assignment.assignee != *dev && !options.force {
            return Err(Error::ClaimHeld {
                task: task.clone(),
                holder: assignment.assignee,
            });
        }
        if !claims.claims.contains_key(task) {
            claims.dropped.insert(task.clone(), assignment.claimed_at);
        }
        claims.claims.remove(task);
        Ok(Some(Claim {
            task: task.clone(),
            assignment,
            version: Version::new(generation),
        }))
    })?
    .expect("the change always publishes");
    Ok(Released {
        claim,
        warning: publish_view(&team, layout, &published).err(),
    })
}

/// Rewrites `team/task-assignments.json` from `published` (just published as the claims'
/// latest version), or from a newer version if one appeared, taking turns with other
/// writers as every view does ([`view::converge`](crate::view::converge)). A corrupt view is
/// replaced, never a reason to refuse a claim.
///
/// # Errors
/// The store's read errors, or [`Error::Io`] naming the view.
pub(crate) fn publish_view(
    team: &Store,
    layout: &Layout,
    published: &Versioned<Claims>,
) -> Result<()> {
    let key = claims_key();
    let path = layout.task_assignments();
    crate::view::converge(team, &key, published.version.get(), |mine| {
        if let Some(g) = mine {
            write_view(layout, &path, &published.value)?;
            return Ok(g);
        }
        match team.get::<Claims>(&key)? {
            Some(latest) => {
                write_view(layout, &path, &latest.value)?;
                Ok(latest.version.get())
            }
            None => Ok(0),
        }
    })
}

/// Rewrites `team/task-assignments.json` from the latest claims (nothing to do before the
/// claims document's first version): the repair of a view a crash or a failed write left
/// behind.
///
/// # Errors
/// The store's read errors, or [`Error::Io`] naming the view.
pub fn refresh_view(layout: &Layout) -> Result<()> {
    let team = team_store(layout, StoreOptions::default());
    match team.get::<Claims>(&claims_key())? {
        Some(latest) => publish_view(&team, layout, &latest),
        None => Ok(()),
    }
}

fn write_view(layout: &Layout, path: &std::path::Path, claims: &Claims) -> Result<()> {
    let mut view: TaskAssignments = read_json(layout.root(), path)
        .ok()
        .flatten()
        .unwrap_or_default();
    view.tasks
        .retain(|task, a| !is_flowforge_entry(a) && !claims.was_dropped(task, a));
    for (task, held) in &claims.claims {
        view.tasks.insert(task.clone(), held.assignment.clone());
    }
    write_json(layout.root(), path, &view, Durability::Relaxed)
}
