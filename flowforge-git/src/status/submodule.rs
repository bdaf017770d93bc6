//! The work-tree side of a submodule (a gitlink index entry), decided as git's
//! `run_diff_files` does rather than by libgit2, whose rules differ:
//!
//! * which `ignore` level applies (git's `set_diffopt_flags_from_submodule_config`): the
//!   submodule is found by its *path* in `.gitmodules` (not read at all while `.gitmodules` is
//!   unmerged); `submodule.<name>.ignore` from the configuration (`.git/config` included)
//!   wins, then the `.gitmodules` value; when neither is set, `diff.ignoreSubmodules` (default
//!   `none`) applies;
//! * `all` shows nothing; otherwise a submodule whose HEAD is not the recorded commit is
//!   modified, and below `dirty` one with changes of its own (its own status, computed the
//!   same way; untracked files count except under `untracked`) too;
//! * a submodule directory that is missing is deleted, one replaced by a file a type change,
//!   and one that is not checked out (no repository inside) unchanged.

use std::{ffi::OsStr, os::unix::ffi::OsStrExt, path::Path};

use git2::{Index, Oid, Repository};

use super::{types::Change, untracked::is_nonbare_repository_dir};
use crate::{Repo, StatusOptions};

/// git's `ignore` levels for a submodule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ignore {
    None,
    Untracked,
    Dirty,
    All,
}

impl Ignore {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "none" => Ignore::None,
            "untracked" => Ignore::Untracked,
            "dirty" => Ignore::Dirty,
            "all" => Ignore::All,
            _ => return None,
        })
    }
}

/// The configuration every submodule of one status is decided with, read once.
pub(crate) struct Rules {
    config: Option<git2::Config>,
    /// `.gitmodules` in the work tree, unless it is unmerged (git then does not read it).
    gitmodules: Option<git2::Config>,
    default: Ignore,
}

impl Rules {
    /// Reads the rules of `repo` whose index is `index`.
    pub(crate) fn of(repo: &Repository, index: &Index) -> Self {
        let unmerged =
            (1..=3).any(|stage| index.get_path(Path::new(".gitmodules"), stage).is_some());
        Self::with_gitmodules(repo, unmerged)
    }

    /// Reads the rules of `repo`, whose index holds `.gitmodules` unmerged or not.
    pub(crate) fn with_gitmodules(repo: &Repository, unmerged: bool) -> Self {
        let config = repo.config().and_then(|mut c| c.snapshot()).ok();
        let default = config
            .as_ref()
            .and_then(|c| c.get_string("diff.ignoresubmodules").ok())
            .and_then(|v| Ignore::parse(&v))
            .unwrap_or(Ignore::None);
        let gitmodules = match (unmerged, repo.workdir()) {
            (false, Some(top)) => {
                let file = top.join(".gitmodules");
                file.is_file()
                    .then(|| git2::Config::open(&file).ok())
                    .flatten()
            }
            _ => None,
        };
        Self {
            config,
            gitmodules,
            default,
        }
    }

    /// The ignore level of the submodule at `path`.
    fn ignore(&self, path: &[u8]) -> Ignore {
        let Some(gitmodules) = &self.gitmodules else {
            return self.default;
        };
        let Some(name) = name_of(gitmodules, path) else {
            return self.default;
        };
        let key = format!("submodule.{name}.ignore");
        let configured = self.config.as_ref().and_then(|c| c.get_string(&key).ok());
        let value = configured.or_else(|| gitmodules.get_string(&key).ok());
        // A value git does not know makes it die; FlowForge keeps the default instead.
        value
            .and_then(|v| Ignore::parse(&v))
            .unwrap_or(self.default)
    }
}

/// The name of the submodule whose `submodule.<name>.path` is `path`.
fn name_of(gitmodules: &git2::Config, path: &[u8]) -> Option<String> {
    let mut entries = gitmodules.entries(Some(r"^submodule\..*\.path$")).ok()?;
    while let Some(entry) = entries.next() {
        let Ok(entry) = entry else { continue };
        if entry.value_bytes() != path {
            continue;
        }
        let name = entry.name()?;
        return Some(
            name.strip_prefix("submodule.")?
                .strip_suffix(".path")?
                .to_string(),
        );
    }
    None
}

/// The unstaged change of the gitlink at `path` recording `recorded`, if any.
pub(crate) fn worktree_change(
    workdir: &Path,
    path: &[u8],
    recorded: Oid,
    rules: &Rules,
) -> Option<Change> {
    let full = workdir.join(OsStr::from_bytes(path));
    let meta = match full.symlink_metadata() {
        Ok(meta) => meta,
        Err(_) => return Some(Change::Deleted),
    };
    if !meta.is_dir() {
        return Some(Change::TypeChanged);
    }
    let ignore = rules.ignore(path);
    if ignore == Ignore::All || !is_nonbare_repository_dir(&full) {
        return None; // ignored, or not checked out
    }
    let Ok(sub) = Repo::open(&full) else {
        return None; // git cannot resolve its HEAD either: unchanged
    };
    let head = sub
        .with_git2(|git| Ok(git.refname_to_id("HEAD").ok()))
        .ok()
        .flatten();
    if head.is_some_and(|head| head != recorded) {
        return Some(Change::Modified);
    }
    if ignore == Ignore::Dirty {
        return None;
    }
    let options = StatusOptions {
        no_optional_locks: true,
        ..StatusOptions::default()
    };
    let Ok(status) = sub.status(&options) else {
        return None;
    };
    let dirty = !status.staged().is_empty()
        || !status.unstaged().changes().is_empty()
        || (ignore != Ignore::Untracked && !status.unstaged().untracked().is_empty());
    dirty.then_some(Change::Modified)
}
