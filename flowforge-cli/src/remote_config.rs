//! The daemon's copy of a work tree's FlowForge remote settings (`flowforge.remote`,
//! `flowforge.machine`), so a team query does not open the repository with libgit2 each time.
//!
//! The settings are kept with the bytes of every configuration file libgit2 reads for them (the
//! repository's `config` and `config.worktree`, the user's `~/.gitconfig` and
//! `$XDG_CONFIG_HOME/git/config`, the system's `gitconfig`; a missing file is remembered as
//! missing). Each question reads those few small files again and compares their bytes: the
//! same bytes, the same settings; anything else (a file written, created or removed a
//! microsecond earlier) reads the settings again. Content, not `stat` data, decides, so no
//! clock granularity can hide a change. Where the files cannot be listed for sure — a file
//! that includes others (`[include]`, `[includeIf]`) or a `GIT_CONFIG*` variable that points
//! libgit2 elsewhere — nothing is kept and every question reads the settings as a process does.

use std::path::{Path, PathBuf};

use flowforge_git::git2;
use flowforge_remote::Config;

/// The settings and the configuration files they were read from.
#[derive(Debug, Default)]
pub(crate) struct RemoteConfigCache {
    /// The files to compare, found at the first question (`Some(None)`: nothing is kept).
    paths: Option<Option<Vec<PathBuf>>>,
    kept: Option<Kept>,
    /// Questions answered from the kept settings.
    pub hits: u64,
    /// Questions that read the settings.
    pub reads: u64,
}

#[derive(Debug)]
struct Kept {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    config: Option<Config>,
}

impl RemoteConfigCache {
    /// The settings of the repository at `repo` (`None`: no remote in use), as
    /// [`flowforge_remote::read_config`] reads them now (without it when the files cannot set
    /// them, [`may_set_in`]).
    ///
    /// # Errors
    /// As [`flowforge_remote::read_config`].
    pub(crate) fn get(
        &mut self,
        repo: &Path,
        git_dir: Option<&Path>,
        common_dir: Option<&Path>,
    ) -> flowforge_remote::Result<Option<Config>> {
        let paths = (self.paths).get_or_insert_with(|| config_files(git_dir, common_dir));
        let files = paths.as_deref().map(read_all);
        if let (Some(kept), Some(files)) = (&self.kept, &files) {
            if &kept.files == files {
                self.hits += 1;
                return Ok(kept.config.clone());
            }
        }
        self.reads += 1;
        // Read the files before the settings: a change after this read makes the next
        // comparison fail, never a stale answer. Files that cannot set them need no libgit2.
        let config = match &files {
            Some(files) if !may_set_in(files) => None,
            _ => flowforge_remote::read_config(repo)?,
        };
        self.kept = files
            .filter(|files| !files.iter().any(|(_, bytes)| includes(bytes.as_deref())))
            .map(|files| Kept {
                files,
                config: config.clone(),
            });
        Ok(config)
    }
}

/// Every file libgit2 may read the settings from, or `None` when that cannot be told.
fn config_files(git_dir: Option<&Path>, common_dir: Option<&Path>) -> Option<Vec<PathBuf>> {
    let (git_dir, common_dir) = (git_dir?, common_dir?);
    if std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("GIT_CONFIG")) {
        return None;
    }
    let mut paths = vec![common_dir.join("config"), git_dir.join("config.worktree")];
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(home) = &home {
        paths.push(home.join(".gitconfig"));
    }
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => paths.push(PathBuf::from(xdg).join("git/config")),
        None => paths.extend(home.map(|h| h.join(".config/git/config"))),
    }
    paths.push(PathBuf::from("/etc/gitconfig"));
    // Wherever this libgit2 looks besides (its compiled-in system directory, a home it found
    // without $HOME).
    let found = [
        git2::Config::find_global(),
        git2::Config::find_xdg(),
        git2::Config::find_system(),
    ];
    for path in found.into_iter().flatten() {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Some(paths)
}

fn read_all(paths: &[PathBuf]) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    paths
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).ok()))
        .collect()
}

/// Whether a configuration file may include another (then the set of files is not known).
fn includes(bytes: Option<&[u8]>) -> bool {
    bytes.is_some_and(|b| b.windows(7).any(|w| w.eq_ignore_ascii_case(b"include")))
}

/// Whether the configuration of the repository whose git directories are `git_dir` and
/// `common_dir` may set FlowForge's remote settings: [`may_set_in`] its files, `true` when
/// they cannot be listed for sure. A command in a repository that does not share its state
/// through a remote learns so from a few small files, without opening the repository with
/// libgit2 and reading its configuration.
pub(crate) fn may_set_flowforge(git_dir: Option<&Path>, common_dir: Option<&Path>) -> bool {
    config_files(git_dir, common_dir).is_none_or(|paths| may_set_in(&read_all(&paths)))
}

/// Whether the configuration files `files` (as [`read_all`] read them) may set FlowForge's
/// remote settings. `false` only when none includes another and none holds the word
/// `flowforge` in any case: `flowforge.remote` can then only be unset, since a setting lies
/// under its section's name (`[flowforge]`, `[FlowForge "…"]`, `[flowforge.x]`), which git
/// reads from one line, in ASCII, never escaped. A file that cannot be read counts as missing,
/// the same for the daemon's answer and a process's own.
fn may_set_in(files: &[(PathBuf, Option<Vec<u8>>)]) -> bool {
    files.iter().any(|(_, bytes)| {
        bytes
            .as_deref()
            .is_some_and(|b| includes(Some(b)) || names_flowforge(b))
    })
}

/// Whether `bytes` hold the word `flowforge` in any case.
fn names_flowforge(bytes: &[u8]) -> bool {
    bytes
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"flowforge"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_is_found_in_any_case() {
        assert!(includes(Some(b"[Include]\n\tpath = x\n")));
        assert!(includes(Some(b"[includeIf \"gitdir:~/\"]\n")));
        assert!(!includes(Some(b"[core]\n\tbare = false\n")));
        assert!(!includes(None));
    }

    #[test]
    fn the_flowforge_section_is_found_in_any_case_and_form() {
        for text in [
            "[flowforge]\n\tremote = origin\n",
            "[FlowForge]\n\tRemote = origin\n",
            "[FLOWFORGE \"x\"]\n",
            "[flowforge.remote]\n",
        ] {
            assert!(names_flowforge(text.as_bytes()), "{text}");
        }
        assert!(!names_flowforge(
            b"[core]\n\tbare = false\n[remote \"origin\"]\n"
        ));
        assert!(!names_flowforge(b"flowforg"));
    }
}
