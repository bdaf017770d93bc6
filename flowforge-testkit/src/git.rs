//! The one runner of the real `git` program.
//!
//! Every command gets the same environment: a fixed author and committer identity, no system
//! configuration, no terminal prompt, and none of the `GIT_DIR`-style variables a surrounding
//! git (a hook, `git rebase --exec`) may have set. The user's global configuration is read, as
//! libgit2 reads it, so the reference and the code under test see the same settings.

use std::{
    ffi::OsStr,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// The author and committer of every commit a test or fixture makes.
pub const IDENTITY: (&str, &str) = ("FlowForge Test", "test@flowforge.invalid");

/// A `git` command that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The `git` program could not be started, or its pipes failed.
    #[error("cannot run git {args} in {dir}")]
    Spawn {
        /// The arguments, separated by spaces.
        args: String,
        /// The working directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command exited unsuccessfully.
    #[error("git {args} failed in {dir} ({status}): {stderr}")]
    Failed {
        /// The arguments, separated by spaces.
        args: String,
        /// The working directory.
        dir: PathBuf,
        /// The exit status.
        status: String,
        /// What git printed on stderr, trimmed.
        stderr: String,
    },
}

/// A `git` command in `dir` with the runner's environment, for callers that need the process
/// itself (to time it, or to look at a failure).
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", IDENTITY.0)
        .env("GIT_AUTHOR_EMAIL", IDENTITY.1)
        .env("GIT_COMMITTER_NAME", IDENTITY.0)
        .env("GIT_COMMITTER_EMAIL", IDENTITY.1)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_COMMON_DIR");
    command
}

/// Runs `git args` in `dir` and returns its stdout.
///
/// # Errors
/// [`GitError::Spawn`] when git cannot be started, [`GitError::Failed`] when it exits non-zero.
pub fn run<I, S>(dir: &Path, args: I) -> Result<Vec<u8>, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_input(dir, args, None)
}

/// As [`run`], feeding `input` on stdin.
///
/// # Errors
/// As [`run`].
pub fn run_with_input<I, S>(dir: &Path, args: I, input: Option<&[u8]>) -> Result<Vec<u8>, GitError>
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
    let spawn_error = |source| GitError::Spawn {
        args: shown(),
        dir: dir.to_owned(),
        source,
    };
    let mut child = command(dir)
        .args(&args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).map_err(spawn_error)?;
    }
    let output = child.wait_with_output().map_err(spawn_error)?;
    if !output.status.success() {
        return Err(GitError::Failed {
            args: shown(),
            dir: dir.to_owned(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}

/// Runs `git args` in `dir` and returns the whole output, successful or not: for tests that
/// compare git's failures with their own.
///
/// # Panics
/// When git cannot be started (a test cannot go on without its reference).
pub fn output(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git {args:?} in {}: {e}", dir.display()))
}

/// Runs `git args` in `dir`, which must succeed, and returns its stdout.
///
/// # Panics
/// When git cannot be started or fails, with its stderr in the message.
pub fn ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    run(dir, args).unwrap_or_else(|e| panic!("{e}"))
}

/// As [`ok`], as text.
///
/// # Panics
/// As [`ok`], and when the output is not UTF-8.
pub fn ok_text(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(ok(dir, args)).expect("git printed UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_the_arguments_and_git_s_message() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = run(dir.path(), ["rev-parse", "HEAD"]).unwrap_err();
        let GitError::Failed { args, stderr, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(args, "rev-parse HEAD");
        assert!(stderr.contains("not a git repository"), "{stderr}");
    }

    #[test]
    fn commits_carry_the_fixed_identity_and_input_reaches_stdin() {
        let dir = tempfile::tempdir().expect("temp dir");
        ok(dir.path(), &["init", "-q"]);
        let blob = run_with_input(dir.path(), ["hash-object", "--stdin"], Some(b"x\n")).unwrap();
        assert_eq!(blob, b"587be6b4c3f93f93c489c0111bba5596147a26cb\n");
        ok(dir.path(), &["commit", "-q", "--allow-empty", "-m", "one"]);
        assert_eq!(
            ok_text(dir.path(), &["log", "-1", "--format=%an <%ae> %cn <%ce>"]),
            "FlowForge Test <test@flowforge.invalid> FlowForge Test <test@flowforge.invalid>\n"
        );
    }
}
