//! Watching a directory tree one directory at a time.
//!
//! notify's recursive mode stats every entry of the tree (50,000 files: 50,000 `statx` calls)
//! and watches every directory, including those whose events never change an answer (git's
//! `.git/objects`, `.git/logs`). Here the tree is walked with the directory entries' own types
//! (no `stat` per file), each directory gets one non-recursive watch, and the directories the
//! caller names are skipped.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// Watches `dir` and every directory below it (symbolic links are entries, not followed),
/// except `skip` and what is below them, with `watch` (one directory, not recursively).
/// `found` is told of every entry listed in a directory after its watch was added (its path,
/// and whether it is a directory), skipped directories included.
pub(crate) fn watch_tree(
    mut watch: impl FnMut(&Path) -> Result<(), notify::Error>,
    mut found: impl FnMut(&Path, bool),
    dir: &Path,
    skip: &[PathBuf],
) -> Result<(), notify::Error> {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match watch(&dir) {
            Ok(()) => {}
            Err(e) if is_vanished(&e) => continue,
            Err(e) => return Err(e),
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue; // vanished, or unreadable (nothing can be read from it either)
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            found(&path, is_dir);
            if is_dir && !skip.contains(&path) {
                stack.push(path);
            }
        }
    }
    Ok(())
}

/// Whether adding a watch failed because the directory is gone (or is no directory now).
pub(crate) fn is_vanished(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
        _ => false,
    }
}
