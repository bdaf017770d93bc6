//! `flowforge active [--json]`: the developers with an active session.

use clap::Args;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{open_index, problems_json, warn_problems},
};

#[derive(Debug, Args)]
pub struct ActiveArgs {
    /// Print JSON: {"active": [{"developer", "task", "branch", "since"}], "problems": [...]}.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: ActiveArgs, out: &mut Output) -> CliResult {
    let index = open_index(ctx, out)?;
    let active = index.active();
    let problems = index.problems();
    if args.json {
        let active: Vec<_> = (active.iter())
            .map(|a| {
                json!({"developer": a.developer, "task": a.task, "branch": a.branch, "since": a.since})
            })
            .collect();
        outln!(
            out,
            "{:#}",
            json!({"active": active, "problems": problems_json(&problems)})
        );
        return Ok(());
    }
    if active.is_empty() {
        outln!(out, "no active developers");
    }
    for a in &active {
        let task = a.task.as_ref().map_or("-", |t| t.as_str());
        let branch = a.branch.as_deref().unwrap_or("-");
        outln!(out, "{}\t{task}\t{branch}\tsince {}", a.developer, a.since);
    }
    warn_problems(&problems, out);
    Ok(())
}
