//! `flowforge dev status`: one developer's namespace at a glance — session, time, the sizes
//! of the cache, logs and temporary files, and the claims held (the v2 tools'
//! `dev:namespace-status`).

use std::path::PathBuf;

use clap::Args;
use flowforge_core::{DeveloperId, model::TimeTracking};
use flowforge_session::{
    Namespace, SessionOptions,
    areas::{self, Area},
    pause,
};
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print the status as JSON (see `DevStatus`).
    #[arg(long)]
    json: bool,
}

/// `dev status --json`.
#[derive(Debug, Serialize)]
pub(crate) struct DevStatus {
    /// The developer.
    developer: String,
    /// What chose the developer: `--dev`, `environment` or `dev switch`.
    chosen_by: &'static str,
    /// The work tree's default developer (`dev switch`); `null` when none was chosen.
    default_developer: Option<String>,
    /// The namespace directory.
    namespace: PathBuf,
    /// Details from the team registry; `null` when not registered.
    registration: Option<Registration>,
    /// The latest session (active, paused or the last ended); `null` when none.
    session: Option<StatusSession>,
    /// The time tracking.
    time: StatusTime,
    /// `cache/`.
    cache: AreaUsage,
    /// `logs/`.
    logs: AreaUsage,
    /// `workspace/temp/`.
    temp: AreaUsage,
    /// The tasks the developer holds, sorted.
    claims: Vec<String>,
}

/// [`DevStatus::registration`].
#[derive(Debug, Serialize)]
pub(crate) struct Registration {
    /// Display name.
    name: Option<String>,
    /// E-mail address.
    email: Option<String>,
    /// Role.
    role: Option<String>,
}

/// [`DevStatus::session`].
#[derive(Debug, Serialize)]
pub(crate) struct StatusSession {
    /// The session id.
    session_id: String,
    /// Its task.
    task: Option<String>,
    /// Whether it is running or paused (not ended).
    active: bool,
    /// Whether it is paused.
    paused: bool,
    /// When it started (RFC 3339).
    start_time: String,
    /// Whole minutes worked so far (paused time left out).
    worked_minutes: u64,
}

/// [`DevStatus::time`].
#[derive(Debug, Serialize)]
pub(crate) struct StatusTime {
    /// The total recorded, in minutes.
    total_minutes: u64,
    /// The entries kept in the latest document.
    entries: usize,
}

/// The size of one area of the namespace.
#[derive(Debug, Serialize)]
pub(crate) struct AreaUsage {
    /// The directory.
    path: PathBuf,
    /// Files beneath it, at any depth.
    files: u64,
    /// Their bytes.
    bytes: u64,
}

pub(crate) fn run(ctx: &Context, args: &StatusArgs, out: &mut Output) -> CliResult {
    let dev = ctx.developer()?;
    let status = collect(ctx, &dev)?;
    if args.json {
        outln!(out, "{}", crate::json::to_string(&status)?);
        return Ok(());
    }
    let mut who = status.developer.clone();
    if let Some(r) = &status.registration {
        if let Some(name) = &r.name {
            who.push_str(&format!(" ({name})"));
        }
        if let Some(email) = &r.email {
            who.push_str(&format!(" <{email}>"));
        }
    } else {
        who.push_str(" (not registered in team/config.json)");
    }
    outln!(out, "developer  {who}, chosen by {}", status.chosen_by);
    outln!(out, "namespace  {}", status.namespace.display());
    match &status.session {
        Some(s) => {
            let state = match (s.active, s.paused) {
                (true, true) => "paused",
                (true, false) => "active",
                _ => "ended",
            };
            outln!(
                out,
                "session    {} on task {}, {state}, since {}, {} min worked",
                s.session_id,
                s.task.as_deref().unwrap_or("-"),
                s.start_time,
                s.worked_minutes
            );
        }
        None => outln!(out, "session    none"),
    }
    outln!(
        out,
        "time       {} min in {} entries",
        status.time.total_minutes,
        status.time.entries
    );
    for (name, usage) in [
        ("cache", &status.cache),
        ("logs", &status.logs),
        ("temp", &status.temp),
    ] {
        outln!(
            out,
            "{name:<10} {} files, {}",
            usage.files,
            human_bytes(usage.bytes)
        );
    }
    if status.claims.is_empty() {
        outln!(out, "claims     none");
    } else {
        outln!(out, "claims     {}", status.claims.join(", "));
    }
    Ok(())
}

fn collect(ctx: &Context, dev: &DeveloperId) -> CliResult<DevStatus> {
    let layout = &ctx.layout;
    let ns = Namespace::open(layout, dev, SessionOptions::default())?;
    let now = jiff::Timestamp::now();
    let session = ns.session()?.map(|s| StatusSession {
        session_id: s.session_id.clone(),
        task: s.task_id.as_ref().map(ToString::to_string),
        active: s.active,
        paused: s.active && pause::is_paused(&s),
        start_time: s.start_time.to_string(),
        worked_minutes: pause::worked_seconds(&s, s.end_time.unwrap_or(now)) / 60,
    });
    let time: TimeTracking = match ns.time_tracking()? {
        Some(t) => t.value,
        None => flowforge_session::compat::read_time_view(layout, dev)?.unwrap_or_default(),
    };
    let registration = flowforge_session::namespace::team_config(layout)?
        .team
        .developers
        .get(dev)
        .map(|info| Registration {
            name: info.name.clone(),
            email: info.email.clone(),
            role: info.role.clone(),
        });
    let area = |area: Area| -> CliResult<AreaUsage> {
        let usage = areas::usage(layout, dev, area)?;
        Ok(AreaUsage {
            path: area.dir(layout, dev),
            files: usage.files,
            bytes: usage.bytes,
        })
    };
    let claims = flowforge_session::list_claims(layout)?
        .into_iter()
        .filter(|c| c.holder() == dev)
        .map(|c| c.task.to_string())
        .collect();
    Ok(DevStatus {
        developer: dev.to_string(),
        chosen_by: ctx.developer_source(),
        default_developer: flowforge_session::switch::default_developer(layout)?
            .map(|d| d.to_string()),
        namespace: layout.dev_dir(dev),
        registration,
        session,
        time: StatusTime {
            total_minutes: time.total_minutes,
            entries: time.sessions.len(),
        },
        cache: area(Area::Cache)?,
        logs: area(Area::Logs)?,
        temp: area(Area::Temp)?,
        claims,
    })
}

/// `bytes` for people: B, KiB, MiB or GiB with one decimal.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
