//! Batched refs: one pass over loose and packed refs for every developer.
//!
//! [`RefsSnapshot::compute`] does what one `git for-each-ref` would: one iteration over
//! `refs/` (libgit2 merges loose and packed refs) gives every local branch with its tip,
//! `HEAD`, the base branch, and for FlowForge's branches (`dev-<id>`, `dev-<id>/…`,
//! `feature/<task>-work`) and `HEAD`'s branch their upstream and ahead/behind counts against
//! the base branch and the upstream. Ahead/behind walks are memoised by commit pair in an
//! [`AheadBehindMemo`], so a new snapshot after one ref moved walks only for that ref.
//!
//! A snapshot is immutable; [`crate::GitView`] reuses it until the watcher reports a change
//! under `refs/`, `packed-refs` or `HEAD`.

use std::collections::{BTreeMap, HashMap};

use flowforge_core::{DeveloperId, TaskId, layout::DEV_DIR_PREFIX};
use git2::{Oid, Repository};

use crate::error::{Error, Result};

/// Where `HEAD` points, as the ref snapshot reads it (a status's view of HEAD, with its
/// upstream's counts, is [`crate::Head`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadRef {
    /// The branch `HEAD` names (`main`), or `None` when detached.
    pub branch: Option<String>,
    /// The commit, or `None` on an unborn branch (no commits yet).
    pub commit: Option<Oid>,
}

/// Commits on one side and not the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AheadBehind {
    /// Commits reachable from the branch and not from the other.
    pub ahead: usize,
    /// Commits reachable from the other and not from the branch.
    pub behind: usize,
}

/// A branch's configured upstream ref, with its tip (the `--branch` header's view of an
/// upstream is [`crate::Upstream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRef {
    /// Its short name, e.g. `origin/main`.
    pub name: String,
    /// Its tip, or `None` when configured but gone.
    pub tip: Option<Oid>,
    /// The branch against its upstream, when the upstream exists.
    pub ahead_behind: Option<AheadBehind>,
}

/// A local branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// The short name, e.g. `dev-alice/login`.
    pub name: String,
    /// The commit it points at.
    pub tip: Oid,
    /// The developer whose branch this is by name (`dev-<id>` or `dev-<id>/…`).
    pub developer: Option<DeveloperId>,
    /// The task whose work branch this is by name (`feature/<task>-work`).
    pub task: Option<TaskId>,
    /// Its upstream, for FlowForge's branches and `HEAD`'s branch when configured.
    pub upstream: Option<UpstreamRef>,
    /// Against the base branch, for FlowForge's branches and `HEAD`'s branch.
    pub vs_base: Option<AheadBehind>,
}

/// The base branch developers' branches are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// Its short name as found: `main`, or `origin/main` when there is no local one.
    pub name: String,
    /// Its tip.
    pub tip: Oid,
}

/// Every ref FlowForge needs, read in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefsSnapshot {
    /// `HEAD`.
    pub head: HeadRef,
    /// The base branch, when it exists locally or as `origin/<base>`.
    pub base: Option<Base>,
    /// Every local branch, sorted by name.
    pub branches: Vec<Branch>,
}

/// Ahead/behind counts by commit pair, kept between snapshots.
#[derive(Debug, Default)]
pub struct AheadBehindMemo {
    counts: HashMap<(Oid, Oid), AheadBehind>,
}

impl AheadBehindMemo {
    fn get(&mut self, repo: &Repository, local: Oid, other: Oid) -> Result<AheadBehind> {
        if let Some(found) = self.counts.get(&(local, other)) {
            return Ok(*found);
        }
        let (ahead, behind) = repo
            .graph_ahead_behind(local, other)
            .map_err(Error::git_in(repo, "count commits ahead and behind"))?;
        let counts = AheadBehind { ahead, behind };
        self.counts.insert((local, other), counts);
        Ok(counts)
    }

    /// How many pairs are remembered.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

impl RefsSnapshot {
    /// Reads every ref once and computes what FlowForge shows about them.
    ///
    /// `base` is the base branch's short name (e.g. `main`). Only pairs missing from `memo` are
    /// walked; afterwards `memo` keeps only the pairs this snapshot uses.
    ///
    /// # Errors
    /// [`Error::Git`] when a ref cannot be read or a commit graph cannot be walked.
    pub fn compute(repo: &Repository, base: &str, memo: &mut AheadBehindMemo) -> Result<Self> {
        let head_ref = repo
            .find_reference("HEAD")
            .map_err(Error::git_in(repo, "read HEAD"))?;
        let head_branch = head_ref
            .symbolic_target()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .map(str::to_owned);
        let head = HeadRef {
            branch: head_branch.clone(),
            commit: head_ref.resolve().ok().and_then(|r| r.target()),
        };

        let mut locals: BTreeMap<String, Oid> = BTreeMap::new();
        let mut remotes: HashMap<String, Oid> = HashMap::new();
        let refs = repo
            .references()
            .map_err(Error::git_in(repo, "list refs"))?;
        for reference in refs {
            let reference = reference.map_err(Error::git_in(repo, "read a ref"))?;
            let (Some(name), Some(tip)) = (reference.name(), reference.target()) else {
                continue; // symbolic (origin/HEAD) or not UTF-8
            };
            if let Some(short) = name.strip_prefix("refs/heads/") {
                locals.insert(short.to_owned(), tip);
            } else if name.starts_with("refs/remotes/") {
                remotes.insert(name.to_owned(), tip);
            }
        }

        let base = match locals.get(base) {
            Some(tip) => Some(Base {
                name: base.to_owned(),
                tip: *tip,
            }),
            None => remotes
                .get(&format!("refs/remotes/origin/{base}"))
                .map(|tip| Base {
                    name: format!("origin/{base}"),
                    tip: *tip,
                }),
        };

        let mut used = HashMap::new();
        let mut branches = Vec::with_capacity(locals.len());
        for (name, tip) in locals {
            let developer = developer_of(&name);
            let task = task_of(&name);
            let tracked =
                developer.is_some() || task.is_some() || head_branch.as_deref() == Some(&name);
            let mut branch = Branch {
                name,
                tip,
                developer,
                task,
                upstream: None,
                vs_base: None,
            };
            if tracked {
                if let Some(base) = &base {
                    let counts = memo.get(repo, tip, base.tip)?;
                    used.insert((tip, base.tip), counts);
                    branch.vs_base = Some(counts);
                }
                branch.upstream = upstream_of(repo, &branch, &remotes, memo, &mut used)?;
            }
            branches.push(branch);
        }
        memo.counts = used;
        Ok(Self {
            head,
            base,
            branches,
        })
    }

    /// The branch named `name` (short name).
    pub fn branch(&self, name: &str) -> Option<&Branch> {
        self.branches
            .binary_search_by(|b| b.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.branches[i])
    }

    /// `dev`'s branches: `dev-<id>`, `dev-<id>/…`, and `feature/<task>-work` for each of
    /// `tasks` (the tasks `dev` holds), sorted by name.
    ///
    /// Matched by name, found by binary search: the cost grows with the developer's own
    /// branches and tasks, not with the team's. So [`RefsSnapshot::branches`] must be sorted by
    /// name, as [`RefsSnapshot::compute`] leaves it (as must be for [`RefsSnapshot::branch`]).
    pub fn developer_branches(
        &self,
        dev: &DeveloperId,
        tasks: &[TaskId],
    ) -> impl Iterator<Item = &Branch> + '_ {
        self.developer_branch_indices(dev, tasks)
            .into_iter()
            .map(|i| &self.branches[i])
    }

    /// The indices in [`RefsSnapshot::branches`] of [`RefsSnapshot::developer_branches`].
    pub(crate) fn developer_branch_indices(
        &self,
        dev: &DeveloperId,
        tasks: &[TaskId],
    ) -> Vec<usize> {
        // `dev-<id>/…` share a prefix, so they are one run of the sorted branches.
        let exact = self.index_of(&[DEV_DIR_PREFIX, dev.as_str()]);
        let own = self.prefixed(&[DEV_DIR_PREFIX, dev.as_str(), "/"]);
        let mut indices: Vec<usize> = exact.into_iter().chain(own).collect();
        indices.extend(
            tasks
                .iter()
                .filter_map(|task| self.index_of(&["feature/", task.as_str(), "-work"])),
        );
        // In the snapshot's order, each once (a task may be given twice).
        indices.sort_unstable();
        indices.dedup();
        indices
    }

    /// The index of the branch whose name is `parts` joined.
    fn index_of(&self, parts: &[&str]) -> Option<usize> {
        self.branches
            .binary_search_by(|b| compare_joined(&b.name, parts))
            .ok()
    }

    /// The indices of the branches whose names start with `parts` joined: one contiguous run
    /// of the sorted branches.
    fn prefixed(&self, parts: &[&str]) -> std::ops::Range<usize> {
        let start = self
            .branches
            .partition_point(|b| compare_joined(&b.name, parts).is_lt());
        let len = self.branches[start..]
            .iter()
            .take_while(|b| strip_joined(&b.name, parts).is_some())
            .count();
        start..start + len
    }
}

/// How `name` compares with `parts` joined, without joining them.
fn compare_joined(name: &str, parts: &[&str]) -> std::cmp::Ordering {
    let mut rest = name.as_bytes();
    for part in parts {
        let part = part.as_bytes();
        let n = rest.len().min(part.len());
        match rest[..n].cmp(&part[..n]) {
            std::cmp::Ordering::Equal if n == part.len() => rest = &rest[n..],
            std::cmp::Ordering::Equal => return std::cmp::Ordering::Less,
            unequal => return unequal,
        }
    }
    if rest.is_empty() {
        std::cmp::Ordering::Equal
    } else {
        std::cmp::Ordering::Greater
    }
}

/// `name` without `parts` joined as its prefix, if they are.
fn strip_joined<'a>(name: &'a str, parts: &[&str]) -> Option<&'a str> {
    parts
        .iter()
        .try_fold(name, |rest, part| rest.strip_prefix(part))
}

/// `dev-<id>` or `dev-<id>/…` names the developer `<id>`.
fn developer_of(branch: &str) -> Option<DeveloperId> {
    let rest = branch.strip_prefix(DEV_DIR_PREFIX)?;
    let id = rest.split_once('/').map_or(rest, |(id, _)| id);
    DeveloperId::new(id).ok()
}

/// `feature/<task>-work` names the task `<task>`.
fn task_of(branch: &str) -> Option<TaskId> {
    let task = branch.strip_prefix("feature/")?.strip_suffix("-work")?;
    TaskId::new(task).ok()
}

fn upstream_of(
    repo: &Repository,
    branch: &Branch,
    remotes: &HashMap<String, Oid>,
    memo: &mut AheadBehindMemo,
    used: &mut HashMap<(Oid, Oid), AheadBehind>,
) -> Result<Option<UpstreamRef>> {
    let Ok(full) = repo.branch_upstream_name(&format!("refs/heads/{}", branch.name)) else {
        return Ok(None); // no upstream configured
    };
    let Some(full) = full.as_str().map(str::to_owned) else {
        return Ok(None);
    };
    let tip = remotes.get(&full).copied().or_else(|| {
        // An upstream may be a local branch (`branch.x.remote = .`).
        full.strip_prefix("refs/heads/")
            .and_then(|local| repo.find_reference(&format!("refs/heads/{local}")).ok())
            .and_then(|r| r.target())
    });
    let ahead_behind = match tip {
        Some(tip) => {
            let counts = memo.get(repo, branch.tip, tip)?;
            used.insert((branch.tip, tip), counts);
            Some(counts)
        }
        None => None,
    };
    let name = full
        .strip_prefix("refs/remotes/")
        .or_else(|| full.strip_prefix("refs/heads/"))
        .unwrap_or(&full)
        .to_owned();
    Ok(Some(UpstreamRef {
        name,
        tip,
        ahead_behind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowforge_branch_names_name_their_owner() {
        assert_eq!(developer_of("dev-alice/login").unwrap().as_str(), "alice");
        assert_eq!(developer_of("dev-bob").unwrap().as_str(), "bob");
        assert_eq!(developer_of("dev-/x"), None);
        assert_eq!(developer_of("devalice/x"), None);
        assert_eq!(task_of("feature/auth-1-work").unwrap().as_str(), "auth-1");
        assert_eq!(task_of("feature/-work"), None);
        assert_eq!(task_of("feature/auth"), None);
    }
}
