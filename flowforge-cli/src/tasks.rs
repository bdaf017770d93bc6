//! `flowforge tasks [PATTERN] [--json]`: tasks matching a pattern, their holders, and parallel
//! work (FlowForge's `detect_parallel_work`).

use clap::Args;
use flowforge_index::Pattern;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
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

pub fn run(ctx: &Context, args: TasksArgs) -> CliResult {
    let index = open_index(ctx)?;
    let matches = index.tasks(&Pattern::new(&args.pattern));
    let problems = index.problems();
    if args.json {
        let out = json!({
            "pattern": matches.pattern,
            "tasks": matches.tasks,
            "developers": matches.developers,
            "parallel": matches.parallel,
            "problems": problems_json(&problems),
        });
        println!("{out:#}");
        return Ok(());
    }
    if matches.tasks.is_empty() {
        println!("no task matches {}", args.pattern);
    }
    for t in &matches.tasks {
        let holder = t.holder.as_ref().map_or("-", |h| h.as_str());
        let working: Vec<&str> = t.working.iter().map(|d| d.as_str()).collect();
        let working = if working.is_empty() {
            "-".to_owned()
        } else {
            working.join(", ")
        };
        println!("{}\theld by {holder}\tworking: {working}", t.task);
    }
    if matches.parallel {
        let devs: Vec<&str> = matches.developers.iter().map(|d| d.as_str()).collect();
        println!("parallel work on {}: {}", args.pattern, devs.join(", "));
    }
    warn_problems(&problems);
    Ok(())
}
