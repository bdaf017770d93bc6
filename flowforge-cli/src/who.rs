//! `flowforge who <task> [--json]`: who holds a task.

use std::ffi::OsString;

use clap::Args;
use flowforge_core::TaskId;
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{
        RemoteArgs, RemoteView, merge_row, open_index, open_remote_view, problems_json,
        warn_problems,
    },
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
        let json = WhoJson {
            task: who.task.clone(),
            holder: who.holder.clone(),
            status: who.status.clone(),
            claimed_at: who.claimed_at,
            working: who.working.clone(),
            problems: problems_json(&problems),
            machine: view.as_ref().map(|_| machine.clone()),
            remote: view.as_ref().map(RemoteView::json),
        };
        outln!(out, "{}", crate::json::to_string(&json)?);
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

/// `who --json`.
#[derive(Debug, Serialize)]
pub(crate) struct WhoJson {
    /// The task asked about.
    task: flowforge_core::TaskId,
    /// Who holds it; `null` when nobody does.
    holder: Option<flowforge_core::DeveloperId>,
    /// The claim's status (`claimed`, …); `null` when nobody holds it.
    status: Option<String>,
    /// When it was claimed; `null` when nobody holds it.
    claimed_at: Option<jiff::Timestamp>,
    /// The developers working on it in an active session, sorted.
    working: Vec<flowforge_core::DeveloperId>,
    /// Namespaces left out of the answer.
    problems: Vec<crate::json::ProblemJson>,
    /// With a remote in use: the machine of the holder when another machine holds it
    /// (`null` otherwise); absent without a remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    machine: Option<Option<String>>,
    /// With a remote in use: the pull merged in; absent without a remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<crate::json::RemoteJson>,
}
