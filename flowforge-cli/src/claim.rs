//! `flowforge claim list|release`.

use std::ffi::OsString;

use clap::Subcommand;
use flowforge_core::TaskId;
use flowforge_session::{ReleaseOptions, claim, list_claims, store::StoreOptions};
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
};

#[derive(Debug, Subcommand)]
pub(crate) enum ClaimCommand {
    /// List the held task claims.
    List {
        /// Print JSON: {"claims": [{"task", "assignee", "status", "claimed_at", "version"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Release a task claim: your own, or with --force another developer's whose process is
    /// gone. Claims never expire by themselves.
    Release {
        /// The task id.
        task: OsString,
        /// Release another developer's claim.
        #[arg(long)]
        force: bool,
    },
}

pub(crate) fn run(ctx: &Context, command: ClaimCommand, out: &mut Output) -> CliResult {
    match command {
        ClaimCommand::List { json } => {
            let claims = list_claims(&ctx.layout)?;
            if json {
                let json = ClaimsJson {
                    claims: claims
                        .iter()
                        .map(|c| ClaimJson {
                            task: &c.task,
                            version: c.version.get(),
                            assignment: &c.assignment,
                        })
                        .collect(),
                };
                outln!(out, "{}", crate::json::to_string(&json)?);
            } else if claims.is_empty() {
                outln!(out, "no claimed tasks");
            } else {
                for c in &claims {
                    outln!(
                        out,
                        "{}\t{}\tsince {}",
                        c.task,
                        c.holder(),
                        c.assignment.claimed_at
                    );
                }
            }
        }
        ClaimCommand::Release { task, force } => {
            let task = TaskId::from_os_str(&task)?;
            let dev = ctx.developer()?;
            flowforge_session::Namespace::open(
                &ctx.layout,
                &dev,
                flowforge_session::SessionOptions::default(),
            )?;
            // With a remote in use the remote claim goes first; a task held only on another
            // machine has no local claim to release.
            let remote_released = crate::remote::release(ctx, &dev, &task, force, out)?;
            match claim::release(
                &ctx.layout,
                &dev,
                &task,
                ReleaseOptions { force },
                StoreOptions::default(),
            ) {
                Ok(released) => {
                    if let Some(warning) = &released.warning {
                        crate::error::warn_committed(out, warning);
                    }
                    outln!(out, "released {task} (held by {})", released.claim.holder());
                }
                Err(flowforge_session::Error::NotClaimed { .. }) if remote_released => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// `claim list --json`.
#[derive(Debug, Serialize)]
pub(crate) struct ClaimsJson<'a> {
    /// Every held claim, sorted by task.
    claims: Vec<ClaimJson<'a>>,
}

/// One claim of [`ClaimsJson::claims`]: the task, its version and the assignment's fields
/// (`assignee`, `status`, `claimed_at`, `session_id`, …).
#[derive(Debug, Serialize)]
pub(crate) struct ClaimJson<'a> {
    /// The task.
    task: &'a flowforge_core::TaskId,
    /// The claim's version.
    version: u64,
    /// Who holds it, since when, and the other fields of the assignment.
    #[serde(flatten)]
    assignment: &'a flowforge_core::model::TaskAssignment,
}
