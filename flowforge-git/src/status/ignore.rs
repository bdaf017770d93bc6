//! git's ignore rules for one status walk, each directory's rules read once.
//!
//! libgit2's `git_ignore_path_is_ignored` rebuilds its stack of rules for every path it is
//! asked about and checks every `.gitignore` up the path for freshness on each call; on a
//! work tree full of build products in tracked directories that was a fifth of a status.
//! [`IgnoreRules`] reads the `.gitignore` of a directory the first time a path in it is
//! asked about and keeps it, with `info/exclude` and `core.excludesFile` read once, and
//! matches with gitoxide's `gix-ignore` (git's wildmatch and pattern rules). The order is
//! git's (`dir.c`'s `last_matching_pattern_from_lists`): the deepest `.gitignore` first,
//! then the shallower ones, then `info/exclude`, then `core.excludesFile`; in one file the
//! last matching pattern decides, and a `!` pattern that decides un-ignores. A directory the
//! rules hide hides all below it (git's `prep_exclude`): nothing there can be re-included.
//!
//! What it does not read the way git does is left to libgit2's exact lookup
//! ([`super::untracked::is_ignored`]): a `.gitignore` that is a symbolic link, a fifo or
//! another special file, or cannot be read, and an excludes file that cannot be read. git
//! does not follow a linked `.gitignore` (it opens it with `O_NOFOLLOW`) where libgit2 does;
//! libgit2 keeps deciding below one so that a full status and the incremental refresh, whose
//! untracked files come from libgit2's diff, give the same answer.

use std::{
    collections::HashMap,
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use bstr::BStr;
use gix_ignore::{
    glob::{pattern::Case, search::pattern::List},
    search::{Ignore, pattern_matching_relative_path},
};

/// The ignore rules of one repository, read as a walk asks for them.
pub(crate) struct IgnoreRules<'r> {
    repo: &'r git2::Repository,
    workdir: PathBuf,
    /// `info/exclude` then `core.excludesFile` (in the order they are consulted), read at the
    /// first question (a refresh that asks none reads no configuration); `Some(None)` when
    /// one could not be read, and every answer is then libgit2's.
    global: Option<Option<Vec<List<Ignore>>>>,
    /// Each directory asked about (`""` the top), relative to the work tree's top.
    dirs: HashMap<Vec<u8>, DirRules>,
}

/// What one directory contributes.
struct DirRules {
    /// Its `.gitignore`, when it has one and the directory is not hidden.
    list: Option<List<Ignore>>,
    /// The directory itself, or one above it, is hidden by the rules.
    excluded: bool,
    /// A `.gitignore` here or above is not read here: libgit2 decides below.
    libgit2: bool,
}

impl<'r> IgnoreRules<'r> {
    /// The rules of `repo`'s work tree; nothing is read until a path is asked about.
    pub(crate) fn new(repo: &'r git2::Repository, workdir: &Path) -> Self {
        Self {
            repo,
            workdir: workdir.to_path_buf(),
            global: None,
            dirs: HashMap::new(),
        }
    }

    /// Whether the rules hide `path` (relative to the work tree's top, `/`-separated), which
    /// is a directory when `is_dir` (a symbolic link is not one, whatever it points to).
    ///
    /// # Errors
    ///
    /// libgit2's error, where it decides (see the module's overview).
    pub(crate) fn is_ignored(&mut self, path: &[u8], is_dir: bool) -> Result<bool, git2::Error> {
        let repo = self.repo;
        if self
            .global
            .get_or_insert_with(|| global_lists(repo))
            .is_none()
        {
            return super::untracked::is_ignored(self.repo, path);
        }
        let parent = parent_of(path);
        let rules = self.load(parent);
        if rules.libgit2 {
            return super::untracked::is_ignored(self.repo, path);
        }
        if rules.excluded {
            return Ok(true);
        }
        Ok(self.matches(path, is_dir))
    }

    /// The rules of directory `dir` (and, first, of every directory above it).
    fn load(&mut self, dir: &[u8]) -> &DirRules {
        if !self.dirs.contains_key(dir) {
            let (excluded, libgit2) = if dir.is_empty() {
                (false, false)
            } else {
                let (excluded, libgit2) = {
                    let parent = self.load(parent_of(dir));
                    (parent.excluded, parent.libgit2)
                };
                (excluded || (!libgit2 && self.matches(dir, true)), libgit2)
            };
            let (list, libgit2) = if excluded || libgit2 {
                (None, libgit2)
            } else {
                match read_gitignore(&self.workdir, dir) {
                    Some(list) => (list, false),
                    None => (None, true),
                }
            };
            let rules = DirRules {
                list,
                excluded,
                libgit2,
            };
            self.dirs.insert(dir.to_vec(), rules);
        }
        &self.dirs[dir]
    }

    /// Whether the rules of the directories above `path` (all loaded) and the global files
    /// hide `path` itself.
    fn matches(&self, path: &[u8], is_dir: bool) -> bool {
        let mut end = path.len();
        loop {
            let dir_end = path[..end].iter().rposition(|&b| b == b'/');
            let (dir, rel) = match dir_end {
                Some(at) => (&path[..at], &path[at + 1..]),
                None => (&path[..0], path),
            };
            if let Some(list) = self.dirs.get(dir).and_then(|d| d.list.as_ref()) {
                if let Some(decided) = decide(list, rel, is_dir) {
                    return decided;
                }
            }
            match dir_end {
                Some(at) => end = at,
                None => break,
            }
        }
        self.global
            .iter()
            .flatten()
            .flatten()
            .find_map(|list| decide(list, path, is_dir))
            .unwrap_or(false)
    }
}

/// The verdict of one file's patterns on `rel` (relative to that file's directory): the last
/// matching pattern's, `None` when none matches.
fn decide(list: &List<Ignore>, rel: &[u8], is_dir: bool) -> Option<bool> {
    let basename = rel.iter().rposition(|&b| b == b'/').map(|at| at + 1);
    pattern_matching_relative_path(
        list,
        BStr::new(rel),
        basename,
        Some(is_dir),
        Case::Sensitive,
    )
    .map(|found| !found.pattern.is_negative())
}

/// `path`'s directory (`""` for a name at the top).
fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(at) => &path[..at],
        None => &path[..0],
    }
}

/// The `.gitignore` of `dir`: `Some(None)` when there is none (or it is a directory), `None`
/// when it is a symbolic link, a fifo or another special file, or cannot be read.
fn read_gitignore(workdir: &Path, dir: &[u8]) -> Option<Option<List<Ignore>>> {
    let path = workdir.join(OsStr::from_bytes(dir)).join(".gitignore");
    let meta = match path.symlink_metadata() {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    if meta.is_dir() {
        return Some(None);
    }
    if !meta.is_file() {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    Some(Some(List::from_bytes(
        &bytes,
        path,
        None,
        Ignore::default(),
    )))
}

/// `info/exclude` and `core.excludesFile` (its default `$XDG_CONFIG_HOME/git/ignore` or
/// `~/.config/git/ignore` when unset), in the order git consults them; `None` when one
/// exists but cannot be read.
fn global_lists(repo: &git2::Repository) -> Option<Vec<List<Ignore>>> {
    let mut lists = Vec::new();
    let exclude = repo.commondir().join("info").join("exclude");
    lists.extend(read_list(exclude)?);
    let config = repo.config().ok()?;
    let excludes_file = match config.get_entry("core.excludesFile") {
        Ok(_) => Some(config.get_path("core.excludesFile").ok()?),
        Err(_) => default_excludes_file(),
    };
    if let Some(file) = excludes_file {
        lists.extend(read_list(file)?);
    }
    Some(lists)
}

/// git's default excludes file: `$XDG_CONFIG_HOME/git/ignore`, else `$HOME/.config/git/ignore`.
fn default_excludes_file() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => Some(PathBuf::from(xdg).join("git").join("ignore")),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| {
                PathBuf::from(home)
                    .join(".config")
                    .join("git")
                    .join("ignore")
            }),
    }
}

/// The patterns of the file at `path` (following symbolic links, as git does for these
/// files): `Some(None)` when there is no such file, `None` when it cannot be read.
fn read_list(path: PathBuf) -> Option<Option<List<Ignore>>> {
    match std::fs::read(&path) {
        Ok(bytes) => Some(Some(List::from_bytes(
            &bytes,
            path,
            None,
            Ignore::default(),
        ))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::NotADirectory
                    | std::io::ErrorKind::IsADirectory
            ) =>
        {
            Some(None)
        }
        Err(_) => None,
    }
}
