//! Task claims: held claims live in the team store in [`CLAIM_SHARDS`] documents (keys
//! `claims-00` … `claims-3f`, `team/store/claims-<xx>/`), a task's claim in the shard its id
//! hashes to ([`claim_shard`]). A claim or release reads and rewrites its own shard only, by
//! compare-and-swap, so that among any number of developers racing for a task exactly one
//! wins, and its cost does not follow the number of claims held by others. A claim is
//! released by removing it from its shard — explicitly, never by a timeout — so the shards
//! hold live claims only and their size follows the team, not the history.
//!
//! A task the bash tools gave to a developer in `team/task-assignments.json` (an entry without
//! [`SESSION_FIELD`] that [holds](TaskAssignment::holds) the task) is claimed while its shard
//! does not hold it ([`compat`](crate::compat)): another developer is refused, the holder's
//! start takes it over, and a release (the holder's, or a forced one) takes it over and
//! releases it. A taken-over entry is remembered in the shard by its task and `claimed_at`
//! (`dropped`), so no view writer — however stale the file it read — brings it back; only
//! entries the bash tools wrote enter that list, never FlowForge's own claims.
//!
//! Every change is noted after its publication in the claims journal
//! (`team/store/.claims/journal`): one byte, the shard's number, appended. Its length is
//! the claims' change counter, and what was appended since a point says which shards
//! changed: the view writer reads only those. Readers that must never be stale (the index)
//! check the shards' generations instead ([`ClaimsReader::shard_version`]): a process killed
//! between a publication and its note leaves the journal short of one change, never a shard.
//!
//! `team/task-assignments.json` is the claims' view for the bash tools, written by the
//! change itself: the writer that holds the view's lock (`team/store/.claims/view.lock`,
//! taken without waiting) reads the journal from the point the view reflects, rewrites the
//! entries of the shards named there from those shards only (no other claim is read), and
//! looks at the journal again after unlocking, so the view converges like the other
//! [views](crate::view). Tasks in it that FlowForge did not claim (entries without a
//! [`SESSION_FIELD`], written by the bash tools) are kept. A view someone else rewrote, a
//! journal replaced or a point lost makes the next writer rebuild it from every shard. The
//! other entries are copied as bytes, not parsed, and the writer's mark vouches for the file
//! it wrote, so readers that find it unchanged skip reading it
//! ([`vouched_foreign_entries`]; the argument is in `claim/assignments.rs`).
//!
//! Older stores hold every claim in one document (key [`CLAIMS_KEY`]), or before it one key
//! per task (`claim-<task>/`): a shard never written reads its claims from them, its first
//! change seeds it from them, and [`gc`](crate::gc()) seeds every other shard and then removes
//! them.

mod assignments;

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::TaskAssignment};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};

pub use self::assignments::{ForeignId, ViewVouch, read_view, view_vouch, vouched_foreign_entries};
use crate::{
    error::{Error, Result},
    fs::{Dir, FileStat},
    namespace::team_store,
    store::{Cas, Key, Store, StoreOptions, Version},
};

/// The `status` of a claim taken by FlowForge.
pub const CLAIMED: &str = "claimed";
/// The field of a claim naming the session that took it. An entry of
/// `team/task-assignments.json` carrying it was written by FlowForge.
pub const SESSION_FIELD: &str = "session_id";
/// The key of the single claims document of older stores (read until its tasks' shards are
/// written; `flowforge gc` removes it once every shard is).
pub const CLAIMS_KEY: &str = "claims";
/// How many shards hold the claims.
pub const CLAIM_SHARDS: usize = 64;
/// The prefix of a shard's key: `claims-` and the shard's number in two hex digits.
const SHARD_PREFIX: &str = "claims-";
/// The directory of the claims' bookkeeping in the team store directory (a dot name: never
/// a key).
pub const BOOKKEEPING_DIR: &str = ".claims";
/// The claims journal: one byte (a shard's number) per change.
const JOURNAL: &str = "journal";

pub(crate) fn claims_key() -> Key {
    Key::new(CLAIMS_KEY).expect("a valid constant key")
}

/// The shard holding `task`'s claim: FNV-1a of the task id, modulo [`CLAIM_SHARDS`]. Fixed
/// forever (the shards' contents depend on it).
pub fn claim_shard(task: &TaskId) -> usize {
    shard_of_id(task.as_str())
}

/// [`claim_shard`] of a task id not validated (nor allocated) as a [`TaskId`].
pub(crate) fn shard_of_id(task: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in task.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % CLAIM_SHARDS as u64) as usize
}

/// The store key of shard `shard` (`claims-00` … `claims-3f`).
pub(crate) fn shard_key(shard: usize) -> Key {
    let mut name = String::with_capacity(SHARD_PREFIX.len() + 2);
    name.push_str(SHARD_PREFIX);
    crate::digits::push_hex(&mut name, shard as u64, 2);
    Key::new(&name).expect("a valid key")
}

/// The shard whose key (a directory of the team store) is `name`, `None` for other names.
pub fn shard_of_key(name: &str) -> Option<usize> {
    let hex = name.strip_prefix(SHARD_PREFIX)?;
    let shard = usize::from_str_radix(hex, 16).ok()?;
    (hex.len() == 2 && shard < CLAIM_SHARDS).then_some(shard)
}

/// Whether `name`, an entry of the team store directory, is the claims' bookkeeping (the
/// journal, the view's lock and point): it changes no claim.
pub fn is_claims_bookkeeping(name: &str) -> bool {
    name == BOOKKEEPING_DIR
}

/// The claims' bookkeeping directory, created 0700 if missing.
fn bookkeeping(team: &Store) -> Result<Dir> {
    Dir::create(team.root(), &team.dir().join(BOOKKEEPING_DIR))
}

/// A task claim as read from the team store.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The task.
    pub task: TaskId,
    /// Who holds it (`assignee`), since when (`claimed_at`), and any other fields.
    pub assignment: TaskAssignment,
    /// The claim's version: the generation of its shard that took it (0 for a claim read
    /// from an older store's document).
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

/// The version of the older stores' claims: the single document's generation and file, or
/// before it the per-task keys'.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct LegacyVersion {
    document: (u64, Option<FileStat>),
    keys: Vec<(Key, u64, Option<FileStat>)>,
}

/// A cheap change detector of one shard: its generation and the `lstat` data of that
/// version file, and for a shard never written the same of the older stores' claims it
/// reads. Changes whenever [`ClaimsReader::shard`] would, a version file edited in place
/// included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ShardVersion {
    generation: u64,
    file: Option<FileStat>,
    legacy: Option<LegacyVersion>,
}

impl ShardVersion {
    /// The shard's generation (0 before its first version).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The `lstat` data of the files read: the shard's latest version, then (for a shard
    /// never written) the older stores' claims.
    pub fn files(&self) -> impl Iterator<Item = &Option<FileStat>> {
        let legacy = self.legacy.iter().flat_map(|l| {
            std::iter::once(&l.document.1).chain(l.keys.iter().map(|(_, _, file)| file))
        });
        std::iter::once(&self.file).chain(legacy)
    }
}

/// A change detector over all claims: every shard's [`ShardVersion`]. Computing it costs a
/// hint read and a `stat` or two per shard, whatever the number of claims ever made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClaimsVersion {
    shards: Vec<ShardVersion>,
}

impl ClaimsVersion {
    /// The sum of the shards' generations: it grows by one with every change.
    pub fn generation(&self) -> u64 {
        self.shards.iter().map(|s| s.generation).sum()
    }

    /// The `lstat` data of the files read (see [`ShardVersion::files`]).
    pub fn files(&self) -> impl Iterator<Item = &Option<FileStat>> {
        self.shards.iter().flat_map(ShardVersion::files)
    }
}

/// Who releases a claim, and whether another developer's claim may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseOptions {
    /// Release the claim even when another developer holds it (their process is gone).
    pub force: bool,
}

/// One held claim in a shard: the assignment and the generation that took it, and its bytes
/// once printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Held {
    #[serde(rename = "a")]
    assignment: TaskAssignment,
    #[serde(rename = "g")]
    generation: u64,
    #[serde(skip)]
    prints: Prints,
}

impl Held {
    fn new(assignment: TaskAssignment, generation: u64) -> Self {
        Self {
            assignment,
            generation,
            prints: Prints::default(),
        }
    }

    /// The claim as its shard's document holds it (what `serde_json` prints of it), printed
    /// the first time it is asked for.
    fn stored(&self) -> serde_json::Result<&RawValue> {
        if let Some(stored) = self.prints.stored.get() {
            return Ok(stored);
        }
        let stored = Arc::from(serde_json::value::to_raw_value(self)?);
        Ok(self.prints.stored.get_or_init(|| stored))
    }

    /// The claim's entry in the claims view as `print` prints its assignment, printed the
    /// first time it is asked for (`print` is always the view's one printer).
    pub(crate) fn entry(
        &self,
        print: impl FnOnce(&TaskAssignment) -> Result<String>,
    ) -> Result<&str> {
        if let Some(entry) = self.prints.entry.get() {
            return Ok(entry);
        }
        let entry = Arc::from(print(&self.assignment)?);
        Ok(self.prints.entry.get_or_init(|| entry))
    }
}

/// What a [`Held`] printed, kept with it: a claim is never changed once taken (a change
/// inserts a new one), and the process keeps a shard's claims from one change to the next
/// (`Store::take_shared`), so a change of a shard prints the claim it took, not the ~16 others
/// a shard holds at 1,000 developers, in the shard's document and in the claims view. Shared
/// by the claim's copies; two claims equal as values print the same, so it takes no part in
/// the comparison.
#[derive(Default, Clone)]
struct Prints {
    stored: OnceLock<Arc<RawValue>>,
    entry: OnceLock<Arc<str>>,
}

impl PartialEq for Prints {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Prints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prints")
    }
}

/// A shard as the store writes it: the document [`Claims`] serializes to, each claim's bytes
/// those it printed before ([`Held::stored`]). JSON only (the claims are raw JSON values).
struct Stored<'a>(&'a Claims);

impl Serialize for Stored<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeStruct};
        /// The claims map, each claim as its raw bytes.
        struct Claimed<'a>(&'a BTreeMap<TaskId, Held>);
        impl Serialize for Claimed<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (task, held) in self.0 {
                    let stored = held.stored().map_err(serde::ser::Error::custom)?;
                    map.serialize_entry(task, stored)?;
                }
                map.end()
            }
        }
        let claims = self.0;
        let fields = 1
            + usize::from(!claims.dropped.is_empty())
            + usize::from(!claims.dropped_by.is_empty());
        let mut out = serializer.serialize_struct("Claims", fields)?;
        out.serialize_field("claims", &Claimed(&claims.claims))?;
        if !claims.dropped.is_empty() {
            out.serialize_field("dropped", &claims.dropped)?;
        }
        if !claims.dropped_by.is_empty() {
            out.serialize_field("dropped_by", &claims.dropped_by)?;
        }
        out.end()
    }
}

/// A shard's document (and the older stores' single document, of the same shape).
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
    /// Whose those entries were (absent in stores written before it was kept): a new entry of
    /// the bash tools for the same task and time, but another developer, is not the one taken
    /// over (the bash tools write times to the second).
    #[serde(
        default,
        rename = "dropped_by",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    dropped_by: BTreeMap<TaskId, DeveloperId>,
}

impl Claims {
    /// Whether `assignment`, an entry of `team/task-assignments.json` the bash tools wrote
    /// for `task`, was taken over by the store.
    fn was_dropped(&self, task: &TaskId, assignment: &TaskAssignment) -> bool {
        self.dropped.get(task) == Some(&assignment.claimed_at)
            && (self.dropped_by.get(task)).is_none_or(|holder| *holder == assignment.assignee)
    }

    /// Records that the store took over (or released) `assignment`, the bash tools' entry
    /// of `task`.
    fn drop_entry(&mut self, task: &TaskId, assignment: &TaskAssignment) {
        self.dropped.insert(task.clone(), assignment.claimed_at);
        self.dropped_by
            .insert(task.clone(), assignment.assignee.clone());
    }

    /// The bash tools' claim of `task` in `view` (read before the change) that still
    /// counts: the shard does not hold the task and never took this entry over.
    fn file_claim(&self, task: &TaskId, view: Option<&TaskAssignment>) -> Option<TaskAssignment> {
        view.filter(|a| !self.claims.contains_key(task) && !self.was_dropped(task, a))
            .cloned()
    }

    /// The part of older stores' claims that belongs to `shard`.
    fn part(&self, shard: usize) -> Self {
        let mine = |task: &TaskId| claim_shard(task) == shard;
        Self {
            claims: (self.claims.iter())
                .filter(|(t, _)| mine(t))
                .map(|(t, h)| (t.clone(), h.clone()))
                .collect(),
            dropped: (self.dropped.iter())
                .filter(|(t, _)| mine(t))
                .map(|(t, at)| (t.clone(), *at))
                .collect(),
            dropped_by: (self.dropped_by.iter())
                .filter(|(t, _)| mine(t))
                .map(|(t, dev)| (t.clone(), dev.clone()))
                .collect(),
        }
    }

    fn to_claims(&self) -> impl Iterator<Item = Claim> + '_ {
        self.claims.iter().map(|(task, held)| Claim {
            task: task.clone(),
            assignment: held.assignment.clone(),
            version: Version::new(held.generation),
        })
    }
}

/// The bash tools' entry of `task` in `team/task-assignments.json` if it holds the task
/// (FlowForge's own entries only mirror the shards, the truth for them).
fn bash_claim(layout: &Layout, task: &TaskId) -> Option<TaskAssignment> {
    // FlowForge's own view, vouched for as holding none of their entries: nothing to read.
    if let Ok(Some(view)) = crate::fs::stat(layout.root(), &layout.task_assignments()) {
        if vouched_foreign_entries(layout, &view) == Some(0) {
            return None;
        }
    }
    crate::compat::view_claim(layout, task).filter(|a| !is_flowforge_entry(a))
}

/// Reads the claims shard by shard, reading older stores' claims (for shards never
/// written) at most once.
#[derive(Debug)]
pub struct ClaimsReader {
    team: Store,
    legacy_version: Option<LegacyVersion>,
    legacy: Option<Claims>,
    /// The shards whose keys the listing of the store this reader took showed (bit `s` for
    /// shard `s`); `None` before it took one. Only [`ClaimsReader::shard_version`] relies on
    /// it.
    listed: Option<u64>,
}

impl ClaimsReader {
    /// A reader of the team store of the namespace at `layout`.
    pub fn new(layout: &Layout) -> Self {
        Self::over(team_store(layout, StoreOptions::default()))
    }

    fn over(team: Store) -> Self {
        Self {
            team,
            legacy_version: None,
            legacy: None,
            listed: None,
        }
    }

    /// The version of the older stores' claims.
    fn legacy_version(&mut self) -> Result<LegacyVersion> {
        if let Some(version) = &self.legacy_version {
            return Ok(version.clone());
        }
        let document = self.team.generation_stat(&claims_key())?;
        let mut keys = Vec::new();
        if document.0 == 0 {
            let mut listed = 0u64;
            let all = self.team.keys()?;
            for key in &all {
                if let Some(shard) = shard_of_key(key.as_str()) {
                    listed |= 1 << shard;
                }
            }
            self.listed = Some(listed);
            for key in all {
                if key.claim_task().is_some() {
                    let (g, file) = self.team.generation_stat(&key)?;
                    keys.push((key, g, file));
                }
            }
        }
        let version = LegacyVersion { document, keys };
        self.legacy_version = Some(version.clone());
        Ok(version)
    }

    /// The older stores' held claims: their single document, else their per-task keys (a
    /// damaged one is left out, so its task can be claimed again, rather than stopping every
    /// developer's claims).
    fn legacy(&mut self) -> Result<&Claims> {
        if self.legacy.is_none() {
            let claims = match self.team.get::<Claims>(&claims_key())? {
                Some(document) => document.value,
                None => {
                    let mut claims = Claims::default();
                    for key in self.team.keys()? {
                        if let Some(task) = key.claim_task() {
                            if let Ok(Some(v)) = self.team.get::<TaskAssignment>(&key) {
                                let held = Held::new(v.value, 0);
                                claims.claims.insert(task, held);
                            }
                        }
                    }
                    claims
                }
            };
            self.legacy = Some(claims);
        }
        Ok(self.legacy.get_or_insert_with(Claims::default))
    }

    /// The held claims of `shard` at its version (`None`: never written, they come from an
    /// older store's claims).
    /// The shard's value is shared with this process's other reads of the same version (see
    /// [`Store::get_shared`]): a claim change reads its shard, then the view's writer reads it
    /// again, and the next change of the shard reads the version the last one published.
    fn read(&mut self, shard: usize) -> Result<(Option<Version>, Arc<Claims>)> {
        self.read_as(shard, false)
    }

    /// [`ClaimsReader::read`] for a change of the shard ([`Store::take_shared`]).
    fn read_to_change(&mut self, shard: usize) -> Result<(Option<Version>, Arc<Claims>)> {
        self.read_as(shard, true)
    }

    fn read_as(&mut self, shard: usize, take: bool) -> Result<(Option<Version>, Arc<Claims>)> {
        let key = shard_key(shard);
        let read = match take {
            true => self.team.take_shared::<Claims>(&key)?,
            false => self.team.get_shared::<Claims>(&key)?,
        };
        match read {
            Some((version, claims)) => Ok((Some(version), claims)),
            None => Ok((None, Arc::new(self.legacy()?.part(shard)))),
        }
    }

    /// The [`ShardVersion`] of `shard`, as of no earlier than when this reader was made: a
    /// shard first written since may read as never written (make a reader per check).
    ///
    /// # Errors
    /// [`Error::Io`] when the store cannot be read.
    pub fn shard_version(&mut self, shard: usize) -> Result<ShardVersion> {
        // A shard the store's listing did not show has no version, without a probe: the
        // listing was taken after this reader was made, and a key directory that exists
        // throughout a listing is in it, so a shard published before the reader was made is
        // never missed; one made since reads as it was when the reader was made. (A team of
        // a few developers has most of its shards unwritten: a probe each was most of an
        // index check.)
        let (generation, file) = match self.listed {
            Some(listed) if listed & (1 << shard) == 0 => (0, None),
            _ => self.team.generation_stat(&shard_key(shard))?,
        };
        let legacy = match generation {
            0 => Some(self.legacy_version()?),
            _ => None,
        };
        Ok(ShardVersion {
            generation,
            file,
            legacy,
        })
    }

    /// The held claims of `shard`, sorted by task: one small document read.
    ///
    /// # Errors
    /// The store's read errors, naming the shard's version file.
    pub fn shard(&mut self, shard: usize) -> Result<Vec<Claim>> {
        Ok(self.read(shard)?.1.to_claims().collect())
    }
}

/// The claim of `task`, `None` when nobody holds it: one shard read.
///
/// # Errors
/// The store's read errors, naming the shard's version file.
pub fn claim_of(layout: &Layout, task: &TaskId) -> Result<Option<Claim>> {
    let (_, claims) = ClaimsReader::new(layout).read(claim_shard(task))?;
    Ok(claims.claims.get(task).map(|held| Claim {
        task: task.clone(),
        assignment: held.assignment.clone(),
        version: Version::new(held.generation),
    }))
}

/// Every held claim, sorted by task: every shard read.
///
/// # Errors
/// The store's read errors, naming the shard's version file.
pub fn list_claims(layout: &Layout) -> Result<Vec<Claim>> {
    let mut reader = ClaimsReader::new(layout);
    let mut all = Vec::new();
    for shard in 0..CLAIM_SHARDS {
        all.extend(reader.shard(shard)?);
    }
    all.sort_by(|a, b| a.task.cmp(&b.task));
    Ok(all)
}

/// The [`ClaimsVersion`] of the team store.
///
/// # Errors
/// [`Error::Io`] when the store cannot be read.
pub fn claims_version(layout: &Layout) -> Result<ClaimsVersion> {
    let mut reader = ClaimsReader::new(layout);
    let shards = (0..CLAIM_SHARDS)
        .map(|shard| reader.shard_version(shard))
        .collect::<Result<_>>()?;
    Ok(ClaimsVersion { shards })
}

/// Seeds every shard never written from the older stores' claims (nothing to do for a
/// store without them), so that nothing reads those any more and they can be removed;
/// with `dry_run` nothing is written. Returns whether the store had older claims.
///
/// # Errors
/// The store's read and write errors.
pub(crate) fn seed_shards(team: &Store, dry_run: bool) -> Result<bool> {
    let mut reader = ClaimsReader::over(team.clone());
    let legacy = reader.legacy_version()?;
    if legacy.document.0 == 0 && legacy.keys.is_empty() {
        return Ok(false);
    }
    if !dry_run {
        for shard in 0..CLAIM_SHARDS {
            let key = shard_key(shard);
            if team.generation(&key)? == 0 {
                let part = reader.legacy()?.part(shard);
                // A writer that seeded it first wins: its version holds the same claims.
                let _ = team.create(&key, &part)?;
            }
        }
    }
    Ok(true)
}

/// Releases every claim no session will release (see [`ORPHAN_AGE`]): a claim naming a
/// session that is not its holder's latest, or is ended, once older than [`ORPHAN_AGE`] — a
/// process died between taking it and writing its session, in a shard the holder's later
/// changes did not touch; then rebuilds the view from every shard. Reads every shard and the
/// holders' sessions: for `flowforge gc`, not for a hot path. With `dry_run` nothing is
/// released or written. Returns the tasks released (or
/// that would be).
///
/// # Errors
/// The store's read and write errors.
pub(crate) fn release_orphans(layout: &Layout, team: &Store, dry_run: bool) -> Result<Vec<TaskId>> {
    let mut reader = ClaimsReader::over(team.clone());
    let now = Timestamp::now();
    let mut released = Vec::new();
    let mut published = Vec::new();
    for shard in 0..CLAIM_SHARDS {
        for claim in reader.shard(shard)? {
            let Some(session_id) = claim.session_id() else {
                continue;
            };
            if now.duration_since(claim.assignment.claimed_at) < ORPHAN_AGE {
                continue;
            }
            let dev = claim.holder();
            let options = crate::SessionOptions::default();
            // A holder without a namespace keeps the claim (a forced release frees it).
            let Ok(ns) = crate::Namespace::open(layout, dev, options) else {
                continue;
            };
            let latest = ns.session()?;
            let live = latest
                .as_ref()
                .is_some_and(|s| s.active && s.session_id == session_id);
            if live {
                continue;
            }
            if dry_run {
                released.push(claim.task.clone());
                continue;
            }
            let owner = Owner {
                dev,
                known: true,
                session: latest
                    .as_ref()
                    .map(|s| (s.session_id.as_str(), s.active, s.task_id.as_ref())),
            };
            if let Some(p) = release_if_held(team, &claim.task, owner, Some(session_id))? {
                released.push(claim.task.clone());
                published.push(p);
            }
        }
    }
    if !dry_run {
        // The repair of the view too: rebuilt from every shard (a process killed between a
        // change and its note in the journal left the view behind on that shard).
        let unnoted = published.into_iter().find_map(|p| p.noted);
        if Dir::open(team.root(), team.dir())?.is_some() {
            assignments::converge_view(team, layout, true)?;
        }
        if let Some(e) = unnoted {
            return Err(e);
        }
    }
    Ok(released)
}

/// A shard published by a claim change.
#[derive(Debug)]
pub(crate) struct Published {
    /// Noting the change in the journal failed (the change is committed; the view may miss
    /// it until the shard's next change).
    noted: Option<Error>,
}

/// Applies `change` to the claims of `task`'s shard and publishes the result by
/// compare-and-swap, retrying on lost races; `change` returns `Ok(None)` to publish nothing.
/// Returns what it returned, the change noted in the journal.
pub(crate) fn change<R>(
    team: &Store,
    task: &TaskId,
    mut change: impl FnMut(&mut Claims, u64) -> Result<Option<R>>,
) -> Result<Option<(R, Published)>> {
    let shard = claim_shard(task);
    let key = shard_key(shard);
    let mut reader = ClaimsReader::over(team.clone());
    let mut backoff = crate::store::Backoff::new(team.options().retry);
    for _ in 0..team.options().retry.max_attempts {
        // Taken from the cache, not shared with it: changed in place, not copied.
        let (expected, claims) = reader.read_to_change(shard)?;
        let mut claims = Arc::unwrap_or_clone(claims);
        let next = expected.map_or_else(|| team.generation(&key), |v| Ok(v.get()))? + 1;
        let Some(outcome) = change(&mut claims, next)? else {
            return Ok(None);
        };
        if next == 1 {
            // A shard's first change gives it its spare slots (see
            // `Store::provision_spares`): the files its first generations would each
            // create, created at once, so from then on a change creates none. Best-effort.
            let _ = team.provision_spares(&key);
        }
        if let Cas::Swapped(version) =
            team.compare_and_swap_as::<Claims, _>(&key, expected, &Stored(&claims))?
        {
            team.share_published(&key, version, Arc::new(claims));
            let noted = note(team, shard).err();
            return Ok(Some((outcome, Published { noted })));
        }
        backoff.pause();
    }
    Err(Error::Contended {
        key: key.to_string(),
        attempts: team.options().retry.max_attempts,
    })
}

/// Appends `shard` to the claims journal.
fn note(team: &Store, shard: usize) -> Result<()> {
    use std::io::Write;
    let dir = bookkeeping(team)?;
    let mut journal = dir.open_append(JOURNAL, crate::fs::FILE_MODE)?;
    let byte = u8::try_from(shard).expect("fewer than 256 shards");
    journal
        .write_all(&[byte])
        .map_err(Error::io("cannot write", dir.join(JOURNAL)))
}

/// How old a claim of a developer whose session does not know it must be before a change by
/// that developer in the claim's shard releases it as orphaned (a process that died between
/// taking the claim and writing the session). Younger ones may belong to a start still in
/// flight.
pub(crate) const ORPHAN_AGE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A developer and their latest session, to tell the developer's orphaned claims apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) dev: &'a DeveloperId,
    /// Whether `session` is known; when not, no claim is taken for an orphan.
    pub(crate) known: bool,
    /// The id of the developer's latest session, whether it is active, and its task
    /// (`None`: the developer has no session).
    pub(crate) session: Option<(&'a str, bool, Option<&'a TaskId>)>,
}

/// Removes `owner`'s claims in this shard no session will release: the claim of the latest
/// session when it has ended (a process died between ending it and releasing the claim),
/// and claims of other sessions older than [`ORPHAN_AGE`] (a process died between taking
/// the claim and writing the session). Returns the tasks released.
fn sweep_orphans(claims: &mut Claims, owner: Owner<'_>, keep: &TaskId) -> Vec<TaskId> {
    if !owner.known {
        return Vec::new();
    }
    let now = Timestamp::now();
    let orphans: Vec<TaskId> = claims
        .claims
        .iter()
        // The owner first: most claims of a shard are other developers', and their
        // session is not looked up.
        .filter(|(task, held)| {
            if held.assignment.assignee != *owner.dev || *task == keep {
                return false;
            }
            let Some(session) = session_of(&held.assignment) else {
                return false;
            };
            match owner.session {
                Some((latest, active, _)) if session == latest => !active,
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

/// Claims `task` for `dev` on behalf of `session_id`, releasing `dev`'s orphaned claims of
/// the task's shard in the same change, and the claim of `dev`'s latest session if it ended
/// without releasing it (in that task's shard). Taking over one's own claim (a new session on
/// the same task) succeeds, and so does taking over the bash tools' claim of `dev` in
/// `team/task-assignments.json`; their claim of another developer refuses the task.
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
) -> Result<Vec<Published>> {
    let in_file = bash_claim(layout, task);
    let mut extra = serde_json::Map::new();
    extra.insert(SESSION_FIELD.to_owned(), Value::from(session_id));
    let assignment = TaskAssignment {
        assignee: owner.dev.clone(),
        status: CLAIMED.to_owned(),
        claimed_at: Timestamp::now(),
        extra,
    };
    let (_, published) = change(team, task, |claims, next| {
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
            claims.drop_entry(task, &held);
        }
        sweep_orphans(claims, owner, task);
        claims
            .claims
            .insert(task.clone(), Held::new(assignment.clone(), next));
        Ok(Some(()))
    })?
    .expect("the change always publishes");
    let mut all = vec![published];
    // The latest session ended without releasing its claim (a process died in between):
    // release it now, in its own shard (in this one, the sweep above did).
    if let Some((latest, false, Some(ended))) = owner.session {
        if ended != task && claim_shard(ended) != claim_shard(task) {
            // The task is claimed: a failure here leaves that claim to the next change.
            if let Ok(Some(released)) = release_if_held(team, ended, owner, Some(latest)) {
                all.push(released);
            }
        }
    }
    Ok(all)
}

/// Releases `task` if `owner.dev` holds it for `session_id` (or for any session when
/// `None`), and `owner.dev`'s orphaned claims of its shard; returns the published change
/// when anything was released. A claim taken over meanwhile by another session is left
/// alone.
pub(crate) fn release_if_held(
    team: &Store,
    task: &TaskId,
    owner: Owner<'_>,
    session_id: Option<&str>,
) -> Result<Option<Published>> {
    let changed = change(team, task, |claims, _| {
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
    let (claim, published) = change(&team, task, |claims, next| {
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
            claims.drop_entry(task, &assignment);
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
        warning: publish_view(&team, layout, [published]).err(),
    })
}

/// Brings `team/task-assignments.json` up to the claims after the changes `published` (just
/// made by this writer), taking turns with other writers through the view's lock as every
/// view does ([`view`](crate::view)): the holder applies the shards the journal names since
/// the point the view reflects, so under contention the view is rewritten about once per
/// turn. A corrupt view is replaced, never a reason to refuse a claim.
///
/// # Errors
/// The store's read errors, [`Error::Io`] naming the view or a bookkeeping file, or the
/// failure to note one of `published` in the journal.
pub(crate) fn publish_view(
    team: &Store,
    layout: &Layout,
    published: impl IntoIterator<Item = Published>,
) -> Result<()> {
    let unnoted = published.into_iter().find_map(|p| p.noted);
    assignments::converge_view(team, layout, false)?;
    unnoted.map_or(Ok(()), Err)
}

/// Rewrites `team/task-assignments.json` from every shard: the repair of a view a crash or
/// a failed write left behind (a writer holding the view's lock at the time is left to
/// finish it).
///
/// # Errors
/// The store's read errors, or [`Error::Io`] naming the view.
pub fn refresh_view(layout: &Layout) -> Result<()> {
    let team = team_store(layout, StoreOptions::default());
    if Dir::open(team.root(), team.dir())?.is_none() {
        return Ok(());
    }
    assignments::converge_view(&team, layout, true)
}
