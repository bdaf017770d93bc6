//! `flowforge status [--porcelain] [-b|--branch] [-z] [--json]`: the working-tree status.
//!
//! With `--porcelain` (or `-z`, which implies it) the output is byte-identical to
//! `git status --porcelain=v1` with the same flags: paths relative to the repository's top,
//! quoted as git quotes them. `--json` prints FlowForge's `cache/git-status.json` snapshot.
//! When a developer is given (`--dev` or the environment) and has a namespace, the snapshot
//! is also written to their `dev-<id>/cache/git-status.json`.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use clap::Args;
use flowforge_git::{Fresh, PorcelainOptions, Repo, StatusOptions};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{Output, errln, outln},
    warm::{Engine, WarmRepo},
};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print exactly what `git status --porcelain=v1` prints.
    #[arg(long)]
    porcelain: bool,
    /// Start with the branch header: `## main...origin/main [ahead 1, behind 2]`.
    #[arg(short = 'b', long)]
    branch: bool,
    /// Terminate entries with NUL and print paths unquoted (implies --porcelain).
    #[arg(short = 'z')]
    nul: bool,
    /// Print the `cache/git-status.json` snapshot as JSON.
    #[arg(long, conflicts_with_all = ["porcelain", "branch", "nul"])]
    json: bool,
}

pub(crate) fn run(
    ctx: &Context,
    args: &StatusArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult {
    let (status, proven_at) = match engine {
        Engine::Warm(WarmRepo { view: Ok(view), .. }) => {
            // Synced: every change made before the request is in the answer, so the snapshot
            // is the state of now even when it was computed earlier (an older answer only
            // with --cached or --max-age, and then the snapshot's time is its own).
            let answer = view.status(ctx.accept.git()).map_err(CliError::failure)?;
            ctx.ages.git("git status", answer.fresh);
            let at = match answer.fresh {
                Fresh::Aged(age) => SystemTime::now() - age,
                _ => SystemTime::now(),
            };
            (answer.value, Some(at))
        }
        _ => {
            let repo = Repo::open(&ctx.repo)?;
            let status = repo
                .status(&StatusOptions::default())
                .map_err(CliError::failure)?;
            (Arc::new(status), None)
        }
    };
    if let (true, Some(why)) = (ctx.verbose, status.computed_by_git()) {
        errln!(out, "flowforge: status computed by the git program: {why}");
    }
    let mut cache = status.to_cache();
    if let Some(at) = proven_at.and_then(|at| at.duration_since(UNIX_EPOCH).ok()) {
        cache.timestamp = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    }
    // Computed for a developer (--dev or the environment) with a namespace: cached where the
    // bash tools and the index's `touching` read it.
    if let Ok(dev) = ctx.developer() {
        if ctx.layout.dev_config(&dev).is_file() {
            flowforge_session::compat::write_git_status_cache(&ctx.layout, &dev, &cache)?;
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&cache).map_err(CliError::failure)?;
        outln!(out, "{json}");
    } else if args.porcelain || args.nul {
        out.stdout
            .extend_from_slice(&status.porcelain(PorcelainOptions {
                branch: args.branch,
                nul_terminated: args.nul,
            }));
    } else {
        // The short human form: the branch line, then git's short-format lines.
        outln!(out, "{}", status.branch_header());
        (out.stdout).extend_from_slice(&status.porcelain(PorcelainOptions::default()));
        if status.is_clean() {
            outln!(out, "nothing to commit, working tree clean");
        }
    }
    Ok(())
}
