//! `flowforge sync [--dev ID]... [--json] [--base BRANCH]`: every developer's view of git from
//! one status and one ref snapshot.

use std::{collections::BTreeMap, sync::Arc};

use clap::Args;
use flowforge_core::{DeveloperId, TaskId};
use flowforge_git::{
    DeveloperRequest, Freshness, GitView, SyncReport, ViewOptions, WatchMode,
    refs::{AheadBehind, Branch},
    sync::{DeveloperSync, DirtySummary},
};
use flowforge_session::{claim, namespace};
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
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
    let report = view.and_then(|view| view.sync(&requests, freshness))?;

    ctx.ages.git("git status", report.status.fresh);
    ctx.ages.git("refs", report.refs.fresh);
    if args.json {
        outln!(out, "{}", crate::json::to_string(&to_json(&report))?);
    } else if report.developers.is_empty() {
        outln!(out, "no developers (run `flowforge dev init <id>`)");
    } else {
        print_text(&report, out);
    }
    Ok(())
}

fn print_text(report: &SyncReport, out: &mut Output) {
    if let Some(first) = report.developers.first() {
        let head = first.head();
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
        if dev.branches().len() == 0 {
            outln!(out, "  (no branches)");
        }
        for branch in dev.branches() {
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

/// `sync --json`.
#[derive(Debug, Serialize)]
pub(crate) struct SyncJson {
    /// The base branch and its commit; `null` when it does not exist.
    base: Option<CommitJson>,
    /// Every developer's view.
    developers: Vec<DeveloperJson>,
    /// How long the sync took, in milliseconds.
    elapsed_ms: f64,
}

/// A branch name and its commit.
#[derive(Debug, Serialize)]
pub(crate) struct CommitJson {
    /// The branch.
    name: String,
    /// Its commit (hex).
    commit: String,
}

/// One developer of [`SyncJson::developers`].
#[derive(Debug, Serialize)]
pub(crate) struct DeveloperJson {
    /// The developer.
    id: DeveloperId,
    /// `HEAD` of the shared work tree.
    head: HeadJson,
    /// The dirty summary of the shared work tree.
    dirty: DirtyJson,
    /// The developer's branches.
    branches: Vec<BranchJson>,
}

/// [`DeveloperJson::head`].
#[derive(Debug, Serialize)]
pub(crate) struct HeadJson {
    /// The branch `HEAD` names; `null` when detached.
    branch: Option<String>,
    /// Its commit; `null` on an unborn branch.
    commit: Option<String>,
    /// Whether `HEAD` is detached.
    detached: bool,
    /// Its upstream; `null` when none is configured.
    upstream: Option<HeadUpstreamJson>,
}

/// [`HeadJson::upstream`].
#[derive(Debug, Serialize)]
pub(crate) struct HeadUpstreamJson {
    /// The upstream's name.
    name: String,
    /// Whether it is configured but gone.
    gone: bool,
    /// Commits ahead of it.
    ahead: usize,
    /// Commits behind it.
    behind: usize,
}

/// [`DeveloperJson::dirty`].
#[derive(Debug, Serialize)]
pub(crate) struct DirtyJson {
    /// Whether nothing is changed.
    clean: bool,
    /// Staged changes.
    staged: usize,
    /// Unstaged changes.
    unstaged: usize,
    /// Conflicted paths.
    conflicted: usize,
    /// Untracked paths.
    untracked: usize,
}

/// One branch of [`DeveloperJson::branches`].
#[derive(Debug, Serialize)]
pub(crate) struct BranchJson {
    /// The branch.
    name: String,
    /// Its commit.
    commit: String,
    /// The task its name carries.
    task: Option<TaskId>,
    /// Ahead/behind against the base branch; `null` without a base.
    base: Option<CountsJson>,
    /// Its upstream; `null` when none.
    upstream: Option<BranchUpstreamJson>,
}

/// [`BranchJson::upstream`].
#[derive(Debug, Serialize)]
pub(crate) struct BranchUpstreamJson {
    /// The upstream's name.
    name: String,
    /// Its commit; `null` when gone.
    commit: Option<String>,
    /// Whether it is configured but gone.
    gone: bool,
    /// Ahead/behind against it; `null` when gone.
    ahead_behind: Option<CountsJson>,
}

/// Commits on one side and not the other.
#[derive(Debug, Serialize)]
pub(crate) struct CountsJson {
    /// Commits of the branch not in the other.
    ahead: usize,
    /// Commits of the other not in the branch.
    behind: usize,
}

fn counts(c: Option<AheadBehind>) -> Option<CountsJson> {
    c.map(|c| CountsJson {
        ahead: c.ahead,
        behind: c.behind,
    })
}

fn to_json(report: &SyncReport) -> SyncJson {
    SyncJson {
        base: report.refs.value.base.as_ref().map(|b| CommitJson {
            name: b.name.clone(),
            commit: b.tip.to_string(),
        }),
        developers: report.developers.iter().map(developer_json).collect(),
        elapsed_ms: report.elapsed.as_secs_f64() * 1000.0,
    }
}

fn developer_json(dev: &DeveloperSync) -> DeveloperJson {
    let head = dev.head();
    DeveloperJson {
        id: dev.developer.clone(),
        head: HeadJson {
            branch: head.branch.clone(),
            commit: head.commit.map(|c| c.to_string()),
            detached: head.is_detached(),
            upstream: head.upstream.as_ref().map(|up| HeadUpstreamJson {
                name: up.name.clone(),
                gone: up.gone,
                ahead: up.ahead,
                behind: up.behind,
            }),
        },
        dirty: DirtyJson {
            clean: dev.dirty.is_clean(),
            staged: dev.dirty.staged,
            unstaged: dev.dirty.unstaged,
            conflicted: dev.dirty.conflicted,
            untracked: dev.dirty.untracked,
        },
        branches: dev
            .branches()
            .map(|b| BranchJson {
                name: b.name.clone(),
                commit: b.tip.to_string(),
                task: b.task.clone(),
                base: counts(b.vs_base),
                upstream: b.upstream.as_ref().map(|up| BranchUpstreamJson {
                    name: up.name.clone(),
                    commit: up.tip.map(|t| t.to_string()),
                    gone: up.tip.is_none(),
                    ahead_behind: counts(up.ahead_behind),
                }),
            })
            .collect(),
    }
}
