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
//! A publication fetches the ref, keeps every other machine's subtree as it is, and writes
//! this machine's as the union of what the remote has and what this clone holds (history and
//! time entries are never removed, and an entry's name is the hash of its content, so
//! publishing again adds nothing twice). The push leases on the fetched value; a lost race
//! fetches, merges and retries with jittered exponential backoff until the retry budget runs
//! out. A ref rewritten or deleted by someone else is merged from whatever it holds now.

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
        let mut attempts = 0;
        loop {
            attempts += 1;
            let base = if self.git.fetch_one(&repo, &reference, &pulled_name)? {
                self.local_ref(&repo, &pulled_name)
            } else {
                None
            };
            // A value that is not a readable commit (rewritten by someone else) is replaced,
            // with a lease on it.
            let base_commit = base.and_then(|oid| repo.find_commit(oid).ok());
            let base_tree = base_commit.as_ref().and_then(|c| c.tree().ok());
            let tree = self.merged_tree(&repo, base_tree.as_ref(), &local)?;
            if let (Some(base), Some(t)) = (base, &base_tree) {
                if t.id() == tree {
                    self.set_local_ref(&repo, &own(self.name(), &reference), Some(base))?;
                    return Ok(Publication {
                        commit: base,
                        pushed: false,
                        attempts,
                    });
                }
            }
            let tree = repo.find_tree(tree).map_err(self.repo_err())?;
            let sig = self.signature()?;
            let parents: Vec<&git2::Commit<'_>> = base_commit.iter().collect();
            let message = format!("publish {dev} from {}\n", self.machine());
            let commit = repo
                .commit(None, &sig, &sig, &message, &tree, &parents)
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
                    std::thread::sleep(backoff(attempts));
                }
            }
        }
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

/// "Full jitter" exponential backoff: a uniformly random wait up to 20 ms doubled per lost
/// race, capped at 1 s, which spreads many contenders out better than a jittered fixed step.
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = (20u64 << attempt.min(6)).min(1000);
    Duration::from_micros(fastrand::u64(1000..=ceiling_ms * 1000))
}
