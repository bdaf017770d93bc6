//! `flowforge`: the FlowForge command-line tool.
//!
//! Exit codes: 0 success, 1 failure, 2 bad usage or invalid input (nothing written),
//! 3 conflict (something held by another developer, or a lost race).

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

mod active;
mod claim;
mod context;
mod dev;
mod error;
mod monitor;
mod report;
mod session;
mod status;
mod sync;
mod tasks;
mod team;
mod time;
mod who;

use context::Context;
use error::CliResult;

/// Fast, correct coordination of many developers in one git repository.
#[derive(Debug, Parser)]
#[command(name = "flowforge", version, about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Run as if started in PATH (the repository; default: the current directory).
    #[arg(short = 'C', global = true, value_name = "PATH")]
    repo: Option<PathBuf>,
    /// The namespace root (default: <repo>/.flowforge).
    #[arg(long, global = true, value_name = "PATH")]
    root: Option<PathBuf>,
    /// The developer acting (default: $FLOWFORGE_DEVELOPER); `sync` takes it more than once.
    #[arg(long, global = true, value_name = "ID", action = clap::ArgAction::Append)]
    dev: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Developer namespaces.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Who holds a task, or "nobody".
    Who(who::WhoArgs),
    /// The developers with an active session.
    Active(active::ActiveArgs),
    /// Tasks matching a pattern, their holders, and parallel work.
    Tasks(tasks::TasksArgs),
    /// The team report for a day, week or month.
    Report(report::ReportArgs),
    /// The live performance monitor.
    Monitor(monitor::MonitorArgs),
    /// Every developer's view of git (HEAD, dirty summary, branches, ahead/behind) from one
    /// status and one ref snapshot; all registered developers unless --dev is given.
    Sync(sync::SyncArgs),
    /// Work sessions: start (claims the task), end, show, history, restore.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Time tracking.
    #[command(subcommand)]
    Time(time::TimeCommand),
    /// Task claims.
    #[command(subcommand)]
    Claim(claim::ClaimCommand),
    /// The working-tree status; with --porcelain byte-identical to `git status --porcelain=v1`.
    Status(status::StatusArgs),
}

fn run(cli: Cli) -> CliResult {
    let ctx = Context::new(&cli.global)?;
    match cli.command {
        Command::Dev(command) => dev::run(&ctx, command),
        Command::Who(args) => who::run(&ctx, args),
        Command::Active(args) => active::run(&ctx, args),
        Command::Tasks(args) => tasks::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Monitor(args) => monitor::run(&ctx, args),
        Command::Sync(args) => sync::run(&ctx, &args),
        Command::Session(command) => session::run(&ctx, command),
        Command::Time(command) => time::run(&ctx, command),
        Command::Claim(command) => claim::run(&ctx, command),
        Command::Status(args) => status::run(&ctx, &args),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
