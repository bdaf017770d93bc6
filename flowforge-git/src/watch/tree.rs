//! Watching a directory tree one directory at a time.
//!
//! notify's recursive mode stats every entry of the tree (50,000 files: 50,000 `statx` calls)
//! and watches directories whose events never change an answer (`.git/objects`, `.git/logs`).
//! Here the tree is walked with the directory entries' own types (no `stat` per file), each
//! directory gets one non-recursive watch, and object and log directories are skipped.
//!
//! A directory created later is not watched until [`watch_tree`] is called on it: its creation
//! is pending as a path to refresh, and the cache calls [`watch_tree`] before reading it, so
//! nothing created inside it before or after is missed.

use std::{
    fs,
    path::{Path, PathBuf},
};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use super::Roots;

/// Watches `dir` and every directory below it (symbolic links are entries, not followed),
/// except git's object and log directories.
///
/// # Errors
/// The first watch that fails for another reason than the directory having vanished
/// (typically the inotify watch limit).
pub(crate) fn watch_tree(
    watcher: &mut RecommendedWatcher,
    roots: &Roots,
    dir: &Path,
) -> Result<(), notify::Error> {
    let skipped = [
        roots.git_dir.join("objects"),
        roots.git_dir.join("logs"),
        roots.common_dir.join("objects"),
        roots.common_dir.join("logs"),
    ];
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            Err(e) if is_vanished(&e) => continue,
            Err(e) => return Err(e),
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue; // vanished, or unreadable (git cannot read it either)
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                if !skipped.contains(&path) {
                    stack.push(path);
                }
            }
        }
    }
    Ok(())
}

fn is_vanished(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}
