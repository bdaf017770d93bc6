//! Pulling: every FlowForge ref of the remote copied to local refs, and the other machines'
//! state written as a read-only FlowForge layout the namespace index can open.
//!
//! The view lives in `<root>/remote/<remote>/` and has the shape of a namespace root: the
//! claims of other machines in `team/task-assignments.json`, and for each developer with
//! state on another machine `dev-<id>/sessions/current.json` (the latest active session),
//! `sessions/history/` and `time-tracking.json`, each record carrying its `machine`. This
//! machine's own state is left out: the local namespaces are fresher. `pulled.json` records
//! when and from what the view was made. The view is built beside the old one and swapped in
//! with one `renameat2(RENAME_EXCHANGE)`, so readers see the old view or the new one.

use std::{collections::BTreeMap, path::PathBuf};

use flowforge_core::{
    DeveloperId, Layout,
    model::{Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_session::pulled::PulledDeveloper;
use git2::Repository;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    claim::{list_refs, read_claim},
    error::Result,
    handle::Remote,
    publish::subtree,
    refs::{FORMAT, ROOT, pulled_root},
};

/// `pulled.json`: what the last pull saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// The git remote's name.
    pub remote: String,
    /// This clone's machine name (its own state is not in the view).
    pub machine: String,
    /// When the fetch finished.
    pub pulled_at: Timestamp,
    /// Claims on the remote, all machines.
    pub claims: usize,
    /// Developers with a ref on the remote.
    pub developers: usize,
    /// Format versions other than ours found on the remote (`v2`).
    #[serde(default)]
    pub other_formats: Vec<String>,
    /// Refs or files left out of the view, and why.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// The directory of `remote`'s pulled view under `layout`'s root.
#[must_use]
pub fn view_root(layout: &Layout, remote: &str) -> PathBuf {
    flowforge_session::pulled::view_root(layout, remote)
}

/// The last pull's record, if there was one.
///
/// # Errors
/// [`Error::Session`](crate::Error::Session) when `pulled.json` exists but is unreadable.
pub fn last_pull(layout: &Layout, remote: &str) -> Result<Option<Pulled>> {
    Ok(flowforge_session::fs::read_json(
        layout.root(),
        &view_root(layout, remote).join("pulled.json"),
    )?)
}

#[derive(Default)]
struct DevView {
    session: Option<Session>,
    history: Vec<Session>,
    time: Vec<TimeEntry>,
}

impl Remote {
    /// Fetches every FlowForge ref of the remote (deleting local copies of refs gone from it)
    /// and rewrites the pulled view under `layout`.
    ///
    /// # Errors
    /// Transport errors (the local refs and view are then unchanged), or
    /// [`Error::Session`](crate::Error::Session) when the view cannot be written.
    pub fn pull(&self, layout: &Layout) -> Result<Pulled> {
        let refspec = format!("+{ROOT}*:{}*", pulled_root(self.name()));
        self.git.fetch(&[refspec], true)?;
        let pulled_at = Timestamp::now();
        let repo = self.repo()?;
        self.materialise(&repo, layout, pulled_at)
    }

    fn materialise(
        &self,
        repo: &Repository,
        layout: &Layout,
        pulled_at: Timestamp,
    ) -> Result<Pulled> {
        let root = pulled_root(self.name());
        let mut other_formats: Vec<String> = Vec::new();
        let mut problems = Vec::new();
        let mut tasks = TaskAssignments::default();
        let mut devs: BTreeMap<DeveloperId, DevView> = BTreeMap::new();
        let (mut claims, mut developers) = (0, 0);
        let refs = list_refs(repo, &root).map_err(self.repo_err())?;
        for (name, oid) in &refs {
            let rest = &name[root.len()..];
            let mut parts = rest.splitn(3, '/');
            let (version, kind, last) = (parts.next(), parts.next(), parts.next());
            if version != Some(FORMAT) {
                let v = version.unwrap_or_default().to_owned();
                if !other_formats.contains(&v) {
                    other_formats.push(v);
                }
                continue;
            }
            match (kind, last) {
                (Some("claims"), Some(_)) => {
                    claims += 1;
                    match read_claim(repo, *oid, name) {
                        Ok(c) if c.machine == self.machine() => {}
                        Ok(c) => {
                            let mut extra = serde_json::Map::new();
                            extra.insert("machine".into(), Value::from(c.machine));
                            tasks.tasks.insert(
                                c.task,
                                TaskAssignment {
                                    assignee: c.developer,
                                    status: "claimed".into(),
                                    claimed_at: c.claimed_at,
                                    extra,
                                },
                            );
                        }
                        Err(e) => problems.push(e.to_string()),
                    }
                }
                (Some("devs"), Some(dev)) => {
                    developers += 1;
                    match dev.parse::<DeveloperId>() {
                        Ok(id) => {
                            let view = devs.entry(id).or_default();
                            self.read_dev(repo, *oid, name, view, &mut problems);
                        }
                        Err(e) => problems.push(format!("{name}: {e}")),
                    }
                }
                _ => problems.push(format!("{name}: not a FlowForge {FORMAT} ref")),
            }
        }
        let pulled = Pulled {
            remote: self.name().to_owned(),
            machine: self.machine().to_owned(),
            pulled_at,
            claims,
            developers,
            other_formats,
            problems,
        };
        self.write_view(layout, &pulled, &tasks, devs)?;
        Ok(pulled)
    }

    /// Adds the other machines' state of one developer's ref to `view`.
    fn read_dev(
        &self,
        repo: &Repository,
        oid: git2::Oid,
        name: &str,
        view: &mut DevView,
        problems: &mut Vec<String>,
    ) {
        let tree = match repo.find_commit(oid).and_then(|c| c.tree()) {
            Ok(t) => t,
            Err(e) => return problems.push(format!("{name}: {}", e.message())),
        };
        let Ok(Some(machines)) = subtree(repo, Some(&tree), "machines") else {
            return;
        };
        for machine in &machines {
            let Some(m) = machine.name() else { continue };
            if m == self.machine() {
                continue;
            }
            let Ok(Some(mtree)) = subtree(repo, Some(&machines), m) else {
                continue;
            };
            let mut tag = serde_json::Map::new();
            tag.insert("machine".into(), Value::from(m));
            let read = |path: &str, entry: &git2::TreeEntry<'_>| -> Result<Vec<u8>, String> {
                repo.find_blob(entry.id())
                    .map(|b| b.content().to_vec())
                    .map_err(|e| format!("{name}:{path}: {}", e.message()))
            };
            if let Some(entry) = mtree.get_name("session.json") {
                let path = format!("machines/{m}/session.json");
                match read(&path, &entry) {
                    Err(e) => problems.push(e),
                    Ok(bytes) => match serde_json::from_slice::<Session>(&bytes) {
                        Ok(mut s) if s.active => {
                            s.extra.extend(tag.clone());
                            if view
                                .session
                                .as_ref()
                                .is_none_or(|o| o.start_time < s.start_time)
                            {
                                view.session = Some(s);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(format!("{name}:{path}: {e}")),
                    },
                }
            }
            for dir in ["history", "time"] {
                let Ok(Some(files)) = subtree(repo, Some(&mtree), dir) else {
                    continue;
                };
                for entry in &files {
                    let path = format!("machines/{m}/{dir}/{}", entry.name().unwrap_or("?"));
                    let bytes = match read(&path, &entry) {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            problems.push(e);
                            continue;
                        }
                    };
                    let parsed = if dir == "history" {
                        serde_json::from_slice::<Session>(&bytes).map(|mut s| {
                            s.extra.extend(tag.clone());
                            view.history.push(s);
                        })
                    } else {
                        serde_json::from_slice::<TimeEntry>(&bytes).map(|mut t| {
                            t.extra.extend(tag.clone());
                            view.time.push(t);
                        })
                    };
                    if let Err(e) = parsed {
                        problems.push(format!("{name}:{path}: {e}"));
                    }
                }
            }
        }
    }

    /// Hands the view to flowforge-session, which writes it beside the old one and swaps it
    /// in.
    fn write_view(
        &self,
        layout: &Layout,
        pulled: &Pulled,
        tasks: &TaskAssignments,
        devs: BTreeMap<DeveloperId, DevView>,
    ) -> Result<()> {
        let developers = (devs.into_iter())
            .map(|(dev, mut v)| {
                v.time.sort_by_key(|t| t.recorded_at);
                let time = TimeTracking {
                    total_minutes: v.time.iter().map(|t| t.minutes).sum(),
                    sessions: v.time,
                    extra: serde_json::Map::new(),
                };
                let pulled = PulledDeveloper {
                    session: v.session,
                    history: v.history,
                    time,
                };
                (dev, pulled)
            })
            .collect();
        flowforge_session::pulled::write_view(layout, self.name(), pulled, tasks, &developers)?;
        Ok(())
    }
}
