//! Every path of the FlowForge v2 layout, computed from the namespace root.
//!
//! ```text
//! .flowforge/
//! ├── .gitignore                   `*`: keeps the namespace out of `git status`
//! ├── .namespace-env               the work tree's default developer (`dev switch`)
//! ├── index/
//! │   └── snapshot.json            the namespace index's own snapshot (flowforge-index)
//! ├── metrics/                     metric snapshots persisted by FlowForge processes
//! ├── team/
//! │   ├── config.json              team members (name, email, role)
//! │   ├── task-assignments.json    view: who holds which task
//! │   ├── active-developers.json   view: who is working now
//! │   └── store/                   versioned documents shared by the team (claims, …)
//! └── dev-<id>/
//!     ├── config.json              the namespace's own configuration
//!     ├── time-tracking.json       view: total_minutes and per-session entries
//!     ├── sessions/
//!     │   ├── current.json         view: the latest session
//!     │   └── history/             ended sessions
//!     ├── cache/
//!     │   └── git-status.json      the git status snapshot
//!     └── store/                   versioned documents of this developer
//! ```
//!
//! Only validated [`DeveloperId`]s and [`TaskId`]s become path components, so no path computed
//! here leaves the root.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use crate::{DeveloperId, Error, TaskId};

/// The name of the namespace root directory inside a repository.
pub const ROOT_DIR_NAME: &str = ".flowforge";

/// The prefix of a developer's namespace directory.
pub const DEV_DIR_PREFIX: &str = "dev-";

/// The paths of a FlowForge namespace tree.
///
/// ```
/// use flowforge_core::{DeveloperId, Layout};
/// let layout = Layout::for_repo("/repo");
/// let alice: DeveloperId = "alice".parse()?;
/// assert_eq!(
///     layout.current_session(&alice),
///     std::path::Path::new("/repo/.flowforge/dev-alice/sessions/current.json")
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root` (the `.flowforge` directory itself).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The default layout of a repository: `<repo>/.flowforge`.
    pub fn for_repo(repo: impl AsRef<Path>) -> Self {
        Self::new(repo.as_ref().join(ROOT_DIR_NAME))
    }

    /// The namespace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.gitignore`: the namespace's own ignore file (`*`), which keeps `.flowforge/` out of
    /// `git status` without touching the repository's `.gitignore`.
    pub fn ignore_file(&self) -> PathBuf {
        self.root.join(".gitignore")
    }

    /// `.namespace-env`: the work tree's default developer, as `dev:switch` of the bash tools
    /// writes it (`FLOWFORGE_DEVELOPER=<id>` lines a shell can `source`).
    pub fn namespace_env(&self) -> PathBuf {
        self.root.join(".namespace-env")
    }

    /// `team/`
    pub fn team_dir(&self) -> PathBuf {
        self.root.join("team")
    }

    /// `team/config.json`
    pub fn team_config(&self) -> PathBuf {
        self.team_dir().join("config.json")
    }

    /// `team/task-assignments.json`
    pub fn task_assignments(&self) -> PathBuf {
        self.team_dir().join("task-assignments.json")
    }

    /// `team/active-developers.json`
    pub fn active_developers(&self) -> PathBuf {
        self.team_dir().join("active-developers.json")
    }

    /// `team/store/`: versioned documents shared by the team, such as task claims.
    pub fn team_store_dir(&self) -> PathBuf {
        self.team_dir().join("store")
    }

    /// `metrics/`: persisted metric snapshots, for the monitor.
    pub fn metrics_dir(&self) -> PathBuf {
        self.root.join("metrics")
    }

    /// `index/`: the namespace index's own files; nothing else writes here.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// `index/snapshot.json`: the persisted snapshot of the namespace index.
    pub fn index_snapshot(&self) -> PathBuf {
        self.index_dir().join("snapshot.json")
    }

    /// `dev-<id>/`
    pub fn dev_dir(&self, dev: &DeveloperId) -> PathBuf {
        self.root.join(format!("{DEV_DIR_PREFIX}{dev}"))
    }

    /// `dev-<id>/config.json`
    pub fn dev_config(&self, dev: &DeveloperId) -> PathBuf {
        self.dev_dir(dev).join("config.json")
    }

    /// `dev-<id>/sessions/`
    pub fn sessions_dir(&self, dev: &DeveloperId) -> PathBuf {
        self.dev_dir(dev).join("sessions")
    }

    /// `dev-<id>/sessions/current.json`
    pub fn current_session(&self, dev: &DeveloperId) -> PathBuf {
        self.sessions_dir(dev).join("current.json")
    }

    /// `dev-<id>/sessions/history/`
    pub fn session_history_dir(&self, dev: &DeveloperId) -> PathBuf {
        self.sessions_dir(dev).join("history")
    }

    /// `dev-<id>/cache/`
    pub fn cache_dir(&self, dev: &DeveloperId) -> PathBuf {
        self.dev_dir(dev).join("cache")
    }

    /// `dev-<id>/cache/git-status.json`
    pub fn git_status_cache(&self, dev: &DeveloperId) -> PathBuf {
        self.cache_dir(dev).join("git-status.json")
    }

    /// `dev-<id>/time-tracking.json`
    pub fn time_tracking(&self, dev: &DeveloperId) -> PathBuf {
        self.dev_dir(dev).join("time-tracking.json")
    }

    /// `dev-<id>/store/`: this developer's versioned documents.
    pub fn dev_store_dir(&self, dev: &DeveloperId) -> PathBuf {
        self.dev_dir(dev).join("store")
    }

    /// `team/store/claim-<task>/`: the versioned claim of one task.
    pub fn claim_dir(&self, task: &TaskId) -> PathBuf {
        self.team_store_dir().join(format!("claim-{task}"))
    }

    /// The directories a developer's namespace consists of, parents first.
    pub fn namespace_dirs(&self, dev: &DeveloperId) -> Vec<PathBuf> {
        vec![
            self.root.clone(),
            self.team_dir(),
            self.dev_dir(dev),
            self.sessions_dir(dev),
            self.session_history_dir(dev),
            self.cache_dir(dev),
        ]
    }

    /// Recognises a namespace directory name: `None` when `name` does not start with `dev-`,
    /// `Some(Err(_))` when it does but the rest is not a valid [`DeveloperId`].
    pub fn parse_dev_dir_name(name: &OsStr) -> Option<Result<DeveloperId, Error>> {
        let rest = name
            .as_encoded_bytes()
            .strip_prefix(DEV_DIR_PREFIX.as_bytes())?;
        Some(DeveloperId::from_bytes(rest))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Component;

    use proptest::prelude::*;

    use super::*;
    use crate::RESERVED_DEVELOPER_IDS;

    fn all_paths(layout: &Layout, dev: &DeveloperId, task: &TaskId) -> Vec<PathBuf> {
        let mut paths = layout.namespace_dirs(dev);
        paths.extend([
            layout.ignore_file(),
            layout.namespace_env(),
            layout.team_config(),
            layout.task_assignments(),
            layout.active_developers(),
            layout.team_store_dir(),
            layout.metrics_dir(),
            layout.index_dir(),
            layout.index_snapshot(),
            layout.dev_config(dev),
            layout.current_session(dev),
            layout.git_status_cache(dev),
            layout.time_tracking(dev),
            layout.dev_store_dir(dev),
            layout.claim_dir(task),
        ]);
        paths
    }

    /// Inside the root, lexically: every component after the root is a plain name.
    fn assert_inside(root: &Path, path: &Path) {
        let rest = path.strip_prefix(root).expect("path starts with the root");
        assert!(rest.components().count() > 0 || path == root);
        for c in rest.components() {
            assert!(matches!(c, Component::Normal(_)), "{path:?} has {c:?}");
        }
    }

    proptest! {
        #[test]
        fn valid_ids_stay_inside_the_root(
            dev in "[A-Za-z0-9_][A-Za-z0-9_-]{0,49}",
            task in "[A-Za-z0-9_][A-Za-z0-9._-]{0,99}",
        ) {
            // Reserved names are the only valid-looking strings that are refused.
            prop_assume!(!RESERVED_DEVELOPER_IDS.iter().any(|r| r.eq_ignore_ascii_case(&dev)));
            let dev = DeveloperId::new(&dev).unwrap();
            let task = TaskId::new(&task).unwrap();
            let layout = Layout::for_repo("/srv/repo");
            for path in all_paths(&layout, &dev, &task) {
                assert_inside(layout.root(), &path);
            }
            let name = layout.dev_dir(&dev).file_name().unwrap().to_owned();
            prop_assert_eq!(Layout::parse_dev_dir_name(&name).unwrap().unwrap(), dev);
        }

        #[test]
        fn anything_with_a_separator_or_dot_dot_is_refused(s in "\\PC{0,60}") {
            let dev_ok = DeveloperId::new(&s).is_ok();
            let task_ok = TaskId::new(&s).is_ok();
            if s.contains('/') || s.contains('\\') || s.contains('\0') || s == ".." || s == "." {
                prop_assert!(!dev_ok && !task_ok);
            }
            if dev_ok {
                prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
            }
            if task_ok {
                prop_assert!(!s.starts_with('.') && !s.starts_with('-'));
            }
        }
    }

    #[test]
    fn named_bad_inputs_are_refused() {
        let long = "a".repeat(51);
        let bad = [
            "..",
            "a/b",
            "/abs",
            "a\0b",
            long.as_str(),
            "ADMIN",
            "",
            "аdmin",
            "ａlice",
            "alice\u{200b}",
        ];
        for s in bad {
            assert!(
                DeveloperId::new(s).is_err(),
                "{s:?} was accepted as a developer id"
            );
        }
        for s in ["..", ".", "a/b", "/abs", "a\0b", "", "ｔask", "-x"] {
            assert!(TaskId::new(s).is_err(), "{s:?} was accepted as a task id");
        }
    }

    #[test]
    fn dev_dir_names_are_recognised() {
        assert_eq!(Layout::parse_dev_dir_name(OsStr::new("team")), None);
        assert!(matches!(
            Layout::parse_dev_dir_name(OsStr::new("dev-..")),
            Some(Err(_))
        ));
        assert_eq!(
            Layout::parse_dev_dir_name(OsStr::new("dev-bob"))
                .unwrap()
                .unwrap()
                .as_str(),
            "bob"
        );
    }
}
