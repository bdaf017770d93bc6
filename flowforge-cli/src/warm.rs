//! The daemon's side of the CLI: warm state per work tree, and the handler that runs a client's
//! command line against it.
//!
//! A request runs through the very function a process without a daemon runs
//! ([`crate::execute`]), with [`Engine::Warm`] instead of [`Engine::InProcess`]: the commands
//! take their git status from a watched [`GitView`] and their namespace index from an [`Index`]
//! kept by a [`Watcher`], both synced with a cookie before answering, so an answer includes
//! every change made before the request. Everything else (argument checks, wording, exit codes)
//! is the same code. The handler declines what it cannot answer identically: another
//! repository, another environment, or a command that is not a reading one.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use clap::Parser;
use flowforge_core::Layout;
use flowforge_daemon::{Answer, Done, Handler, RunRequest};
use flowforge_git::{GitView, ViewOptions, WatchMode};
use flowforge_index::{Index, Watcher};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::{
    Cli,
    context::{Context, DEVELOPER_VARS, Env},
    output::Output,
};

/// How long a cookie may take to come back through the index watcher before the refresh is
/// a full one.
const COOKIE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a command gets its state.
#[derive(Clone, Copy)]
pub(crate) enum Engine<'a> {
    /// Everything from the files, as a fresh process does.
    InProcess,
    /// From the daemon's warm state for the command's work tree.
    Warm(&'a WarmRepo),
}

/// The warm state of one work tree and namespace root.
pub(crate) struct WarmRepo {
    repo: PathBuf,
    layout: Layout,
    /// The watched git view (`Err`: why there is none; commands then compute as a process does).
    pub view: Result<GitView, String>,
    pub index: Mutex<WarmIndex>,
}

/// The namespace index and the watcher that keeps it current.
pub(crate) struct WarmIndex {
    /// `None` until the first request opens it.
    pub index: Option<Index>,
    watcher: Option<Watcher>,
    /// Why there is no watcher (every request then refreshes with a full stat pass).
    warning: Option<String>,
    /// Whether starting the watcher failed for another reason than a missing root.
    watch_failed: bool,
}

impl WarmRepo {
    fn new(ctx: &Context) -> Self {
        let options = ViewOptions {
            watch: WatchMode::Watch,
            ..ViewOptions::default()
        };
        Self {
            repo: ctx.repo.clone(),
            layout: ctx.layout.clone(),
            view: GitView::open(&ctx.repo, &options).map_err(|e| e.to_string()),
            index: Mutex::new(WarmIndex {
                index: None,
                watcher: None,
                warning: None,
                watch_failed: false,
            }),
        }
    }

    /// Brings the index up to date with every change made before the call: through the
    /// watcher and a cookie when there is one, by a full refresh otherwise; the first call
    /// opens it exactly as a process without a daemon does (`open`).
    ///
    /// # Errors
    /// As `open`, and as [`Index::refresh`].
    pub(crate) fn sync_index<E>(
        &self,
        state: &mut WarmIndex,
        open: impl FnOnce() -> Result<Index, E>,
    ) -> Result<(), E>
    where
        E: From<flowforge_index::Error>,
    {
        if state.watcher.is_none() && !state.watch_failed && self.layout.root().is_dir() {
            // Watch first, then open: no change can fall between the two.
            match Watcher::new(&self.layout) {
                Ok(watcher) => {
                    state.watcher = Some(watcher);
                    state.index = None;
                    state.warning = None;
                }
                Err(e) => {
                    state.warning = Some(format!(
                        "namespace index not watched ({e}): every request refreshes it fully"
                    ));
                    state.watch_failed = true;
                }
            }
        }
        match (&mut state.index, &mut state.watcher) {
            (None, _) => state.index = Some(open()?),
            (Some(index), Some(watcher)) => {
                watcher.refresh_synced(index, COOKIE_TIMEOUT)?;
            }
            (Some(index), None) => {
                index.refresh()?;
            }
        }
        Ok(())
    }

    fn status(&self) -> Value {
        let index = self.index.lock();
        let git = match &self.view {
            Ok(view) => {
                let stats = view.stats();
                json!({
                    "watching": view.is_watching(),
                    "warning": view.not_watching_because(),
                    "status_computations": stats.misses,
                    "status_hits": stats.hits,
                })
            }
            Err(why) => json!({"watching": false, "warning": why}),
        };
        json!({
            "work_tree": self.repo,
            "namespace_root": self.layout.root(),
            "git": git,
            "index": {
                "open": index.index.is_some(),
                "developers": index.index.as_ref().map(Index::namespace_count),
                "watching": index.watcher.is_some(),
                "warning": index.warning,
            },
        })
    }
}

/// The CLI's [`Handler`]: a warm state per work tree asked about, created on first use.
pub(crate) struct Daemon {
    repository: PathBuf,
    env: BTreeMap<String, String>,
    repos: Mutex<BTreeMap<(PathBuf, PathBuf), Arc<WarmRepo>>>,
}

impl Daemon {
    /// A handler for the repository whose git common directory is `repository`, warming
    /// `ctx`'s work tree now so the first request finds it warm.
    pub(crate) fn new(repository: &Path, ctx: &Context) -> Self {
        let daemon = Self {
            repository: repository.to_owned(),
            env: answer_env(std::env::vars_os()),
            repos: Mutex::new(BTreeMap::new()),
        };
        let warm = daemon.warm(ctx);
        let mut state = warm.index.lock();
        let mut scratch = Output::default();
        let _ = warm.sync_index(&mut state, || crate::team::open_cold(ctx, &mut scratch));
        drop(state);
        daemon
    }

    fn warm(&self, ctx: &Context) -> Arc<WarmRepo> {
        let key = (ctx.repo.clone(), ctx.layout.root().to_owned());
        let mut repos = self.repos.lock();
        Arc::clone(
            repos
                .entry(key)
                .or_insert_with(|| Arc::new(WarmRepo::new(ctx))),
        )
    }

    /// Why this request must be answered by the client itself, if it must.
    fn decline(&self, request: &RunRequest) -> Option<String> {
        if answer_env(request.env.iter().map(|(k, v)| (k.into(), v.into()))) != self.env {
            return Some("the client's environment differs from the daemon's".into());
        }
        let Ok(cli) = Cli::try_parse_from(&request.args) else {
            return Some("not a valid command line".into());
        };
        if !crate::route::reads_only(&cli) {
            return Some("not a reading command".into());
        }
        let ctx = match Context::new(&cli.global, &env_of(request)) {
            Ok(ctx) => ctx,
            Err(_) => return Some("no context".into()),
        };
        match ctx.git_common_dir().and_then(|d| d.canonicalize().ok()) {
            Some(dir) if dir == self.repository => None,
            _ => Some("another repository".into()),
        }
    }
}

impl Handler for Daemon {
    fn run(&self, request: RunRequest) -> Answer {
        if let Some(reason) = self.decline(&request) {
            return Answer::Declined { reason };
        }
        let env = env_of(&request);
        let mut out = Output::default();
        let args: Vec<OsString> = request.args.iter().map(OsString::from).collect();
        let exit_code = crate::execute(args, &env, Some(&|ctx: &Context| self.warm(ctx)), &mut out);
        Answer::Done(Done {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code,
        })
    }

    fn status(&self) -> Value {
        let repos: Vec<Value> = self.repos.lock().values().map(|r| r.status()).collect();
        json!({ "work_trees": repos })
    }
}

fn env_of(request: &RunRequest) -> Env {
    Env {
        cwd: Ok(PathBuf::from(&request.cwd)),
        developer: request.env.get("FLOWFORGE_DEVELOPER").map(OsString::from),
    }
}

/// Whether an environment variable bears on an answer, and must therefore be the same in the
/// client and the daemon: the time zone, where git's global excludes live, and FlowForge's own
/// settings (the developer is passed per request; the daemon switches do not matter).
pub(crate) fn bears_on_answer(name: &str) -> bool {
    matches!(name, "TZ" | "HOME" | "XDG_CONFIG_HOME" | "NO_COLOR")
        || name.starts_with("GIT_")
        || (name.starts_with("FLOWFORGE_")
            && !DEVELOPER_VARS.contains(&name)
            && !name.starts_with("FLOWFORGE_DAEMON"))
}

/// The variables of `vars` that bear on an answer (non-UTF-8 ones kept lossily: they then
/// never match, and the client answers itself).
pub(crate) fn answer_env(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> BTreeMap<String, String> {
    vars.filter_map(|(k, v)| {
        let k = k.to_string_lossy().into_owned();
        bears_on_answer(&k).then(|| (k, v.to_string_lossy().into_owned()))
    })
    .collect()
}
