//! `flowforge dev clean`: removes the developer's cache, logs or temporary files (the v2
//! tools' `dev:namespace-clean`), see [`flowforge_session::areas`].

use std::path::PathBuf;

use clap::Args;
use flowforge_session::areas::{self, Area};
use serde::Serialize;

use crate::{
    context::Context,
    dev_status::human_bytes,
    error::CliResult,
    output::{Output, outln},
};

#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Clean `cache/` (the default when no area is named); `cache/time-tracking.json` is kept.
    #[arg(long)]
    cache: bool,
    /// Clean `logs/`.
    #[arg(long)]
    logs: bool,
    /// Clean `workspace/temp/`.
    #[arg(long)]
    temp: bool,
    /// Clean every area.
    #[arg(long)]
    all: bool,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON (see `DevClean`).
    #[arg(long)]
    json: bool,
}

/// `dev clean --json`.
#[derive(Debug, Serialize)]
pub(crate) struct DevClean {
    /// The developer.
    developer: String,
    /// Whether nothing was removed (`--dry-run`).
    dry_run: bool,
    /// The areas cleaned: `cache`, `logs`, `temp`.
    areas: Vec<&'static str>,
    /// The files removed (to be removed, on a dry run).
    removed: Vec<PathBuf>,
    /// Their bytes.
    bytes: u64,
    /// Files left in place on purpose.
    kept: Vec<PathBuf>,
}

pub(crate) fn run(ctx: &Context, args: &CleanArgs, out: &mut Output) -> CliResult {
    let dev = ctx.developer()?;
    // The namespace must exist: nothing to clean in a developer nobody initialised.
    flowforge_session::Namespace::open(&ctx.layout, &dev, Default::default())?;
    let chosen: Vec<Area> = Area::ALL
        .into_iter()
        .filter(|area| {
            args.all
                || match area {
                    Area::Cache => args.cache || !(args.logs || args.temp),
                    Area::Logs => args.logs,
                    _ => args.temp,
                }
        })
        .collect();
    let cleaned = areas::clean(&ctx.layout, &dev, &chosen, args.dry_run)?;
    if args.json {
        let report = DevClean {
            developer: dev.to_string(),
            dry_run: args.dry_run,
            areas: chosen.iter().map(|a| a.name()).collect(),
            removed: cleaned.files,
            bytes: cleaned.bytes,
            kept: cleaned.kept,
        };
        outln!(out, "{}", crate::json::to_string(&report)?);
        return Ok(());
    }
    let names: Vec<&str> = chosen.iter().map(|a| a.name()).collect();
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    outln!(
        out,
        "{verb} {} files ({}) from {} of {dev}",
        cleaned.files.len(),
        human_bytes(cleaned.bytes),
        names.join(", ")
    );
    if args.dry_run {
        for path in &cleaned.files {
            outln!(out, "  {}", path.display());
        }
    }
    for path in &cleaned.kept {
        outln!(out, "  kept {} (time tracking)", path.display());
    }
    Ok(())
}
