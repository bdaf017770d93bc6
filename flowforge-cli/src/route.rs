//! The client's side: ask the repository's daemon when one answers, start one when none does,
//! and otherwise let the process answer by itself.
//!
//! `FLOWFORGE_DAEMON` chooses: `auto` (the default) asks a running daemon and, when there is
//! none, starts one in the background and answers in-process this time; `off` never starts or
//! asks one; `require` starts one and waits for it, and fails when it cannot be asked. Any
//! trouble with a daemon (none, another version, a dead one's socket, one killed mid-request, one
//! stopped before it answered, a greeting slower than 50 ms, or 10 s with `require`) means an
//! in-process answer, the same bytes and exit code, and a note on stderr only with `--verbose`.

use std::{
    ffi::OsString,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use clap::Parser;
use flowforge_daemon::{Client, ClientOptions, Error, Location, Reply, RunRequest};

use crate::{
    Cli, Command as Sub,
    claim::ClaimCommand,
    context::{Context, Env},
    output::{Output, errln},
    session::SessionCommand,
    time::TimeCommand,
    warm::answer_env,
};

/// What `FLOWFORGE_DAEMON` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Auto,
    Off,
    Require,
}

impl Mode {
    pub(crate) fn from_env() -> Self {
        match std::env::var("FLOWFORGE_DAEMON").as_deref() {
            Ok("off" | "0" | "no") => Self::Off,
            Ok("require") => Self::Require,
            _ => Self::Auto,
        }
    }
}

/// The version a client and its daemon must share: the package version and the identity of
/// the binary file (a rebuilt binary is another version).
pub(crate) fn version() -> String {
    use std::os::unix::fs::MetadataExt;
    let exe = std::env::current_exe().and_then(std::fs::metadata);
    match exe {
        Ok(meta) => format!(
            "{}+{}.{}.{}",
            env!("CARGO_PKG_VERSION"),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.size()
        ),
        Err(_) => env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Whether a parsed command line only reads, so a daemon may answer it.
pub(crate) fn reads_only(cli: &Cli) -> bool {
    match &cli.command {
        Sub::Status(_) | Sub::Sync(_) => true,
        // `--fresh` pulls from the git remote first: a write, so the process does it.
        Sub::Who(args) => !args.pulls_first(),
        Sub::Active(args) => !args.pulls_first(),
        Sub::Tasks(args) => !args.pulls_first(),
        Sub::Report(args) => !args.writes_a_file() && !args.pulls_first(),
        Sub::Session(SessionCommand::Show { .. } | SessionCommand::History { .. }) => true,
        Sub::Time(TimeCommand::Show { .. }) => true,
        Sub::Claim(ClaimCommand::List { .. }) => true,
        // Not the monitor: its frame shows the answering process's own metrics, which in the
        // daemon would be the daemon's, not those of a fresh process.
        _ => false,
    }
}

/// Asks the daemon to answer `args`; `None` when the process must answer itself.
pub(crate) fn via_daemon(args: &[OsString], out: &mut Output) -> Option<u8> {
    let mode = Mode::from_env();
    if mode == Mode::Off {
        return None;
    }
    let cli = Cli::try_parse_from(args).ok()?;
    let verbose = cli.global.verbose;
    if !reads_only(&cli) {
        return None;
    }
    match ask(&cli, args, mode) {
        Ok(code_and_output) => {
            let (code, done_out, pid) = code_and_output;
            out.stdout.extend_from_slice(&done_out.stdout);
            out.stderr.extend_from_slice(&done_out.stderr);
            if verbose {
                errln!(out, "flowforge: answered by the daemon (pid {pid})");
            }
            Some(code)
        }
        Err(Trouble::Fatal(message)) => {
            errln!(out, "flowforge: error: {message}");
            Some(1)
        }
        Err(Trouble::InProcess(why)) => {
            if verbose {
                errln!(out, "flowforge: answered in-process: {why}");
            }
            None
        }
    }
}

enum Trouble {
    /// Answer in-process, for this reason.
    InProcess(String),
    /// `require` could not be met.
    Fatal(String),
}

type Asked = (u8, Output, u32);

fn ask(cli: &Cli, args: &[OsString], mode: Mode) -> Result<Asked, Trouble> {
    let in_process = |why: String| Trouble::InProcess(why);
    let env = Env::from_process();
    let ctx = Context::new(&cli.global, &env).map_err(|_| in_process("bad context".into()))?;
    let common = ctx
        .git_common_dir()
        .ok_or_else(|| in_process("not in a git repository".into()))?;
    let location = Location::for_repository(&common)
        .map_err(|e| in_process(format!("no daemon location: {e}")))?;
    let request = RunRequest {
        args: (args.iter())
            .map(|a| a.to_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| in_process("an argument is not UTF-8".into()))?,
        cwd: (env.cwd.as_ref().ok().and_then(|cwd| cwd.to_str()))
            .ok_or_else(|| in_process("the working directory is not UTF-8".into()))?
            .to_owned(),
        env: {
            let mut vars = answer_env(std::env::vars_os());
            if let Some(dev) = &env.developer {
                vars.insert(
                    "FLOWFORGE_DEVELOPER".into(),
                    dev.to_string_lossy().into_owned(),
                );
            }
            vars
        },
    };
    let mut options = ClientOptions::new(version());
    if mode == Mode::Require {
        // Asked for the daemon: a slow greeting (a loaded machine) is worth waiting for.
        options.connect_timeout = Duration::from_secs(10);
    }
    let call = || -> Result<Asked, Error> {
        // The request goes with the connect: one round trip, not two.
        let (pid, reply) = Client::run_once(&location, &options, &request)?;
        match reply {
            Reply::Done(done) => Ok((
                done.exit_code,
                Output {
                    stdout: done.stdout,
                    stderr: done.stderr,
                },
                pid,
            )),
            Reply::Declined { reason } => Err(Error::Refused {
                reason: format!("declined: {reason}"),
            }),
            _ => Err(Error::Refused {
                reason: "an answer this client does not know".into(),
            }),
        }
    };
    match call() {
        Ok(asked) => Ok(asked),
        Err(e @ (Error::NotRunning { .. } | Error::Stale { .. } | Error::OtherVersion { .. })) => {
            if let Error::OtherVersion { .. } = e {
                // An old daemon: replace it with one of this version.
                let _ = Client::connect(&location, &options).and_then(Client::stop);
                wait_gone(&location, Duration::from_secs(2));
            }
            if mode == Mode::Require {
                start_and_wait(&ctx, &location, Duration::from_secs(10), None)
                    .map_err(|why| Trouble::Fatal(format!("FLOWFORGE_DAEMON=require: {why}")))?;
                return call().map_err(|e| match e {
                    Error::Refused { reason } => in_process(reason),
                    e => Trouble::Fatal(format!("FLOWFORGE_DAEMON=require: {e}")),
                });
            }
            if !location.is_locked() {
                spawn(&ctx, &location, None);
            }
            Err(in_process(format!("{e}; starting one in the background")))
        }
        // A declined request is answered in-process even when the daemon is required.
        Err(Error::Refused { reason }) => Err(in_process(reason)),
        Err(e) if mode == Mode::Require => {
            Err(Trouble::Fatal(format!("FLOWFORGE_DAEMON=require: {e}")))
        }
        Err(e) => Err(in_process(e.to_string())),
    }
}

/// Starts `flowforge daemon run` for `ctx`'s repository, detached, its stderr to the log.
pub(crate) fn spawn(ctx: &Context, location: &Location, idle: Option<Duration>) -> Option<u32> {
    use std::os::unix::{fs::OpenOptionsExt, process::CommandExt};
    let exe = std::env::current_exe().ok()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(location.log())
        .map_or_else(|_| Stdio::null(), Stdio::from);
    let mut command = Command::new(exe);
    command.arg("-C").arg(&ctx.repo).args(["daemon", "run"]);
    if let Some(idle) = idle {
        command
            .arg("--idle-timeout")
            .arg(idle.as_secs().to_string());
    }
    let child = command
        .current_dir("/")
        .env_remove("FLOWFORGE_DAEMON")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .ok()?;
    Some(child.id())
}

/// Starts a daemon unless one answers, and waits until one does.
///
/// # Errors
/// Why no daemon answered within `timeout`.
pub(crate) fn start_and_wait(
    ctx: &Context,
    location: &Location,
    timeout: Duration,
    idle: Option<Duration>,
) -> Result<u32, String> {
    let options = ClientOptions::new(version());
    let deadline = Instant::now() + timeout;
    let mut spawned = false;
    loop {
        match Client::connect(location, &options).and_then(Client::status) {
            Ok(status) if status.version == options.version => return Ok(status.pid),
            Ok(status) => {
                return Err(format!(
                    "a daemon of version {} runs (pid {})",
                    status.version, status.pid
                ));
            }
            Err(e) => {
                if !spawned && !location.is_locked() {
                    spawn(ctx, location, idle).ok_or("cannot start `flowforge daemon run`")?;
                    spawned = true;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "no daemon answered within {} s: {e} (log: {})",
                        timeout.as_secs(),
                        location.log().display()
                    ));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until nobody holds the daemon's lock (it has exited), at most `timeout`.
pub(crate) fn wait_gone(location: &Location, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while location.is_locked() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
