//! `flowforge session start|end|pause|resume|show|history|restore`.

use std::ffi::OsString;

use clap::Subcommand;
use flowforge_core::{TaskId, model::Session};
use flowforge_session::{Ended, Namespace, SessionOptions, StartOptions};

use crate::{
    context::Context,
    error::{CliResult, warn_committed},
    output::{Output, outln},
    remote,
};

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Start a session on a task, claiming it (exit 3 when another developer holds it).
    Start {
        /// The task id: 1-100 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-'.
        task: OsString,
        /// End the active session first instead of refusing.
        #[arg(long)]
        replace: bool,
        /// The git branch worked on.
        #[arg(long)]
        branch: Option<String>,
        /// The task provider (github, notion, …).
        #[arg(long)]
        provider: Option<String>,
        /// With a remote in use: claim on this machine only, not on the remote.
        #[arg(long)]
        local: bool,
    },
    /// End the active session: archive it, release its claim, add its minutes (paused time
    /// left out).
    End,
    /// Pause the active session: time until `session resume` is not counted.
    Pause {
        /// Why (kept as the pause's description).
        reason: Option<String>,
    },
    /// Resume the paused session.
    Resume,
    /// Show the current session.
    Show {
        /// Print the session as JSON with FlowForge's field names (`null` when none).
        #[arg(long)]
        json: bool,
    },
    /// List the ended sessions, oldest first.
    History {
        /// Print a JSON array of sessions.
        #[arg(long)]
        json: bool,
    },
    /// Resume an ended session from the history as a new active session on its task.
    Restore {
        /// The id of the ended session.
        session_id: String,
        /// End the active session first instead of refusing.
        #[arg(long)]
        replace: bool,
        /// With a remote in use: claim on this machine only, not on the remote.
        #[arg(long)]
        local: bool,
    },
}

/// The lines for an ended session: the warnings of follow-up steps that failed, then the summary.
fn print_ended(out: &mut Output, ended: &Ended) {
    for w in &ended.warnings {
        warn_committed(out, w);
    }
    outln!(
        out,
        "ended session {} ({} min)",
        ended.session.value.session_id,
        ended.minutes
    );
}

pub(crate) fn run(ctx: &Context, command: SessionCommand, out: &mut Output) -> CliResult {
    let dev = ctx.developer()?;
    // Validate every input before touching the disk.
    let task = match &command {
        SessionCommand::Start { task, .. } => Some(TaskId::from_os_str(task)?),
        _ => None,
    };
    let ns = Namespace::open(&ctx.layout, &dev, SessionOptions::default())?;
    match command {
        SessionCommand::Start {
            replace,
            branch,
            provider,
            local,
            ..
        } => {
            let task = task.expect("parsed above for start");
            let claimed = remote::claim_first(ctx, &dev, &task, local, out)?;
            let options = StartOptions {
                replace,
                branch,
                provider,
            };
            let started = remote::undo_on_error(claimed.as_ref(), &dev, &task, out, || {
                ns.start_session(&task, &options)
            })?;
            for w in &started.warnings {
                warn_committed(out, w);
            }
            if let Some(ended) = &started.replaced {
                print_ended(out, ended);
            }
            outln!(
                out,
                "started session {} on task {task} for {dev}",
                started.session.value.session_id
            );
            let replaced = started.replaced.as_ref();
            remote::after_start(ctx, &dev, &task, claimed.as_ref(), replaced, out);
        }
        SessionCommand::End => {
            let ended = ns.end_session()?;
            print_ended(out, &ended);
            remote::after_end(ctx, &dev, ended.session.value.task_id.as_ref(), out)?;
        }
        SessionCommand::Pause { reason } => {
            let paused = ns.pause_session(reason.as_deref())?;
            outln!(out, "paused session {}", paused.value.session_id);
        }
        SessionCommand::Resume => {
            let resumed = ns.resume_session()?;
            outln!(out, "resumed session {}", resumed.value.session_id);
        }
        SessionCommand::Show { json } => {
            let current = ns.session()?;
            if json {
                outln!(out, "{}", to_json(&current)?);
            } else {
                match current {
                    Some(s) => outln!(out, "{}", describe(&s)),
                    None => outln!(out, "no session for {dev}"),
                }
            }
        }
        SessionCommand::History { json } => {
            let history = ns.history()?;
            if json {
                outln!(out, "{}", to_json(&history)?);
            } else if history.is_empty() {
                outln!(out, "no ended sessions for {dev}");
            } else {
                for s in &history {
                    outln!(out, "{}", describe(s));
                }
            }
        }
        SessionCommand::Restore {
            session_id,
            replace,
            local,
        } => {
            let options = StartOptions {
                replace,
                ..StartOptions::default()
            };
            // With a remote in use, the restored session's task is claimed there first.
            let task = (ns.history()?.into_iter())
                .find(|s| s.session_id == session_id)
                .and_then(|s| s.task_id);
            let claimed = match &task {
                Some(task) => remote::claim_first(ctx, &dev, task, local, out)?,
                None => None,
            };
            let started = match &task {
                Some(task) => remote::undo_on_error(claimed.as_ref(), &dev, task, out, || {
                    ns.restore_session(&session_id, &options)
                })?,
                None => ns.restore_session(&session_id, &options)?,
            };
            for w in &started.warnings {
                warn_committed(out, w);
            }
            outln!(
                out,
                "restored {session_id} as session {}",
                started.session.value.session_id
            );
            if let Some(task) = &task {
                let replaced = started.replaced.as_ref();
                remote::after_start(ctx, &dev, task, claimed.as_ref(), replaced, out);
            }
        }
    }
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> CliResult<String> {
    serde_json::to_string_pretty(value).map_err(crate::error::CliError::failure)
}

fn describe(s: &Session) -> String {
    let task = s.task_id.as_ref().map_or("-".to_owned(), |t| t.to_string());
    let state = match (s.active, s.end_time) {
        (true, _) if flowforge_session::pause::is_paused(s) => "paused".to_owned(),
        (true, _) => "active".to_owned(),
        (false, Some(end)) => format!("ended {end}"),
        (false, None) => "ended".to_owned(),
    };
    format!(
        "{}\ttask {task}\tstarted {}\t{state}",
        s.session_id, s.start_time
    )
}
