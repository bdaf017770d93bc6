//! The `git` program, asked only where libgit2 cannot give git's answer: repositories libgit2
//! cannot open (SHA-256 objects, reftable refs, a linked worktree whose `HEAD` is a symbolic
//! link, extensions it does not know), indexes it refuses, and the few questions its API
//! cannot put as git does.
//!
//! Every call runs `git -C <dir>` with the user's configuration, as the user's own `git` would,
//! except that the variables naming a repository (`GIT_DIR`, `GIT_WORK_TREE`,
//! `GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY`, `GIT_COMMON_DIR`) are removed: FlowForge opens a
//! repository by path, whichever engine answers.

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::error::{Error, Result};

/// A `git -C dir` command with the repository-naming variables removed.
pub(crate) fn command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).stdin(Stdio::null());
    for name in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_COMMON_DIR",
    ] {
        command.env_remove(name);
    }
    command
}

/// Runs `git -C dir args…` and returns its stdout; its exit code 1 is a success when
/// `one_is_ok` (as `git config --get` exits 1 for an unset key).
pub(crate) fn run(dir: &Path, args: &[&OsStr], one_is_ok: bool) -> Result<Vec<u8>> {
    let output = command(dir)
        .args(args)
        .output()
        .map_err(|e| spawn_error(dir, args, e))?;
    if output.status.success() || (one_is_ok && output.status.code() == Some(1)) {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or_else(|| output.status.to_string(), |l| l.trim().to_owned());
    Err(failed(dir, args, message))
}

/// Runs `git -C dir args…` with `input` on its standard input and returns its stdout.
pub(crate) fn run_with_input(dir: &Path, args: &[&OsStr], input: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(dir, args, e))?;
    let mut stdin = child.stdin.take().expect("stdin was piped");
    // Written from another thread: git may fill its output pipe before reading all input.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = stdin.write_all(input);
        });
        child.wait_with_output()
    })
    .map_err(|e| spawn_error(dir, args, e))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(failed(dir, args, message))
}

/// `git args` could not be started in `dir`.
fn spawn_error(dir: &Path, args: &[&OsStr], e: std::io::Error) -> Error {
    Error::GitProgram {
        command: describe(args),
        path: dir.to_path_buf(),
        message: "cannot run the git program".to_owned(),
        source: Some(e),
    }
}

/// `git args` failed in `dir`, saying `message`.
pub(crate) fn failed(dir: &Path, args: &[&OsStr], message: String) -> Error {
    Error::GitProgram {
        command: describe(args),
        path: dir.to_path_buf(),
        message,
        source: None,
    }
}

/// The arguments of a command, for messages.
pub(crate) fn describe(args: &[&OsStr]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where git finds the repository holding `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The top of the work tree.
    pub workdir: PathBuf,
    /// The git directory.
    pub git_dir: PathBuf,
    /// The common git directory.
    pub common_dir: PathBuf,
}

/// What git says about `path`.
#[derive(Debug)]
pub(crate) enum Discovered {
    /// A work tree.
    WorkTree(Found),
    /// A bare repository, at this git directory.
    Bare(PathBuf),
    /// Not a repository, one git refuses too, or no git program.
    Refused(Error),
}

/// Asks git which repository holds `path` (`git rev-parse`).
pub(crate) fn discover(path: &Path) -> Discovered {
    let args = [
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-dir",
        "--git-common-dir",
    ]
    .map(OsStr::new);
    match run(path, &args, false) {
        Ok(out) => {
            let mut lines = out
                .split(|&b| b == b'\n')
                .map(|l| PathBuf::from(OsStr::from_bytes(l)));
            match (lines.next(), lines.next(), lines.next()) {
                (Some(workdir), Some(git_dir), Some(common_dir)) => Discovered::WorkTree(Found {
                    workdir,
                    git_dir,
                    common_dir,
                }),
                _ => Discovered::Refused(failed(
                    path,
                    &args,
                    "it printed fewer than three paths".to_owned(),
                )),
            }
        }
        Err(e @ Error::GitProgram { source: None, .. }) => {
            let bare = ["rev-parse", "--is-bare-repository", "--absolute-git-dir"].map(OsStr::new);
            match run(path, &bare, false) {
                Ok(out) if out.starts_with(b"true\n") => {
                    let dir = out[5..].strip_suffix(b"\n").unwrap_or(&out[5..]);
                    Discovered::Bare(PathBuf::from(OsStr::from_bytes(dir)))
                }
                _ => Discovered::Refused(e),
            }
        }
        Err(e) => Discovered::Refused(e),
    }
}

/// git's answer to whether the ignore rules hide the untracked `path` (relative to the top of
/// `workdir`), judged by what `path` is without following a symbolic link (`git check-ignore`).
pub(crate) fn is_ignored(workdir: &Path, path: &[u8]) -> Result<bool> {
    let args = [
        OsStr::new("check-ignore"),
        OsStr::new("--quiet"),
        OsStr::new("--no-index"),
        OsStr::new("--"),
        OsStr::from_bytes(path),
    ];
    // Exit 0: ignored; 1: not ignored; anything else fails.
    let output = command(workdir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| spawn_error(workdir, &args, e))?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(failed(
            workdir,
            &args,
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )),
    }
}
