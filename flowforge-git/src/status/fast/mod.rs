//! The fast cold status: git's own strategy (parallel `lstat` against the index's cached stat
//! data, hashing only what changed, listing only tracked directories, and the cache-tree to
//! skip HEAD-to-index when nothing is staged), with libgit2 for whatever it does not decide.
//!
//! [`compute`] returns `None` when the repository uses something the fast path does not read
//! (a split or sparse index, SHA-256, `core.ignoreCase`, `core.symlinks=false`, no index file,
//! a tracked directory replaced by a file or link); the caller then uses libgit2 throughout.

mod content;
mod index_file;
mod stat_refresh;
mod worktree;

use std::{
    os::unix::{ffi::OsStrExt, fs::MetadataExt},
    path::Path,
    sync::Arc,
    time::SystemTime,
};

use git2::Repository;

use super::{
    compute::{self, StagedSide},
    head,
    model::{StagedBasis, Status},
    scope,
};
use crate::{Repo, error::Result};

/// Above this many paths for libgit2 to decide, it diffs the whole work tree instead.
const MAX_SCOPES: usize = 256;

/// Below this many entries one thread is faster than starting more.
const ENTRIES_PER_THREAD: usize = 2_000;

/// The full status the fast way, or `None` when this repository needs libgit2 throughout.
/// With `write_index`, stat data found stale but verified by content are cached in the index.
pub(crate) fn compute(repo: &Repo, git: &Repository, write_index: bool) -> Result<Option<Status>> {
    let Some(config) = usable_config(git) else {
        return Ok(None);
    };
    let flag = |key: &str, default: bool| config.get_bool(key).unwrap_or(default);
    let started_sec = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let index_fingerprint = compute::index_fingerprint(git);
    let index_path = git.path().join("index");
    let Some((data, meta)) = read_index(&index_path) else {
        return Ok(None);
    };
    let Some(index) = index_file::parse(&data) else {
        return Ok(None);
    };

    let head = head::read(git).map_err(repo.git_error("read HEAD"))?;
    let mut git_index = None;
    let staged = staged(repo, git, &index, &head, &mut git_index)?;

    // The index to the work tree.
    let settings = worktree::Settings {
        file_mode: flag("core.filemode", true),
        trust_ctime: flag("core.trustctime", true),
        check_stat: !config
            .get_string("core.checkstat")
            .is_ok_and(|v| v.eq_ignore_ascii_case("minimal")),
        content: content::ContentRule::of(git, &index, &config),
        index_mtime: (meta.mtime(), meta.mtime_nsec()),
    };
    // Twice the cores, as git's preload does: `lstat`s wait on the kernel, not only the CPU.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_mul(2)
        .min(index.entries.len() / ENTRIES_PER_THREAD + 1);
    let found = worktree::compare(repo.workdir(), &index, &settings, threads);
    if found.give_up {
        return Ok(None);
    }
    let mut unstaged = found.unstaged;
    let mut ignore_error = None;
    let mut is_ignored = |path: &[u8]| {
        let path = Path::new(std::ffi::OsStr::from_bytes(path));
        git.is_path_ignored(path).unwrap_or_else(|e| {
            ignore_error.get_or_insert(e);
            false
        })
    };
    let mut untracked = worktree::untracked(found.untracked_files, &mut is_ignored);
    // An ignored directory shows nothing, whatever it holds; the others go to libgit2, which
    // collapses them to `dir/` (or hides them when everything inside is ignored).
    let mut scopes = found.scopes;
    let untracked_dirs: Vec<Vec<u8>> = found
        .untracked_dirs
        .into_iter()
        .filter(|dir| !is_ignored(dir))
        .collect();
    scopes.extend(untracked_dirs.iter().cloned());
    if let Some(e) = ignore_error {
        return Err(repo.git_error("read the ignore rules")(e));
    }
    if !scopes.is_empty() {
        let loaded = match git_index.take() {
            Some(index) => index,
            None => load_index(repo, git)?,
        };
        let scopes = scope::widen(&loaded, scopes);
        // libgit2 matches every path against every pathspec: beyond a few hundred, one
        // unlimited diff is faster.
        let limit = (scopes.len() <= MAX_SCOPES).then_some(scopes.as_slice());
        let side = compute::unstaged_side(git, &loaded, limit, &staged.intent_to_add)
            .map_err(repo.git_error("diff the index to the work tree"))?;
        if limit.is_some() {
            for scope in &scopes {
                unstaged.retain(|path, _| !scope::is_under(path, scope));
                untracked.retain(|path| !scope::is_under(path, scope));
            }
        } else {
            unstaged.clear();
            untracked.clear();
        }
        unstaged.extend(side.unstaged);
        untracked.extend(side.untracked);
        let nested = compute::nested_repositories(git, &loaded, &untracked_dirs, &untracked)
            .map_err(repo.git_error("look for nested repositories"))?;
        untracked.extend(nested);
    }

    // Cache the stat data of entries whose content proved unchanged, as git does.
    let mut refreshed: Vec<(usize, &worktree::StatData)> =
        found.refreshed.iter().map(|(i, st)| (*i, st)).collect();
    refreshed.extend(
        found
            .refreshable_scopes
            .iter()
            .filter(|(i, _)| !unstaged.contains_key(&index.entries[*i].path))
            .map(|(i, st)| (*i, st)),
    );
    if write_index && !refreshed.is_empty() {
        let read = stat_refresh::Read {
            path: &index_path,
            data: &data,
            entries: &index.entries,
            mtime_sec: meta.mtime(),
            started_sec,
        };
        stat_refresh::write(&read, &refreshed);
    }

    Ok(Some(Status {
        index_entries: Some(IndexSnapshot::of(&index)),
        staged_basis: Some(StagedBasis {
            head: head.commit,
            index_fingerprint,
        }),
        head,
        staged: staged.staged,
        conflicts: staged.conflicts,
        unstaged,
        untracked,
        worktree_renames: Default::default(),
        intent_to_add: Arc::new(staged.intent_to_add),
        quote_path: compute::quote_path(git),
        computed_at: SystemTime::now(),
    }))
}

/// The repository's config when the fast path can read this repository, else `None`.
fn usable_config(git: &Repository) -> Option<git2::Config> {
    let config = git.config().ok()?;
    let flag = |key: &str, default: bool| config.get_bool(key).unwrap_or(default);
    let unusable = flag("core.ignorecase", false)
        || !flag("core.symlinks", true)
        || config
            .get_string("extensions.objectformat")
            .is_ok_and(|f| !f.eq_ignore_ascii_case("sha1"));
    (!unusable).then_some(config)
}

/// The index file's bytes and metadata, from one open file.
fn read_index(path: &Path) -> Option<(Vec<u8>, std::fs::Metadata)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut data).ok()?;
    Some((data, meta))
}

fn load_index(repo: &Repo, git: &Repository) -> Result<git2::Index> {
    compute::fresh_index(git).map_err(repo.git_error("read the index"))
}

/// HEAD to the index: nothing staged when the cache-tree's root is HEAD's tree (and nothing
/// is unmerged); otherwise libgit2's diff, loading its index into `git_index`.
fn staged(
    repo: &Repo,
    git: &Repository,
    index: &index_file::IndexFile,
    head: &head::Head,
    git_index: &mut Option<git2::Index>,
) -> Result<StagedSide> {
    let head_tree = match head.commit {
        Some(commit) => Some(
            git.find_commit(commit)
                .map_err(repo.git_error("read HEAD"))?
                .tree_id(),
        ),
        None => None,
    };
    let unmerged = index.entries.iter().any(|e| e.stage != 0);
    let nothing_staged = !unmerged
        && match head_tree {
            Some(tree) => index.root_tree.is_some_and(|root| root == tree.as_bytes()),
            None => index.entries.iter().all(|e| e.intent_to_add),
        };
    if nothing_staged {
        return Ok(StagedSide {
            staged: Default::default(),
            conflicts: Default::default(),
            intent_to_add: index
                .entries
                .iter()
                .filter(|e| e.intent_to_add)
                .map(|e| e.path.clone())
                .collect(),
        });
    }
    let loaded = match git_index.take() {
        Some(loaded) => loaded,
        None => load_index(repo, git)?,
    };
    let side = compute::staged_side(git, &loaded).map_err(repo.git_error("diff HEAD to the index"));
    *git_index = Some(loaded);
    side
}

/// What of each index entry the unstaged side depends on (not its stat data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexKey {
    path: Vec<u8>,
    stage: u8,
    oid: [u8; 20],
    mode: u32,
    flags: u8,
}

/// The index entries a status was computed from, to find which changed when the index does.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IndexSnapshot(Arc<Vec<IndexKey>>);

impl std::fmt::Debug for IndexSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndexSnapshot({} entries)", self.0.len())
    }
}

impl IndexSnapshot {
    fn of(index: &index_file::IndexFile) -> Self {
        Self(Arc::new(
            index
                .entries
                .iter()
                .map(|e| IndexKey {
                    path: e.path.clone(),
                    stage: e.stage,
                    oid: e.oid,
                    mode: e.mode,
                    flags: u8::from(e.assume_valid)
                        | u8::from(e.skip_worktree) << 1
                        | u8::from(e.intent_to_add) << 2,
                })
                .collect(),
        ))
    }

    /// The paths whose entries differ (added, removed, or changed in id, mode, stage or flags);
    /// both lists are in index order (path, then stage).
    fn changed_paths(&self, new: &Self) -> Vec<Vec<u8>> {
        let (old, new) = (&self.0, &new.0);
        let (mut i, mut j) = (0, 0);
        let mut changed: Vec<Vec<u8>> = Vec::new();
        while i < old.len() || j < new.len() {
            let order = match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) => (&a.path, a.stage).cmp(&(&b.path, b.stage)),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    changed.push(old[i].path.clone());
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    changed.push(new[j].path.clone());
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    if old[i] != new[j] {
                        changed.push(new[j].path.clone());
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        changed.dedup();
        changed
    }
}

/// Above this many changed index entries a full recompute is cheaper.
const MAX_CHANGED_ENTRIES: usize = 5_000;

/// Brings `status` up to date after the index or HEAD's commit changed: the staged side is
/// recomputed (skipped through the cache-tree when nothing is staged), and the unstaged side
/// only for the index entries that changed (and the untracked directories above them).
/// Returns `false`, with `status` possibly half-updated, when a full recompute is needed
/// instead (no snapshot of the previous index, an index the fast path does not read, too many
/// changes).
pub(crate) fn refresh(
    repo: &Repo,
    git: &Repository,
    status: &mut Status,
    index_fingerprint: Vec<u8>,
    index_unchanged: bool,
) -> Result<bool> {
    let Some(previous) = status.index_entries.clone() else {
        return Ok(false);
    };
    if usable_config(git).is_none() {
        return Ok(false);
    }
    let Ok(data) = std::fs::read(git.path().join("index")) else {
        return Ok(false);
    };
    let Some(index) = index_file::parse(&data) else {
        return Ok(false);
    };
    drop(data);
    let mut git_index = None;
    let side = staged(repo, git, &index, &status.head, &mut git_index)?;
    status.staged = side.staged;
    status.conflicts = side.conflicts;
    status.intent_to_add = Arc::new(side.intent_to_add);
    if !index_unchanged {
        let snapshot = IndexSnapshot::of(&index);
        let mut paths = previous.changed_paths(&snapshot);
        if paths.len() > MAX_CHANGED_ENTRIES {
            return Ok(false);
        }
        // An untracked directory that now holds (or held) a changed entry is recomputed whole.
        let mut above = Vec::new();
        for path in &paths {
            for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
                if status.untracked.contains(&path[..=i]) {
                    above.push(path[..i].to_vec());
                }
            }
        }
        paths.extend(above);
        if !paths.is_empty() {
            let loaded = match git_index.take() {
                Some(loaded) => loaded,
                None => load_index(repo, git)?,
            };
            let scopes = scope::widen(&loaded, paths);
            status.refresh_unstaged(repo, git, &loaded, &scopes)?;
        }
        status.index_entries = Some(snapshot);
    }
    status.staged_basis = Some(StagedBasis {
        head: status.head.commit,
        index_fingerprint,
    });
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PorcelainOptions;

    /// The fast path is taken for an ordinary repository (the differential tests then check
    /// its answers), and declines a split index.
    #[test]
    fn ordinary_repositories_take_the_fast_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| flowforge_testkit::git::ok(dir.path(), args);
        git(&["init", "-q"]);
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");
        std::fs::write(dir.path().join("d/a"), "a").expect("write");
        git(&["add", "."]);
        git(&["commit", "-qm", "one"]);
        std::fs::write(dir.path().join("d/a"), "changed").expect("write");
        std::fs::write(dir.path().join("d/new"), "n").expect("write");
        let repo = Repo::open(dir.path()).expect("open");
        let status = repo
            .with_git2(|g| compute(&repo, g, false))
            .expect("status")
            .expect("the fast path applies");
        assert_eq!(
            status.porcelain(PorcelainOptions::default()),
            git(&["--no-optional-locks", "status", "--porcelain"])
        );
        git(&["update-index", "--split-index"]);
        assert!(
            repo.with_git2(|g| compute(&repo, g, false))
                .expect("status")
                .is_none()
        );
    }
}
