//! `flowforge tasks [PATTERN] [--json]`: tasks matching a pattern, their holders, and parallel
//! work (FlowForge's `detect_parallel_work`).

use clap::Args;
use flowforge_index::Pattern;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{open_index, problems_json, warn_problems},
};

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// A glob over task ids: `*` any run of characters, `?` one character.
    #[arg(default_value = "*")]
    pattern: String,
    /// Print JSON: {"pattern", "tasks": [{"task", "holder", "status", "claimed_at", "working"}],
    /// "developers", "parallel", "problems"}.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: TasksArgs, out: &mut Output) -> CliResult {
    let index = open_index(ctx, out)?;
    let matches = index.tasks(&Pattern::new(&args.pattern));
    let problems = index.problems();
    if args.json {
        let json = json!({
            "pattern": matches.pattern,
            "tasks": matches.tasks,
            "developers": matches.developers,
            "parallel": matches.parallel,
            "problems": problems_json(&problems),
        });
        outln!(out, "{json:#}");
        return Ok(());
    }
    if matches.tasks.is_empty() {
        outln!(out, "no task matches {}", args.pattern);
    }
    for t in &matches.tasks {
        let holder = t.holder.as_ref().map_or("-", |h| h.as_str());
        let working: Vec<&str> = t.working.iter().map(|d| d.as_str()).collect();
        let working = if working.is_empty() {
            "-".to_owned()
        } else {
            working.join(", ")
        };
        outln!(out, "{}\theld by {holder}\tworking: {working}", t.task);
    }
    if matches.parallel {
        let devs: Vec<&str> = matches.developers.iter().map(|d| d.as_str()).collect();
        outln!(
            out,
            "parallel work on {}: {}",
            args.pattern,
            devs.join(", ")
        );
    }
    warn_problems(&problems, out);
    Ok(())
}
