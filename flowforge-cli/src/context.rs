//! What every subcommand needs: the repository, the namespace layout and the developer.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::anyhow;
use flowforge_core::{DeveloperId, Layout};

use crate::{
    GlobalArgs,
    error::{CliError, CliResult},
    freshness::{Accept, Ages},
};

/// What a command line runs with besides its arguments: the working directory and the
/// developer from the environment. A process takes its own; the daemon takes the client's.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// The working directory, or why it cannot be read.
    pub cwd: Result<PathBuf, String>,
    /// The developer the environment names (the first of [`DEVELOPER_VARS`] set).
    pub developer: Option<OsString>,
}

impl Env {
    /// This process's working directory and environment.
    pub(crate) fn from_process() -> Self {
        Self {
            cwd: std::env::current_dir().map_err(|e| e.to_string()),
            developer: developer_from_env(),
        }
    }
}

pub(crate) struct Context {
    /// The repository's top directory (the directory holding `.git`), or the given directory
    /// when it is not inside a repository.
    pub repo: PathBuf,
    pub layout: Layout,
    /// Every `--dev` given on the command line, in order.
    dev: Vec<OsString>,
    /// The developer from the environment.
    env_developer: Option<OsString>,
    /// How fresh an answer the caller accepts (`--cached`, `--max-age`).
    pub accept: Accept,
    /// How old the parts of the answer are, when older than the call.
    pub ages: Ages,
    /// `--verbose`: say on stderr who answered, and why.
    pub verbose: bool,
}

impl Context {
    pub(crate) fn new(args: &GlobalArgs, env: &Env) -> CliResult<Self> {
        let cwd = env.cwd.clone().map_err(|e| {
            CliError::failure(anyhow!(e).context("cannot read the current directory"))
        })?;
        let start = match &args.repo {
            Some(path) => cwd.join(path),
            None => cwd,
        };
        if !start.is_dir() {
            return Err(CliError::usage(anyhow!(
                "repository path {} is not a directory",
                start.display()
            )));
        }
        let work_tree = find_work_tree(&start);
        let repo = work_tree.clone().unwrap_or_else(|| start.clone());
        let root = args.root.clone().or_else(|| {
            std::env::var_os(ROOT_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        // A bare repository (or a git directory) has no work tree to keep `.flowforge` in:
        // never write it into git's own directory.
        if let (None, None, Some(git_dir)) = (&work_tree, &root, find_git_dir(&start)) {
            return Err(CliError::usage(anyhow!(
                "{} is a git directory with no work tree (a bare repository): FlowForge keeps \
                 its namespaces in a work tree; run it in a clone, or choose a place with --root",
                git_dir.display()
            )));
        }
        let layout = match root {
            Some(root) => Layout::new(start.join(root)),
            None => Layout::for_repo(&repo),
        };
        Ok(Self {
            repo,
            layout,
            dev: args.dev.clone(),
            env_developer: env.developer.clone(),
            accept: Accept::from_args(args.cached, args.max_age),
            ages: Ages::default(),
            verbose: args.verbose,
        })
    }

    /// The developer from `--dev`, else the first of [`DEVELOPER_VARS`] set, else the work
    /// tree's default (`dev switch`), validated.
    pub(crate) fn developer(&self) -> CliResult<DeveloperId> {
        let raw = match self.dev.as_slice() {
            [one] => one.clone(),
            [] => match &self.env_developer {
                Some(raw) => raw.clone(),
                None => {
                    return flowforge_session::switch::default_developer(&self.layout)?.ok_or_else(
                        || {
                            CliError::usage(anyhow!(
                                "no developer given: pass --dev ID, set FLOWFORGE_DEVELOPER or \
                                 run `flowforge dev switch ID`"
                            ))
                        },
                    );
                }
            },
            _ => {
                return Err(CliError::usage(anyhow!(
                    "--dev given more than once: this command acts as one developer"
                )));
            }
        };
        Ok(DeveloperId::from_os_str(&raw)?)
    }

    /// What [`Context::developer`] takes the developer from: `--dev`, `environment` or
    /// `dev switch`.
    pub(crate) fn developer_source(&self) -> &'static str {
        if !self.dev.is_empty() {
            "--dev"
        } else if self.env_developer.is_some() {
            "environment"
        } else {
            "dev switch"
        }
    }

    /// The developer the environment names, if any.
    pub(crate) fn env_developer(&self) -> Option<&std::ffi::OsStr> {
        self.env_developer.as_deref()
    }

    /// The git remote this clone shares its state through, if one is in use.
    pub(crate) fn remote(&self) -> CliResult<Option<flowforge_remote::Remote>> {
        if !self.repo.join(".git").exists() {
            return Ok(None);
        }
        let (git_dir, common_dir) = (self.git_dir(), self.git_common_dir());
        if !crate::remote_config::may_set_flowforge(git_dir.as_deref(), common_dir.as_deref()) {
            return Ok(None);
        }
        Ok(flowforge_remote::Remote::open(
            &self.repo,
            crate::remote::options(),
        )?)
    }

    /// The work tree's git directory (`.git`, or where a `.git` file points).
    pub(crate) fn git_dir(&self) -> Option<PathBuf> {
        let dot_git = self.repo.join(".git");
        if dot_git.is_dir() {
            Some(dot_git)
        } else {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            Some(self.repo.join(text.strip_prefix("gitdir:")?.trim()))
        }
    }

    /// The git remote of `config` (what [`Context::remote`] opens, settings already read).
    pub(crate) fn remote_with(&self, config: flowforge_remote::Config) -> flowforge_remote::Remote {
        flowforge_remote::Remote::with_config(&self.repo, config, crate::remote::options())
    }

    /// The git common directory of the work tree (the `.git` directory, or for a linked
    /// worktree the main repository's), when it holds a repository (`HEAD`).
    pub(crate) fn git_common_dir(&self) -> Option<PathBuf> {
        let git_dir = self.git_dir()?;
        let common = match std::fs::read_to_string(git_dir.join("commondir")) {
            Ok(text) => git_dir.join(text.trim()),
            Err(_) => git_dir,
        };
        common.join("HEAD").is_file().then_some(common)
    }

    /// Every developer named with `--dev` on the command line (not the environment),
    /// validated, in order and without repeats.
    pub(crate) fn developers_given(&self) -> CliResult<Vec<DeveloperId>> {
        let mut out: Vec<DeveloperId> = Vec::new();
        for raw in &self.dev {
            let id = DeveloperId::from_os_str(raw)?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// The environment variables naming the developer, in order of precedence: the first set
/// and not empty wins. `FLOWFORGE_DEVELOPER_ID` and `FLOWFORGE_DEV_ID` are the names other
/// FlowForge tools use.
pub(crate) const DEVELOPER_VARS: [&str; 3] = [
    "FLOWFORGE_DEVELOPER",
    "FLOWFORGE_DEVELOPER_ID",
    "FLOWFORGE_DEV_ID",
];

/// The environment variable naming the namespace root (`--root` wins over it).
pub(crate) const ROOT_VAR: &str = "FLOWFORGE_ROOT";

fn developer_from_env() -> Option<std::ffi::OsString> {
    DEVELOPER_VARS
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
}

/// The nearest ancestor of `start` (itself included) that is a git directory itself: a
/// `HEAD` file beside `objects/` and `refs/`, as git recognises one.
fn find_git_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| {
            dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
        })
        .map(Path::to_path_buf)
}

/// The nearest ancestor of `start` (itself included) that holds a `.git` entry.
fn find_work_tree(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}
