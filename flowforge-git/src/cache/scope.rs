//! Which path to refresh for a changed work-tree path.
//!
//! A tracked path (a file with an index entry, or a directory holding some) is refreshed on
//! its own. An untracked path is widened to its nearest ancestor directory holding index
//! entries (or, at the top, to its first component): libgit2's diff limited to an exact
//! untracked path inside a tracked directory reports nothing for it (neither `dir/new.txt` nor
//! an untracked `dir/sub` is listed), while the same diff limited to the tracked directory lists
//! them, collapsed as git does.

use std::{
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

/// The path to refresh for the changed work-tree path `path` (relative to the work tree).
pub(crate) fn scope_of(index: &git2::Index, path: &Path) -> PathBuf {
    // An index entry at `p` (any stage), or entries under `p/`.
    let tracked = |p: &Path| {
        let mut dir = p.as_os_str().as_bytes().to_vec();
        dir.push(b'/');
        (0..=3).any(|stage| index.get_path(p, stage).is_some()) || index.find_prefix(&dir).is_ok()
    };
    if tracked(path) {
        return path.to_path_buf();
    }
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            break;
        }
        if tracked(ancestor) {
            return ancestor.to_path_buf();
        }
    }
    path.components().next().map_or_else(
        || path.to_path_buf(),
        |first| PathBuf::from(first.as_os_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untracked_paths_widen_to_their_nearest_tracked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        for file in ["src/a.rs", "src/a.rsx", "src/a/b.rs", "top.txt"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        let mut index = repo.index().unwrap();
        for file in ["src/a.rs", "src/a.rsx", "src/a/b.rs", "top.txt"] {
            index.add_path(Path::new(file)).unwrap();
        }
        let scope = |p: &str| scope_of(&index, Path::new(p));
        assert_eq!(scope("src/a.rs"), Path::new("src/a.rs"));
        assert_eq!(scope("src/a"), Path::new("src/a"));
        assert_eq!(scope("src/new.rs"), Path::new("src"));
        assert_eq!(scope("src/a/new/deeper/x"), Path::new("src/a"));
        assert_eq!(scope("fresh/dir/x.txt"), Path::new("fresh"));
        assert_eq!(scope("new.txt"), Path::new("new.txt"));
    }
}
