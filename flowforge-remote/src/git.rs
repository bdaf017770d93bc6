//! The one place FlowForge spawns `git`: fetch and push, with leases, parsed per ref.
//!
//! libgit2 is not used for the network: its `file://` push overwrites a ref that moved after
//! negotiation and `Remote::push` reports success for rejected refs. The `git` binary checks
//! every `--force-with-lease=<ref>:<expected>` under the remote's ref lock, `--atomic` moves
//! several refs together or none, and `--porcelain` reports each ref on its own line.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use git2::Oid;

use crate::error::{Error, Result};

/// A runner of `git` in one repository, against one remote.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    dir: PathBuf,
    remote: String,
    /// Run ssh in batch mode (no passphrase or host-key prompt): unless the user chose an ssh
    /// command (`GIT_SSH_COMMAND`, `GIT_SSH`, `core.sshCommand`), which is then left alone.
    batch_ssh: bool,
}

/// One ref to move on the remote: from `expected` (`None`: must not exist) to `new` (`None`:
/// delete).
#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub reference: String,
    pub expected: Option<Oid>,
    pub new: Option<Oid>,
}

/// What the remote did with one ref of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Moved (created, updated, deleted) or already so.
    Done,
    /// The lease did not hold: someone moved the ref first. Fetch and decide again.
    Lost(String),
    /// Refused for another reason (a hook, a policy): retrying will not help.
    Refused(String),
}

impl Git {
    pub(crate) fn new(dir: &Path, remote: &str) -> Self {
        let configured = git2::Repository::open(dir)
            .and_then(|r| r.config())
            .and_then(|c| c.get_string("core.sshCommand"))
            .is_ok();
        let chosen = ["GIT_SSH_COMMAND", "GIT_SSH"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        Self {
            dir: dir.to_owned(),
            remote: remote.to_owned(),
            batch_ssh: !configured && !chosen,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(["-c", "gc.auto=0", "-c", "maintenance.auto=false"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C");
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
        ] {
            cmd.env_remove(var);
        }
        if self.batch_ssh {
            // Never wait for a passphrase or a host-key question: fail instead.
            cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn output(&self, args: &[String]) -> Result<Output> {
        self.command()
            .args(args)
            .output()
            .map_err(|source| Error::Spawn { source })
    }

    /// The error for a git command that failed without a per-ref answer.
    fn failure(&self, args: &[String], out: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = last_lines(&stderr);
        let lower = stderr.to_ascii_lowercase();
        let auth = [
            "authentication failed",
            "permission denied",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "the requested url returned error: 401",
            "the requested url returned error: 403",
        ];
        let unreachable = [
            "does not appear to be a git repository",
            "could not resolve host",
            "connection refused",
            "connection timed out",
            "unable to access",
            "could not read from remote repository",
            "no such file or directory",
            "not a git repository",
            "network is unreachable",
        ];
        if auth.iter().any(|p| lower.contains(p)) {
            Error::Auth {
                remote: self.remote.clone(),
                message,
            }
        } else if unreachable.iter().any(|p| lower.contains(p)) {
            Error::Unreachable {
                remote: self.remote.clone(),
                message,
            }
        } else {
            Error::Git {
                command: args.join(" "),
                status: out.status.to_string(),
                stderr: message,
            }
        }
    }

    /// Pushes `updates`, each with its lease; `atomic` moves all or none. Returns one outcome
    /// per update, in order.
    ///
    /// # Errors
    /// The remote could not be reached, refused our credentials, or git failed without
    /// answering for our refs.
    pub(crate) fn push(&self, updates: &[Update], atomic: bool) -> Result<Vec<Outcome>> {
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--no-verify".into()];
        if atomic {
            args.push("--atomic".into());
        }
        for u in updates {
            let expected = u.expected.map(|o| o.to_string()).unwrap_or_default();
            args.push(format!("--force-with-lease={}:{expected}", u.reference));
        }
        args.push(self.remote.clone());
        for u in updates {
            let new = u.new.map(|o| o.to_string()).unwrap_or_default();
            args.push(format!("{new}:{}", u.reference));
        }
        let out = self.output(&args)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut outcomes = Vec::with_capacity(updates.len());
        for u in updates {
            match porcelain_line(&stdout, &u.reference) {
                Some(outcome) => outcomes.push(outcome),
                None => return Err(self.failure(&args, &out)),
            }
        }
        Ok(outcomes)
    }

    /// Fetches `refspecs` from the remote (`--prune` deletes local refs whose source is gone).
    ///
    /// # Errors
    /// As [`Git::push`]; a refspec naming a missing ref is an error here.
    pub(crate) fn fetch(&self, refspecs: &[String], prune: bool) -> Result<()> {
        let mut args: Vec<String> = vec![
            "fetch".into(),
            "--quiet".into(),
            "--no-tags".into(),
            "--no-write-fetch-head".into(),
            "--no-recurse-submodules".into(),
        ];
        if prune {
            args.push("--prune".into());
        }
        args.push(self.remote.clone());
        args.extend(refspecs.iter().cloned());
        let out = self.output(&args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.failure(&args, &out))
        }
    }

    /// Fetches one remote ref into `local` (forced). Returns `false`, and deletes `local`,
    /// when the remote has no such ref.
    ///
    /// # Errors
    /// As [`Git::fetch`].
    pub(crate) fn fetch_one(
        &self,
        repo: &git2::Repository,
        remote_ref: &str,
        local: &str,
    ) -> Result<bool> {
        let args: Vec<String> = vec![
            "fetch".into(),
            "--quiet".into(),
            "--no-tags".into(),
            "--no-write-fetch-head".into(),
            "--no-recurse-submodules".into(),
            self.remote.clone(),
            format!("+{remote_ref}:{local}"),
        ];
        let out = self.output(&args)?;
        if out.status.success() {
            return Ok(true);
        }
        if String::from_utf8_lossy(&out.stderr).contains("couldn't find remote ref") {
            if let Ok(mut r) = repo.find_reference(local) {
                r.delete().map_err(Error::repo(&self.dir))?;
            }
            return Ok(false);
        }
        Err(self.failure(&args, &out))
    }
}

/// The outcome of `reference` in `git push --porcelain` output: lines
/// `<flag>\t<from>:<to>\t<summary>`, flag `!` for a rejected ref.
fn porcelain_line(stdout: &str, reference: &str) -> Option<Outcome> {
    stdout.lines().find_map(|line| {
        let mut fields = line.splitn(3, '\t');
        let flag = fields.next()?;
        let spec = fields.next()?;
        let summary = fields.next().unwrap_or("");
        let (_, to) = spec.rsplit_once(':')?;
        if to != reference {
            return None;
        }
        Some(if flag == "!" {
            classify_rejection(summary)
        } else {
            Outcome::Done
        })
    })
}

/// A rejection caused by someone moving the ref first is a lost race; anything else is a
/// refusal.
fn classify_rejection(summary: &str) -> Outcome {
    let races = [
        "stale info",
        "fetch first",
        "non-fast-forward",
        "already exists",
        "failed to update ref",
        "cannot lock ref",
        "incorrect old value",
        "atomic push failed",
        "failed to lock",
    ];
    let reason = summary
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map_or(summary, |(r, _)| r)
        .to_owned();
    if races.iter().any(|r| summary.contains(r)) {
        Outcome::Lost(reason)
    } else {
        Outcome::Refused(reason)
    }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_are_read_per_ref() {
        let out = "To /tmp/r.git\n\
                   *\tabc:refs/flowforge/v1/claims/a\t[new reference]\n\
                   !\tdef:refs/flowforge/v1/claims/b\t[rejected] (stale info)\n\
                   !\tdef:refs/flowforge/v1/claims/c\t[remote rejected] (pre-receive hook declined)\n\
                   -\t:refs/flowforge/v1/claims/d\t[deleted]\nDone\n";
        assert_eq!(
            porcelain_line(out, "refs/flowforge/v1/claims/a"),
            Some(Outcome::Done)
        );
        assert_eq!(
            porcelain_line(out, "refs/flowforge/v1/claims/b"),
            Some(Outcome::Lost("stale info".into()))
        );
        assert_eq!(
            porcelain_line(out, "refs/flowforge/v1/claims/c"),
            Some(Outcome::Refused("pre-receive hook declined".into()))
        );
        assert_eq!(
            porcelain_line(out, "refs/flowforge/v1/claims/d"),
            Some(Outcome::Done)
        );
        assert_eq!(porcelain_line(out, "refs/flowforge/v1/claims/e"), None);
    }
}
