//! `flowforge sync [--dev ID]... [--json] [--base BRANCH]`: every developer's view of git from
//! one status and one ref snapshot.

use std::{collections::BTreeMap, sync::Arc};

use clap::Args;
use flowforge_core::{DeveloperId, TaskId};
use flowforge_git::{
    CacheError, DeveloperRequest, Freshness, GitView, SyncReport, ViewOptions, WatchMode,
    refs::{AheadBehind, Branch},
    sync::{DeveloperSync, DirtySummary},
};
use flowforge_session::{claim, namespace};
use serde_json::{Value, json};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{Output, outln},
    warm::{Engine, WarmRepo},
};

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Print JSON: {"developers": [{"id", "head", "dirty", "branches"}], "elapsed_ms"}.
    #[arg(long)]
    json: bool,
    /// The branch developers' branches are compared with.
    #[arg(long, value_name = "BRANCH", default_value = flowforge_git::DEFAULT_BASE_BRANCH)]
    base: String,
}

pub(crate) fn run(
    ctx: &Context,
    args: &SyncArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult {
    // Validate the developers before touching git: an invalid id exits 2.
    let mut ids = ctx.developers_given()?;
    if ids.is_empty() {
        ids = namespace::members(&ctx.layout)?
            .into_iter()
            .map(|m| m.id)
            .collect();
    }
    let mut tasks: BTreeMap<DeveloperId, Vec<TaskId>> = BTreeMap::new();
    // The daemon keeps the claims while their version does not move.
    let claims = match engine {
        Engine::Warm(warm) => warm.claims()?,
        Engine::InProcess => Arc::new(claim::list_claims(&ctx.layout)?),
    };
    for held in claims.iter() {
        tasks
            .entry(held.holder().clone())
            .or_default()
            .push(held.task.clone());
    }
    let requests: Vec<DeveloperRequest> = ids
        .into_iter()
        .map(|id| DeveloperRequest {
            tasks: tasks.remove(&id).unwrap_or_default(),
            id,
        })
        .collect();

    // A one-shot process: a watcher would see nothing before exit, so every answer is computed.
    let options = ViewOptions {
        watch: WatchMode::Off,
        base_branch: args.base.clone(),
        ..ViewOptions::default()
    };
    let (view, freshness) = match engine {
        // The daemon's view, watched: synced, so every change made before the call is seen
        // (unless --cached or --max-age accept less).
        Engine::Warm(WarmRepo { view: Ok(view), .. }) if view.base_branch() == args.base => {
            (Ok(view.clone()), ctx.accept.git())
        }
        _ => (GitView::open(&ctx.repo, &options), Freshness::Synced),
    };
    let report = view
        .and_then(|view| view.sync(&requests, freshness))
        .map_err(|e| match e {
            CacheError::Open { .. } => CliError::usage(e),
            other => CliError::failure(other),
        })?;

    ctx.ages.git("git status", report.status.fresh);
    ctx.ages.git("refs", report.refs.fresh);
    if args.json {
        outln!(out, "{:#}", to_json(&report));
    } else if report.developers.is_empty() {
        outln!(out, "no developers (run `flowforge dev init <id>`)");
    } else {
        print_text(&report, out);
    }
    Ok(())
}

fn print_text(report: &SyncReport, out: &mut Output) {
    if let Some(first) = report.developers.first() {
        let head = &first.head;
        let commit = head
            .commit
            .map_or_else(|| "(no commits)".to_owned(), |c| short(&c.to_string()));
        outln!(
            out,
            "HEAD {} {commit} · {}",
            head.branch.as_deref().unwrap_or("(detached)"),
            dirty_text(&first.dirty)
        );
    }
    let base = report.refs.value.base.as_ref().map(|b| b.name.as_str());
    for dev in &report.developers {
        outln!(out, "{}", dev.developer);
        if dev.branches.is_empty() {
            outln!(out, "  (no branches)");
        }
        for branch in &dev.branches {
            outln!(out, "  {}", branch_text(branch, base));
        }
    }
}

fn dirty_text(dirty: &DirtySummary) -> String {
    if dirty.is_clean() {
        return "clean".to_owned();
    }
    format!(
        "{} staged, {} modified, {} unmerged, {} untracked",
        dirty.staged, dirty.unstaged, dirty.conflicted, dirty.untracked
    )
}

fn branch_text(branch: &Branch, base: Option<&str>) -> String {
    let mut line = format!("{} {}", branch.name, short(&branch.tip.to_string()));
    if let (Some(counts), Some(base)) = (branch.vs_base, base) {
        line.push_str(&format!(" {base} +{} -{}", counts.ahead, counts.behind));
    }
    if let Some(up) = &branch.upstream {
        match up.ahead_behind {
            Some(counts) => line.push_str(&format!(
                " {} +{} -{}",
                up.name, counts.ahead, counts.behind
            )),
            None => line.push_str(&format!(" {} [gone]", up.name)),
        }
    }
    line
}

fn short(hex: &str) -> String {
    hex.chars().take(7).collect()
}

fn to_json(report: &SyncReport) -> Value {
    let developers: Vec<Value> = report.developers.iter().map(developer_json).collect();
    json!({
        "base": report.refs.value.base.as_ref().map(|b| json!({
            "name": b.name,
            "commit": b.tip.to_string(),
        })),
        "developers": developers,
        "elapsed_ms": report.elapsed.as_secs_f64() * 1000.0,
    })
}

fn developer_json(dev: &DeveloperSync) -> Value {
    let head = &dev.head;
    let upstream = head.upstream.as_ref().map(
        |up| json!({"name": up.name, "gone": up.gone, "ahead": up.ahead, "behind": up.behind}),
    );
    let counts = |c: Option<AheadBehind>| c.map(|c| json!({"ahead": c.ahead, "behind": c.behind}));
    let branches: Vec<Value> = dev
        .branches
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "commit": b.tip.to_string(),
                "task": b.task,
                "base": counts(b.vs_base),
                "upstream": b.upstream.as_ref().map(|up| json!({
                    "name": up.name,
                    "commit": up.tip.map(|t| t.to_string()),
                    "gone": up.tip.is_none(),
                    "ahead_behind": counts(up.ahead_behind),
                })),
            })
        })
        .collect();
    json!({
        "id": dev.developer,
        "head": {
            "branch": head.branch,
            "commit": head.commit.map(|c| c.to_string()),
            "detached": head.is_detached(),
            "upstream": upstream,
        },
        "dirty": {
            "clean": dev.dirty.is_clean(),
            "staged": dev.dirty.staged,
            "unstaged": dev.dirty.unstaged,
            "conflicted": dev.dirty.conflicted,
            "untracked": dev.dirty.untracked,
        },
        "branches": branches,
    })
}
