//! `flowforge who <task> [--json]`: who holds a task.

use std::ffi::OsString;

use clap::Args;
use flowforge_core::TaskId;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{RemoteArgs, merge_row, open_index, open_remote_view, problems_json, warn_problems},
    warm::Engine,
};

#[derive(Debug, Args)]
pub(crate) struct WhoArgs {
    /// The task id.
    task: OsString,
    /// Print JSON: {"task", "holder" (id or null), "status", "claimed_at", "working", "problems"}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl WhoArgs {
    /// Whether the command pulls from the git remote first (`--fresh`).
    pub(crate) fn pulls_first(&self) -> bool {
        self.remote.fresh
    }
}

pub(crate) fn run(ctx: &Context, args: WhoArgs, engine: Engine<'_>, out: &mut Output) -> CliResult {
    let task = TaskId::from_os_str(&args.task)?;
    let index = open_index(ctx, engine, out)?;
    let mut who = index.who(&task);
    let mut problems = index.problems();
    let view = open_remote_view(ctx, args.remote, engine, out)?;
    let mut machine = None;
    if let Some(view) = &view {
        if merge_row(&mut who, view.index.who(&task)) {
            machine = view.claims.get(&task).map(|c| c.machine.clone());
        }
        problems.extend(view.index.problems());
    }
    if args.json {
        let mut json = json!({
            "task": who.task,
            "holder": who.holder,
            "status": who.status,
            "claimed_at": who.claimed_at,
            "working": who.working,
            "problems": problems_json(&problems),
        });
        if let Some(view) = &view {
            json["machine"] = json!(machine);
            json["remote"] = view.json();
        }
        outln!(out, "{json:#}");
        return Ok(());
    }
    match (&who.holder, &who.claimed_at) {
        (Some(holder), Some(at)) => outln!(
            out,
            "{task}: held by {holder}{} ({}, since {at})",
            machine
                .map(|m| format!(" on machine {m}"))
                .unwrap_or_default(),
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
    if let Some(view) = &view {
        outln!(out, "{}", view.note());
    }
    warn_problems(&problems, out);
    Ok(())
}
