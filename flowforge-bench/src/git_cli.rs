//! Running the real `git` program: the fixture's builder and the naive variants' engine.

use std::{
    ffi::OsStr,
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use crate::error::{Error, Result};

/// Runs `git` with `args` in `dir` and returns its stdout.
///
/// The environment is made independent of the user's configuration: no global or system
/// config file is read, and no terminal prompt is shown.
///
/// # Errors
/// [`Error::GitSpawn`] when git cannot be started, [`Error::Git`] when it exits non-zero.
pub fn git<I, S>(dir: &Path, args: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_with_input(dir, args, None)
}

/// As [`git`], feeding `input` on stdin.
///
/// # Errors
/// As [`git`].
pub fn git_with_input<I, S>(dir: &Path, args: I, input: Option<&[u8]>) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = || {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut command = command(dir);
    command
        .args(&args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_error = |source| Error::GitSpawn {
        args: shown(),
        dir: dir.to_owned(),
        source,
    };
    let mut child = command.spawn().map_err(spawn_error)?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).map_err(spawn_error)?;
    }
    let output = child.wait_with_output().map_err(spawn_error)?;
    if !output.status.success() {
        return Err(Error::Git {
            args: shown(),
            dir: dir.to_owned(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}

/// A `git` command in `dir` with a configuration-independent environment.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    command
}
