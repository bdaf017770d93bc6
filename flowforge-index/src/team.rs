//! The team-wide part of the index, in parts stamped and reloaded each on its own: the
//! registry (`team/config.json`), each shard of the team store's claims, and the bash tools'
//! claims in `team/task-assignments.json` (the store's view).
//!
//! A claim change rewrites one shard and the view, never the registry: a refresh that knows
//! which shard changed (the watcher's) reloads that shard and the view only, so its cost does
//! not follow the number of registered developers nor the claims of other shards. The view
//! itself is read only when FlowForge's mark does not vouch for it (see [`load_view`]): after
//! FlowForge's own writes its reload is a `stat` and a read of the ~640-byte mark, the bash
//! tools' entries included (the mark names them; the index keeps those it read last). Each
//! part keeps its stamp (see [`Stamp`]) and is verified by content while the stamp is racy,
//! exactly as a namespace is.

use std::{borrow::Cow, collections::BTreeMap, path::PathBuf};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{DeveloperInfo, MapEntries, TaskAssignments, TeamConfig},
};
use flowforge_session::{
    ClaimsReader,
    claim::{CLAIM_SHARDS, ForeignId, claim_shard},
    fs::read_json,
};
use jiff::Timestamp;
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
    /// One shard of the team store's claims (`team/store/claims-<xx>/`).
    Shard(usize),
    /// Every shard (a change in the team store the watcher cannot attribute to one).
    Claims,
    /// No part (a file that follows a change of another part).
    Nothing,
    /// `team/task-assignments.json`: the claims' view, and the bash tools' own claims.
    View,
}

/// A set of parts, for a refresh that knows which files changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Parts {
    registry: bool,
    /// One bit per claims shard.
    shards: u64,
    view: bool,
}

const ALL_SHARDS: u64 = if CLAIM_SHARDS == 64 {
    u64::MAX
} else {
    (1 << CLAIM_SHARDS) - 1
};

impl Parts {
    /// Every part.
    pub(crate) const ALL: Self = Self {
        registry: true,
        shards: ALL_SHARDS,
        view: true,
    };

    /// Adds `part`.
    pub(crate) fn insert(&mut self, part: Part) {
        match part {
            Part::Registry => self.registry = true,
            Part::Shard(shard) => self.shards |= 1 << shard,
            Part::Claims => self.shards = ALL_SHARDS,
            Part::Nothing => {}
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
        self.check_or_keep(stamp, || Some(load()))
    }

    /// [`check`](Self::check) with a load that may know the content unchanged without
    /// reading it (`None`: the value is kept, with the new stamp).
    fn check_or_keep(
        &mut self,
        stamp: Stamp,
        load: impl FnOnce() -> Option<(T, Option<Problem>)>,
    ) -> bool {
        let same = self.stamp == Some(stamp.value);
        if same && !self.racy {
            return false;
        }
        self.racy = stamp.racy;
        let Some((value, problem)) = load() else {
            self.stamp = Some(stamp.value);
            return false;
        };
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
    /// The team store's held claims, by shard and task.
    pub shards: Vec<Stamped<BTreeMap<TaskId, ClaimRecord>>>,
    /// The tasks of `team/task-assignments.json` that FlowForge did not write, by task.
    pub view: Stamped<BTreeMap<TaskId, ClaimRecord>>,
    /// The identity of the bash tools' entries `view` holds, when they were read from a file
    /// the view's mark vouched for (see [`load_view`]). Not kept in snapshots: a snapshot
    /// loaded reads the view once.
    #[serde(skip)]
    pub view_foreign: Option<ForeignId>,
}

/// Which parts a check found changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Changed {
    pub registry: bool,
    /// A claims shard or their view.
    pub claims: bool,
}

impl TeamState {
    /// Checks the parts in `parts`: a `stat` (and the store's hint) each, plus a reload of
    /// those whose stamp moved or was racy.
    pub(crate) fn check(&mut self, layout: &Layout, parts: Parts) -> Changed {
        // Stamps and loads walk the same directories: each is opened once.
        let _dirs = flowforge_session::fs::DirScope::enter();
        let mut changed = Changed::default();
        if parts.registry {
            changed.registry = (self.registry)
                .check(file_stamp(layout, layout.team_config()), || {
                    load_registry(layout)
                });
        }
        if parts.shards != 0 {
            self.shards.resize_with(CLAIM_SHARDS, Stamped::default);
            let mut reader = ClaimsReader::new(layout);
            for (shard, part) in self.shards.iter_mut().enumerate() {
                if parts.shards & (1 << shard) != 0 {
                    let stamp = shard_stamp(&mut reader, shard);
                    changed.claims |= part.check(stamp, || load_shard(layout, &mut reader, shard));
                }
            }
        }
        if parts.view {
            let known = &mut self.view_foreign;
            changed.claims |= (self.view)
                .check_or_keep(file_stamp(layout, layout.task_assignments()), || {
                    load_view(layout, known)
                });
        }
        changed
    }

    /// Makes every part racy, so the next check verifies it by content (after a snapshot
    /// load: the stamp of absent team files is the same everywhere).
    pub(crate) fn distrust(&mut self) {
        self.registry.racy = true;
        for shard in &mut self.shards {
            shard.racy = true;
        }
        self.view.racy = true;
    }

    /// The claim of `task`: the store's, else the bash tools' in the view.
    pub(crate) fn claim(&self, task: &TaskId) -> Option<&ClaimRecord> {
        (self.shards.get(claim_shard(task)))
            .and_then(|shard| shard.value.get(task))
            .or_else(|| self.view.value.get(task))
    }

    /// The store's claims, sorted by task.
    fn store_claims(&self) -> Vec<&ClaimRecord> {
        let mut all: Vec<&ClaimRecord> = (self.shards.iter())
            .flat_map(|shard| shard.value.values())
            .collect();
        all.sort_unstable_by(|a, b| a.task.cmp(&b.task));
        all
    }

    /// Every claim, sorted by task: the store's, and the view's for tasks the store does not
    /// hold. Merges the two sorted parts.
    pub(crate) fn all_claims(&self) -> impl Iterator<Item = &ClaimRecord> {
        let mut store = self.store_claims().into_iter().peekable();
        let mut view = self.view.value.values().peekable();
        std::iter::from_fn(move || match (store.peek(), view.peek()) {
            (Some(s), Some(v)) if v.task < s.task => view.next(),
            (Some(s), Some(v)) if v.task == s.task => {
                view.next();
                store.next()
            }
            (Some(_), _) => store.next(),
            (None, _) => view.next(),
        })
    }

    /// The claimed tasks from `from` on, sorted; a task in both parts once.
    pub(crate) fn tasks_from<'a>(&'a self, from: &'a str) -> impl Iterator<Item = &'a TaskId> {
        let range = (std::ops::Bound::Included(from), std::ops::Bound::Unbounded);
        let mut store: Vec<&TaskId> = (self.shards.iter())
            .flat_map(|shard| shard.value.range::<str, _>(range).map(|(t, _)| t))
            .collect();
        store.sort_unstable();
        let mut store = store.into_iter().peekable();
        let mut view = self
            .view
            .value
            .range::<str, _>(range)
            .map(|(t, _)| t)
            .peekable();
        std::iter::from_fn(move || match (store.peek(), view.peek()) {
            (Some(s), Some(v)) if v < s => view.next(),
            (Some(s), Some(v)) if v == s => {
                view.next();
                store.next()
            }
            (Some(_), _) => store.next(),
            (None, _) => view.next(),
        })
    }

    /// The problems that left a part empty.
    pub(crate) fn problems(&self) -> impl Iterator<Item = &Problem> {
        (self.registry.problem.iter())
            .chain(self.shards.iter().flat_map(|s| s.problem.iter()))
            .chain(self.view.problem.iter())
    }
}

/// The stamp of a part held in one file (`team/config.json` or `team/task-assignments.json`).
fn file_stamp(layout: &Layout, path: PathBuf) -> Stamp {
    let mut stamp = StampBuilder::new();
    stamp.paths(layout.root(), &[path]);
    stamp.finish()
}

/// The stamp of a claims shard: its generation and version file.
fn shard_stamp(reader: &mut ClaimsReader, shard: usize) -> Stamp {
    let mut stamp = StampBuilder::new();
    match reader.shard_version(shard) {
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

/// The held claims of a shard: one small document read.
fn load_shard(
    layout: &Layout,
    reader: &mut ClaimsReader,
    shard: usize,
) -> (BTreeMap<TaskId, ClaimRecord>, Option<Problem>) {
    match reader.shard(shard) {
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
/// tools'. `None` when they are those already held, whose identity is `known` (set to the
/// identity of what is returned).
///
/// After every claim change the file holds one entry per live claim, nearly all FlowForge's,
/// and its writer vouches for it in the claims' view mark
/// ([`view_vouch`](flowforge_session::claim::view_vouch)) with the number of the bash tools'
/// entries and their identity. The file is not read when the view's `lstat` data are those
/// the mark records and
/// - it counts no entry of the bash tools: the answer is none;
/// - or it names the identity of the entries held (`known`): the answer is those.
///
/// The mark matches only the file its writer wrote, with a modification time no later edit
/// can keep (the argument is in that module's documentation), so a file edited or replaced
/// since — by the bash tools, in place or by rename, or by FlowForge's next write — is read as
/// before. An identity names the bash tools' entries exactly: FlowForge writers carry it from
/// the file they splice only when they keep each of those entries as its bytes and write none
/// (any other write names them anew by its own file), and `known` is only ever set from a
/// vouch of the very bytes parsed ([`read_view`](flowforge_session::claim::read_view) takes it
/// from the descriptor read, after the read) or of a file counting none. A mark of an older
/// writer names no identity: the file is read.
///
/// Otherwise a lean pass reads it first: the fields every entry needs, borrowed, and whether
/// it names a session, without building the full model of every entry. It checks everything
/// the full model checks (task and developer ids, times); anything it does not accept, a
/// damaged file included, is read again with the full model, whose answer (or error) is the
/// same as before.
fn load_view(
    layout: &Layout,
    known: &mut Option<ForeignId>,
) -> Option<(BTreeMap<TaskId, ClaimRecord>, Option<Problem>)> {
    use flowforge_session::claim::{read_view, view_vouch};
    let path = layout.task_assignments();
    if let Ok(Some(view)) = flowforge_session::fs::stat(layout.root(), &path) {
        if let Some(vouch) = view_vouch(layout, &view) {
            if vouch.foreign_entries() == 0 {
                *known = vouch.foreign_id();
                return Some((BTreeMap::new(), None));
            }
            if vouch.foreign_id().is_some() && vouch.foreign_id() == *known {
                return None;
            }
        }
    }
    *known = None;
    let (bytes, vouch) = match read_view(layout) {
        Ok(Some(read)) => read,
        Ok(None) => return Some((BTreeMap::new(), None)),
        Err(e) => return Some((BTreeMap::new(), Some(Problem::from_error(&path, None, &e)))),
    };
    let known_now = vouch.and_then(|v| v.foreign_id());
    if let Some(foreign) = lean_view(&bytes) {
        *known = known_now;
        return Some((foreign, None));
    }
    match serde_json::from_slice::<TaskAssignments>(&bytes) {
        Ok(assignments) => {
            *known = known_now;
            Some((foreign_entries(assignments), None))
        }
        Err(source) => {
            let e = flowforge_session::Error::Json {
                path: path.clone(),
                source,
            };
            Some((BTreeMap::new(), Some(Problem::from_error(&path, None, &e))))
        }
    }
}

/// `team/task-assignments.json` as the lean pass reads it: unknown fields are skipped.
#[derive(Deserialize)]
struct LeanView<'a> {
    #[serde(default, alias = "assignments", borrow)]
    tasks: LeanEntries<'a>,
}

/// The entries in the file's order, duplicates included (a map would drop them unchecked).
type LeanEntries<'a> = MapEntries<String, LeanEntry<'a>>;

/// One entry, its fields borrowed from the file where they hold no escapes.
#[derive(Deserialize)]
struct LeanEntry<'a> {
    #[serde(alias = "developer", alias = "developerId", borrow)]
    assignee: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(alias = "claimedAt", borrow)]
    claimed_at: Cow<'a, str>,
    /// Only a string marks FlowForge's entries; anything else makes the full model decide.
    #[serde(default, rename = "session_id", borrow)]
    session: Option<Cow<'a, str>>,
}

/// The bash tools' entries of the view by the lean pass; `None` when the full model must
/// decide (a file the lean pass does not accept, an entry the full model would refuse).
fn lean_view(bytes: &[u8]) -> Option<BTreeMap<TaskId, ClaimRecord>> {
    let view: LeanView<'_> = serde_json::from_slice(bytes).ok()?;
    let mut foreign = BTreeMap::new();
    for (task, entry) in view.tasks.0 {
        // The full model validates every entry, FlowForge's too: so does this pass. A task
        // named twice keeps its last entry, as in the full model's map.
        let task = TaskId::try_from(task).ok()?;
        let holder = DeveloperId::new(&entry.assignee).ok()?;
        let claimed_at: Timestamp = entry.claimed_at.parse().ok()?;
        foreign.remove(&task);
        if entry.session.is_none() {
            let claim = ClaimRecord {
                task: task.clone(),
                holder,
                status: entry.status.into_owned(),
                claimed_at,
            };
            foreign.insert(task, claim);
        }
    }
    Some(foreign)
}

/// The bash tools' entries of a fully parsed `task-assignments.json` (FlowForge's own entries
/// come from the claims document).
fn foreign_entries(assignments: TaskAssignments) -> BTreeMap<TaskId, ClaimRecord> {
    (assignments.tasks.into_iter())
        .filter(|(_, a)| !flowforge_session::claim::is_flowforge_entry(a))
        .map(|(task, a)| {
            let claim = ClaimRecord {
                task: task.clone(),
                holder: a.assignee,
                status: a.status,
                claimed_at: a.claimed_at,
            };
            (task, claim)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bash tools' entries as the full model reads them, or `None` where it refuses.
    fn full(bytes: &[u8]) -> Option<BTreeMap<TaskId, ClaimRecord>> {
        serde_json::from_slice(bytes).ok().map(foreign_entries)
    }

    #[test]
    fn the_lean_pass_agrees_with_the_full_model_or_leaves_it_the_decision() {
        let at = r#""claimed_at": "2025-09-18T08:00:00Z""#;
        let ff = |task: &str, dev: &str| {
            format!(
                r#""{task}": {{"assignee": "{dev}", "status": "claimed", {at}, "session_id": "s-{dev}"}}"#
            )
        };
        let bash = |task: &str, dev: &str| {
            format!(
                r#""{task}": {{"developer": "{dev}", "status": "in_progress", "claimedAt": "2025-09-18T09:30:00.5+02:00", "note": [1, {{}}]}}"#
            )
        };
        let agreeing = [
            format!(r#"{{"tasks": {{{}, {}}}, "version": 2}}"#, ff("t-1", "alice"), ff("t-2", "bob")),
            format!(r#"{{"tasks": {{{}, {}}}}}"#, ff("t-1", "alice"), bash("t-2", "carol")),
            format!(r#"{{"assignments": {{{}}}}}"#, bash("t-3", "dave")),
            // A task named twice: the last entry counts, whichever kind it is.
            format!(r#"{{"tasks": {{{}, {}}}}}"#, bash("t-1", "carol"), ff("t-1", "alice")),
            format!(r#"{{"tasks": {{{}, {}}}}}"#, ff("t-1", "alice"), bash("t-1", "carol")),
            // A null session names none: the entry is the bash tools'.
            format!(r#"{{"tasks": {{"t-4": {{"assignee": "eve", "status": "claimed", {at}, "session_id": null}}}}}}"#),
            r#"{"tasks": {"t-\u0035": {"assignee": "fr\u0065d", "status": "cl\"aimed", "claimed_at": "2025-09-18T08:00:00Z"}}}"#.to_owned(),
            "{}".to_owned(),
        ];
        for doc in &agreeing {
            let lean = lean_view(doc.as_bytes());
            assert!(lean.is_some(), "the lean pass reads {doc}");
            assert_eq!(lean, full(doc.as_bytes()), "{doc}");
        }
        let deferred = [
            // Refused by the full model: an invalid id or time in FlowForge's own entry.
            format!(r#"{{"tasks": {{{}}}}}"#, ff("t-1", "not/valid")),
            format!(r#"{{"tasks": {{{}}}}}"#, ff("bad/task", "alice")),
            r#"{"tasks": {"t-1": {"assignee": "a", "status": "s", "claimed_at": "yesterday", "session_id": "x"}}}"#.to_owned(),
            // A duplicate invalid entry the last one would hide in a map.
            format!(
                r#"{{"tasks": {{{}, {}}}}}"#,
                ff("t-1", "no/pe"),
                ff("t-1", "alice")
            ),
            // Accepted by the full model, not by the lean pass: it decides.
            format!(
                r#"{{"tasks": {{"t-1": {{"assignee": "a", "status": "s", {at}, "session_id": 7}}}}}}"#
            ),
            r#"{"tasks": [1, 2]}"#.to_owned(),
            "not json".to_owned(),
        ];
        for doc in &deferred {
            assert_eq!(lean_view(doc.as_bytes()), None, "{doc}");
        }
        assert!(full(deferred[4].as_bytes()).is_some_and(|f| f.len() == 1));
    }
}
