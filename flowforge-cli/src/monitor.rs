//! `flowforge monitor [--once]`: the live performance monitor.
//!
//! Each second the monitor syncs every developer's view of git through flowforge-git (one
//! status and one ref snapshot, watched between frames), refreshes the namespace index and makes
//! a report, timing all three in this process's metrics registry, and shows them with the metric
//! snapshots other FlowForge processes persisted under `metrics/`. Outside a git repository the
//! git sync shows as n/a with the reason.

use std::{collections::BTreeMap, io::IsTerminal, time::Duration};

use clap::Args;
use flowforge_core::{DeveloperId, TaskId};
use flowforge_git::{DeveloperRequest, Freshness, GitView, ViewOptions, WatchMode};
use flowforge_index::{
    Index,
    monitor::{GitSync, Monitor, RenderOptions, render},
};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{self, Output, Written},
};

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    /// Print one frame and exit (for scripts).
    #[arg(long)]
    once: bool,
    /// Milliseconds between frames.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    interval_ms: u64,
    #[command(flatten)]
    remote: crate::team::RemoteArgs,
}

/// Every indexed developer with the tasks they hold, for the git sync.
fn requests(index: &Index) -> Vec<DeveloperRequest> {
    let mut tasks: BTreeMap<&DeveloperId, Vec<TaskId>> = BTreeMap::new();
    for claim in index.claims() {
        tasks
            .entry(&claim.holder)
            .or_default()
            .push(claim.task.clone());
    }
    (index.records())
        .map(|r| DeveloperRequest {
            tasks: tasks.remove(&r.developer).unwrap_or_default(),
            id: r.developer.clone(),
        })
        .collect()
}

fn git_sync(view: &Result<GitView, String>, index: &Index) -> GitSync {
    match view {
        Ok(view) => match view.sync(&requests(index), Freshness::Synced) {
            Ok(report) => GitSync::Measured(report.elapsed),
            Err(e) => GitSync::Unavailable(format!("git sync failed: {e}")),
        },
        Err(why) => GitSync::Unavailable(why.clone()),
    }
}

pub(crate) fn run(ctx: &Context, args: MonitorArgs, out: &mut Output) -> CliResult {
    let mut monitor = Monitor::new(&ctx.layout)?;
    // One frame: a watcher would see nothing before exit, so every answer is computed.
    let options = ViewOptions {
        watch: if args.once {
            WatchMode::Off
        } else {
            WatchMode::Watch
        },
        ..ViewOptions::default()
    };
    let view = GitView::open(&ctx.repo, &options).map_err(|e| format!("no git repository: {e}"));
    let terminal = std::io::stdout().is_terminal();
    let render_options = RenderOptions {
        colour: terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut remote_args = args.remote;
    loop {
        let git = git_sync(&view, monitor.index());
        let frame = monitor.tick(git)?;
        let mut text = render(&frame, &render_options);
        // Other machines, as the last pull saw them (with --fresh, pulled before the first frame).
        if let Some(view) =
            crate::team::open_remote_view(ctx, remote_args, crate::warm::Engine::InProcess, out)?
        {
            for a in view.index.active() {
                let task = a.task.as_ref().map_or("-", |t| t.as_str());
                let machine = view.machine_of(&a.developer).unwrap_or_default();
                let name = &view.name;
                text.push_str(&format!(
                    "remote {name}: {} on {task} (machine {machine})\n",
                    a.developer
                ));
            }
            text.push_str(&view.note());
            text.push('\n');
        }
        remote_args.fresh = false;
        if args.once {
            out.stdout.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        // Frames go out as they come; the last output (nothing, or an error) goes through
        // the caller's buffer.
        let frame = if terminal {
            // Clear the screen and go home, like `watch`.
            format!("\x1b[2J\x1b[H{text}")
        } else {
            format!("{text}\n")
        };
        match output::write_stdout(frame.as_bytes()) {
            Ok(Written::All) => {}
            Ok(Written::PipeClosed) => return Ok(()),
            Err(e) => {
                return Err(CliError::failure(anyhow::anyhow!(
                    "cannot write the output: {e}"
                )));
            }
        }
        std::thread::sleep(Duration::from_millis(args.interval_ms.max(100)));
    }
}
