//! The errors of flowforge-remote: what went wrong, with the remote, ref or path concerned.

use std::path::PathBuf;

use flowforge_core::{DeveloperId, TaskId};

/// The result of flowforge-remote's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong sharing state through a git remote.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository has no git remote of that name.
    #[error("the repository has no git remote named \"{remote}\"")]
    UnknownRemote {
        /// The name asked for.
        remote: String,
    },
    /// A remote or machine name that FlowForge cannot use in ref names or paths.
    #[error(
        "invalid {what} \"{value}\": use 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
    )]
    InvalidName {
        /// `remote name` or `machine name`.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The `git` binary could not be started.
    #[error("cannot run git")]
    Spawn {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The remote could not be reached (network, path, or no repository there).
    #[error("the git remote \"{remote}\" is unreachable: {message}")]
    Unreachable {
        /// The remote's name.
        remote: String,
        /// git's own words.
        message: String,
    },
    /// The remote refused our credentials.
    #[error("authentication to the git remote \"{remote}\" failed: {message}")]
    Auth {
        /// The remote's name.
        remote: String,
        /// git's own words.
        message: String,
    },
    /// A git command failed for another reason (a corrupt object, a broken repository, …).
    #[error("`git {command}` failed ({status}): {stderr}")]
    Git {
        /// The arguments, space-separated.
        command: String,
        /// The exit status.
        status: String,
        /// The last lines git wrote on stderr.
        stderr: String,
    },
    /// The remote refused a ref update for a reason other than a lost race (a hook, a policy).
    #[error("the git remote \"{remote}\" refused {reference}: {reason}")]
    Refused {
        /// The remote's name.
        remote: String,
        /// The ref.
        reference: String,
        /// git's reason (`pre-receive hook declined`, …).
        reason: String,
    },
    /// Another developer, or this developer on another machine, holds the task.
    #[error("task {task} is held by {holder} on machine {machine} (since {claimed_at})")]
    Held {
        /// The task.
        task: TaskId,
        /// The holder.
        holder: DeveloperId,
        /// The holder's machine.
        machine: String,
        /// When it was claimed, as recorded.
        claimed_at: String,
    },
    /// A forced release or takeover raced with another one and lost.
    #[error("the claim on task {task} changed while releasing it; nothing was released")]
    ReleaseRaced {
        /// The task.
        task: TaskId,
    },
    /// The remote holds FlowForge refs of another format version besides (or instead of) ours.
    #[error(
        "the git remote \"{remote}\" holds FlowForge refs of format {found}; this FlowForge writes format v1 only: upgrade it before writing"
    )]
    OtherFormat {
        /// The remote's name.
        remote: String,
        /// The versions found, comma-separated (`v2`).
        found: String,
    },
    /// A FlowForge ref whose content cannot be read.
    #[error("FlowForge ref {reference} is unreadable: {message}")]
    Corrupt {
        /// The ref.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// A push kept losing races until its time budget ran out.
    #[error(
        "gave up publishing {reference} after {attempts} attempts in {elapsed_ms} ms of lost races"
    )]
    RetryBudget {
        /// The ref.
        reference: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed_ms: u128,
    },
    /// The local repository could not be read or written.
    #[error("local repository {path}: {source}")]
    Repo {
        /// The repository.
        path: PathBuf,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// Reading the local namespaces failed.
    #[error(transparent)]
    Session(#[from] flowforge_session::Error),
}

impl Error {
    /// Whether the error is a conflict (someone else holds the task, or a race was lost).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Held { .. } | Error::ReleaseRaced { .. })
    }

    pub(crate) fn repo(path: &std::path::Path) -> impl FnOnce(git2::Error) -> Error + '_ {
        move |source| Error::Repo {
            path: path.to_owned(),
            source,
        }
    }
}
