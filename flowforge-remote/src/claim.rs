//! Task claims on the remote: one ref per claimed task, created only if absent and deleted
//! only with a lease on the value its owner (or a forced release) saw.
//!
//! The claim ref points at a commit whose tree holds `claim.json` ([`RemoteClaim`]), with a
//! random nonce, so two claims never share a value and a lease names exactly one of them.

use flowforge_core::{DeveloperId, TaskId};
use git2::{Oid, Repository};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    git::{Outcome, Update},
    handle::{Remote, Stage},
    refs::{FORMAT, claim_ref, own, own_root, pulled, pulled_root, task_of},
};

/// A claim as published on the remote (`claim.json` in the claim ref's commit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteClaim {
    /// The format version (`1`).
    pub format: u32,
    /// The task claimed.
    pub task: TaskId,
    /// Who holds it.
    pub developer: DeveloperId,
    /// On which machine.
    pub machine: String,
    /// When it was claimed.
    pub claimed_at: Timestamp,
    /// The session that claimed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Random: makes every claim's value unique.
    pub nonce: String,
}

/// How a claim was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claimed {
    /// This call created the claim ref.
    New,
    /// The ref already held this developer's claim from this machine (a command that died
    /// between its push and recording it): adopted as it is.
    Adopted,
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteRelease {
    /// The claim ref was deleted; this was its claim.
    Released(RemoteClaim),
    /// Nobody holds the task on the remote.
    NotHeld,
    /// Someone took the task over (a forced release) before us: nothing to release.
    TakenOver(RemoteClaim),
}

const CLAIM_FILE: &str = "claim.json";
const ATTEMPTS: u32 = 5;

impl Remote {
    /// Claims `task` for `dev` on the remote: a create-only compare-and-swap of the task's
    /// ref. Of any number of clones racing, exactly one succeeds.
    ///
    /// # Errors
    /// [`Error::Held`] when another developer, or `dev` on another machine, holds it;
    /// [`Error::OtherFormat`] when the last pull saw another FlowForge format on the remote;
    /// [`Error::Refused`] when the remote refuses the ref (a hook); transport errors.
    pub fn claim(
        &self,
        task: &TaskId,
        dev: &DeveloperId,
        session_id: Option<&str>,
    ) -> Result<Claimed> {
        let repo = self.repo()?;
        self.check_format(&repo)?;
        let reference = claim_ref(task);
        for _ in 0..ATTEMPTS {
            let record = self.new_claim(task, dev, session_id);
            let oid = self.claim_commit(&repo, &record)?;
            let update = Update {
                reference: reference.clone(),
                expected: None,
                new: Some(oid),
            };
            self.interleave(Stage::BeforePush, &reference);
            let outcome = self.git.push(&[update], false)?;
            self.interleave(Stage::AfterPush, &reference);
            match outcome.into_iter().next() {
                Some(Outcome::Done) => {
                    self.set_local_ref(&repo, &own(self.name(), &reference), Some(oid))?;
                    self.set_local_ref(&repo, &pulled(self.name(), &reference), Some(oid))?;
                    return Ok(Claimed::New);
                }
                Some(Outcome::Refused(reason)) => return Err(self.refused(&reference, reason)),
                Some(Outcome::Lost(_)) | None => match self.fetch_claim(&repo, task)? {
                    Some((oid, held)) if self.is_mine(&held, dev) => {
                        self.set_local_ref(&repo, &own(self.name(), &reference), Some(oid))?;
                        return Ok(Claimed::Adopted);
                    }
                    Some((_, held)) => return Err(held_error(held)),
                    // Released between our push and our fetch: try again.
                    None => continue,
                },
            }
        }
        Err(Error::RetryBudget {
            reference,
            attempts: ATTEMPTS,
            elapsed_ms: 0,
        })
    }

    /// Claims every task of `tasks` for `dev` in one atomic push (`--atomic`): all or none.
    ///
    /// # Errors
    /// [`Error::Held`] for the first task someone else holds (nothing was claimed); as
    /// [`Remote::claim`] otherwise.
    pub fn claim_all(&self, tasks: &[TaskId], dev: &DeveloperId) -> Result<()> {
        let repo = self.repo()?;
        self.check_format(&repo)?;
        let mut updates = Vec::with_capacity(tasks.len());
        for task in tasks {
            let record = self.new_claim(task, dev, None);
            updates.push(Update {
                reference: claim_ref(task),
                expected: None,
                new: Some(self.claim_commit(&repo, &record)?),
            });
        }
        let first = updates
            .first()
            .map(|u| u.reference.clone())
            .unwrap_or_default();
        self.interleave(Stage::BeforePush, &first);
        let outcomes = self.git.push(&updates, true)?;
        self.interleave(Stage::AfterPush, &first);
        if outcomes.iter().all(|o| *o == Outcome::Done) {
            for u in &updates {
                self.set_local_ref(&repo, &own(self.name(), &u.reference), u.new)?;
                self.set_local_ref(&repo, &pulled(self.name(), &u.reference), u.new)?;
            }
            return Ok(());
        }
        if let Some((u, Outcome::Refused(reason))) = updates
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| matches!(o, Outcome::Refused(r) if !r.contains("atomic")))
        {
            return Err(self.refused(&u.reference, reason.clone()));
        }
        for task in tasks {
            if let Some((_, held)) = self.fetch_claim(&repo, task)? {
                return Err(held_error(held));
            }
        }
        Err(Error::RetryBudget {
            reference: first,
            attempts: 1,
            elapsed_ms: 0,
        })
    }

    /// Releases `dev`'s claim on `task`: deletes the ref with a lease on the value this clone
    /// created (or, when it has no record, the value it finds if that is `dev`'s from this
    /// machine). With `force`, deletes whoever's claim it observes, with a lease on that value,
    /// so of two racing takeovers one wins.
    ///
    /// # Errors
    /// [`Error::Held`] without `force` when someone else holds it; [`Error::ReleaseRaced`]
    /// when a forced release loses a race; [`Error::Refused`]; transport errors.
    pub fn release(&self, task: &TaskId, dev: &DeveloperId, force: bool) -> Result<RemoteRelease> {
        let repo = self.repo()?;
        let reference = claim_ref(task);
        let own_name = own(self.name(), &reference);
        let (expected, record) = match (force, self.local_ref(&repo, &own_name)) {
            (false, Some(oid)) => match read_claim(&repo, oid, &reference) {
                Ok(record) => (oid, record),
                Err(_) => match self.fetch_claim(&repo, task)? {
                    Some(found) => found,
                    None => return self.forget(&repo, &reference, RemoteRelease::NotHeld),
                },
            },
            _ => match self.fetch_claim(&repo, task)? {
                None => return self.forget(&repo, &reference, RemoteRelease::NotHeld),
                Some((_, held)) if !force && !self.is_mine(&held, dev) => {
                    return Err(held_error(held));
                }
                Some(found) => found,
            },
        };
        let update = Update {
            reference: reference.clone(),
            expected: Some(expected),
            new: None,
        };
        self.interleave(Stage::BeforePush, &reference);
        let outcome = self.git.push(&[update], false)?;
        self.interleave(Stage::AfterPush, &reference);
        match outcome.into_iter().next() {
            Some(Outcome::Done) => self.forget(&repo, &reference, RemoteRelease::Released(record)),
            Some(Outcome::Refused(reason)) => Err(self.refused(&reference, reason)),
            Some(Outcome::Lost(_)) | None if force => {
                Err(Error::ReleaseRaced { task: task.clone() })
            }
            Some(Outcome::Lost(_)) | None => match self.fetch_claim(&repo, task)? {
                None => self.forget(&repo, &reference, RemoteRelease::NotHeld),
                Some((_, held)) => self.forget(&repo, &reference, RemoteRelease::TakenOver(held)),
            },
        }
    }

    /// The claim on `task` as the remote holds it now (one fetch).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the ref's content is unreadable; transport errors.
    pub fn holder(&self, task: &TaskId) -> Result<Option<RemoteClaim>> {
        let repo = self.repo()?;
        Ok(self.fetch_claim(&repo, task)?.map(|(_, c)| c))
    }

    /// The claims this clone holds on the remote, by its own records.
    ///
    /// # Errors
    /// [`Error::Repo`] when the local refs cannot be read.
    pub fn own_claims(&self) -> Result<Vec<RemoteClaim>> {
        let repo = self.repo()?;
        let prefix = format!("{}{FORMAT}/claims/", own_root(self.name()));
        let mut out = Vec::new();
        for (name, oid) in list_refs(&repo, &prefix).map_err(self.repo_err())? {
            if task_of(&name[prefix.len()..]).is_some() {
                out.push(read_claim(&repo, oid, &name)?);
            }
        }
        Ok(out)
    }

    /// Every claim of the last pull.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a pulled claim is unreadable.
    pub fn pulled_claims(&self) -> Result<Vec<RemoteClaim>> {
        let repo = self.repo()?;
        let prefix = format!("{}{FORMAT}/claims/", pulled_root(self.name()));
        let mut out = Vec::new();
        for (name, oid) in list_refs(&repo, &prefix).map_err(self.repo_err())? {
            out.push(read_claim(&repo, oid, &name)?);
        }
        Ok(out)
    }

    /// A claim of `task` by `dev` from this machine, made now, with a fresh nonce.
    fn new_claim(&self, task: &TaskId, dev: &DeveloperId, session_id: Option<&str>) -> RemoteClaim {
        RemoteClaim {
            format: 1,
            task: task.clone(),
            developer: dev.clone(),
            machine: self.machine().to_owned(),
            claimed_at: Timestamp::now(),
            session_id: session_id.map(str::to_owned),
            nonce: format!("{:016x}", fastrand::u64(..)),
        }
    }

    fn is_mine(&self, claim: &RemoteClaim, dev: &DeveloperId) -> bool {
        claim.developer == *dev && claim.machine == self.machine()
    }

    fn forget(
        &self,
        repo: &Repository,
        reference: &str,
        result: RemoteRelease,
    ) -> Result<RemoteRelease> {
        self.set_local_ref(repo, &own(self.name(), reference), None)?;
        if !matches!(result, RemoteRelease::TakenOver(_)) {
            self.set_local_ref(repo, &pulled(self.name(), reference), None)?;
        }
        Ok(result)
    }

    pub(crate) fn refused(&self, reference: &str, reason: String) -> Error {
        Error::Refused {
            remote: self.name().to_owned(),
            reference: reference.to_owned(),
            reason,
        }
    }

    /// Fetches the claim ref of `task` into the pulled refs; `None` when there is none.
    fn fetch_claim(&self, repo: &Repository, task: &TaskId) -> Result<Option<(Oid, RemoteClaim)>> {
        let reference = claim_ref(task);
        let local = pulled(self.name(), &reference);
        if !self.git.fetch_one(repo, &reference, &local)? {
            return Ok(None);
        }
        let oid = self.local_ref(repo, &local).ok_or_else(|| Error::Corrupt {
            reference: reference.clone(),
            message: "fetched but not found locally".into(),
        })?;
        Ok(Some((oid, read_claim(repo, oid, &reference)?)))
    }

    fn claim_commit(&self, repo: &Repository, record: &RemoteClaim) -> Result<Oid> {
        let json = serde_json::to_vec_pretty(record).expect("a claim always serialises");
        let blob = repo.blob(&json).map_err(self.repo_err())?;
        let mut tree = repo.treebuilder(None).map_err(self.repo_err())?;
        tree.insert(CLAIM_FILE, blob, 0o100_644)
            .map_err(self.repo_err())?;
        let tree = tree.write().map_err(self.repo_err())?;
        let tree = repo.find_tree(tree).map_err(self.repo_err())?;
        let sig = self.signature()?;
        let message = format!(
            "claim {} by {} on {}\n",
            record.task, record.developer, record.machine
        );
        repo.commit(None, &sig, &sig, &message, &tree, &[])
            .map_err(self.repo_err())
    }

    /// Refuses to write when the last pull saw FlowForge refs of another format version.
    pub(crate) fn check_format(&self, repo: &Repository) -> Result<()> {
        let root = pulled_root(self.name());
        let mut other: Vec<String> = Vec::new();
        for (name, _) in list_refs(repo, &root).map_err(self.repo_err())? {
            let version = name[root.len()..].split('/').next().unwrap_or_default();
            if version != FORMAT && !other.iter().any(|v| v == version) {
                other.push(version.to_owned());
            }
        }
        if other.is_empty() {
            Ok(())
        } else {
            Err(Error::OtherFormat {
                remote: self.name().to_owned(),
                found: other.join(", "),
            })
        }
    }
}

fn held_error(held: RemoteClaim) -> Error {
    Error::Held {
        task: held.task,
        holder: held.developer,
        machine: held.machine,
        claimed_at: held.claimed_at.to_string(),
    }
}

/// Reads `claim.json` of the commit `oid`.
pub(crate) fn read_claim(repo: &Repository, oid: Oid, reference: &str) -> Result<RemoteClaim> {
    let corrupt = |message: String| Error::Corrupt {
        reference: reference.to_owned(),
        message,
    };
    let commit = repo
        .find_commit(oid)
        .map_err(|e| corrupt(e.message().to_owned()))?;
    let tree = commit.tree().map_err(|e| corrupt(e.message().to_owned()))?;
    let entry = tree
        .get_name(CLAIM_FILE)
        .ok_or_else(|| corrupt(format!("no {CLAIM_FILE}")))?;
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| corrupt(e.message().to_owned()))?;
    serde_json::from_slice(blob.content()).map_err(|e| corrupt(e.to_string()))
}

/// The refs under `prefix`, sorted, with their values.
pub(crate) fn list_refs(
    repo: &Repository,
    prefix: &str,
) -> Result<Vec<(String, Oid)>, git2::Error> {
    let mut out = Vec::new();
    for r in repo.references_glob(&format!("{prefix}*"))? {
        let r = r?;
        if let (Some(name), Some(oid)) = (r.name(), r.target()) {
            out.push((name.to_owned(), oid));
        }
    }
    out.sort();
    Ok(out)
}
