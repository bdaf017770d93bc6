//! Files that a filter driver cleans, decided as git decides them.
//!
//! libgit2 runs no external filter driver (`filter.<name>.clean` or `.process`): it hashes
//! the work-tree bytes as they are, so a file whose stat data changed but whose cleaned
//! content did not looks modified to it. git hashes what the driver's clean side prints. For
//! the few paths libgit2 calls modified that such a driver cleans, the `git` program hashes
//! them (`git hash-object --stdin-paths`, which applies every conversion of the path's
//! attributes), and a path whose id is the index's, with the same mode, is not modified.
//! libgit2's answer stands when the git program cannot be run.

use std::{collections::BTreeMap, ffi::OsStr, os::unix::ffi::OsStrExt, path::Path};

use git2::{AttrCheckFlags, AttrValue, Index, Repository};

use super::types::Change;
use crate::{config::GitConfig, git_program};

/// Takes back the modifications in `unstaged` that only libgit2's skipping of filter drivers
/// made.
pub(crate) fn settle(repo: &Repository, index: &Index, unstaged: &mut BTreeMap<Vec<u8>, Change>) {
    let Some(workdir) = repo.workdir() else {
        return;
    };
    let Some(config) = GitConfig::of(repo) else {
        return;
    };
    let file_mode = config.bool("core.filemode", true);
    let mut candidates: Vec<(&[u8], git2::Oid)> = Vec::new();
    for (path, change) in unstaged.iter() {
        if *change != Change::Modified || path.contains(&b'\n') {
            continue;
        }
        let rel = Path::new(OsStr::from_bytes(path));
        let Some(entry) = index.get_path(rel, 0) else {
            continue;
        };
        let driver = match repo.get_attr_bytes(rel, "filter", AttrCheckFlags::FILE_THEN_INDEX) {
            Ok(value) => match AttrValue::from_bytes(value) {
                AttrValue::Bytes(name) => String::from_utf8_lossy(name).into_owned(),
                AttrValue::String(name) => name.to_owned(),
                _ => continue,
            },
            Err(_) => continue,
        };
        let cleans = ["clean", "process"]
            .iter()
            .any(|side| config.is_set(&format!("filter.{driver}.{side}")));
        if !cleans || entry.mode & 0o170000 != 0o100000 {
            continue;
        }
        let Ok(meta) = workdir.join(rel).symlink_metadata() else {
            continue;
        };
        let executable = |mode: u32| mode & 0o111 != 0;
        if !meta.is_file()
            || (file_mode
                && executable(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()))
                    != executable(entry.mode))
        {
            continue;
        }
        candidates.push((path.as_slice(), entry.id));
    }
    if candidates.is_empty() {
        return;
    }
    let mut input = Vec::new();
    for (path, _) in &candidates {
        input.extend_from_slice(path);
        input.push(b'\n');
    }
    let args = ["hash-object", "--stdin-paths"].map(OsStr::new);
    let Ok(out) = git_program::run_with_input(workdir, &args, &input) else {
        return;
    };
    let ids: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    let clean: Vec<Vec<u8>> = candidates
        .iter()
        .zip(ids)
        .filter(|((_, id), hashed)| id.to_string().as_bytes() == *hashed)
        .map(|((path, _), _)| path.to_vec())
        .collect();
    for path in clean {
        unstaged.remove(&path);
    }
}
