//! `flowforge remote use|status|pull|push`, and the remote side of session start/end/restore
//! and claim release: with a remote in use, a task is claimed on the remote first.

use std::{process::Command, sync::Arc};

use anyhow::anyhow;
use clap::Subcommand;
use flowforge_core::{DeveloperId, TaskId};
use flowforge_remote::{Claimed, Options, Remote, RemoteRelease, Stage, use_remote};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{Output, errln, outln},
};

/// A command run (`sh -c`) at every push stage with the stage and the ref as `$1` and `$2`:
/// tests use it to interleave other writers deterministically or to kill the process.
pub(crate) const TEST_HOOK_ENV: &str = "FLOWFORGE_REMOTE_TEST_HOOK";

#[derive(Debug, Subcommand)]
pub(crate) enum RemoteCommand {
    /// Share this clone's FlowForge state through a git remote (stored in .git/config).
    Use {
        /// The git remote's name, e.g. origin.
        name: String,
        /// This clone's machine name (default: the host name and a random suffix).
        #[arg(long)]
        machine: Option<String>,
    },
    /// What is published, what is pending, and how old the view of other machines is.
    Status {
        /// Print JSON: {"remote", "machine", "claims", "published", "pending_releases",
        /// "unpublished", "local_only", "last_pull", "lag_seconds"}.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the team's state from the remote; team queries then include other machines.
    Pull,
    /// Publish every local developer's sessions and time, and release ended sessions' claims.
    Push,
}

pub(crate) fn run(ctx: &Context, command: RemoteCommand, out: &mut Output) -> CliResult {
    if let RemoteCommand::Use { name, machine } = &command {
        let config = use_remote(&ctx.repo, name, machine.as_deref())?;
        outln!(
            out,
            "sharing FlowForge state through {} as machine {}",
            config.remote,
            config.machine
        );
        return Ok(());
    }
    let remote = ctx.remote()?.ok_or_else(|| {
        CliError::usage(anyhow!(
            "no remote in use: run `flowforge remote use <git-remote>` first"
        ))
    })?;
    match command {
        RemoteCommand::Use { .. } => unreachable!("handled above"),
        RemoteCommand::Status { json } => {
            let status = remote.status(&ctx.layout)?;
            if json {
                let text = serde_json::to_string_pretty(&status).map_err(CliError::failure)?;
                outln!(out, "{text}");
                return Ok(());
            }
            outln!(
                out,
                "remote {} as machine {}",
                status.remote,
                status.machine
            );
            match (&status.last_pull, status.lag_seconds) {
                (Some(p), Some(lag)) => outln!(
                    out,
                    "last pull {} ({lag} s ago): {} claims, {} developers",
                    p.pulled_at,
                    p.claims,
                    p.developers
                ),
                _ => outln!(out, "never pulled"),
            }
            for c in &status.claims {
                outln!(
                    out,
                    "published claim {}\t{}\tsince {}",
                    c.task,
                    c.developer,
                    c.claimed_at
                );
            }
            for d in &status.published {
                outln!(out, "published developer {d}");
            }
            for t in &status.pending_releases {
                outln!(out, "pending release of claim {t} (its session ended)");
            }
            for t in &status.local_only {
                outln!(
                    out,
                    "claim {t} is local to this machine (not on {})",
                    status.remote
                );
            }
            for d in &status.unpublished {
                outln!(out, "pending publication of {d}");
            }
            if let Some(p) = &status.last_pull {
                warn_pull(p, out);
            }
        }
        RemoteCommand::Pull => {
            let pulled = remote.pull(&ctx.layout)?;
            outln!(
                out,
                "pulled from {}: {} claims, {} developers",
                pulled.remote,
                pulled.claims,
                pulled.developers
            );
            warn_pull(&pulled, out);
        }
        RemoteCommand::Push => {
            let pushed = remote.push(&ctx.layout)?;
            for (task, released) in &pushed.released {
                match released {
                    RemoteRelease::Released(_) => outln!(out, "released claim {task}"),
                    RemoteRelease::NotHeld => outln!(out, "claim {task} was already released"),
                    RemoteRelease::TakenOver(c) => outln!(
                        out,
                        "claim {task} had been taken over by {} on {}",
                        c.developer,
                        c.machine
                    ),
                    _ => {}
                }
            }
            for (dev, p) in &pushed.published {
                let what = if p.pushed { "published" } else { "up to date" };
                outln!(out, "{dev}: {what} ({} attempts)", p.attempts);
            }
        }
    }
    Ok(())
}

fn warn_pull(p: &flowforge_remote::Pulled, out: &mut Output) {
    if !p.other_formats.is_empty() {
        errln!(
            out,
            "flowforge: warning: the remote also holds FlowForge refs of format {}: \
             this version reads and writes v1 only and refuses to write until upgraded",
            p.other_formats.join(", ")
        );
    }
    for problem in &p.problems {
        errln!(out, "flowforge: warning: left out {problem}");
    }
}

/// The remote options of the CLI: the test hook from the environment.
pub(crate) fn options() -> Options {
    let mut options = Options::default();
    if let Some(hook) = std::env::var_os(TEST_HOOK_ENV).filter(|v| !v.is_empty()) {
        options.interleave = Some(Arc::new(move |stage: Stage, reference: &str| {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(&hook)
                .arg("flowforge-hook")
                .arg(stage.as_str())
                .arg(reference)
                .status();
        }));
    }
    options
}

/// A claim made on the remote before a local session start.
pub(crate) struct ClaimMade {
    remote: Remote,
    /// Created by this command (undone if the local start fails), not adopted.
    new: bool,
}

/// Claims `task` on the remote before a session starts. `None` without a remote or with
/// `--local`.
pub(crate) fn claim_first(
    ctx: &Context,
    dev: &DeveloperId,
    task: &TaskId,
    local: bool,
    out: &mut Output,
) -> CliResult<Option<ClaimMade>> {
    let Some(remote) = ctx.remote()? else {
        return Ok(None);
    };
    if local {
        outln!(
            out,
            "claiming {task} on this machine only (--local): not published to {}",
            remote.name()
        );
        return Ok(None);
    }
    let new = match remote.claim(task, dev, None) {
        Ok(Claimed::Adopted) => {
            outln!(
                out,
                "claim on {task} already published by this machine: kept"
            );
            false
        }
        Ok(_) => true,
        Err(e) if e.is_conflict() => return Err(CliError::conflict(e)),
        Err(e) => {
            return Err(CliError::failure(anyhow!(e).context(format!(
                "cannot claim {task} on {}: retry, or start with --local for a claim on this machine only",
                remote.name()
            ))));
        }
    };
    Ok(Some(ClaimMade { remote, new }))
}

/// Runs the local start; when it fails, a claim this command created on the remote is
/// released again.
pub(crate) fn undo_on_error<T>(
    claimed: Option<&ClaimMade>,
    dev: &DeveloperId,
    task: &TaskId,
    out: &mut Output,
    start: impl FnOnce() -> flowforge_session::Result<T>,
) -> CliResult<T> {
    let result = start();
    if let (Err(_), Some(made)) = (&result, claimed) {
        if made.new {
            release_quietly(&made.remote, dev, task, out);
        }
    }
    Ok(result?)
}

/// After a session started with a remote claim: releases the replaced session's claim and
/// publishes the developer's state (failures are warnings).
pub(crate) fn after_start(
    ctx: &Context,
    dev: &DeveloperId,
    task: &TaskId,
    claimed: Option<&ClaimMade>,
    replaced: Option<&flowforge_session::Ended>,
    out: &mut Output,
) {
    let Some(made) = claimed else { return };
    if let Some(old) = replaced.and_then(|e| e.session.value.task_id.as_ref()) {
        if old != task {
            release_quietly(&made.remote, dev, old, out);
        }
    }
    publish(&made.remote, ctx, dev, out);
}

fn release_quietly(remote: &Remote, dev: &DeveloperId, task: &TaskId, out: &mut Output) {
    if let Err(e) = remote.release(task, dev, false) {
        errln!(
            out,
            "flowforge: warning: the claim on {task} stays on {}: {:#} (`flowforge remote push` releases it)",
            remote.name(),
            anyhow!(e)
        );
    }
}

/// After a session ended: releases its remote claim and publishes; failures are warnings
/// (the session has ended locally; `flowforge remote push` finishes the job).
pub(crate) fn after_end(
    ctx: &Context,
    dev: &DeveloperId,
    task: Option<&TaskId>,
    out: &mut Output,
) -> CliResult {
    let Some(remote) = ctx.remote()? else {
        return Ok(());
    };
    if let Some(task) = task {
        match remote.release(task, dev, false) {
            Ok(RemoteRelease::TakenOver(c)) => errln!(
                out,
                "flowforge: warning: {task} had been taken over by {} on {}",
                c.developer,
                c.machine
            ),
            Ok(_) => {}
            Err(e) if e.is_conflict() => {} // held by someone else: not ours to release
            Err(e) => errln!(
                out,
                "flowforge: warning: the claim on {task} stays on {}: {:#} (`flowforge remote push` releases it)",
                remote.name(),
                anyhow!(e)
            ),
        }
    }
    publish(&remote, ctx, dev, out);
    Ok(())
}

/// Publishes `dev`'s state; a failure is a warning (`remote status` shows it pending).
pub(crate) fn publish(remote: &Remote, ctx: &Context, dev: &DeveloperId, out: &mut Output) {
    if let Err(e) = remote.publish(&ctx.layout, dev) {
        errln!(
            out,
            "flowforge: warning: not published to {}: {:#} (`flowforge remote push` retries)",
            remote.name(),
            anyhow!(e)
        );
    }
}

/// `claim release [--force]` on the remote. Returns whether a remote claim was released.
pub(crate) fn release(
    ctx: &Context,
    dev: &DeveloperId,
    task: &TaskId,
    force: bool,
    out: &mut Output,
) -> CliResult<bool> {
    let Some(remote) = ctx.remote()? else {
        return Ok(false);
    };
    Ok(match remote.release(task, dev, force)? {
        RemoteRelease::Released(c) => {
            outln!(
                out,
                "released {task} on {} (held by {} on {})",
                remote.name(),
                c.developer,
                c.machine
            );
            true
        }
        _ => false,
    })
}
