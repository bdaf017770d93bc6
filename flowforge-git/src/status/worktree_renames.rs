//! Renames on the work-tree side, as `git status` shows them.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::ffi::OsStrExt,
};

use git2::{Oid, Repository};

use crate::config::RenameDetection;

use super::{
    index::fresh_index,
    renames,
    types::{Change, StagedSide, UnstagedSide, WorktreeRenames},
};

/// git detects renames on the work-tree side too, where the only possible destinations are
/// intent-to-add files and unmerged paths (their work-tree files): a deleted tracked file whose
/// content (or most of it) now sits in an intent-to-add file shows as ` R old -> new`; one
/// paired with an unmerged path disappears behind the conflict line. Returns the renames
/// and, with `status.renames=copies`, copies (intent-to-add destination -> (source, `Renamed` or
/// `Copied`)); a status the `git` program computed keeps
/// git's own pairs instead (see the tracker).
pub(crate) fn pair(
    staged: &StagedSide,
    unstaged: &UnstagedSide,
    repo: &Repository,
) -> Result<WorktreeRenames, git2::Error> {
    let mut pairs = BTreeMap::new();
    let intent_to_add = staged.intent_to_add();
    let changes = unstaged.changes();
    let ita_added = changes
        .iter()
        .any(|(p, c)| *c == Change::Added && intent_to_add.contains(p));
    let detection = crate::config::rename_detection(repo);
    let copies = detection == RenameDetection::Copies;
    // A deleted path is a source; with copies, so is one that stays (modified, or of another
    // type), with its index content.
    let is_source = |change: Change| match change {
        Change::Deleted => true,
        Change::Modified | Change::TypeChanged => copies,
        _ => false,
    };
    let sourced = changes.values().any(|c| is_source(*c));
    let destinations = ita_added || !staged.unmerged().is_empty();
    if !sourced || !destinations || detection == RenameDetection::Off {
        return Ok(pairs);
    }
    let index = fresh_index(repo)?;
    let workdir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let mut sources = Vec::new();
    for (path, change) in changes {
        if !is_source(*change) {
            continue;
        }
        let rel = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        if let Some(entry) = index.get_path(rel, 0) {
            sources.push(renames::Candidate {
                path: path.clone(),
                oid: entry.id,
                mode: entry.mode,
                content: None,
                stays: *change != Change::Deleted,
            });
        }
    }
    let candidates: BTreeSet<&Vec<u8>> = changes
        .iter()
        .filter(|(p, c)| **c == Change::Added && intent_to_add.contains(*p))
        .map(|(p, _)| p)
        .chain(staged.unmerged().keys())
        .collect();
    let mut dests = Vec::new();
    for path in candidates {
        let full = workdir.join(std::ffi::OsStr::from_bytes(path));
        let Ok(meta) = full.symlink_metadata() else {
            continue;
        };
        let (content, mode) = if meta.file_type().is_symlink() {
            match std::fs::read_link(&full) {
                Ok(target) => (target.as_os_str().as_bytes().to_vec(), 0o120000),
                Err(_) => continue,
            }
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let exec = meta.permissions().mode() & 0o100 != 0;
            match std::fs::read(&full) {
                Ok(content) => (content, if exec { 0o100755 } else { 0o100644 }),
                Err(_) => continue,
            }
        } else {
            continue;
        };
        dests.push(renames::Candidate {
            path: path.clone(),
            oid: Oid::hash_object(git2::ObjectType::Blob, &content)?,
            mode,
            content: Some(content),
            stays: false,
        });
    }
    for (d, s, change) in renames::detect(repo, &sources, &dests, copies)? {
        pairs.insert(dests[d].path.clone(), (sources[s].path.clone(), change));
    }
    Ok(pairs)
}
