//! The team-wide part of the index, in three parts stamped and reloaded each on its own: the
//! registry (`team/config.json`), the claims of the team store (one document) and the bash
//! tools' claims in `team/task-assignments.json` (the store's view).
//!
//! A claim change rewrites the claims document and its view, never the registry: it reloads
//! those two files only, so its cost follows the claims, not the number of registered
//! developers. Each part keeps its stamp (see [`Stamp`]) and is verified by content while the
//! stamp is racy, exactly as a namespace is.

use std::{collections::BTreeMap, path::PathBuf};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{DeveloperInfo, TaskAssignments, TeamConfig},
};
use flowforge_session::fs::read_json;
use serde::{Deserialize, Serialize};

use crate::{
    record::{ClaimRecord, Problem},
    source::{Stamp, StampBuilder, error_path},
};

/// One of the team's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// `team/config.json`: the registered developers.
    Registry,
    /// The claims document of the team store (`team/store/`).
    Claims,
    /// `team/task-assignments.json`: the claims' view, and the bash tools' own claims.
    View,
}

/// A set of parts, for a refresh that knows which files changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Parts {
    registry: bool,
    claims: bool,
    view: bool,
}

impl Parts {
    /// Every part.
    pub(crate) const ALL: Self = Self {
        registry: true,
        claims: true,
        view: true,
    };

    /// Adds `part`.
    pub(crate) fn insert(&mut self, part: Part) {
        match part {
            Part::Registry => self.registry = true,
            Part::Claims => self.claims = true,
            Part::View => self.view = true,
        }
    }

    /// Whether no part is in the set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One part as loaded, with the stamp it was loaded at and the problem that left it empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stamped<T> {
    /// `None` before the first load.
    pub stamp: Option<u64>,
    /// The stamp was racy: the next check reloads the part and compares.
    #[serde(default)]
    pub racy: bool,
    pub value: T,
    pub problem: Option<Problem>,
}

impl<T: PartialEq> Stamped<T> {
    /// Reloads the part when its stamp moved or was racy; returns whether its content changed.
    fn check(&mut self, stamp: Stamp, load: impl FnOnce() -> (T, Option<Problem>)) -> bool {
        let same = self.stamp == Some(stamp.value);
        if same && !self.racy {
            return false;
        }
        let (value, problem) = load();
        self.racy = stamp.racy;
        if same && value == self.value && problem == self.problem {
            return false;
        }
        self.stamp = Some(stamp.value);
        self.value = value;
        self.problem = problem;
        true
    }
}

/// The team-wide state: registrations and claims, each part with its own stamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TeamState {
    pub registry: Stamped<BTreeMap<DeveloperId, DeveloperInfo>>,
    /// The team store's held claims, by task.
    pub claims: Stamped<BTreeMap<TaskId, ClaimRecord>>,
    /// The tasks of `team/task-assignments.json` that FlowForge did not write, by task.
    pub view: Stamped<BTreeMap<TaskId, ClaimRecord>>,
}

/// Which parts a check found changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Changed {
    pub registry: bool,
    /// The claims document or the view: the merged claims must be rebuilt.
    pub claims: bool,
}

impl TeamState {
    /// Checks the parts in `parts`: a `stat` (and the store's hint) each, plus a reload of
    /// those whose stamp moved or was racy.
    pub(crate) fn check(&mut self, layout: &Layout, parts: Parts) -> Changed {
        let mut changed = Changed::default();
        if parts.registry {
            changed.registry = (self.registry)
                .check(file_stamp(layout, layout.team_config()), || {
                    load_registry(layout)
                });
        }
        if parts.claims {
            changed.claims |= (self.claims).check(claims_stamp(layout), || load_claims(layout));
        }
        if parts.view {
            changed.claims |= (self.view)
                .check(file_stamp(layout, layout.task_assignments()), || {
                    load_view(layout)
                });
        }
        changed
    }

    /// Makes every part racy, so the next check verifies it by content (after a snapshot
    /// load: the stamp of absent team files is the same everywhere).
    pub(crate) fn distrust(&mut self) {
        self.registry.racy = true;
        self.claims.racy = true;
        self.view.racy = true;
    }

    /// Every claim, by task: the store's, then the view's tasks the store does not hold.
    pub(crate) fn merged_claims(&self) -> BTreeMap<TaskId, ClaimRecord> {
        let mut claims = self.claims.value.clone();
        for (task, claim) in &self.view.value {
            claims.entry(task.clone()).or_insert_with(|| claim.clone());
        }
        claims
    }

    /// The problems that left a part empty.
    pub(crate) fn problems(&self) -> impl Iterator<Item = &Problem> {
        (self.registry.problem.iter())
            .chain(self.claims.problem.iter())
            .chain(self.view.problem.iter())
    }
}

/// The stamp of a part held in one file (`team/config.json` or `team/task-assignments.json`).
fn file_stamp(layout: &Layout, path: PathBuf) -> Stamp {
    let mut stamp = StampBuilder::new();
    stamp.paths(layout.root(), &[path]);
    stamp.finish()
}

/// The stamp of the store's claims: their generations and version files.
fn claims_stamp(layout: &Layout) -> Stamp {
    let mut stamp = StampBuilder::new();
    match flowforge_session::claims_version(layout) {
        Ok(version) => {
            stamp.word(1);
            stamp.hash(&version);
            for file in version.files() {
                stamp.file(file.as_ref());
            }
        }
        Err(_) => stamp.word(2),
    }
    stamp.finish()
}

/// The registered developers; a corrupt file is a problem and leaves the registry empty.
fn load_registry(layout: &Layout) -> (BTreeMap<DeveloperId, DeveloperInfo>, Option<Problem>) {
    let path = layout.team_config();
    match read_json::<TeamConfig>(layout.root(), &path) {
        Ok(config) => (config.unwrap_or_default().team.developers, None),
        Err(e) => (BTreeMap::new(), Some(Problem::from_error(&path, None, &e))),
    }
}

/// The team store's held claims: one document read.
fn load_claims(layout: &Layout) -> (BTreeMap<TaskId, ClaimRecord>, Option<Problem>) {
    match flowforge_session::list_claims(layout) {
        Ok(held) => {
            let claims = held.into_iter().map(|c| {
                let claim = ClaimRecord {
                    task: c.task.clone(),
                    holder: c.assignment.assignee,
                    status: c.assignment.status,
                    claimed_at: c.assignment.claimed_at,
                };
                (c.task, claim)
            });
            (claims.collect(), None)
        }
        Err(e) => {
            let store = layout.team_store_dir();
            let path = error_path(&e).unwrap_or(&store);
            (BTreeMap::new(), Some(Problem::from_error(path, None, &e)))
        }
    }
}

/// The tasks of `team/task-assignments.json` that FlowForge did not write: entries FlowForge
/// wrote mirror the store, the truth for them (the file may lag); the others are the bash
/// tools'.
fn load_view(layout: &Layout) -> (BTreeMap<TaskId, ClaimRecord>, Option<Problem>) {
    let path = layout.task_assignments();
    match read_json::<TaskAssignments>(layout.root(), &path) {
        Ok(assignments) => {
            let tasks = assignments.unwrap_or_default().tasks;
            let foreign = (tasks.into_iter())
                .filter(|(_, a)| !flowforge_session::claim::is_flowforge_entry(a))
                .map(|(task, a)| {
                    let claim = ClaimRecord {
                        task: task.clone(),
                        holder: a.assignee,
                        status: a.status,
                        claimed_at: a.claimed_at,
                    };
                    (task, claim)
                });
            (foreign.collect(), None)
        }
        Err(e) => (BTreeMap::new(), Some(Problem::from_error(&path, None, &e))),
    }
}
