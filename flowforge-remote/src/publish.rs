//! Publishing a developer's sessions, history and time to the developer's ref.
//!
//! The ref's commit holds one subtree per machine, written only by that machine:
//!
//! ```text
//! format                                   "1"
//! machines/<machine>/session.json          the active session, if any
//! machines/<machine>/history/<id>.json     ended sessions
//! machines/<machine>/time/<name>.json      time entries, named by their content
//! ```
//!
//! A publication keeps every other machine's subtree as it is and writes this machine's as the
//! union of what the remote has and what this clone holds (history and time entries are never
//! removed, and an entry's name is the hash of its content, so publishing again adds nothing
//! twice). It starts from the value this clone last saw of the ref and pushes with a lease on
//! it, so a publication nobody raced costs one push and no fetch; a lost lease fetches, merges
//! and retries, with jittered exponential backoff once a lease taken right after a fetch is
//! lost, until the retry budget runs out. A ref rewritten or deleted by someone else is merged
//! from whatever it holds now.
//!
//! The ref's history stays bounded: every publication is one parentless commit (the merge is a
//! union of trees and needs no history), so the ref keeps alive on the remote exactly the
//! current state, however often it is published; replaced commits are garbage for `git gc`.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use flowforge_core::{
    DeveloperId, Layout,
    model::{Session, TimeTracking},
};
use flowforge_session::{fs::read_json, load_namespace};
use git2::{Oid, Repository, Tree};

use crate::{
    error::{Error, Result},
    git::{Outcome, Update},
    handle::{Remote, Stage},
    refs::{dev_ref, own, pulled},
};

/// What a publication did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Publication {
    /// The ref's value afterwards.
    pub commit: Oid,
    /// Whether anything new was pushed (`false`: the remote already had it all).
    pub pushed: bool,
    /// Pushes attempted (each lost race costs one more).
    pub attempts: u32,
}

/// A developer's state on this machine, as blobs to publish.
#[derive(Debug, Default)]
pub(crate) struct LocalState {
    pub session: Option<Vec<u8>>,
    pub history: BTreeMap<String, Vec<u8>>,
    pub time: BTreeMap<String, Vec<u8>>,
}

const FILE_MODE: i32 = 0o100_644;
const TREE_MODE: i32 = 0o040_000;

impl LocalState {
    /// Reads `dev`'s namespace (the store, or the bash tools' views where it has no document).
    pub(crate) fn load(layout: &Layout, dev: &DeveloperId) -> Result<Self> {
        let state = load_namespace(layout, dev)?;
        let session: Option<Session> = match state.session {
            Some(s) => Some(s.value),
            None => read_json(layout.root(), &layout.current_session(dev))?,
        };
        let time: TimeTracking = match state.time {
            Some(t) => t.value,
            None => read_json(layout.root(), &layout.time_tracking(dev))?.unwrap_or_default(),
        };
        let mut out = LocalState {
            session: session
                .filter(|s| s.active)
                .map(|s| serde_json::to_vec_pretty(&s).expect("a session always serialises")),
            ..LocalState::default()
        };
        for s in &state.history {
            if flowforge_core::TaskId::new(&s.session_id).is_ok() {
                let bytes = serde_json::to_vec_pretty(s).expect("a session always serialises");
                out.history.insert(format!("{}.json", s.session_id), bytes);
            }
        }
        let mut seen: BTreeMap<Oid, u32> = BTreeMap::new();
        for entry in &time.sessions {
            let bytes = serde_json::to_vec_pretty(entry).expect("an entry always serialises");
            let hash = Oid::hash_object(git2::ObjectType::Blob, &bytes)
                .expect("hashing memory cannot fail");
            let n = seen.entry(hash).or_insert(0);
            *n += 1;
            out.time.insert(format!("{hash}-{n}.json"), bytes);
        }
        Ok(out)
    }
}

impl Remote {
    /// Publishes `dev`'s sessions, history and time from `layout` to the developer's ref.
    ///
    /// # Errors
    /// [`Error::RetryBudget`] when races kept being lost for longer than the retry budget;
    /// [`Error::OtherFormat`], [`Error::Refused`], transport and namespace errors.
    pub fn publish(&self, layout: &Layout, dev: &DeveloperId) -> Result<Publication> {
        let local = LocalState::load(layout, dev)?;
        let repo = self.repo()?;
        self.check_format(&repo)?;
        let reference = dev_ref(dev);
        let pulled_name = pulled(self.name(), &reference);
        let started = Instant::now();
        // The first push leases on the value this clone last saw (no fetch): when nobody else
        // published since, that is one push and no fetch. A lost lease fetches and merges.
        let mut base = self.local_ref(&repo, &pulled_name);
        let mut fetched = false;
        let mut attempts = 0;
        loop {
            let base_tree = base
                .and_then(|oid| repo.find_commit(oid).ok())
                .and_then(|c| c.tree().ok());
            if base.is_some() && base_tree.is_none() && !fetched {
                // Not a commit this clone can read: only what the remote holds now decides.
                base = self.fetch_base(&repo, &reference, &pulled_name)?;
                fetched = true;
                continue;
            }
            // A value that is still not a readable commit after a fetch (rewritten by someone
            // else) is replaced, with a lease on it.
            let tree = self.merged_tree(&repo, base_tree.as_ref(), &local)?;
            if let (Some(value), Some(t)) = (base, &base_tree) {
                if t.id() == tree {
                    if !fetched {
                        // Nothing new against what this clone last saw: make sure the remote
                        // still holds it (it may have been deleted or rewritten).
                        base = self.fetch_base(&repo, &reference, &pulled_name)?;
                        fetched = true;
                        continue;
                    }
                    self.set_local_ref(&repo, &own(self.name(), &reference), Some(value))?;
                    return Ok(Publication {
                        commit: value,
                        pushed: false,
                        attempts,
                    });
                }
            }
            attempts += 1;
            let attempt_started = Instant::now();
            // A single parentless commit: the ref holds the current state and nothing of the
            // past, so what a developer's ref keeps alive on the remote stays bounded by that
            // state however often it is published. The merge needs no history: it is the
            // union of the tree under the lease and this clone's entries.
            let tree = repo.find_tree(tree).map_err(self.repo_err())?;
            let sig = self.signature()?;
            let message = format!("publish {dev} from {}\n", self.machine());
            let commit = repo
                .commit(None, &sig, &sig, &message, &tree, &[])
                .map_err(self.repo_err())?;
            let update = Update {
                reference: reference.clone(),
                expected: base,
                new: Some(commit),
            };
            self.interleave(Stage::BeforePush, &reference);
            let outcome = self.git.push(&[update], false)?;
            self.interleave(Stage::AfterPush, &reference);
            match outcome.into_iter().next() {
                Some(Outcome::Done) => {
                    self.set_local_ref(&repo, &own(self.name(), &reference), Some(commit))?;
                    self.set_local_ref(&repo, &pulled_name, Some(commit))?;
                    return Ok(Publication {
                        commit,
                        pushed: true,
                        attempts,
                    });
                }
                Some(Outcome::Refused(reason)) => return Err(self.refused(&reference, reason)),
                Some(Outcome::Lost(_)) | None => {
                    let elapsed = started.elapsed();
                    if elapsed >= self.options().retry_budget {
                        return Err(Error::RetryBudget {
                            reference,
                            attempts,
                            elapsed_ms: elapsed.as_millis(),
                        });
                    }
                    // A lease on a value this clone had not fetched just now was merely stale:
                    // fetch at once. A lease lost right after a fetch is contention: back off.
                    if fetched {
                        std::thread::sleep(backoff(attempts, attempt_started.elapsed()));
                    }
                    base = self.fetch_base(&repo, &reference, &pulled_name)?;
                    fetched = true;
                }
            }
        }
    }

    /// Fetches the developer ref into its pulled copy: its value now, `None` when the remote
    /// has none.
    fn fetch_base(
        &self,
        repo: &Repository,
        reference: &str,
        pulled_name: &str,
    ) -> Result<Option<Oid>> {
        Ok(if self.git.fetch_one(repo, reference, pulled_name)? {
            self.local_ref(repo, pulled_name)
        } else {
            None
        })
    }

    /// Whether `dev`'s local state holds anything the last publication from this clone
    /// did not (no network).
    ///
    /// # Errors
    /// Namespace and repository errors.
    pub fn has_unpublished(&self, layout: &Layout, dev: &DeveloperId) -> Result<bool> {
        let local = LocalState::load(layout, dev)?;
        let repo = self.repo()?;
        let published = self.local_ref(&repo, &own(self.name(), &dev_ref(dev)));
        let tree = published
            .and_then(|oid| repo.find_commit(oid).ok())
            .and_then(|c| c.tree().ok());
        let Some(tree) = tree else {
            return Ok(local.session.is_some()
                || !local.history.is_empty()
                || !local.time.is_empty());
        };
        Ok(self.merged_tree(&repo, Some(&tree), &local)? != tree.id())
    }

    /// `base` with this machine's subtree replaced by the union of its own and `local`.
    fn merged_tree(
        &self,
        repo: &Repository,
        base: Option<&Tree<'_>>,
        local: &LocalState,
    ) -> Result<Oid> {
        let err = self.repo_err();
        let result = (|| {
            let machines_base = subtree(repo, base, "machines")?;
            let mine_base = subtree(repo, machines_base.as_ref(), self.machine())?;
            let mut mine = repo.treebuilder(None)?;
            if let Some(session) = &local.session {
                mine.insert("session.json", repo.blob(session)?, FILE_MODE)?;
            }
            for (dir, files) in [("history", &local.history), ("time", &local.time)] {
                let old = subtree(repo, mine_base.as_ref(), dir)?;
                let mut b = repo.treebuilder(old.as_ref())?;
                for (name, bytes) in files {
                    b.insert(name, repo.blob(bytes)?, FILE_MODE)?;
                }
                if !b.is_empty() {
                    mine.insert(dir, b.write()?, TREE_MODE)?;
                }
            }
            let mut machines = repo.treebuilder(machines_base.as_ref())?;
            if !mine.is_empty() {
                machines.insert(self.machine(), mine.write()?, TREE_MODE)?;
            } else if machines.get(self.machine())?.is_some() {
                machines.remove(self.machine())?;
            }
            let mut root = repo.treebuilder(base)?;
            root.insert("format", repo.blob(b"1\n")?, FILE_MODE)?;
            if !machines.is_empty() {
                root.insert("machines", machines.write()?, TREE_MODE)?;
            }
            root.write()
        })();
        result.map_err(err)
    }
}

/// The subtree `name` of `tree`, if it is one.
pub(crate) fn subtree<'r>(
    repo: &'r Repository,
    tree: Option<&Tree<'_>>,
    name: &str,
) -> Result<Option<Tree<'r>>, git2::Error> {
    let Some(entry) = tree.and_then(|t| t.get_name(name)) else {
        return Ok(None);
    };
    if entry.kind() != Some(git2::ObjectType::Tree) {
        return Ok(None);
    }
    repo.find_tree(entry.id()).map(Some)
}

/// "Full jitter" exponential backoff: a uniformly random wait up to a ceiling that doubles per
/// lost race, capped at 2 s. The ceiling starts at what the lost attempt took (at least 20 ms):
/// contenders whose pushes take long (a loaded machine, a distant remote) spread out over that
/// long, instead of fetching and colliding again at once (twelve clones publishing one
/// developer's ref together on a loaded machine: 56 pushes instead of 73).
fn backoff(attempt: u32, lost_attempt: Duration) -> Duration {
    let base = lost_attempt.max(Duration::from_millis(20));
    let ceiling = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(2));
    let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(fastrand::u64(1000..=micros.max(1000)))
}
