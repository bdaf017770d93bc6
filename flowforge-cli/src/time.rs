//! `flowforge time add|show`.

use clap::Subcommand;
use flowforge_core::{TaskId, model::TimeTracking};
use flowforge_session::{AddMinutes, Namespace, SessionOptions, fs::read_json};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{Output, outln},
};

#[derive(Debug, Subcommand)]
pub(crate) enum TimeCommand {
    /// Add minutes to the developer's time tracking (never lost under concurrent writers).
    Add {
        /// Whole minutes to add: at most 525600 (one year) per addition.
        #[arg(long)]
        minutes: u64,
        /// The task the time belongs to.
        #[arg(long)]
        task: Option<std::ffi::OsString>,
    },
    /// Show the time tracking.
    Show {
        /// Print time-tracking.json's content: {"total_minutes", "sessions": [...]}.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(ctx: &Context, command: TimeCommand, out: &mut Output) -> CliResult {
    let dev = ctx.developer()?;
    let task = match &command {
        TimeCommand::Add { task: Some(t), .. } => Some(TaskId::from_os_str(t)?),
        _ => None,
    };
    let ns = Namespace::open(&ctx.layout, &dev, SessionOptions::default())?;
    match command {
        TimeCommand::Add { minutes, .. } => {
            let what = AddMinutes {
                session_id: None,
                task_id: task,
                since: None,
            };
            let added = ns.record_minutes(minutes, &what)?;
            if let Some(warning) = &added.warning {
                crate::error::warn_committed(out, warning);
            }
            let time = added.time;
            outln!(
                out,
                "added {minutes} min for {dev}: total {} min (version {})",
                time.value.total_minutes,
                time.version
            );
        }
        TimeCommand::Show { json } => {
            // Before the first write through the store, the bash tools' file is the record.
            let time = match ns.time_tracking()? {
                Some(time) => time.value,
                None => {
                    read_json::<TimeTracking>(ctx.layout.root(), &ctx.layout.time_tracking(&dev))?
                        .unwrap_or_default()
                }
            };
            if json {
                let text = serde_json::to_string_pretty(&time).map_err(CliError::failure)?;
                outln!(out, "{text}");
            } else {
                outln!(
                    out,
                    "{dev}: {} min in {} entries",
                    time.total_minutes,
                    time.sessions.len()
                );
            }
        }
    }
    Ok(())
}
