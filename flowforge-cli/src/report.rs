//! `flowforge report <daily|weekly|monthly> [--format markdown|json|csv] [--timezone TZ]
//! [--output FILE]`: the team report.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use flowforge_index::report::{Format, Period, Report, ReportOptions, Zone};
use flowforge_session::fs::{Durability, write_atomic};

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::Output,
    team::open_index,
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
pub struct ReportArgs {
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
}

pub fn run(ctx: &Context, args: ReportArgs, out: &mut Output) -> CliResult {
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
    let index = open_index(ctx, out)?;
    let options = ReportOptions {
        period,
        zone,
        now: jiff::Timestamp::now(),
    };
    let text = Report::generate(&index, &options)?.render(format);
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes(), Durability::Sync)
            .with_context(|| format!("cannot write the report to {}", path.display()))
            .map_err(CliError::failure),
        None => {
            out.stdout.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
}
