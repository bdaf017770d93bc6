//! The six operations of the baseline, each in a naive and an optimized variant.
//!
//! An operation at a developer count is a [`Round`]: one timed run of every developer's work
//! (all ten developers' session start, update and end; all ten developers' view of git; …), with
//! untimed preparation before it. The baseline run and the criterion benches build their rounds
//! with [`build`], so both measure the same code.
//!
//! | operation | naive (what the original bash FlowForge does) | optimized |
//! |---|---|---|
//! | Session | per developer: end (archive, time, release claim, remove lock), start (lock file, claim in `task-assignments.json`, write `current.json`), update — plain writes | `flowforge-session`'s store, relaxed durability |
//! | Report Generation | read and parse every namespace file, then format | `flowforge-index`'s report |
//! | Cross-Dev Queries | who holds a task, and who is active: each a scan parsing every `current.json` | `flowforge-index`'s index |
//! | File I/O | per developer: plain `write` of `cache/git-status.json`, read it back | `flowforge_session::compat::write_git_status_cache` (an atomic replace), read back |
//! | Concurrent Ops | one thread per developer (kept for the whole cell, all released at once each round): Session + File I/O + one query | the same with the optimized pieces |
//! | Git Sync | per developer: `git status --porcelain` and `git rev-parse HEAD` processes | `flowforge-git`: one shared, cached view |
//!
//! Every round checks its answers (the edited file is in every developer's status, the holder
//! of a task is the developer who holds it, …) and fails with [`Error::WrongAnswer`] otherwise:
//! no variant can be fast by being wrong.

pub mod concurrent;
pub mod cross_dev;
pub mod file_io;
pub mod git_sync;
pub mod report;
pub mod session;

mod plain;

pub use plain::torn_reads;

use std::{fmt, path::PathBuf, str::FromStr};

use flowforge_core::score::Operation;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    fixture::{Editor, Team},
};

/// One timed run of an operation for every developer of a team.
pub trait Round {
    /// Untimed work before each timed run (for example the edit before Git Sync *after edit*).
    ///
    /// # Errors
    /// As the operation.
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }

    /// The timed work.
    ///
    /// # Errors
    /// As the operation; [`Error::WrongAnswer`] when an answer is wrong.
    fn run(&mut self) -> Result<()>;
}

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// What the original bash FlowForge does.
    Naive,
    /// The FlowForge crates.
    Optimized,
}

/// How Git Sync is measured; the other operations have no mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A new handle every round: nothing cached.
    Cold,
    /// The same handle, nothing changed since the last round.
    Warm,
    /// The same handle, one tracked file modified before each round.
    AfterEdit,
}

/// What a round works on.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The developers and their namespaces.
    pub team: Team,
    /// The repository's work tree.
    pub repo: PathBuf,
    /// Edits the repository's tracked files.
    pub editor: Editor,
}

/// Why an optimized round cannot be built yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMeasured {
    /// The reason, shown in the report.
    pub reason: String,
}

/// A round, or why there is none.
pub type Built = std::result::Result<Box<dyn Round>, NotMeasured>;

/// Builds the round of `operation` in `variant` (and `mode`, for Git Sync) over `subject`.
///
/// # Errors
/// [`Error::InvalidOptions`] when a mode is given for an operation other than Git Sync or
/// missing for Git Sync; otherwise as the operation's set-up.
pub fn build(
    operation: Operation,
    variant: Variant,
    mode: Option<Mode>,
    subject: &Subject,
) -> Result<Built> {
    match (operation, mode) {
        (Operation::GitSync, Some(mode)) => git_sync::build(variant, mode, subject),
        (Operation::GitSync, None) => Err(Error::InvalidOptions {
            reason: "git_sync needs a mode".to_owned(),
        }),
        (_, Some(_)) => Err(Error::InvalidOptions {
            reason: format!("{} has no modes", operation.key()),
        }),
        (Operation::Session, None) => session::build(variant, &subject.team),
        (Operation::ReportGeneration, None) => report::build(variant, &subject.team),
        (Operation::CrossDevQueries, None) => cross_dev::build(variant, &subject.team),
        (Operation::FileIo, None) => file_io::build(variant, &subject.team),
        (Operation::ConcurrentOps, None) => concurrent::build(variant, &subject.team),
    }
}

/// The modes an operation is measured in: the three of Git Sync, or `[None]`.
pub fn modes(operation: Operation) -> Vec<Option<Mode>> {
    if operation == Operation::GitSync {
        Mode::ALL.into_iter().map(Some).collect()
    } else {
        vec![None]
    }
}

impl Variant {
    /// Both, naive first.
    pub const ALL: [Variant; 2] = [Variant::Naive, Variant::Optimized];

    /// `naive` or `optimized`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Naive => "naive",
            Variant::Optimized => "optimized",
        }
    }
}

impl Mode {
    /// The three, in the order they are measured.
    pub const ALL: [Mode; 3] = [Mode::Cold, Mode::Warm, Mode::AfterEdit];

    /// `cold`, `warm` or `after_edit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cold => "cold",
            Mode::Warm => "warm",
            Mode::AfterEdit => "after_edit",
        }
    }

    /// `cold`, `warm` or `after edit`, for tables.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Cold => "cold",
            Mode::Warm => "warm",
            Mode::AfterEdit => "after edit",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Error::InvalidOptions {
                reason: format!("unknown mode {s:?} (expected cold, warm or after_edit)"),
            })
    }
}

pub(crate) fn wrong(operation: Operation, variant: Variant, detail: String) -> Error {
    Error::WrongAnswer {
        operation: operation.key(),
        variant: variant.as_str(),
        detail,
    }
}
