//! Turning the paths a watcher reports into the smallest recomputation that is still exact.

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Component, Path, PathBuf},
};

use git2::Index;
use notify::EventKind;

use crate::{
    Repo,
    watch::classify::{Class, Roots, classify},
};

/// Above this many changed paths one full recompute is cheaper than many limited ones.
const MAX_PATHS: usize = 2000;

/// What a batch of changed paths requires.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Recompute everything (config, exclude files, the top of the work tree, too many paths).
    pub full: bool,
    /// Re-read HEAD and the upstream.
    pub head: bool,
    /// Work-tree paths relative to the top, `/`-separated, no trailing slash.
    pub worktree: Vec<Vec<u8>>,
}

/// Classifies every changed path by the watcher's rule ([`classify`]), so that a path
/// reported here and the same path seen by the watcher call for the same recomputation.
pub(crate) fn plan(repo: &Repo, changed: &[PathBuf]) -> Plan {
    let mut plan = Plan::default();
    if changed.len() > MAX_PATHS {
        plan.full = true;
        return plan;
    }
    let roots = Roots {
        workdir: repo.workdir().to_path_buf(),
        git_dir: repo.git_dir().to_path_buf(),
        common_dir: repo.common_dir().to_path_buf(),
    };
    for path in changed {
        let mut absolute = absolute(repo, path);
        if let Ok(rel) = absolute.strip_prefix(repo.workdir()) {
            // `a/../b` is `b`; a path leaving the work tree is not ours.
            let Some(rel) = normalize(rel) else {
                continue;
            };
            if rel.is_empty() {
                plan.full = true; // the whole work tree
                continue;
            }
            absolute = repo.workdir().join(OsStr::from_bytes(&rel));
        }
        // Any kind of change: the path may be anything, a new directory included.
        match classify(&roots, &EventKind::Any, &absolute) {
            Class::Ignore | Class::Cookie(_) => {}
            Class::WorkTree(rel) | Class::MaybeNewDir(rel) => {
                let rel = rel.as_os_str().as_bytes().to_vec();
                if rel.is_empty() {
                    plan.full = true;
                } else {
                    plan.worktree.push(rel);
                }
            }
            Class::Index | Class::Refs => plan.head = true,
            Class::Everything | Class::Gone => plan.full = true,
        }
    }
    plan
}

/// Makes `path` absolute against the work tree, resolving symbolic links in its parents so
/// that it compares with the canonical work tree.
fn absolute(repo: &Repo, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        repo.workdir().join(path)
    };
    if joined.starts_with(repo.workdir()) {
        return joined;
    }
    // The path may spell the work tree differently (a symbolic link above it).
    match (joined.parent(), joined.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(joined),
        _ => joined,
    }
}

/// `a/./b/../c` → `a/c` as bytes; `None` if it leaves the work tree.
fn normalize(rel: &Path) -> Option<Vec<u8>> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join(OsStr::new("/")).as_bytes().to_vec())
}

/// Widens each path to the topmost directory above it that holds no index entry (so that an
/// untracked directory is recomputed whole and collapses to `dir/` as git shows it), then
/// sorts and drops paths nested in others.
///
/// For each scope below the top, one index entry of its parent directory is added as well:
/// libgit2 limits the index side of the diff to the same paths, and decides whether a
/// directory is untracked by looking for index entries under it, so without one it would take
/// the scope's tracked parent for an untracked directory outside the paths and report nothing.
/// Recomputing that entry too is exact, and costs one more `lstat`.
pub(crate) fn widen(index: &Index, paths: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut scopes: Vec<Vec<u8>> = Vec::with_capacity(paths.len() * 2);
    for mut path in paths {
        let mut witness = None;
        while let Some(slash) = path.iter().rposition(|&b| b == b'/') {
            let parent = &path[..=slash]; // with the trailing slash
            if let Ok(position) = index.find_prefix(parent) {
                witness = index.get(position).map(|entry| entry.path);
                break;
            }
            path.truncate(slash);
        }
        scopes.push(path);
        scopes.extend(witness);
    }
    scopes.sort();
    scopes.dedup();
    let set: std::collections::BTreeSet<&[u8]> = scopes.iter().map(Vec::as_slice).collect();
    let nested = |scope: &[u8]| {
        scope
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'/' && set.contains(&scope[..i]))
    };
    scopes.iter().filter(|s| !nested(s)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths the watcher and `refresh_paths` once classified differently now call for
    /// the same recomputation, because both use [`classify`].
    #[test]
    fn refresh_paths_classifies_as_the_watcher_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        git2::Repository::init(dir.path()).expect("init");
        let repo = Repo::open(dir.path()).expect("open");
        let top = repo.workdir().to_path_buf();
        let full = |rel: &str| plan(&repo, &[PathBuf::from(rel)]).full;
        for rel in [
            ".gitattributes",
            "docs/.gitattributes",
            ".gitmodules",
            ".gitignore",
            ".git/config",
            ".git/info/exclude",
            ".git/info/sparse-checkout",
            ".git/modules/sm/HEAD",
            "",
        ] {
            assert!(full(rel), "{rel:?} recomputes everything");
            assert!(full(top.join(rel).to_str().expect("utf-8")), "{rel:?}");
        }
        let one = plan(&repo, &[PathBuf::from("docs/.gitignore")]);
        assert_eq!((one.full, one.worktree), (false, vec![b"docs".to_vec()]));
        let one = plan(&repo, &[PathBuf::from("sub/.git/HEAD")]);
        assert_eq!(one.worktree, vec![b"sub".to_vec()]);
        let one = plan(&repo, &[PathBuf::from("a/../b/./c")]);
        assert_eq!(one.worktree, vec![b"b/c".to_vec()]);
        for rel in [
            ".git/objects/ab/cd",
            ".git/index.lock",
            ".git/logs/HEAD",
            "../x",
        ] {
            let nothing = plan(&repo, &[PathBuf::from(rel)]);
            assert!(
                !nothing.full && !nothing.head && nothing.worktree.is_empty(),
                "{rel}"
            );
        }
        assert!(plan(&repo, &[PathBuf::from(".git/refs/heads/main")]).head);
    }
}
