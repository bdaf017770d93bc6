//! `flowforge active [--json]`: the developers with an active session.

use clap::Args;
use serde_json::json;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{RemoteArgs, open_index, open_remote_view, problems_json, warn_problems},
    warm::Engine,
};

#[derive(Debug, Args)]
pub(crate) struct ActiveArgs {
    /// Print JSON: {"active": [{"developer", "task", "branch", "since"}], "problems": [...]}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl ActiveArgs {
    /// Whether the command pulls from the git remote first (`--fresh`).
    pub(crate) fn pulls_first(&self) -> bool {
        self.remote.fresh
    }
}

pub(crate) fn run(
    ctx: &Context,
    args: ActiveArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult {
    let index = open_index(ctx, engine, out)?;
    let mut active: Vec<_> = index.active().into_iter().map(|a| (a, None)).collect();
    let mut problems = index.problems();
    let view = open_remote_view(ctx, args.remote, engine, out)?;
    if let Some(view) = &view {
        for a in view.index.active() {
            let machine = view.machine_of(&a.developer);
            active.push((a, machine));
        }
        problems.extend(view.index.problems());
    }
    if args.json {
        let active: Vec<_> = (active.iter())
            .map(|(a, machine)| {
                let mut v = json!({"developer": a.developer, "task": a.task, "branch": a.branch, "since": a.since});
                if view.is_some() {
                    v["machine"] = json!(machine);
                }
                v
            })
            .collect();
        let mut json = json!({"active": active, "problems": problems_json(&problems)});
        if let Some(view) = &view {
            json["remote"] = view.json();
        }
        outln!(out, "{json:#}");
        return Ok(());
    }
    if active.is_empty() {
        outln!(out, "no active developers");
    }
    for (a, machine) in &active {
        let task = a.task.as_ref().map_or("-", |t| t.as_str());
        let branch = a.branch.as_deref().unwrap_or("-");
        let machine = (machine.as_ref())
            .map(|m| format!("\ton machine {m}"))
            .unwrap_or_default();
        outln!(
            out,
            "{}\t{task}\t{branch}\tsince {}{machine}",
            a.developer,
            a.since
        );
    }
    if let Some(view) = &view {
        outln!(out, "{}", view.note());
    }
    warn_problems(&problems, out);
    Ok(())
}
