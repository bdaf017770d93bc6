//! `flowforge migrate`: moves FlowForge v1 state into the developer's namespace (see
//! [`flowforge_session::migrate`]).

use std::path::PathBuf;

use clap::Args;
use flowforge_session::migrate::{self, MigrateOptions, Migration, MigrationStep, Outcome};
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, errln, outln},
};

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Show what would be migrated; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON (see `MigrateReport`).
    #[arg(long)]
    json: bool,
}

/// A test hook, not for people: the step (`journal`, `backup`, `session`, `minutes`,
/// `remove`, `complete`) after which the process says so on stderr and waits to
/// be killed, so that a test can interrupt a migration at a step boundary.
pub(crate) const HALT_AFTER_VAR: &str = "FLOWFORGE_TEST_MIGRATE_HALT_AFTER";

/// `migrate --json`: what a migration found and did.
#[derive(Debug, Serialize)]
pub(crate) struct MigrateReport {
    /// The developer migrated into.
    developer: String,
    /// `nothing_to_migrate`, `already_migrated`, `dry_run` or `migrated`.
    outcome: &'static str,
    /// The migration's id; `null` when there was nothing to do.
    id: Option<String>,
    /// The backup directory of the v1 files; `null` when there was nothing to do.
    backup: Option<PathBuf>,
    /// Whether this run finished a migration an interrupted run began.
    resumed: bool,
    /// The v1 files read.
    sources: Vec<MigrateSource>,
    /// The v1 active session, now the developer's; `null` when there was none.
    session: Option<MigratedSession>,
    /// The task claimed for the developer (the session's); `null` when none.
    claim: Option<String>,
    /// The minutes added to the developer's time tracking.
    minutes: u64,
    /// The v1 files removed (to be removed, on a dry run).
    removed: Vec<PathBuf>,
}

/// One v1 file of [`MigrateReport::sources`].
#[derive(Debug, Serialize)]
pub(crate) struct MigrateSource {
    /// Its path relative to the namespace root (`sessions/current.json`, …).
    file: &'static str,
    /// Where it was read from: the original, or the backup copy of an interrupted run.
    read_from: PathBuf,
}

/// The session of [`MigrateReport::session`].
#[derive(Debug, Serialize)]
pub(crate) struct MigratedSession {
    /// Its id, kept from v1.
    session_id: String,
    /// Its task, claimed for the developer.
    task: Option<String>,
    /// When it started (its minutes count from here).
    start_time: String,
    /// Its branch.
    branch: Option<String>,
}

impl From<&Migration> for MigrateReport {
    fn from(m: &Migration) -> Self {
        Self {
            developer: m.developer.to_string(),
            outcome: outcome_name(m.outcome),
            id: m.id.clone(),
            backup: m.backup.clone(),
            resumed: m.resumed,
            sources: m
                .sources
                .iter()
                .map(|(file, path)| MigrateSource {
                    file: file.relative(),
                    read_from: path.clone(),
                })
                .collect(),
            session: m.session.as_ref().map(|s| MigratedSession {
                session_id: s.session_id.clone(),
                task: s.task_id.as_ref().map(ToString::to_string),
                start_time: s.start_time.to_string(),
                branch: s.branch.clone(),
            }),
            claim: m.claim.as_ref().map(ToString::to_string),
            minutes: m.minutes,
            removed: m.removed.clone(),
        }
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::NothingToMigrate => "nothing_to_migrate",
        Outcome::AlreadyMigrated => "already_migrated",
        Outcome::DryRun => "dry_run",
        _ => "migrated",
    }
}

fn step_name(step: MigrationStep) -> &'static str {
    match step {
        MigrationStep::Journal => "journal",
        MigrationStep::Backup => "backup",
        MigrationStep::Session => "session",
        MigrationStep::Minutes => "minutes",
        MigrationStep::Remove => "remove",
        _ => "complete",
    }
}

pub(crate) fn run(ctx: &Context, args: &MigrateArgs, out: &mut Output) -> CliResult {
    let dev = ctx.developer()?;
    let options = MigrateOptions {
        dry_run: args.dry_run,
        ..Default::default()
    };
    let halt_after = std::env::var(HALT_AFTER_VAR).ok();
    let mut on_step = |step: MigrationStep| {
        if halt_after.as_deref() == Some(step_name(step)) {
            // Straight to the real stderr: the test waits for this line, then kills us.
            eprintln!("flowforge: halted after {}", step_name(step));
            loop {
                std::thread::park();
            }
        }
    };
    let migration = migrate::migrate(&ctx.layout, &dev, &options, &mut on_step)?;
    if args.json {
        let report = MigrateReport::from(&migration);
        outln!(out, "{}", crate::json::to_string(&report)?);
        return Ok(());
    }
    let m = &migration;
    match m.outcome {
        Outcome::NothingToMigrate => {
            outln!(
                out,
                "no FlowForge v1 state in {}",
                ctx.layout.root().display()
            );
            return Ok(());
        }
        Outcome::AlreadyMigrated => {
            outln!(out, "already migrated into {dev}: nothing to do");
            return Ok(());
        }
        _ => {}
    }
    let verb = if m.outcome == Outcome::DryRun {
        "would migrate"
    } else if m.resumed {
        "finished the interrupted migration of"
    } else {
        "migrated"
    };
    outln!(out, "{verb} FlowForge v1 state into {dev}:");
    if let Some(s) = &m.session {
        let task = s.task_id.as_ref().map(ToString::to_string);
        outln!(
            out,
            "  session {} on task {} (since {}), active",
            s.session_id,
            task.as_deref().unwrap_or("-"),
            s.start_time
        );
    }
    if let Some(task) = &m.claim {
        outln!(out, "  task {task} claimed");
    }
    if m.minutes > 0 {
        outln!(out, "  {} minutes added to time tracking", m.minutes);
    }
    for path in &m.removed {
        outln!(out, "  {} moved", path.display());
    }
    if let Some(backup) = &m.backup {
        let what = if m.outcome == Outcome::DryRun {
            "backup would be at"
        } else {
            "backup at"
        };
        outln!(out, "  {what} {}", backup.display());
    }
    if m.outcome == Outcome::DryRun {
        errln!(out, "flowforge: dry run: nothing written");
    }
    Ok(())
}

/// After `dev init`: a line on stderr when v1 state waits to be migrated.
pub(crate) fn hint(ctx: &Context, dev: &flowforge_core::DeveloperId, out: &mut Output) {
    if let Ok(found) = migrate::v1_state(&ctx.layout) {
        if let Some(first) = found.first() {
            errln!(
                out,
                "flowforge: FlowForge v1 state found ({}{}): run `flowforge migrate --dev {dev}` \
                 to move it into this namespace (`--dry-run` shows what it would do)",
                first.display(),
                if found.len() > 1 { ", …" } else { "" }
            );
        }
    }
}
