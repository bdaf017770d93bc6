//! Computing each side of the status with libgit2.

use std::collections::{BTreeMap, BTreeSet};

use git2::{Delta, DiffFindOptions, DiffOptions, Index, Repository};

use super::model::{Change, Conflict, Staged};

/// HEAD against the index: staged changes (renames detected as `git status` does) and the
/// index's unmerged paths.
pub(crate) struct StagedSide {
    pub staged: BTreeMap<Vec<u8>, Staged>,
    pub conflicts: BTreeMap<Vec<u8>, Conflict>,
}

/// The index against the work tree: changed tracked paths and untracked entries.
#[derive(Default)]
pub(crate) struct UnstagedSide {
    pub unstaged: BTreeMap<Vec<u8>, Change>,
    pub untracked: BTreeSet<Vec<u8>>,
}

/// Reads the index, re-reading it from disk if it changed since this handle last read it.
pub(crate) fn fresh_index(repo: &Repository) -> Result<Index, git2::Error> {
    let mut index = repo.index()?;
    index.read(false)?;
    Ok(index)
}

/// Computes the staged side.
pub(crate) fn staged_side(repo: &Repository, index: &Index) -> Result<StagedSide, git2::Error> {
    let mut conflicts = BTreeMap::new();
    if index.has_conflicts() {
        for conflict in index.conflicts()? {
            let conflict = conflict?;
            let mut mask = 0u8;
            let mut path = None;
            for (bit, entry) in [
                (1, &conflict.ancestor),
                (2, &conflict.our),
                (4, &conflict.their),
            ] {
                if let Some(entry) = entry {
                    mask |= bit;
                    path.get_or_insert_with(|| entry.path.clone());
                }
            }
            if let (Some(path), Some(kind)) = (path, Conflict::from_stage_mask(mask)) {
                conflicts.insert(path, kind);
            }
        }
    }

    let tree = match repo.head() {
        Ok(head) => Some(head.peel_to_tree()?),
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let mut opts = DiffOptions::new();
    opts.include_typechange(true).ignore_submodules(false);
    let mut diff = repo.diff_tree_to_index(tree.as_ref(), Some(index), Some(&mut opts))?;
    if renames_enabled(repo) {
        let mut find = DiffFindOptions::new();
        find.renames(true)
            .rename_limit(1000)
            .dont_ignore_whitespace(true);
        diff.find_similar(Some(&mut find))?;
    }
    let mut staged = BTreeMap::new();
    for delta in diff.deltas() {
        let change = match delta.status() {
            Delta::Added => Change::Added,
            Delta::Deleted => Change::Deleted,
            Delta::Modified => Change::Modified,
            Delta::Renamed => Change::Renamed,
            Delta::Typechange => Change::TypeChanged,
            _ => continue,
        };
        let Some(path) = delta
            .new_file()
            .path_bytes()
            .or_else(|| delta.old_file().path_bytes())
        else {
            continue;
        };
        if conflicts.contains_key(path) {
            continue;
        }
        let from = (change == Change::Renamed)
            .then(|| delta.old_file().path_bytes().map(<[u8]>::to_vec))
            .flatten();
        staged.insert(path.to_vec(), Staged { change, from });
    }
    Ok(StagedSide { staged, conflicts })
}

/// Computes the unstaged side, for the whole work tree or only under `paths` (each a file or a
/// directory, relative to the top, matched literally).
pub(crate) fn unstaged_side(
    repo: &Repository,
    index: &Index,
    paths: Option<&[Vec<u8>]>,
) -> Result<UnstagedSide, git2::Error> {
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_typechange(true)
        .ignore_submodules(false);
    if let Some(paths) = paths {
        opts.disable_pathspec_match(true);
        for path in paths {
            opts.pathspec(path.clone());
        }
    }
    let diff = repo.diff_index_to_workdir(Some(index), Some(&mut opts))?;
    let mut side = UnstagedSide::default();
    for delta in diff.deltas() {
        let Some(path) = delta
            .new_file()
            .path_bytes()
            .or_else(|| delta.old_file().path_bytes())
        else {
            continue;
        };
        let change = match delta.status() {
            Delta::Untracked => {
                side.untracked.insert(path.to_vec());
                continue;
            }
            Delta::Added => Change::Added,
            Delta::Deleted => Change::Deleted,
            Delta::Modified => Change::Modified,
            Delta::Typechange => Change::TypeChanged,
            _ => continue,
        };
        side.unstaged.insert(path.to_vec(), change);
    }
    Ok(side)
}

/// `status.renames`, falling back to `diff.renames` (default true); `copies` counts as on.
fn renames_enabled(repo: &Repository) -> bool {
    let Ok(config) = repo.config() else {
        return true;
    };
    for key in ["status.renames", "diff.renames"] {
        if let Ok(value) = config.get_string(key) {
            return !matches!(
                value.to_ascii_lowercase().as_str(),
                "false" | "no" | "off" | "0" | ""
            );
        }
    }
    true
}

/// `core.quotePath` (default true).
pub(crate) fn quote_path(repo: &Repository) -> bool {
    repo.config()
        .and_then(|c| c.get_bool("core.quotepath"))
        .unwrap_or(true)
}

/// A fingerprint of the index file: its size, times, inode and trailing checksum. Equal
/// fingerprints mean the same index content (an `index.skipHash` index has a zero checksum,
/// which the times and size cover). Empty when there is no index file.
pub(crate) fn index_fingerprint(repo: &Repository) -> Vec<u8> {
    use std::{
        io::{Read, Seek, SeekFrom},
        os::unix::fs::MetadataExt,
    };
    let Ok(mut file) = std::fs::File::open(repo.path().join("index")) else {
        return Vec::new();
    };
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let mut print = Vec::with_capacity(80);
    for n in [
        meta.len() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino() as i64,
    ] {
        print.extend_from_slice(&n.to_le_bytes());
    }
    let n = meta.len().min(32);
    let mut tail = vec![0u8; n as usize];
    if file.seek(SeekFrom::End(-(n as i64))).is_ok() && file.read_exact(&mut tail).is_ok() {
        print.extend_from_slice(&tail);
    }
    print
}
