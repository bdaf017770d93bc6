//! `flowforge daemon run|start|stop|status`: the repository's warm daemon.

use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use flowforge_daemon::{Client, ClientOptions, Error, Location, Server, ServerOptions, Shutdown};
use serde::Serialize;

use crate::{
    context::Context,
    error::{CliError, CliResult},
    output::{self, Output, errln, outln},
    route::{self, version},
    warm,
};

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Serve this repository in the foreground until stopped, idle or the repository is gone.
    Run(IdleArgs),
    /// Start a daemon in the background (unless one runs) and wait until it answers.
    Start(IdleArgs),
    /// Stop the repository's daemon and wait until it has exited.
    Stop,
    /// Whether a daemon serves this repository: pid, socket, uptime, requests, watchers,
    /// memory; or why none answers.
    Status {
        /// Print JSON: {"running", "reason", "daemon": {...}}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct IdleArgs {
    /// Exit after this many seconds without a request (default: $FLOWFORGE_DAEMON_IDLE_SECS,
    /// or 1800).
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
}

impl IdleArgs {
    fn idle(&self) -> CliResult<Duration> {
        let secs = match self.idle_timeout {
            Some(secs) => secs,
            None => match std::env::var("FLOWFORGE_DAEMON_IDLE_SECS") {
                Ok(text) => text.parse().map_err(|_| {
                    CliError::usage(anyhow!(
                        "FLOWFORGE_DAEMON_IDLE_SECS={text:?} is not a number of seconds"
                    ))
                })?,
                Err(_) => 1800,
            },
        };
        Ok(Duration::from_secs(secs))
    }
}

fn location(ctx: &Context) -> CliResult<Location> {
    let common = ctx.git_common_dir().ok_or_else(|| {
        CliError::usage(anyhow!(
            "{} is not in a git repository: a daemon serves one repository",
            ctx.repo.display()
        ))
    })?;
    Location::for_repository(&common).map_err(CliError::failure)
}

fn client_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        ..ClientOptions::new(version())
    }
}

pub(crate) fn run(ctx: &Context, command: DaemonCommand, out: &mut Output) -> CliResult {
    let location = location(ctx)?;
    match command {
        DaemonCommand::Run(args) => {
            let options = ServerOptions {
                idle_timeout: args.idle()?,
                ..ServerOptions::new(version())
            };
            let server = Server::bind(&location, options).map_err(|e| match e {
                Error::AlreadyRunning { .. } => CliError::conflict(e),
                other => CliError::failure(other),
            })?;
            let handler = warm::Daemon::new(location.repository(), ctx);
            output::write_stderr(
                format!(
                    "flowforge: daemon {} serving {} on {}\n",
                    std::process::id(),
                    location.repository().display(),
                    location.socket().display()
                )
                .as_bytes(),
            );
            let shutdown = server.serve(handler).map_err(CliError::failure)?;
            let why = match shutdown {
                Shutdown::Stopped => "stopped",
                Shutdown::Idle => "idle",
                Shutdown::RepositoryGone => "the repository is gone",
                Shutdown::SocketLost => "its socket was removed",
                _ => "shut down",
            };
            errln!(
                out,
                "flowforge: daemon {} exited: {why}",
                std::process::id()
            );
        }
        DaemonCommand::Start(args) => {
            let idle = args.idle()?;
            let pid = start(ctx, &location, idle)?;
            outln!(
                out,
                "daemon {pid} serving {}",
                location.repository().display()
            );
        }
        DaemonCommand::Stop => match Client::connect(&location, &client_options()) {
            Ok(client) => {
                let pid = client.daemon_pid();
                client.stop().map_err(CliError::failure)?;
                if !route::wait_gone(&location, Duration::from_secs(10)) {
                    return Err(CliError::failure(anyhow!(
                        "daemon {pid} was asked to stop but still holds {}",
                        location.lock().display()
                    )));
                }
                outln!(out, "daemon {pid} stopped");
            }
            Err(e) => outln!(out, "no daemon to stop: {e}"),
        },
        DaemonCommand::Status { json } => {
            let status = Client::connect(&location, &client_options()).and_then(Client::status);
            match (status, json) {
                (Ok(status), true) => {
                    let value = DaemonStatusJson {
                        running: true,
                        reason: None,
                        daemon: Some(&status),
                    };
                    outln!(out, "{}", crate::json::to_string(&value)?);
                }
                (Ok(status), false) => {
                    outln!(out, "daemon {} (version {})", status.pid, status.version);
                    outln!(out, "  repository  {}", status.repository);
                    outln!(out, "  socket      {}", status.socket);
                    outln!(out, "  uptime      {} s", status.uptime_ms / 1000);
                    outln!(
                        out,
                        "  idle exit   after {} s",
                        status.idle_timeout_ms / 1000
                    );
                    outln!(
                        out,
                        "  requests    {} ({} malformed, {} refused)",
                        status.requests,
                        status.malformed,
                        status.refused
                    );
                    if let Some(rss) = status.memory_rss_bytes {
                        outln!(out, "  memory      {:.1} MiB", rss as f64 / 1048576.0);
                    }
                    if status.version != version() {
                        outln!(
                            out,
                            "  warning: not this binary's version ({}): it answers nothing; `flowforge daemon stop`",
                            version()
                        );
                    }
                    for tree in status.handler["work_trees"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        outln!(
                            out,
                            "  work tree   {} (namespaces {})",
                            tree["work_tree"].as_str().unwrap_or("?"),
                            tree["namespace_root"].as_str().unwrap_or("?")
                        );
                        outln!(out, "    git       {}", watching(&tree["git"]));
                        outln!(out, "    index     {}", watching(&tree["index"]));
                    }
                }
                (Err(e), json) => {
                    let reason = explain(&e, &location);
                    if json {
                        let value = DaemonStatusJson {
                            running: false,
                            reason: Some(reason),
                            daemon: None,
                        };
                        outln!(out, "{}", crate::json::to_string(&value)?);
                    } else {
                        outln!(out, "no daemon: {reason}");
                    }
                    return Err(CliError::silent_failure());
                }
            }
        }
    }
    Ok(())
}

fn watching(part: &serde_json::Value) -> String {
    let state = match (part["watching"].as_bool(), part["warning"].as_str()) {
        (Some(true), Some(warning)) => format!("watched, degraded: {warning}"),
        (Some(true), None) => "watched".to_owned(),
        (_, Some(warning)) => format!("not watched, recomputed per request: {warning}"),
        _ => "not opened yet".to_owned(),
    };
    let state = match part["memory_bytes_when_opened"].as_u64() {
        Some(bytes) => format!(
            "{state}, {:.1} MiB resident when opened",
            bytes as f64 / 1_048_576.0
        ),
        None => state,
    };
    match part["refreshed_ahead"].as_u64() {
        Some(n) => format!("{state}, {n} refreshes ahead of a question"),
        None => state,
    }
}

fn explain(e: &Error, location: &Location) -> String {
    match e {
        Error::NotRunning { .. } => format!(
            "none runs (no socket {}); one starts on the next reading command",
            location.socket().display()
        ),
        Error::Stale { .. } => format!(
            "{} was left behind by a daemon that is gone; the next one replaces it",
            location.socket().display()
        ),
        other => other.to_string(),
    }
}

fn start(ctx: &Context, location: &Location, idle: Duration) -> CliResult<u32> {
    route::start_and_wait(ctx, location, Duration::from_secs(30), Some(idle))
        .map_err(|why| CliError::failure(anyhow!("cannot start the daemon: {why}")))
}

/// `daemon status --json`.
#[derive(Debug, Serialize)]
pub(crate) struct DaemonStatusJson<'a> {
    /// Whether a daemon answered.
    running: bool,
    /// Why none did; `null` when one did.
    reason: Option<String>,
    /// The daemon's own status (pid, version, socket, uptime, requests, memory, and per work
    /// tree what it watches); `null` when none answered.
    daemon: Option<&'a flowforge_daemon::ServerStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watcher that failed after it started is still watching, and its warning is shown.
    #[test]
    fn a_watched_part_with_a_warning_shows_it() {
        let part = serde_json::json!({
            "watching": true,
            "warning": "namespace index watcher failed (no watches left): every request refreshes it fully",
        });
        assert_eq!(
            watching(&part),
            "watched, degraded: namespace index watcher failed (no watches left): every request \
             refreshes it fully"
        );
        assert_eq!(watching(&serde_json::json!({"watching": true})), "watched");
        assert_eq!(
            watching(&serde_json::json!({"watching": false, "warning": "no inotify"})),
            "not watched, recomputed per request: no inotify"
        );
    }
}
