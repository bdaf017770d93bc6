//! `flowforge who <task> [--json]`: who holds a task.

use std::ffi::OsString;

use clap::Args;
use flowforge_core::TaskId;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    team::{open_index, problems_json, warn_problems},
};

#[derive(Debug, Args)]
pub struct WhoArgs {
    /// The task id.
    task: OsString,
    /// Print JSON: {"task", "holder" (id or null), "status", "claimed_at", "working", "problems"}.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: WhoArgs) -> CliResult {
    let task = TaskId::from_os_str(&args.task)?;
    let index = open_index(ctx)?;
    let who = index.who(&task);
    let problems = index.problems();
    if args.json {
        let out = json!({
            "task": who.task,
            "holder": who.holder,
            "status": who.status,
            "claimed_at": who.claimed_at,
            "working": who.working,
            "problems": problems_json(&problems),
        });
        println!("{out:#}");
        return Ok(());
    }
    match (&who.holder, &who.claimed_at) {
        (Some(holder), Some(at)) => println!(
            "{task}: held by {holder} ({}, since {at})",
            who.status.as_deref().unwrap_or("claimed")
        ),
        _ => println!("{task}: nobody holds it"),
    }
    if !who.working.is_empty() {
        let names: Vec<&str> = who.working.iter().map(|d| d.as_str()).collect();
        println!("  working on it in an active session: {}", names.join(", "));
    }
    warn_problems(&problems);
    Ok(())
}
