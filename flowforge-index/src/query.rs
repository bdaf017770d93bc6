//! Cross-developer queries over the [`Index`]: none of them touches the disk.

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Bound,
};

use flowforge_core::{DeveloperId, TaskId, model::Session};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{index::Index, pattern::Pattern, record::DevRecord};

/// [`Index::active_sessions`] walks every record instead of looking the active developers up
/// once at least one namespace in this many is active: a lookup is ~log₂ n name comparisons,
/// a step of the walk about one.
const DENSE_ACTIVE: usize = 8;

/// Who holds a task and who works on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHolder {
    /// The task.
    pub task: TaskId,
    /// The developer who claimed it, or `None`: nobody holds it.
    pub holder: Option<DeveloperId>,
    /// The claim's status, when claimed.
    pub status: Option<String>,
    /// When it was claimed.
    pub claimed_at: Option<Timestamp>,
    /// Developers whose active session is on the task, sorted.
    pub working: Vec<DeveloperId>,
}

/// A developer with an active session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDeveloper {
    /// The developer.
    pub developer: DeveloperId,
    /// The session's task.
    pub task: Option<TaskId>,
    /// The session's branch.
    pub branch: Option<String>,
    /// When the session started.
    pub since: Timestamp,
    /// The session's id.
    pub session_id: String,
}

/// The tasks matching a pattern, their holders, and whether the work runs in parallel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMatches {
    /// The pattern as given.
    pub pattern: String,
    /// Matching tasks (claimed, or worked on in an active session), sorted.
    pub tasks: Vec<TaskHolder>,
    /// Every developer holding or working on a matching task, sorted.
    pub developers: Vec<DeveloperId>,
    /// Whether more than one developer is on the matching work (`detect_parallel_work`).
    pub parallel: bool,
}

/// What two or more developers collide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// The same task: claimed by one and worked on by another, or worked on by several.
    SameTask,
    /// The same path changed in several developers' work.
    SamePath,
}

/// Two or more developers on the same work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Conflict {
    /// What they collide on.
    pub kind: ConflictKind,
    /// The task or path.
    pub subject: String,
    /// The developers, sorted.
    pub developers: Vec<DeveloperId>,
}

/// A half-open interval of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// The first instant inside.
    pub start: Timestamp,
    /// The first instant after.
    pub end: Timestamp,
}

impl TimeRange {
    /// Every representable instant.
    pub fn all() -> Self {
        Self {
            start: Timestamp::MIN,
            end: Timestamp::MAX,
        }
    }

    /// Whether `at` is inside.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

impl Index {
    /// Who holds `task`, and who works on it. O(log n).
    pub fn who(&self, task: &TaskId) -> TaskHolder {
        let claim = self.team.claim(task);
        TaskHolder {
            task: task.clone(),
            holder: claim.map(|c| c.holder.clone()),
            status: claim.map(|c| c.status.clone()),
            claimed_at: claim.map(|c| c.claimed_at),
            working: (self.derived.working.get(task))
                .map(|devs| devs.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The task of `dev`'s active session. O(log n).
    pub fn task_of(&self, dev: &DeveloperId) -> Option<&TaskId> {
        self.record(dev)?.active_session()?.task_id.as_ref()
    }

    /// The developers with an active session, sorted. O(min(n, active · log n)). Copies each
    /// entry; [`Index::active_sessions`] answers the same without copying.
    pub fn active(&self) -> Vec<ActiveDeveloper> {
        self.active_sessions()
            .map(|s| ActiveDeveloper {
                developer: s.developer_id.clone(),
                task: s.task_id.clone(),
                branch: s.branch.clone(),
                since: s.start_time,
                session_id: s.session_id.clone(),
            })
            .collect()
    }

    /// The active sessions, borrowed from the index, sorted by developer: the answer of
    /// [`Index::active`] without copying it. O(min(n, active · log n)): when at least one
    /// namespace in eight is active, one ordered pass over the records costs less than looking
    /// each active developer up by name.
    pub fn active_sessions(&self) -> impl Iterator<Item = &Session> + '_ {
        let dense = self.derived.active.len().saturating_mul(DENSE_ACTIVE) >= self.namespaces.len();
        let walked = dense.then(|| self.records().filter_map(DevRecord::active_session));
        let looked_up = (!dense).then(|| {
            (self.derived.active.iter()).filter_map(|dev| self.record(dev)?.active_session())
        });
        walked
            .into_iter()
            .flatten()
            .chain(looked_up.into_iter().flatten())
    }

    /// The tasks matching `pattern` and their holders. O(log n + matches) when the pattern
    /// starts with literal text, since only tasks with that prefix are visited.
    pub fn tasks(&self, pattern: &Pattern) -> TaskMatches {
        let prefix = pattern.literal_prefix();
        let in_range = |task: &TaskId| task.as_str().starts_with(prefix);
        let range = (Bound::Included(prefix), Bound::Unbounded);
        let mut names: BTreeSet<&TaskId> = BTreeSet::new();
        names.extend(
            (self.team.tasks_from(prefix))
                .take_while(|t| in_range(t))
                .filter(|t| pattern.matches(t.as_str())),
        );
        names.extend(
            (self.derived.working.range::<str, _>(range).map(|(t, _)| t))
                .take_while(|t| in_range(t))
                .filter(|t| pattern.matches(t.as_str())),
        );
        let tasks: Vec<TaskHolder> = names.into_iter().map(|t| self.who(t)).collect();
        let developers: BTreeSet<DeveloperId> = (tasks.iter())
            .flat_map(|t| t.holder.iter().chain(&t.working))
            .cloned()
            .collect();
        TaskMatches {
            pattern: pattern.as_str().to_owned(),
            parallel: developers.len() > 1,
            developers: developers.into_iter().collect(),
            tasks,
        }
    }

    /// Every conflict: tasks with more than one developer on them (holder and active sessions
    /// together), and paths touched by more than one developer. Sorted.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        let tasks: BTreeSet<&TaskId> = (self.team.tasks_from(""))
            .chain(self.derived.working.keys())
            .collect();
        for task in tasks {
            let holder = self.who(task);
            let devs: BTreeSet<&DeveloperId> =
                holder.holder.iter().chain(&holder.working).collect();
            if devs.len() > 1 {
                conflicts.push(Conflict {
                    kind: ConflictKind::SameTask,
                    subject: task.to_string(),
                    developers: devs.into_iter().cloned().collect(),
                });
            }
        }
        for (path, devs) in &self.derived.paths {
            if devs.len() > 1 {
                conflicts.push(Conflict {
                    kind: ConflictKind::SamePath,
                    subject: path.clone(),
                    developers: devs.iter().cloned().collect(),
                });
            }
        }
        conflicts.sort();
        conflicts
    }

    /// Minutes `dev` recorded inside `range`, saturating at `u64::MAX` (only corrupt entries
    /// get there: additions are bounded). O(log n + log entries).
    pub fn time_of(&self, dev: &DeveloperId, range: &TimeRange) -> u64 {
        let Some(record) = self.record(dev) else {
            return 0;
        };
        let from = record.time.partition_point(|e| e.recorded_at < range.start);
        let to = record.time.partition_point(|e| e.recorded_at < range.end);
        record.time[from..to.max(from)]
            .iter()
            .fold(0u64, |sum, e| sum.saturating_add(e.minutes))
    }

    /// Minutes per developer inside `range`; developers with none are left out.
    pub fn time_by_developer(&self, range: &TimeRange) -> BTreeMap<DeveloperId, u64> {
        (self.records())
            .map(|r| (r.developer.clone(), self.time_of(&r.developer, range)))
            .filter(|(_, minutes)| *minutes > 0)
            .collect()
    }

    /// Minutes recorded on `task` inside `range`, by everyone, saturating at `u64::MAX`.
    /// O(log n + log entries).
    pub fn time_on(&self, task: &TaskId, range: &TimeRange) -> u64 {
        let Some(times) = self.derived.time_by_task.get(task) else {
            return 0;
        };
        let from = times.partition_point(|t| t.at < range.start);
        let to = times.partition_point(|t| t.at < range.end);
        (times[from..to.max(from)].iter()).fold(0u64, |sum, t| sum.saturating_add(t.minutes))
    }

    /// Minutes per task inside `range`; tasks with none are left out.
    pub fn time_by_task(&self, range: &TimeRange) -> BTreeMap<TaskId, u64> {
        (self.derived.time_by_task.keys())
            .map(|task| (task.clone(), self.time_on(task, range)))
            .filter(|(_, minutes)| *minutes > 0)
            .collect()
    }

    /// Developers whose work touches a path under `prefix` (a path-component prefix: `src/a`
    /// covers `src/a` and `src/a/x.rs`, not `src/ab`; an empty prefix covers everything), with
    /// the paths. O(log p + matches).
    pub fn touching(&self, prefix: &str) -> BTreeMap<DeveloperId, Vec<String>> {
        let prefix = prefix.trim_end_matches('/');
        let mut out: BTreeMap<DeveloperId, Vec<String>> = BTreeMap::new();
        let range = (Bound::Included(prefix), Bound::Unbounded);
        for (path, devs) in self.derived.paths.range::<str, _>(range) {
            if !path.starts_with(prefix) {
                break;
            }
            let rest = &path[prefix.len()..];
            if !(prefix.is_empty() || rest.is_empty() || rest.starts_with('/')) {
                continue;
            }
            for dev in devs {
                out.entry(dev.clone()).or_default().push(path.clone());
            }
        }
        out
    }
}
