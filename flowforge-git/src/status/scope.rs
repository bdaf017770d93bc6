//! Turning the paths a watcher reports into the smallest recomputation that is still exact.

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Component, Path, PathBuf},
};

use git2::Index;

use crate::Repo;

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

/// Classifies every changed path.
pub(crate) fn plan(repo: &Repo, changed: &[PathBuf]) -> Plan {
    let mut plan = Plan::default();
    if changed.len() > MAX_PATHS {
        plan.full = true;
        return plan;
    }
    for path in changed {
        let absolute = absolute(repo, path);
        for dir in [repo.git_dir(), repo.common_dir()] {
            if let Ok(inside) = absolute.strip_prefix(dir) {
                classify_git_path(inside, &mut plan);
            }
        }
        let Ok(rel) = absolute.strip_prefix(repo.workdir()) else {
            continue; // outside the work tree (or a git dir elsewhere)
        };
        if rel.starts_with(".git") {
            continue; // the git dir itself was handled above
        }
        let Some(rel) = normalize(rel) else {
            continue;
        };
        let rel = widen_special(rel);
        if rel.is_empty() {
            plan.full = true;
        } else {
            plan.worktree.push(rel);
        }
    }
    plan
}

/// Paths inside the git directory: only some change an answer.
fn classify_git_path(inside: &Path, plan: &mut Plan) {
    if inside == Path::new("config") || inside == Path::new("info/exclude") {
        plan.full = true;
        return;
    }
    let first = inside.components().next().map(Component::as_os_str);
    // `index` is noticed through its fingerprint on every call; objects, logs, locks and the
    // rest change no answer.
    if let Some("HEAD" | "refs" | "packed-refs") = first.and_then(OsStr::to_str) {
        plan.head = true;
    }
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

/// A changed ignore or attributes file changes answers in its whole directory; a change inside
/// a nested repository's `.git` changes at most how that repository shows.
fn widen_special(rel: Vec<u8>) -> Vec<u8> {
    let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    if let Some(at) = parts.iter().position(|p| *p == b".git") {
        return parts[..at].join(&b'/');
    }
    match parts.last() {
        Some(&(b".gitignore" | b".gitattributes")) => parts[..parts.len() - 1].join(&b'/'),
        _ => rel,
    }
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

/// True when `path` (possibly `dir/`) is `scope` or lies under it.
pub(crate) fn is_under(path: &[u8], scope: &[u8]) -> bool {
    path.strip_prefix(scope)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}
