//! What every subcommand needs: the repository, the namespace layout and the developer.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use flowforge_core::{DeveloperId, Layout};

use crate::{
    GlobalArgs,
    error::{CliError, CliResult},
};

pub struct Context {
    /// The repository's top directory (the directory holding `.git`), or the given directory
    /// when it is not inside a repository.
    pub repo: PathBuf,
    pub layout: Layout,
    /// Every `--dev` given on the command line, in order.
    dev: Vec<std::ffi::OsString>,
}

impl Context {
    pub fn new(args: &GlobalArgs) -> CliResult<Self> {
        let cwd = std::env::current_dir().map_err(|e| {
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
        let repo = find_work_tree(&start).unwrap_or_else(|| start.clone());
        let root = args.root.clone().or_else(|| {
            std::env::var_os(ROOT_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let layout = match root {
            Some(root) => Layout::new(start.join(root)),
            None => Layout::for_repo(&repo),
        };
        Ok(Self {
            repo,
            layout,
            dev: args.dev.clone(),
        })
    }

    /// The developer from `--dev`, else the first of [`DEVELOPER_VARS`] set, validated.
    pub fn developer(&self) -> CliResult<DeveloperId> {
        let raw = match self.dev.as_slice() {
            [one] => one.clone(),
            [] => developer_from_env().ok_or_else(|| {
                CliError::usage(anyhow!(
                    "no developer given: pass --dev ID or set FLOWFORGE_DEVELOPER"
                ))
            })?,
            _ => {
                return Err(CliError::usage(anyhow!(
                    "--dev given more than once: this command acts as one developer"
                )));
            }
        };
        Ok(DeveloperId::from_os_str(&raw)?)
    }

    /// The git remote this clone shares its state through, if one is in use.
    pub fn remote(&self) -> CliResult<Option<flowforge_remote::Remote>> {
        if !self.repo.join(".git").exists() {
            return Ok(None);
        }
        Ok(flowforge_remote::Remote::open(
            &self.repo,
            crate::remote::options(),
        )?)
    }

    /// Every developer named with `--dev` on the command line (not the environment),
    /// validated, in order and without repeats.
    pub fn developers_given(&self) -> CliResult<Vec<DeveloperId>> {
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
pub const DEVELOPER_VARS: [&str; 3] = [
    "FLOWFORGE_DEVELOPER",
    "FLOWFORGE_DEVELOPER_ID",
    "FLOWFORGE_DEV_ID",
];

/// The environment variable naming the namespace root (`--root` wins over it).
pub const ROOT_VAR: &str = "FLOWFORGE_ROOT";

fn developer_from_env() -> Option<std::ffi::OsString> {
    DEVELOPER_VARS
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
}

/// The nearest ancestor of `start` (itself included) that holds a `.git` entry.
fn find_work_tree(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}
