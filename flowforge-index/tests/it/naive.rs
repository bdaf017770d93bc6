//! The naive reference: every namespace directory listed and every file parsed, each time,
//! the way the bash tools answer team questions.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{GitStatusCache, Session, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_index::{Conflict, ConflictKind, Pattern, TimeRange};

/// A namespace as the scan reads it: current session, time entries, changed paths.
pub(crate) type ScannedDev = (Option<Session>, Vec<TimeEntry>, Vec<String>);

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub devs: BTreeMap<DeveloperId, ScannedDev>,
    pub claims: BTreeMap<TaskId, DeveloperId>,
    /// Developers left out, and entries that are not namespaces.
    pub bad_devs: BTreeSet<DeveloperId>,
    pub bad_dirs: BTreeSet<PathBuf>,
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, ()> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| ()),
        Err(_) => Ok(None),
    }
}

pub(crate) fn scan(layout: &Layout) -> Scan {
    let mut out = Scan::default();
    // The store's claims, then the bash tools' entries of their file (FlowForge's carry the
    // session that took the claim).
    for claim in flowforge_session::list_claims(layout).unwrap() {
        out.claims
            .insert(claim.task.clone(), claim.holder().clone());
    }
    if let Ok(Some(a)) = parse::<TaskAssignments>(&layout.task_assignments()) {
        for (t, a) in a.tasks {
            if !a.extra.contains_key("session_id") {
                out.claims.entry(t).or_insert(a.assignee);
            }
        }
    }
    for entry in fs::read_dir(layout.root()).into_iter().flatten() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("dev-") else {
            continue;
        };
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        let Ok(id) = DeveloperId::new(id) else {
            out.bad_dirs.insert(entry.path());
            continue;
        };
        if !meta.is_dir() {
            out.bad_dirs.insert(entry.path());
            continue;
        }
        let Ok(state) = flowforge_session::load_namespace(layout, &id) else {
            out.bad_devs.insert(id);
            continue;
        };
        let session = match state.session {
            Some(v) => Ok(Some(v.value)),
            None => parse::<Session>(&layout.current_session(&id)),
        };
        let time = match state.time {
            Some(v) => Ok(Some(v.value)),
            None => parse::<TimeTracking>(&layout.time_tracking(&id)),
        };
        let cache = parse::<GitStatusCache>(&layout.git_status_cache(&id));
        let (Ok(session), Ok(time), Ok(cache)) = (session, time, cache) else {
            out.bad_devs.insert(id);
            continue;
        };
        let paths = cache
            .map(|c| c.status.lines().map(|l| l[3..].to_owned()).collect())
            .unwrap_or_default();
        out.devs
            .insert(id, (session, time.unwrap_or_default().sessions, paths));
    }
    out
}

impl Scan {
    pub(crate) fn working(&self, task: &TaskId) -> Vec<DeveloperId> {
        (self.devs.iter())
            .filter(|(_, (s, _, _))| {
                s.as_ref()
                    .is_some_and(|s| s.active && s.task_id.as_ref() == Some(task))
            })
            .map(|(d, _)| d.clone())
            .collect()
    }

    pub(crate) fn who(&self, task: &TaskId) -> (Option<DeveloperId>, Vec<DeveloperId>) {
        (self.claims.get(task).cloned(), self.working(task))
    }

    pub(crate) fn active(&self) -> Vec<(DeveloperId, Option<TaskId>, Option<String>)> {
        (self.devs.iter())
            .filter_map(|(d, (s, _, _))| {
                s.as_ref()
                    .filter(|s| s.active)
                    .map(|s| (d.clone(), s.task_id.clone(), s.branch.clone()))
            })
            .collect()
    }

    pub(crate) fn all_tasks(&self) -> BTreeSet<TaskId> {
        let mut tasks: BTreeSet<TaskId> = self.claims.keys().cloned().collect();
        for (s, _, _) in self.devs.values() {
            if let Some(s) = s.as_ref().filter(|s| s.active) {
                tasks.extend(s.task_id.clone());
            }
        }
        tasks
    }

    pub(crate) fn tasks(&self, pattern: &Pattern) -> Vec<TaskId> {
        self.all_tasks()
            .into_iter()
            .filter(|t| pattern.matches(t.as_str()))
            .collect()
    }

    pub(crate) fn conflicts(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        for task in self.all_tasks() {
            let (holder, working) = self.who(&task);
            let devs: BTreeSet<DeveloperId> = holder.into_iter().chain(working).collect();
            if devs.len() > 1 {
                out.push(Conflict {
                    kind: ConflictKind::SameTask,
                    subject: task.to_string(),
                    developers: devs.into_iter().collect(),
                });
            }
        }
        let mut by_path: BTreeMap<&str, BTreeSet<DeveloperId>> = BTreeMap::new();
        for (d, (_, _, paths)) in &self.devs {
            for p in paths {
                by_path.entry(p).or_default().insert(d.clone());
            }
        }
        for (p, devs) in by_path {
            if devs.len() > 1 {
                out.push(Conflict {
                    kind: ConflictKind::SamePath,
                    subject: p.to_owned(),
                    developers: devs.into_iter().collect(),
                });
            }
        }
        out.sort();
        out
    }

    pub(crate) fn time_by_developer(&self, range: &TimeRange) -> BTreeMap<DeveloperId, u64> {
        (self.devs.iter())
            .map(|(d, (_, time, _))| {
                (
                    d.clone(),
                    time.iter()
                        .filter(|e| range.contains(e.recorded_at))
                        .map(|e| e.minutes)
                        .sum(),
                )
            })
            .filter(|(_, m): &(DeveloperId, u64)| *m > 0)
            .collect()
    }

    pub(crate) fn time_by_task(&self, range: &TimeRange) -> BTreeMap<TaskId, u64> {
        let mut out: BTreeMap<TaskId, u64> = BTreeMap::new();
        for (_, time, _) in self.devs.values() {
            for e in time.iter().filter(|e| range.contains(e.recorded_at)) {
                if let Some(t) = &e.task_id {
                    *out.entry(t.clone()).or_default() += e.minutes;
                }
            }
        }
        out.retain(|_, m| *m > 0);
        out
    }

    pub(crate) fn touching(&self, prefix: &str) -> BTreeMap<DeveloperId, Vec<String>> {
        let mut out = BTreeMap::new();
        for (d, (_, _, paths)) in &self.devs {
            let mut hits: Vec<String> = (paths.iter())
                .filter(|p| {
                    prefix.is_empty() || *p == prefix || p.starts_with(&format!("{prefix}/"))
                })
                .cloned()
                .collect();
            hits.sort();
            if !hits.is_empty() {
                out.insert(d.clone(), hits);
            }
        }
        out
    }
}
