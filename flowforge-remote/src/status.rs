//! What this clone has published, what is pending, and how old its view of the team is, all
//! without the network; and `push`, which publishes everything pending.

use flowforge_core::{DeveloperId, Layout, TaskId};
use flowforge_session::{claim::claim_of, list_claims, namespace::members};
use jiff::Timestamp;
use serde::Serialize;

use crate::{
    claim::{RemoteClaim, RemoteRelease},
    error::Result,
    handle::Remote,
    publish::Publication,
    pull::{Pulled, last_pull},
    refs::{FORMAT, own_root},
};

/// A clone's remote status.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RemoteStatus {
    /// The git remote's name.
    pub remote: String,
    /// This clone's machine name.
    pub machine: String,
    /// The claims this clone holds on the remote.
    pub claims: Vec<RemoteClaim>,
    /// Developers whose state this clone has published.
    pub published: Vec<DeveloperId>,
    /// Claims still on the remote whose local session has ended: `push` releases them.
    pub pending_releases: Vec<TaskId>,
    /// Local developers with state not yet published: `push` publishes them.
    pub unpublished: Vec<DeveloperId>,
    /// Claims held on this machine only (`session start --local`, or taken before the remote
    /// was in use): other machines cannot see them.
    pub local_only: Vec<TaskId>,
    /// The last pull, if any.
    pub last_pull: Option<Pulled>,
    /// Seconds since the last pull.
    pub lag_seconds: Option<i64>,
}

/// What `push` did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Pushed {
    /// Publications, by developer.
    pub published: Vec<(DeveloperId, Publication)>,
    /// Claims released because their session had ended.
    pub released: Vec<(TaskId, RemoteRelease)>,
}

impl Remote {
    /// This clone's status (no network).
    ///
    /// # Errors
    /// Namespace and repository errors.
    pub fn status(&self, layout: &Layout) -> Result<RemoteStatus> {
        let claims = self.own_claims()?;
        let pending_releases = self.pending_releases(layout, &claims)?;
        let repo = self.repo()?;
        let prefix = format!("{}{FORMAT}/devs/", own_root(self.name()));
        let published = crate::claim::list_refs(&repo, &prefix)
            .map_err(self.repo_err())?
            .into_iter()
            .filter_map(|(name, _)| name[prefix.len()..].parse().ok())
            .collect();
        let mut unpublished = Vec::new();
        for m in members(layout)? {
            if m.has_namespace && self.has_unpublished(layout, &m.id)? {
                unpublished.push(m.id);
            }
        }
        let local_only = (list_claims(layout)?.into_iter())
            .filter(|local| !claims.iter().any(|c| c.task == local.task))
            .map(|local| local.task)
            .collect();
        let last_pull = last_pull(layout, self.name())?;
        let lag_seconds = last_pull
            .as_ref()
            .map(|p| Timestamp::now().as_second() - p.pulled_at.as_second());
        Ok(RemoteStatus {
            remote: self.name().to_owned(),
            machine: self.machine().to_owned(),
            claims,
            published,
            pending_releases,
            unpublished,
            local_only,
            last_pull,
            lag_seconds,
        })
    }

    /// Publishes every local developer's state and releases the claims whose session ended.
    ///
    /// # Errors
    /// The first failure; what was done before it stays done.
    pub fn push(&self, layout: &Layout) -> Result<Pushed> {
        let mut pushed = Pushed::default();
        let claims = self.own_claims()?;
        for task in self.pending_releases(layout, &claims)? {
            let Some(c) = claims.iter().find(|c| c.task == task) else {
                continue;
            };
            let released = self.release(&task, &c.developer, false)?;
            pushed.released.push((task, released));
        }
        for m in members(layout)? {
            if m.has_namespace {
                let publication = self.publish(layout, &m.id)?;
                pushed.published.push((m.id, publication));
            }
        }
        Ok(pushed)
    }

    /// Own claims whose developer no longer holds the task locally.
    fn pending_releases(&self, layout: &Layout, claims: &[RemoteClaim]) -> Result<Vec<TaskId>> {
        let mut out = Vec::new();
        for c in claims {
            let held =
                claim_of(layout, &c.task)?.is_some_and(|local| *local.holder() == c.developer);
            if !held {
                out.push(c.task.clone());
            }
        }
        Ok(out)
    }
}
