//! `flowforge active [--json]`: the developers with an active session.

use clap::Args;
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{RemoteArgs, RemoteView, open_index, open_remote_view, problems_json, warn_problems},
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
        let json = ActiveJson {
            active: (active.iter())
                .map(|(a, machine)| ActiveEntry {
                    developer: a.developer.clone(),
                    task: a.task.clone(),
                    branch: a.branch.clone(),
                    since: a.since,
                    machine: view.as_ref().map(|_| machine.clone()),
                })
                .collect(),
            problems: problems_json(&problems),
            remote: view.as_ref().map(RemoteView::json),
        };
        outln!(out, "{}", crate::json::to_string(&json)?);
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

/// `active --json`.
#[derive(Debug, Serialize)]
pub(crate) struct ActiveJson {
    /// The developers with an active session.
    active: Vec<ActiveEntry>,
    /// Namespaces left out of the answer.
    problems: Vec<crate::json::ProblemJson>,
    /// With a remote in use: the pull merged in; absent without a remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<crate::json::RemoteJson>,
}

/// One developer of [`ActiveJson::active`].
#[derive(Debug, Serialize)]
pub(crate) struct ActiveEntry {
    /// The developer.
    developer: flowforge_core::DeveloperId,
    /// The session's task.
    task: Option<flowforge_core::TaskId>,
    /// The session's branch.
    branch: Option<String>,
    /// When the session started.
    since: jiff::Timestamp,
    /// With a remote in use: the machine of a session on another machine (`null` for this
    /// one); absent without a remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    machine: Option<Option<String>>,
}
