//! `flowforge tasks [PATTERN] [--json]`: tasks matching a pattern, their holders, and parallel
//! work (FlowForge's `detect_parallel_work`).

use clap::Args;
use flowforge_index::Pattern;
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
    team::{
        RemoteArgs, RemoteView, merge_rows, open_index, open_remote_view, problems_json,
        warn_problems,
    },
    warm::Engine,
};

#[derive(Debug, Args)]
pub(crate) struct TasksArgs {
    /// A glob over task ids: `*` any run of characters, `?` one character.
    #[arg(default_value = "*")]
    pattern: String,
    /// Print JSON: {"pattern", "tasks": [{"task", "holder", "status", "claimed_at", "working"}],
    /// "developers", "parallel", "problems"}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl TasksArgs {
    /// Whether the command pulls from the git remote first (`--fresh`).
    pub(crate) fn pulls_first(&self) -> bool {
        self.remote.fresh
    }
}

pub(crate) fn run(
    ctx: &Context,
    args: TasksArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult {
    let index = open_index(ctx, engine, out)?;
    let pattern = Pattern::new(&args.pattern);
    let mut matches = index.tasks(&pattern);
    let mut problems = index.problems();
    let view = open_remote_view(ctx, args.remote, engine, out)?;
    if let Some(view) = &view {
        let other = view.index.tasks(&pattern);
        merge_rows(&mut matches.tasks, other.tasks);
        matches.developers.extend(other.developers);
        matches.developers.sort();
        matches.developers.dedup();
        matches.parallel = matches.developers.len() > 1;
        problems.extend(view.index.problems());
    }
    if args.json {
        let json = TasksJson {
            matches: &matches,
            problems: problems_json(&problems),
            remote: view.as_ref().map(RemoteView::json),
        };
        outln!(out, "{}", crate::json::to_string(&json)?);
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
    if let Some(view) = &view {
        outln!(out, "{}", view.note());
    }
    warn_problems(&problems, out);
    Ok(())
}

/// `tasks --json`: the matches (`pattern`, `tasks`, `developers`, `parallel`) and what was
/// left out.
#[derive(Debug, Serialize)]
pub(crate) struct TasksJson<'a> {
    /// The tasks matching the pattern, their holders, and whether the work runs in parallel.
    #[serde(flatten)]
    matches: &'a flowforge_index::TaskMatches,
    /// Namespaces left out of the answer.
    problems: Vec<crate::json::ProblemJson>,
    /// With a remote in use: the pull merged in; absent without a remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<crate::json::RemoteJson>,
}
