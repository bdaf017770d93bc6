//! git's rule for an untracked directory (`dir.c`'s `treat_directory` at
//! `--untracked-files=normal`), decided here rather than by libgit2, whose rule differs:
//!
//! * a directory holding a **nested repository** — `dir/.git` a git directory, or a `gitdir:`
//!   file naming one (git's `is_nonbare_repository_dir`) — is shown as `dir/` whatever else
//!   it holds, even in a repository with no commits;
//! * otherwise the directory is shown when, below it, some file or symbolic link is not
//!   ignored (directories the ignore rules match are not entered); a `.git` that is not a
//!   repository, like an empty directory, a fifo or a socket, counts for nothing;
//! * only the exact name `.git` is skipped: `dir/.GIT` is an ordinary file to git.

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

/// Whether the ignore rules hide `path` (relative to the work tree's top, `/`-separated) as
/// git decides it: by what `path` itself is, never following a symbolic link.
///
/// libgit2's ignore lookup takes a symbolic link to a directory for a directory, so a
/// directory-only pattern (`link/`) hides it, and its API has no way to say otherwise; git
/// sees a link, which such a pattern does not match (`?? link`). So a link to a directory
/// that libgit2 calls ignored is decided by `git check-ignore` (libgit2's answer stands when
/// the git program cannot be run).
pub(crate) fn is_ignored(git: &git2::Repository, path: &[u8]) -> Result<bool, git2::Error> {
    let rel = Path::new(OsStr::from_bytes(path));
    if !git.is_path_ignored(rel)? {
        return Ok(false);
    }
    let Some(workdir) = git.workdir() else {
        return Ok(true);
    };
    let full = workdir.join(rel);
    let link_to_dir = full
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && full.metadata().is_ok_and(|m| m.is_dir());
    if !link_to_dir {
        return Ok(true);
    }
    Ok(crate::git_program::is_ignored(workdir, path).unwrap_or(true))
}

/// Whether the ignore rules hide a path (relative to the work tree's top) that is a directory
/// or not.
pub(crate) type IsIgnored<'a> = dyn FnMut(&[u8], bool) -> Result<bool, git2::Error> + 'a;

/// Whether git shows the untracked directory `dir` (relative to `workdir`, `/`-separated, not
/// itself ignored) as `dir/`. `is_ignored` answers for a path relative to `workdir`.
pub(crate) fn directory_shows(
    workdir: &Path,
    dir: &[u8],
    is_ignored: &mut IsIgnored<'_>,
) -> Result<bool, git2::Error> {
    let full = workdir.join(OsStr::from_bytes(dir));
    if is_nonbare_repository_dir(&full) {
        return Ok(true);
    }
    let Ok(entries) = std::fs::read_dir(&full) else {
        return Ok(false);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.as_bytes() == b".git" {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue; // gone since it was listed
        };
        let mut child = Vec::with_capacity(dir.len() + 1 + name.len());
        child.extend_from_slice(dir);
        child.push(b'/');
        child.extend_from_slice(name.as_bytes());
        let shows = if file_type.is_dir() {
            !is_ignored(&child, true)? && directory_shows(workdir, &child, is_ignored)?
        } else if file_type.is_file() || file_type.is_symlink() {
            !is_ignored(&child, false)?
        } else {
            false // git lists no fifo, socket or device
        };
        if shows {
            return Ok(true);
        }
    }
    Ok(false)
}

/// git's `is_nonbare_repository_dir`: `dir/.git` is a git directory, or a file that names one
/// (`gitdir: <path>`) or that cannot be read.
pub(crate) fn is_nonbare_repository_dir(dir: &Path) -> bool {
    let dot_git = dir.join(".git");
    let Ok(meta) = dot_git.symlink_metadata() else {
        return false;
    };
    if meta.is_file() {
        let Ok(text) = std::fs::read(&dot_git) else {
            return true; // git counts an unreadable gitfile as a repository
        };
        let Some(target) = text.strip_prefix(b"gitdir: ") else {
            return false;
        };
        let target = target.trim_ascii_end();
        if target.is_empty() {
            return false;
        }
        let target = Path::new(OsStr::from_bytes(target));
        return is_git_directory(&dir.join(target));
    }
    is_git_directory(&dot_git)
}

/// git's `is_git_directory`: a valid `HEAD`, and `objects/` and `refs/` that can be entered
/// (in the common directory when a `commondir` file names one).
pub(crate) fn is_git_directory(path: &Path) -> bool {
    if !valid_head(&path.join("HEAD")) {
        return false;
    }
    let common: PathBuf = match std::fs::read(path.join("commondir")) {
        Ok(text) => path.join(OsStr::from_bytes(text.trim_ascii_end())),
        Err(_) => path.to_path_buf(),
    };
    let enterable = |p: PathBuf| rustix::fs::access(&p, rustix::fs::Access::EXEC_OK).is_ok();
    let objects = match std::env::var_os("GIT_OBJECT_DIRECTORY") {
        Some(dir) => PathBuf::from(dir),
        None => common.join("objects"),
    };
    enterable(objects) && enterable(common.join("refs"))
}

/// git's `validate_headref`: a symbolic link into `refs/`, `ref: refs/…`, or an object id.
fn valid_head(head: &Path) -> bool {
    let Ok(meta) = head.symlink_metadata() else {
        return false;
    };
    if meta.file_type().is_symlink() {
        return std::fs::read_link(head)
            .is_ok_and(|t| t.as_os_str().as_bytes().starts_with(b"refs/"));
    }
    let Ok(text) = std::fs::read(head) else {
        return false;
    };
    let text = &text[..text.len().min(255)];
    if let Some(target) = text.strip_prefix(b"ref:") {
        if target.trim_ascii_start().starts_with(b"refs/") {
            return true;
        }
    }
    let hex = |n: usize| text.len() >= n && text[..n].iter().all(u8::is_ascii_hexdigit);
    hex(64) || hex(40)
}

/// Whether the directory at `dir` is a repository whose `HEAD` resolves to a commit id (git's
/// `resolve_gitlink_ref(dir, "HEAD")`): a tracked file replaced by such a directory is a type
/// change for git, by any other directory a deletion.
pub(crate) fn is_repository_with_head(dir: &Path) -> bool {
    is_nonbare_repository_dir(dir)
        && git2::Repository::open(dir).is_ok_and(|repo| repo.refname_to_id("HEAD").is_ok())
}
