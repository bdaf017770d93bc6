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

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use flowforge_core::{
    DeveloperId, Layout,
    model::{Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_session::fs::{Durability, create_private_dir_all, write_json};
use git2::Repository;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    claim::{list_refs, read_claim},
    error::{Error, Result},
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
    layout.root().join("remote").join(remote)
}

/// The last pull's record, if there was one.
///
/// # Errors
/// [`Error::Session`] when `pulled.json` exists but is unreadable.
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
    /// Transport errors (the local refs and view are then unchanged), [`Error::Io`] or
    /// [`Error::Session`] when the view cannot be written.
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

    fn write_view(
        &self,
        layout: &Layout,
        pulled: &Pulled,
        tasks: &TaskAssignments,
        devs: BTreeMap<DeveloperId, DevView>,
    ) -> Result<()> {
        let target = view_root(layout, self.name());
        let parent = target.parent().expect("the view has a parent: remote/");
        let root = layout.root();
        create_private_dir_all(root, parent)?;
        let tmp = parent.join(format!(
            ".{}.new-{}-{:08x}",
            self.name(),
            std::process::id(),
            fastrand::u32(..)
        ));
        let result = (|| {
            let view = Layout::new(&tmp);
            let d = Durability::Relaxed;
            create_private_dir_all(root, &view.team_dir())?;
            write_json(root, &view.task_assignments(), tasks, d)?;
            for (dev, mut v) in devs {
                if v.session.is_none() && v.history.is_empty() && v.time.is_empty() {
                    continue;
                }
                create_private_dir_all(root, &view.session_history_dir(&dev))?;
                if let Some(s) = &v.session {
                    write_json(root, &view.current_session(&dev), s, d)?;
                }
                for s in &v.history {
                    if flowforge_core::TaskId::new(&s.session_id).is_ok() {
                        let path = view
                            .session_history_dir(&dev)
                            .join(format!("{}.json", s.session_id));
                        write_json(root, &path, s, d)?;
                    }
                }
                v.time.sort_by_key(|t| t.recorded_at);
                let time = TimeTracking {
                    total_minutes: v.time.iter().map(|t| t.minutes).sum(),
                    sessions: v.time,
                    extra: serde_json::Map::new(),
                };
                write_json(root, &view.time_tracking(&dev), &time, d)?;
            }
            write_json(root, &tmp.join("pulled.json"), pulled, d)?;
            Ok::<(), Error>(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        swap_in(&tmp, &target)
    }
}

/// Puts the directory `new` at `target`, atomically for readers, and removes the old one.
fn swap_in(new: &Path, target: &Path) -> Result<()> {
    use rustix::{
        fs::{CWD, RenameFlags, renameat_with},
        io::Errno,
    };
    for _ in 0..8 {
        match renameat_with(CWD, new, CWD, target, RenameFlags::EXCHANGE) {
            Ok(()) => {
                let _ = fs::remove_dir_all(new);
                return Ok(());
            }
            Err(Errno::NOENT) => match fs::rename(new, target) {
                Ok(()) => return Ok(()),
                // Another pull put its view there first: exchange with it.
                Err(e) if target.exists() => {
                    let _ = e;
                    continue;
                }
                Err(e) => {
                    let _ = fs::remove_dir_all(new);
                    return Err(Error::io(target)(e));
                }
            },
            Err(e) => {
                let _ = fs::remove_dir_all(new);
                return Err(Error::io(target)(e.into()));
            }
        }
    }
    let _ = fs::remove_dir_all(new);
    Ok(())
}
