//! `flowforge monitor [--once]`: the live performance monitor.
//!
//! The monitor refreshes the namespace index and makes a report each second, timing both, and
//! shows the metric snapshots other FlowForge processes persisted under `metrics/`. Git sync is
//! shown as n/a: flowforge-git's sync API has not landed on main yet, and the monitor does not
//! guess a figure.

use std::{
    io::{IsTerminal, Write},
    time::Duration,
};

use clap::Args;
use flowforge_index::monitor::{GitSync, Monitor, RenderOptions, render};

use crate::{context::Context, error::CliResult};

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Print one frame and exit (for scripts).
    #[arg(long)]
    once: bool,
    /// Milliseconds between frames.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    interval_ms: u64,
}

fn git_sync(_ctx: &Context) -> GitSync {
    GitSync::Unavailable("flowforge-git sync is not available in this build".to_owned())
}

pub fn run(ctx: &Context, args: MonitorArgs) -> CliResult {
    let mut monitor = Monitor::new(&ctx.layout)?;
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let options = RenderOptions {
        colour: terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    loop {
        let frame = monitor.tick(git_sync(ctx))?;
        let text = render(&frame, &options);
        let mut out = stdout.lock();
        if args.once {
            write!(out, "{text}")?;
            return Ok(());
        }
        if terminal {
            // Clear the screen and go home, like `watch`.
            write!(out, "\x1b[2J\x1b[H{text}")?;
        } else {
            writeln!(out, "{text}")?;
        }
        out.flush()?;
        drop(out);
        std::thread::sleep(Duration::from_millis(args.interval_ms.max(100)));
    }
}
