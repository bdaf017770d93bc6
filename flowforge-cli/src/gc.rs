//! `flowforge gc`: reclaim superseded store versions, the per-task claim keys of older stores,
//! time segments no document reads, temporary files of crashed writers and spares of views
//! that are gone, and release orphaned claims.

use clap::Args;
use flowforge_session::{GcOptions, GcReport};
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
};

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Only report what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON: {"dry_run", "keys", "superseded_versions", "legacy_claim_keys",
    /// "orphan_segments", "temp_files", "spare_files", "released_claims" (task ids), "bytes"}.
    #[arg(long)]
    json: bool,
}

/// The `--json` answer.
#[derive(Debug, Serialize)]
struct GcJson {
    dry_run: bool,
    keys: usize,
    superseded_versions: usize,
    legacy_claim_keys: usize,
    orphan_segments: usize,
    temp_files: usize,
    spare_files: usize,
    released_claims: Vec<String>,
    bytes: u64,
}

impl From<&GcReport> for GcJson {
    fn from(r: &GcReport) -> Self {
        Self {
            dry_run: r.dry_run,
            keys: r.keys,
            superseded_versions: r.superseded_versions,
            legacy_claim_keys: r.legacy_claim_keys,
            orphan_segments: r.orphan_segments,
            temp_files: r.temp_files,
            spare_files: r.spare_files,
            released_claims: r.released_claims.iter().map(ToString::to_string).collect(),
            bytes: r.bytes,
        }
    }
}

pub(crate) fn run(ctx: &Context, args: &GcArgs, out: &mut Output) -> CliResult {
    let report = flowforge_session::gc(
        &ctx.layout,
        GcOptions {
            dry_run: args.dry_run,
        },
    )?;
    if args.json {
        outln!(out, "{}", crate::json::to_string(&GcJson::from(&report))?);
        return Ok(());
    }
    let verb = if report.dry_run {
        "would free"
    } else {
        "freed"
    };
    outln!(
        out,
        "{verb} {} bytes: {} superseded versions, {} released claim keys of an older store, {} time segments no document reads, {} temporary files of crashed writers, {} spare files ({} keys looked at)",
        report.bytes,
        report.superseded_versions,
        report.legacy_claim_keys,
        report.orphan_segments,
        report.temp_files,
        report.spare_files,
        report.keys
    );
    if !report.released_claims.is_empty() {
        let verb = if report.dry_run {
            "would release"
        } else {
            "released"
        };
        let tasks: Vec<String> = report
            .released_claims
            .iter()
            .map(ToString::to_string)
            .collect();
        outln!(
            out,
            "{verb} {} orphaned claims (their process died before writing its session): {}",
            tasks.len(),
            tasks.join(", ")
        );
    }
    Ok(())
}
