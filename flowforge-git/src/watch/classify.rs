//! Which recomputation a filesystem event calls for, if any.
//!
//! Git writes much inside `.git` that changes no answer (objects, logs, lock files, the
//! watcher's own cookies), and reading the work tree (our own status included) makes open and
//! close-without-write events: those cause no work. Everything else names the smallest
//! recomputation that makes the answer equal git's again.

use std::{
    ffi::OsString,
    path::{Component, Path, PathBuf},
};

use notify::{
    EventKind,
    event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode},
};

use super::COOKIE_DIR_NAME;

/// The directories a repository's events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Roots {
    /// The work tree's top directory.
    pub workdir: PathBuf,
    /// The git directory (`.git`, or `.git/worktrees/<name>` for a linked worktree).
    pub git_dir: PathBuf,
    /// The common directory (refs, objects, config), equal to `git_dir` outside linked
    /// worktrees.
    pub common_dir: PathBuf,
}

/// What one event path calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// Nothing: the answer cannot have changed.
    Ignore,
    /// A cookie file, by name.
    Cookie(OsString),
    /// A work-tree path (relative to the work tree) and everything below it changed.
    WorkTree(PathBuf),
    /// A work-tree path that may be a new directory: refresh it, and make sure it is watched
    /// before it is read (events in a brand-new directory can precede its watch).
    MaybeNewDir(PathBuf),
    /// The index or `HEAD` changed: the HEAD-to-index comparison must be redone.
    Index,
    /// A ref changed (loose ref or `packed-refs`); `HEAD` may point at it.
    Refs,
    /// Something every answer depends on changed (configuration, ignore rules, submodules):
    /// recompute from nothing.
    Everything,
    /// The work tree or the git directory was deleted or moved away.
    Gone,
}

/// Classifies one path of an event of kind `kind`.
pub(crate) fn classify(roots: &Roots, kind: &EventKind, path: &Path) -> Class {
    if is_read_only(kind) {
        return Class::Ignore;
    }
    if (path == roots.workdir || path == roots.git_dir || path == roots.common_dir)
        && is_removal(kind)
    {
        return Class::Gone;
    }
    if let Ok(rel) = path.strip_prefix(&roots.git_dir) {
        return classify_git_dir(rel, true);
    }
    if let Ok(rel) = path.strip_prefix(&roots.common_dir) {
        return classify_git_dir(rel, false);
    }
    let Ok(rel) = path.strip_prefix(&roots.workdir) else {
        return Class::Ignore;
    };
    classify_work_tree(rel, kind)
}

/// Access events that are not writes: opening, reading, closing without writing.
fn is_read_only(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        EventKind::Access(_) => true,
        _ => false,
    }
}

fn is_removal(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
    )
}

fn names(rel: &Path) -> Vec<&std::ffi::OsStr> {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// A path inside the git directory (`own`) or the common directory of a linked worktree.
fn classify_git_dir(rel: &Path, own: bool) -> Class {
    let names = names(rel);
    let Some(first) = names.first().and_then(|n| n.to_str()) else {
        return Class::Ignore;
    };
    let last_is_lock = names
        .last()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".lock"));
    if last_is_lock {
        return Class::Ignore;
    }
    match (first, names.len()) {
        (COOKIE_DIR_NAME, 2) if own => Class::Cookie(names[1].to_owned()),
        ("index" | "HEAD", 1) if own => Class::Index,
        ("refs", _) | ("packed-refs", 1) => Class::Refs,
        ("config", 1) => Class::Everything,
        ("info", 2) if matches!(names[1].to_str(), Some("exclude" | "sparse-checkout")) => {
            Class::Everything
        }
        // A submodule's HEAD, index or refs: the superproject shows it as modified.
        ("modules", _) if is_submodule_state(&names[1..]) => Class::Everything,
        _ => Class::Ignore,
    }
}

fn is_submodule_state(names: &[&std::ffi::OsStr]) -> bool {
    names
        .iter()
        .any(|n| matches!(n.to_str(), Some("HEAD" | "index" | "refs" | "packed-refs")))
        && !names
            .iter()
            .any(|n| matches!(n.to_str(), Some("objects" | "logs")))
}

fn classify_work_tree(rel: &Path, kind: &EventKind) -> Class {
    let names = names(rel);
    let Some(last) = names.last() else {
        // The work tree's own directory: metadata only.
        return Class::Ignore;
    };
    if let Some(git) = names.iter().position(|n| *n == ".git") {
        if git == 0 {
            // The `.git` file of a linked worktree or submodule checkout.
            return Class::Everything;
        }
        // Inside a nested repository or submodule: its state shows as one entry.
        let inner: Vec<_> = names[git + 1..].iter().filter_map(|n| n.to_str()).collect();
        if inner
            .iter()
            .any(|n| matches!(*n, "objects" | "logs") || n.ends_with(".lock"))
        {
            return Class::Ignore;
        }
        return Class::WorkTree(names[..git].iter().collect());
    }
    match last.to_str() {
        Some(".gitattributes" | ".gitmodules") => return Class::Everything,
        // An ignore file changes the answer for everything below its directory.
        Some(".gitignore") if names.len() == 1 => return Class::Everything,
        Some(".gitignore") => return Class::WorkTree(names[..names.len() - 1].iter().collect()),
        _ => {}
    }
    let rel: PathBuf = names.iter().collect();
    match kind {
        EventKind::Create(CreateKind::Folder | CreateKind::Any | CreateKind::Other)
        | EventKind::Modify(ModifyKind::Name(
            RenameMode::To | RenameMode::Both | RenameMode::Any | RenameMode::Other,
        ))
        | EventKind::Any
        | EventKind::Other => Class::MaybeNewDir(rel),
        EventKind::Remove(RemoveKind::Folder) => Class::WorkTree(rel),
        _ => Class::WorkTree(rel),
    }
}

#[cfg(test)]
mod tests {
    use notify::event::DataChange;

    use super::*;

    fn roots() -> Roots {
        Roots {
            workdir: "/r".into(),
            git_dir: "/r/.git".into(),
            common_dir: "/r/.git".into(),
        }
    }

    fn modify() -> EventKind {
        EventKind::Modify(ModifyKind::Data(DataChange::Any))
    }

    #[test]
    fn git_internals_that_change_no_answer_are_ignored() {
        for path in [
            "/r/.git/objects/ab/cdef",
            "/r/.git/index.lock",
            "/r/.git/logs/HEAD",
            "/r/.git/FETCH_HEAD",
            "/r/.git/ORIG_HEAD",
            "/r/.git/refs/heads/main.lock",
            "/r/.git/packed-refs.lock",
            "/r/sub/.git/objects/12/34",
            "/elsewhere/file",
        ] {
            assert_eq!(
                classify(&roots(), &modify(), Path::new(path)),
                Class::Ignore,
                "{path}"
            );
        }
    }

    #[test]
    fn reads_are_ignored_and_writes_are_not() {
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let close_read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        let close_write = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let file = Path::new("/r/src/a.rs");
        assert_eq!(classify(&roots(), &open, file), Class::Ignore);
        assert_eq!(classify(&roots(), &close_read, file), Class::Ignore);
        assert_eq!(
            classify(&roots(), &close_write, file),
            Class::WorkTree("src/a.rs".into())
        );
    }

    #[test]
    fn git_state_maps_to_its_recomputation() {
        let c = |p: &str| classify(&roots(), &modify(), Path::new(p));
        assert_eq!(c("/r/.git/index"), Class::Index);
        assert_eq!(c("/r/.git/HEAD"), Class::Index);
        assert_eq!(c("/r/.git/refs/heads/dev-alice/x"), Class::Refs);
        assert_eq!(c("/r/.git/packed-refs"), Class::Refs);
        assert_eq!(c("/r/.git/config"), Class::Everything);
        assert_eq!(c("/r/.git/info/exclude"), Class::Everything);
        assert_eq!(c("/r/.gitattributes"), Class::Everything);
        assert_eq!(c("/r/.git/modules/sub/HEAD"), Class::Everything);
        assert_eq!(
            c("/r/.git/flowforge-cookies/cookie-1-2-3"),
            Class::Cookie("cookie-1-2-3".into())
        );
        assert_eq!(c("/r/docs/.gitignore"), Class::WorkTree("docs".into()));
        assert_eq!(c("/r/sub/.git/HEAD"), Class::WorkTree("sub".into()));
    }

    #[test]
    fn linked_worktrees_split_own_and_common_state() {
        let roots = Roots {
            workdir: "/wt".into(),
            git_dir: "/main/.git/worktrees/wt".into(),
            common_dir: "/main/.git".into(),
        };
        let c = |p: &str| classify(&roots, &modify(), Path::new(p));
        assert_eq!(c("/main/.git/worktrees/wt/HEAD"), Class::Index);
        assert_eq!(c("/main/.git/worktrees/wt/index"), Class::Index);
        assert_eq!(c("/main/.git/HEAD"), Class::Ignore);
        assert_eq!(c("/main/.git/index"), Class::Ignore);
        assert_eq!(c("/main/.git/refs/heads/main"), Class::Refs);
        assert_eq!(c("/wt/.git"), Class::Everything);
    }

    #[test]
    fn new_directories_and_removals_of_the_roots() {
        let mkdir = EventKind::Create(CreateKind::Folder);
        let rm = EventKind::Remove(RemoveKind::Folder);
        let moved = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        assert_eq!(
            classify(&roots(), &mkdir, Path::new("/r/new")),
            Class::MaybeNewDir("new".into())
        );
        assert_eq!(classify(&roots(), &rm, Path::new("/r")), Class::Gone);
        assert_eq!(
            classify(&roots(), &moved, Path::new("/r/.git")),
            Class::Gone
        );
        assert_eq!(
            classify(&roots(), &rm, Path::new("/r/old")),
            Class::WorkTree("old".into())
        );
    }
}
