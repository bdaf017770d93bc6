//! `flowforge`: the FlowForge command-line tool.
//!
//! Exit codes: 0 success, 1 failure, 2 bad usage or invalid input (nothing written),
//! 3 conflict (something held by another developer, or a lost race).

// The doc comments of the argument types are clap's help text, printed as written (`<repo>`
// is a placeholder for people, not HTML).
#![allow(rustdoc::invalid_html_tags)]

use std::{ffi::OsString, io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Args, Parser, Subcommand};

mod active;
mod claim;
mod context;
mod daemon;
mod dev;
mod dev_clean;
mod dev_status;
mod error;
mod freshness;
mod gc;
mod json;
mod migrate;
mod monitor;
mod output;
mod remote;
mod remote_config;
mod report;
mod route;
mod session;
mod status;
mod sync;
mod tasks;
mod team;
mod time;
mod warm;
mod who;

use context::{Context, Env};
use error::CliResult;
use output::Output;
use warm::{Engine, WarmRepo};

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
    /// The namespace root (default: $FLOWFORGE_ROOT, else <repo>/.flowforge).
    #[arg(long, global = true, value_name = "PATH")]
    root: Option<PathBuf>,
    /// The developer acting (default: $FLOWFORGE_DEVELOPER, $FLOWFORGE_DEVELOPER_ID or
    /// $FLOWFORGE_DEV_ID); `sync` takes it more than once.
    #[arg(long, global = true, value_name = "ID", action = clap::ArgAction::Append)]
    dev: Vec<OsString>,
    /// Say on stderr whether the repository's daemon or this process answered, and why.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    /// Reading commands: accept the daemon's answer from what its watchers reported so far,
    /// without proving it current (a note on stderr says how old the answer is).
    #[arg(long, global = true)]
    cached: bool,
    /// Reading commands: accept the daemon's answer when its state was proven current at most
    /// DURATION before the call (500ms, 5s, 2m; a note on stderr says how old it is).
    #[arg(long, global = true, value_name = "DURATION", value_parser = freshness::parse_age)]
    max_age: Option<std::time::Duration>,
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
    /// Share FlowForge state with other machines through a git remote: use, status, pull, push.
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
    /// The working-tree status; with --porcelain byte-identical to `git status --porcelain=v1`.
    Status(status::StatusArgs),
    /// The repository's warm daemon, which answers the reading commands of other processes.
    #[command(subcommand)]
    Daemon(daemon::DaemonCommand),
    /// Move FlowForge v1 state (sessions/current.json, .current-session,
    /// cache/time-tracking.json, tasks.json) into the developer's namespace, keeping a backup.
    Migrate(migrate::MigrateArgs),
    /// Reclaim space: superseded store versions, claim keys of an older store, time segments
    /// no document reads, temporary files of crashed writers. Safe while others work.
    Gc(gc::GcArgs),
}

/// Finds the warm state of a command's work tree (in the daemon).
type WarmLookup<'a> = &'a dyn Fn(&Context) -> Arc<WarmRepo>;

fn run(cli: Cli, env: &Env, out: &mut Output) -> CliResult {
    let ctx = Context::new(&cli.global, env)?;
    run_in(cli, &ctx, None, out)
}

/// Runs a parsed command line in its context: in a process of its own (`warm` is `None`) or
/// in the daemon.
fn run_in(cli: Cli, ctx: &Context, warm: Option<WarmLookup<'_>>, out: &mut Output) -> CliResult {
    let warm = warm.map(|lookup| lookup(ctx));
    let engine = match &warm {
        Some(warm) => Engine::Warm(warm),
        None => Engine::InProcess,
    };
    let reading = route::reads_only(&cli);
    let outcome = dispatch(ctx, cli.command, engine, out);
    // Asked for a cached answer: say how old it is (on success; an error is not an answer).
    if reading && ctx.accept != freshness::Accept::Synced && outcome.is_ok() {
        ctx.ages.note(out);
    }
    // Whatever the command wrote (or a namespace made by an older version), the root keeps
    // its own ignore file so that `.flowforge/` never shows up in `git status`.
    // Failing to write it is worth a warning, not the command's result.
    if let Err(e) = flowforge_session::namespace::ensure_ignore_file(&ctx.layout) {
        output::errln!(out, "flowforge: warning: {e}");
    }
    outcome
}

fn dispatch(ctx: &Context, command: Command, engine: Engine<'_>, out: &mut Output) -> CliResult {
    match command {
        Command::Dev(command) => dev::run(ctx, command, out),
        Command::Who(args) => who::run(ctx, args, engine, out),
        Command::Active(args) => active::run(ctx, args, engine, out),
        Command::Tasks(args) => tasks::run(ctx, args, engine, out),
        Command::Report(args) => report::run(ctx, args, engine, out),
        Command::Monitor(args) => monitor::run(ctx, args, out),
        Command::Sync(args) => sync::run(ctx, &args, engine, out),
        Command::Session(command) => session::run(ctx, command, out),
        Command::Time(command) => time::run(ctx, command, out),
        Command::Claim(command) => claim::run(ctx, command, out),
        Command::Remote(command) => remote::run(ctx, command, out),
        Command::Status(args) => status::run(ctx, &args, engine, out),
        Command::Daemon(command) => daemon::run(ctx, command, out),
        Command::Migrate(args) => migrate::run(ctx, &args, out),
        Command::Gc(args) => gc::run(ctx, &args, out),
    }
}

/// Parses a command line as [`Cli::try_parse_from`] does, from a command built once: the
/// daemon parses one per request, and building clap's command is most of a parse. Built
/// commands are kept in a pool, one per request answered at the same time, because cloning
/// one costs about as much as building it.
///
/// # Errors
/// Clap's error, for a command line that is not valid.
pub(crate) fn parse_warm(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory as _, FromArgMatches as _};
    static POOL: parking_lot::Mutex<Vec<clap::Command>> = parking_lot::Mutex::new(Vec::new());
    let mut command = POOL.lock().pop().unwrap_or_else(|| {
        let mut command = Cli::command();
        command.build();
        command
    });
    let parsed = command
        .try_get_matches_from_mut(args)
        .and_then(|mut matches| {
            Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
        });
    POOL.lock().push(command);
    parsed
}

/// Runs a command line in a process of its own into `out` and returns its exit code.
fn execute(args: impl IntoIterator<Item = OsString>, env: &Env, out: &mut Output) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Help, version and usage errors, written through the same buffer as everything else.
        Err(e) => {
            let terminal = if e.use_stderr() {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            };
            let rendered = e.render();
            let text = if terminal {
                rendered.ansi().to_string()
            } else {
                rendered.to_string()
            };
            if e.use_stderr() {
                out.stderr.extend_from_slice(text.as_bytes());
            } else {
                out.stdout.extend_from_slice(text.as_bytes());
            }
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    exit_code(run(cli, env, out), out)
}

/// Runs a reading command the daemon parsed, in the context it made, and returns its exit
/// code: the same code and output as [`execute`] gives for the same command line.
pub(crate) fn execute_warm(cli: Cli, ctx: &Context, warm: WarmLookup<'_>, out: &mut Output) -> u8 {
    let outcome = run_in(cli, ctx, Some(warm), out);
    exit_code(outcome, out)
}

fn exit_code(outcome: CliResult, out: &mut Output) -> u8 {
    match outcome {
        Ok(()) => 0,
        Err(e) => e.report(out),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut out = Output::default();
    let code = match route::via_daemon(&args, &mut out) {
        Some(code) => code,
        None => execute(args, &Env::from_process(), &mut out),
    };
    output::finish(&out, code)
}
