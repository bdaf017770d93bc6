//! Report Generation: the team report (active developers, time per developer and per task,
//! task assignments) in markdown.

use std::{collections::BTreeMap, fmt::Write as _};

use flowforge_core::{
    Layout,
    model::{DevConfig, Session, TaskAssignments, TeamConfig, TimeTracking},
    score::Operation,
};

use flowforge_index::{
    Index,
    report::{Format, Period, Report, ReportOptions, Zone},
};

use super::{Built, Round, Variant, plain, wrong};
use crate::{error::Result, fixture::Team};

/// Builds the Report Generation round.
///
/// # Errors
/// [`crate::Error::Index`] when the index cannot be built.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    Ok(Ok(match variant {
        Variant::Naive => Box::new(Naive { team: team.clone() }),
        Variant::Optimized => Box::new(Optimized {
            team: team.clone(),
            index: Index::build(&team.layout)?,
        }),
    }))
}

/// The index refreshed (one listing and a few `stat`s per namespace, a reload of what
/// changed), then flowforge-index's daily report rendered as markdown: all timed.
struct Optimized {
    team: Team,
    index: Index,
}

impl Round for Optimized {
    fn run(&mut self) -> Result<()> {
        self.index.refresh()?;
        let report = Report::generate(
            &self.index,
            &ReportOptions {
                period: Period::Daily,
                zone: Zone::utc(),
                now: jiff::Timestamp::now(),
            },
        )?;
        let active = report.active.len();
        std::hint::black_box(report.render(Format::Markdown));
        if active != self.team.len() {
            return Err(wrong(
                Operation::ReportGeneration,
                Variant::Optimized,
                format!(
                    "the report lists {active} of {} developers as active",
                    self.team.len()
                ),
            ));
        }
        Ok(())
    }
}

struct Naive {
    team: Team,
}

impl Round for Naive {
    fn run(&mut self) -> Result<()> {
        let report = naive_report(&self.team.layout)?;
        let listed = self
            .team
            .developers
            .iter()
            .filter(|dev| report.contains(&format!("| {dev} |")))
            .count();
        if listed != self.team.len() {
            return Err(wrong(
                Operation::ReportGeneration,
                Variant::Naive,
                format!(
                    "the report lists {listed} of {} developers",
                    self.team.len()
                ),
            ));
        }
        std::hint::black_box(report);
        Ok(())
    }
}

/// The team report in markdown, by reading and parsing every namespace file (team config,
/// task assignments, and each developer's config, current session and time tracking).
///
/// # Errors
/// [`crate::Error::Io`] or [`crate::Error::Json`] naming a file that cannot be read.
pub fn naive_report(layout: &Layout) -> Result<String> {
    let team: TeamConfig = plain::read_json(&layout.team_config())?.unwrap_or_default();
    let tasks: TaskAssignments =
        plain::read_json_tolerant(&layout.task_assignments())?.unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Team report: {}\n",
        team.team.name.as_deref().unwrap_or("team")
    );
    let _ = writeln!(
        out,
        "## Developers\n\n| developer | name | task | branch | since | minutes |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut per_task: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for dev in plain::namespaces(layout)? {
        let _config: Option<DevConfig> = plain::read_json_tolerant(&layout.dev_config(&dev))?;
        let current: Option<Session> = plain::read_json_tolerant(&layout.current_session(&dev))?;
        let tracking: TimeTracking =
            plain::read_json_tolerant(&layout.time_tracking(&dev))?.unwrap_or_default();
        for entry in &tracking.sessions {
            let key = entry
                .task_id
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            *per_task.entry(key).or_default() += entry.minutes;
        }
        total += tracking.total_minutes;
        let name = team
            .team
            .developers
            .get(&dev)
            .and_then(|info| info.name.clone())
            .unwrap_or_default();
        let active = current.filter(|s| s.active);
        let _ = writeln!(
            out,
            "| {dev} | {name} | {} | {} | {} | {} |",
            active
                .as_ref()
                .and_then(|s| s.task_id.as_ref())
                .map_or("-".to_owned(), ToString::to_string),
            active
                .as_ref()
                .and_then(|s| s.branch.clone())
                .unwrap_or_default(),
            active
                .as_ref()
                .map_or(String::new(), |s| s.start_time.to_string()),
            tracking.total_minutes,
        );
    }
    let _ = writeln!(
        out,
        "\n## Sessions\n\n| developer | session | task | start | end |\n|---|---|---|---|---|"
    );
    let day_start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    for dev in plain::namespaces(layout)? {
        let dir = layout.session_history_dir(&dev);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let ended: Option<Session> = plain::read_json_tolerant(&entry.path())?;
            if let Some(s) = ended.filter(|s| s.end_time.is_some_and(|end| end >= day_start)) {
                let _ = writeln!(
                    out,
                    "| {dev} | {} | {} | {} | {} |",
                    s.session_id,
                    s.task_id.map_or("-".to_owned(), |t| t.to_string()),
                    s.start_time,
                    s.end_time.map_or(String::new(), |e| e.to_string()),
                );
            }
        }
    }
    let _ = writeln!(out, "\n## Time per task\n\n| task | minutes |\n|---|---|");
    for (task, minutes) in &per_task {
        let _ = writeln!(out, "| {task} | {minutes} |");
    }
    let _ = writeln!(
        out,
        "\nTotal: {total} minutes\n\n## Assignments\n\n| task | assignee | status |\n|---|---|---|"
    );
    for (task, assignment) in &tasks.tasks {
        let _ = writeln!(
            out,
            "| {task} | {} | {} |",
            assignment.assignee, assignment.status
        );
    }
    Ok(out)
}
