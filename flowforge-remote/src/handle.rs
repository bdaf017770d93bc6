//! [`Remote`]: one clone's connection to the team's git remote.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use git2::{Oid, Repository, Signature};

use crate::{
    config::{Config, read_config},
    error::{Error, Result},
    git::Git,
};

/// A point between a fetch and a push where a test can interleave another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The objects are built and the lease is decided; the push is next.
    BeforePush,
    /// The push returned; nothing local has recorded it yet.
    AfterPush,
}

impl Stage {
    /// `before-push` or `after-push`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::BeforePush => "before-push",
            Stage::AfterPush => "after-push",
        }
    }
}

/// A callback run at each [`Stage`] with the remote ref concerned.
pub type Interleave = Arc<dyn Fn(Stage, &str) + Send + Sync>;

/// How a [`Remote`] behaves.
#[derive(Clone)]
pub struct Options {
    /// How long a publication keeps retrying lost races (fetch, merge, push) before it gives up
    /// (default 60 s).
    pub retry_budget: Duration,
    /// Called between fetch and push, and after each push: deterministic interleavings in tests.
    pub interleave: Option<Interleave>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            retry_budget: Duration::from_secs(60),
            interleave: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("retry_budget", &self.retry_budget)
            .field("interleave", &self.interleave.is_some())
            .finish()
    }
}

/// A clone's connection to the git remote it shares FlowForge state through.
#[derive(Debug)]
pub struct Remote {
    dir: PathBuf,
    config: Config,
    options: Options,
    pub(crate) git: Git,
}

impl Remote {
    /// The remote configured for the repository at `repo` (see [`crate::use_remote`]), or
    /// `None` when none is in use.
    ///
    /// # Errors
    /// [`Error::Repo`] when the repository cannot be read.
    pub fn open(repo: &Path, options: Options) -> Result<Option<Self>> {
        Ok(read_config(repo)?.map(|config| Self::with_config(repo, config, options)))
    }

    /// A connection with explicit settings (no configuration read).
    #[must_use]
    pub fn with_config(repo: &Path, config: Config, options: Options) -> Self {
        Self {
            dir: repo.to_owned(),
            git: Git::new(repo, &config.remote),
            config,
            options,
        }
    }

    /// The git remote's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.config.remote
    }

    /// This clone's machine name.
    #[must_use]
    pub fn machine(&self) -> &str {
        &self.config.machine
    }

    /// The repository directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn repo(&self) -> Result<Repository> {
        Repository::open(&self.dir).map_err(Error::repo(&self.dir))
    }

    pub(crate) fn repo_err(&self) -> impl FnOnce(git2::Error) -> Error + '_ {
        Error::repo(&self.dir)
    }

    pub(crate) fn interleave(&self, stage: Stage, reference: &str) {
        if let Some(f) = &self.options.interleave {
            f(stage, reference);
        }
    }

    pub(crate) fn signature(&self) -> Result<Signature<'static>> {
        Signature::now("FlowForge", &format!("flowforge@{}", self.config.machine))
            .map_err(self.repo_err())
    }

    /// The value of a local ref, if it exists.
    pub(crate) fn local_ref(&self, repo: &Repository, name: &str) -> Option<Oid> {
        repo.find_reference(name).ok().and_then(|r| r.target())
    }

    /// Sets or deletes a local ref.
    pub(crate) fn set_local_ref(
        &self,
        repo: &Repository,
        name: &str,
        value: Option<Oid>,
    ) -> Result<()> {
        match value {
            Some(oid) => repo
                .reference(name, oid, true, "flowforge")
                .map(drop)
                .map_err(self.repo_err()),
            None => match repo.find_reference(name) {
                Ok(mut r) => r.delete().map_err(self.repo_err()),
                Err(_) => Ok(()),
            },
        }
    }
}
