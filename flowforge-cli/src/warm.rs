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
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use flowforge_core::Layout;
use flowforge_daemon::{Done, Handler, Reply, RunRequest};
use flowforge_git::{GitView, ViewOptions, WatchMode};
use flowforge_index::{ChangeSignal, Index, Watcher};
use flowforge_session::{Claim, ClaimsVersion};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::{
    Cli,
    context::{Context, DEVELOPER_VARS, Env},
    freshness::{Accept, Ages},
    output::Output,
    remote_config::RemoteConfigCache,
};

/// A file changed this close to a read of it may change again without its `stat` data
/// moving (the kernel's file clock ticks every few milliseconds).
const RACY: Duration = Duration::from_millis(50);

/// How long a cookie may take to come back through the index watcher before the refresh is
/// a full one.
const COOKIE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the index's refresher waits for a change before it checks that its work tree is
/// still kept.
const REFRESHER_IDLE: Duration = Duration::from_secs(60);

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
    /// The work tree's git view, shared by every namespace root asked about in it.
    pub view: Result<GitView, String>,
    /// The work tree's remote settings, shared likewise.
    remote: Arc<Mutex<RemoteConfigCache>>,
    /// Resident memory growth while the work tree's view was opened.
    git_rss_bytes: Option<u64>,
    /// Shared with the index's refresher thread, which holds it weakly.
    pub index: Arc<Mutex<WarmIndex>>,
    /// The held claims, with the version of the claims they were read at.
    claims: Mutex<Option<(ClaimsVersion, Arc<Vec<Claim>>)>>,
}

/// What a work tree's namespace roots share: one watched git view, one copy of the remote
/// settings.
#[derive(Clone)]
struct WarmTree {
    view: Result<GitView, String>,
    remote: Arc<Mutex<RemoteConfigCache>>,
    /// How much the daemon's resident memory grew while the view was opened and its first
    /// status computed.
    git_rss_bytes: Option<u64>,
}

impl WarmTree {
    /// Opens the work tree's view and computes its status once, so the first request finds
    /// it warm.
    fn new(repo: &Path) -> Self {
        let options = ViewOptions {
            watch: WatchMode::Watch,
            ..ViewOptions::default()
        };
        let before = rss_bytes();
        let view = GitView::open(repo, &options).map_err(|e| e.to_string());
        if let Ok(view) = &view {
            let _ = view.status(flowforge_git::Freshness::Synced);
        }
        Self {
            view,
            remote: Arc::default(),
            git_rss_bytes: growth(before, rss_bytes()),
        }
    }
}

/// This process's resident memory, from `/proc/self/status`.
pub(crate) fn rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn growth(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
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
    /// When the index was last proven to hold every change made before (`--max-age`).
    proven_at: Option<Instant>,
    /// How much the daemon's resident memory grew while the index was first opened.
    rss_bytes: Option<u64>,
    /// Refreshes the refresher thread applied as changes arrived, ahead of any question.
    refreshed_ahead: u64,
}

impl WarmRepo {
    fn new(ctx: &Context, tree: WarmTree) -> Self {
        Self {
            repo: ctx.repo.clone(),
            layout: ctx.layout.clone(),
            view: tree.view,
            remote: tree.remote,
            git_rss_bytes: tree.git_rss_bytes,
            claims: Mutex::new(None),
            index: Arc::new(Mutex::new(WarmIndex {
                index: None,
                watcher: None,
                warning: None,
                watch_failed: false,
                proven_at: None,
                rss_bytes: None,
                refreshed_ahead: 0,
            })),
        }
    }

    /// The work tree's remote settings, as [`Context::remote`] reads them, from the copy kept
    /// while the configuration files hold the same bytes.
    ///
    /// # Errors
    /// As [`flowforge_remote::read_config`].
    pub(crate) fn remote_config(
        &self,
        ctx: &Context,
    ) -> flowforge_remote::Result<Option<flowforge_remote::Config>> {
        let common = ctx.git_common_dir();
        self.remote
            .lock()
            .get(&ctx.repo, ctx.git_dir().as_deref(), common.as_deref())
    }

    /// Every held claim, as [`flowforge_session::list_claims`] reads it now: kept while the
    /// claims' version (the document's generation and the `stat` data of its file) does not
    /// move, so a question costs a `stat` or two instead of parsing every claim. A copy read
    /// within [`RACY`] of its file's last change is not kept (an edit in place within the
    /// same clock tick could leave the `stat` data as they were).
    ///
    /// # Errors
    /// As [`flowforge_session::list_claims`] and [`flowforge_session::claims_version`].
    pub(crate) fn claims(&self) -> flowforge_session::Result<Arc<Vec<Claim>>> {
        let mut kept = self.claims.lock();
        let version = flowforge_session::claims_version(&self.layout)?;
        if let Some((at, claims)) = kept.as_ref() {
            if *at == version {
                return Ok(Arc::clone(claims));
            }
        }
        let read_at = SystemTime::now();
        let claims = Arc::new(flowforge_session::list_claims(&self.layout)?);
        let after = flowforge_session::claims_version(&self.layout)?;
        let racy = version.files().flatten().any(|file| {
            let changed = UNIX_EPOCH + Duration::new(file.mtime.0.max(0) as u64, file.mtime.1);
            let status = UNIX_EPOCH + Duration::new(file.ctime.0.max(0) as u64, file.ctime.1);
            read_at
                .duration_since(changed.max(status))
                .map_or(true, |d| d < RACY)
        });
        *kept = (after == version && !racy).then(|| (version, Arc::clone(&claims)));
        Ok(claims)
    }

    /// Brings the index up to date with every change made before the call: through the
    /// synced watcher when there is one, by a full refresh otherwise; the first call
    /// opens it exactly as a process without a daemon does (`open`). With `--cached` it takes
    /// only the changes the watcher has reported; with `--max-age` nothing, when the index was
    /// proven current recently enough; either is recorded in `ages`.
    ///
    /// # Errors
    /// As `open`, and as [`Index::refresh`].
    pub(crate) fn sync_index<E>(
        &self,
        state: &mut WarmIndex,
        accept: Accept,
        ages: &Ages,
        open: impl FnOnce() -> Result<Index, E>,
    ) -> Result<(), E>
    where
        E: From<flowforge_index::Error>,
    {
        if state.watcher.is_none() && !state.watch_failed && self.layout.root().is_dir() {
            // Watch first, then open: no change can fall between the two.
            match Watcher::new(&self.layout) {
                Ok(watcher) => {
                    spawn_refresher(&self.index, watcher.signal());
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
        let started = Instant::now();
        match (&mut state.index, &mut state.watcher, accept) {
            (None, _, _) => {
                let before = rss_bytes();
                state.index = Some(open()?);
                state.rss_bytes = growth(before, rss_bytes());
            }
            (Some(_), Some(_), Accept::MaxAge(max))
                if state.proven_at.is_some_and(|at| at.elapsed() <= max) =>
            {
                let age = state.proven_at.map_or(Duration::ZERO, |at| at.elapsed());
                ages.older("namespace index", age);
                return Ok(());
            }
            (Some(index), Some(watcher), Accept::Cached) => {
                watcher.refresh(index)?;
                ages.watched("namespace index");
                return Ok(());
            }
            (Some(index), Some(watcher), _) => {
                watcher.refresh_synced(index, COOKIE_TIMEOUT)?;
                if state.warning.is_none() {
                    state.warning = watcher.failure().map(|why| {
                        format!("namespace index watcher failed ({why}): every request refreshes it fully")
                    });
                }
            }
            (Some(index), None, _) => {
                index.refresh()?;
            }
        }
        // Every change made before `started` is in the index now.
        state.proven_at = Some(started);
        Ok(())
    }

    fn status(&self) -> WorkTreeStatus {
        let index = self.index.lock();
        let remote = self.remote.lock();
        let git = match &self.view {
            Ok(view) => {
                let stats = view.stats();
                GitStatusJson {
                    watching: view.is_watching(),
                    warning: view.not_watching_because(),
                    status_computations: Some(stats.misses),
                    status_hits: Some(stats.hits),
                    memory_bytes_when_opened: Some(self.git_rss_bytes),
                }
            }
            Err(why) => GitStatusJson {
                watching: false,
                warning: Some(why.clone()),
                status_computations: None,
                status_hits: None,
                memory_bytes_when_opened: None,
            },
        };
        WorkTreeStatus {
            work_tree: self.repo.clone(),
            namespace_root: self.layout.root().to_owned(),
            git,
            index: IndexStatusJson {
                open: index.index.is_some(),
                developers: index.index.as_ref().map(Index::namespace_count),
                watching: index.watcher.is_some(),
                warning: index.warning.clone(),
                memory_bytes_when_opened: index.rss_bytes,
                refreshed_ahead: index.refreshed_ahead,
            },
            remote_settings: RemoteSettingsJson {
                reads: remote.reads,
                hits: remote.hits,
            },
        }
    }
}

impl WarmIndex {
    /// Applies the changes the watcher has filed so far; `false` when there is no watched
    /// index or its refresh failed.
    fn refresh_pending(&mut self) -> bool {
        match (&mut self.index, &mut self.watcher) {
            (Some(index), Some(watcher)) => {
                let refreshed = watcher.refresh(index).is_ok();
                self.refreshed_ahead += u64::from(refreshed);
                refreshed
            }
            _ => false,
        }
    }
}

/// Starts the thread that applies the index watcher's changes as they arrive, so a question
/// asked right after a change finds the work done: its own synced refresh then waits only for
/// the cookie. This moves work earlier and never answers anything: every question still syncs
/// first. The thread ends when its work tree is no longer kept, or when it has nothing to
/// refresh (no watched index, a failed refresh): questions then refresh as before.
fn spawn_refresher(index: &Arc<Mutex<WarmIndex>>, signal: ChangeSignal) {
    let index = Arc::downgrade(index);
    let refresher = move || {
        loop {
            let pending = signal.wait(REFRESHER_IDLE);
            let Some(index) = index.upgrade() else { return };
            if pending && !index.lock().refresh_pending() {
                return;
            }
        }
    };
    // Without the thread questions refresh the index themselves, as before.
    let _ = std::thread::Builder::new()
        .name("index-refresher".into())
        .spawn(refresher);
}

/// The CLI's [`Handler`]: a warm state per work tree asked about, created on first use.
pub(crate) struct Daemon {
    repository: PathBuf,
    env: BTreeMap<String, String>,
    repos: Mutex<BTreeMap<(PathBuf, PathBuf), Arc<WarmRepo>>>,
    trees: Mutex<BTreeMap<PathBuf, WarmTree>>,
}

impl Daemon {
    /// A handler for the repository whose git common directory is `repository`, warming
    /// `ctx`'s work tree now so the first request finds it warm.
    pub(crate) fn new(repository: &Path, ctx: &Context) -> Self {
        let daemon = Self {
            repository: repository.to_owned(),
            env: answer_env(std::env::vars_os()),
            repos: Mutex::new(BTreeMap::new()),
            trees: Mutex::new(BTreeMap::new()),
        };
        let warm = daemon.warm(ctx);
        let mut state = warm.index.lock();
        let mut scratch = Output::default();
        let _ = warm.sync_index(&mut state, Accept::Synced, &ctx.ages, || {
            crate::team::open_cold(ctx, &mut scratch)
        });
        drop(state);
        daemon
    }

    fn warm(&self, ctx: &Context) -> Arc<WarmRepo> {
        let key = (ctx.repo.clone(), ctx.layout.root().to_owned());
        let mut repos = self.repos.lock();
        Arc::clone(repos.entry(key).or_insert_with(|| {
            let tree = (self.trees.lock())
                .entry(ctx.repo.clone())
                .or_insert_with(|| WarmTree::new(&ctx.repo))
                .clone();
            Arc::new(WarmRepo::new(ctx, tree))
        }))
    }

    /// The request's command line and context, or why the client must answer it itself.
    fn prepare(&self, request: &RunRequest) -> Result<(Cli, Context), String> {
        if answer_env(request.env.iter().map(|(k, v)| (k.into(), v.into()))) != self.env {
            return Err("the client's environment differs from the daemon's".into());
        }
        let args = request.args.iter().map(OsString::from);
        let Ok(cli) = crate::parse_warm(args) else {
            return Err("not a valid command line".into());
        };
        if !crate::route::reads_only(&cli) {
            return Err("not a reading command".into());
        }
        let ctx = match Context::new(&cli.global, &env_of(request)) {
            Ok(ctx) => ctx,
            Err(_) => return Err("no context".into()),
        };
        match ctx.git_common_dir().and_then(|d| d.canonicalize().ok()) {
            Some(dir) if dir == self.repository => Ok((cli, ctx)),
            _ => Err("another repository".into()),
        }
    }
}

impl Handler for Daemon {
    fn run(&self, request: RunRequest) -> Reply {
        let (cli, ctx) = match self.prepare(&request) {
            Ok(prepared) => prepared,
            Err(reason) => return Reply::Declined { reason },
        };
        let mut out = Output::default();
        let exit_code = crate::execute_warm(cli, &ctx, &|ctx: &Context| self.warm(ctx), &mut out);
        Reply::Done(Done {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code,
        })
    }

    fn status(&self) -> Value {
        let status = HandlerStatus {
            work_trees: self.repos.lock().values().map(|r| r.status()).collect(),
        };
        // Only a path that is not UTF-8 fails: the status then says so instead.
        serde_json::to_value(&status).unwrap_or_else(|e| Value::String(e.to_string()))
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

/// The handler part of `daemon status --json` (`daemon.handler`): one entry per work tree
/// the daemon keeps warm.
#[derive(Debug, Serialize)]
pub(crate) struct HandlerStatus {
    /// The warm work trees.
    work_trees: Vec<WorkTreeStatus>,
}

/// One warm work tree of [`HandlerStatus`].
#[derive(Debug, Serialize)]
pub(crate) struct WorkTreeStatus {
    /// The work tree.
    work_tree: PathBuf,
    /// Its namespace root.
    namespace_root: PathBuf,
    /// The watched git view.
    git: GitStatusJson,
    /// The namespace index.
    index: IndexStatusJson,
    /// The copy of the work tree's remote settings.
    remote_settings: RemoteSettingsJson,
}

/// [`WorkTreeStatus::remote_settings`].
#[derive(Debug, Serialize)]
pub(crate) struct RemoteSettingsJson {
    /// Commands that asked for the settings.
    reads: u64,
    /// Of those, answered from the kept copy.
    hits: u64,
}

/// [`WorkTreeStatus::git`].
#[derive(Debug, Serialize)]
pub(crate) struct GitStatusJson {
    /// Whether the view is watched (answers without recomputing).
    watching: bool,
    /// Why it is not watched; `null` when it is.
    warning: Option<String>,
    /// Statuses computed; absent when there is no view.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_computations: Option<u64>,
    /// Statuses answered from the cache; absent when there is no view.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_hits: Option<u64>,
    /// The resident memory the view took when opened, in bytes; absent when there is no view,
    /// `null` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes_when_opened: Option<Option<u64>>,
}

/// [`WorkTreeStatus::index`].
#[derive(Debug, Serialize)]
pub(crate) struct IndexStatusJson {
    /// Whether the index is open.
    open: bool,
    /// Namespaces indexed; `null` when not open.
    developers: Option<usize>,
    /// Whether a watcher keeps it fresh.
    watching: bool,
    /// Why it is not watched; `null` when it is.
    warning: Option<String>,
    /// The resident memory the index took when opened, in bytes; `null` when unknown.
    memory_bytes_when_opened: Option<u64>,
    /// Refreshes applied as changes arrived, before any question asked for them.
    refreshed_ahead: u64,
}
