//! `flowforge report <daily|weekly|monthly> [--format markdown|json|csv] [--timezone TZ]
//! [--output FILE]`: the team report.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use flowforge_index::report::{Format, Period, Report, ReportOptions, Zone};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::Output,
    team::{RemoteArgs, open_index, open_remote_view},
    warm::Engine,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PeriodArg {
    Daily,
    Weekly,
    Monthly,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Markdown,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The calendar period containing now, in the report's time zone.
    #[arg(value_enum)]
    period: PeriodArg,
    /// The output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: FormatArg,
    /// The time zone (an IANA name such as Europe/Paris, or UTC); default: the local one.
    #[arg(long, value_name = "TZ")]
    timezone: Option<String>,
    /// Write the report to FILE (atomically, mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl ReportArgs {
    /// Whether the report goes to a file rather than stdout.
    pub(crate) fn writes_a_file(&self) -> bool {
        self.output.is_some()
    }

    /// Whether the command pulls from the git remote first (`--fresh`).
    pub(crate) fn pulls_first(&self) -> bool {
        self.remote.fresh
    }
}

pub(crate) fn run(
    ctx: &Context,
    args: ReportArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult {
    // Validate everything before reading or writing anything.
    let zone = match &args.timezone {
        Some(name) => Zone::named(name)?,
        None => Zone::local(),
    };
    let period = match args.period {
        PeriodArg::Daily => Period::Daily,
        PeriodArg::Weekly => Period::Weekly,
        PeriodArg::Monthly => Period::Monthly,
    };
    let format = match args.format {
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
        FormatArg::Csv => Format::Csv,
    };
    let index = open_index(ctx, engine, out)?;
    let options = ReportOptions {
        period,
        zone,
        now: jiff::Timestamp::now(),
    };
    let mut report = Report::generate(&index, &options)?;
    if let Some(view) = open_remote_view(ctx, args.remote, engine, out)? {
        merge(&mut report, Report::generate(&view.index, &options)?);
        crate::output::errln!(out, "flowforge: {}", view.note());
    }
    let text = report.render(format);
    match &args.output {
        Some(path) => flowforge_session::export::write_file(path, text.as_bytes())
            .with_context(|| format!("cannot write the report to {}", path.display()))
            .map_err(CliError::failure),
        None => {
            out.stdout.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
}

/// Adds other machines' report (made from the pulled view, which holds only their state) to
/// this machine's: lines concatenated, minutes summed by name, a task's local holder kept.
fn merge(report: &mut Report, other: Report) {
    use std::collections::BTreeMap;

    use flowforge_index::report::Minutes;
    report.developers += other.developers;
    report.active.extend(other.active);
    report.active.sort_by(|a, b| a.developer.cmp(&b.developer));
    report.sessions.extend(other.sessions);
    report
        .sessions
        .sort_by(|a, b| (&a.start, &a.developer).cmp(&(&b.start, &b.developer)));
    crate::team::merge_rows(&mut report.tasks, other.tasks);
    let sum = |mine: &mut Vec<Minutes>, theirs: Vec<Minutes>| {
        let mut by: BTreeMap<String, u64> = mine.drain(..).map(|m| (m.name, m.minutes)).collect();
        for m in theirs {
            let sum = by.entry(m.name).or_default();
            *sum = sum.saturating_add(m.minutes);
        }
        *mine = (by.into_iter())
            .map(|(name, minutes)| Minutes { name, minutes })
            .collect();
    };
    sum(&mut report.time_per_developer, other.time_per_developer);
    sum(&mut report.time_per_task, other.time_per_task);
    report.total_minutes = report.total_minutes.saturating_add(other.total_minutes);
    report.conflicts.extend(other.conflicts);
    report.problems.extend(other.problems);
}
