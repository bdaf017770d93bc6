//! `flowforge who <task> [--json]`: who holds a task.

use std::ffi::OsString;

use clap::Args;
use flowforge_core::TaskId;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
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

pub fn run(ctx: &Context, args: WhoArgs, out: &mut Output) -> CliResult {
    let task = TaskId::from_os_str(&args.task)?;
    let index = open_index(ctx, out)?;
    let who = index.who(&task);
    let problems = index.problems();
    if args.json {
        let json = json!({
            "task": who.task,
            "holder": who.holder,
            "status": who.status,
            "claimed_at": who.claimed_at,
            "working": who.working,
            "problems": problems_json(&problems),
        });
        outln!(out, "{json:#}");
        return Ok(());
    }
    match (&who.holder, &who.claimed_at) {
        (Some(holder), Some(at)) => outln!(
            out,
            "{task}: held by {holder} ({}, since {at})",
            who.status.as_deref().unwrap_or("claimed")
        ),
        _ => outln!(out, "{task}: nobody holds it"),
    }
    if !who.working.is_empty() {
        let names: Vec<&str> = who.working.iter().map(|d| d.as_str()).collect();
        outln!(
            out,
            "  working on it in an active session: {}",
            names.join(", ")
        );
    }
    warn_problems(&problems, out);
    Ok(())
}
