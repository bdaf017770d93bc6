//! The namespace index (flowforge-index) by team size — 1, 6, 10, 100 and 1,000 developers:
//! queries, refresh after one change (full stamp check, file watcher with a cookie round trip,
//! and targeted), cold start from the snapshot against a full build, and report generation.
//!
//! ```sh
//! cargo bench -p flowforge-bench --bench index
//! ```

use std::{hint::black_box, sync::OnceLock, time::Duration};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_index::{
    Index, Pattern, StartedFrom, TimeRange, Watcher,
    report::{Format, Period, Report, ReportOptions, Zone},
};
use flowforge_testkit::bash_tools::{create_dir_all as create_private_dir_all, write_json};
use jiff::{Timestamp, ToSpan};

const SIZES: [usize; 5] = [1, 6, 10, 100, 1000];

/// A team as the bash tools leave it: per developer a current session, two time entries and a
/// claim; ten developers per task area (`feature-area<k>-<i>`).
struct Team {
    _dir: tempfile::TempDir,
    layout: Layout,
    developers: Vec<DeveloperId>,
    tasks: Vec<TaskId>,
    now: Timestamp,
}

fn session(dev: &DeveloperId, task: &TaskId, start: Timestamp, branch: &str) -> Session {
    Session {
        active: true,
        session_id: format!("s-{dev}"),
        start_time: start,
        task_id: Some(task.clone()),
        developer_id: dev.clone(),
        branch: Some(branch.to_owned()),
        provider: Some("github".into()),
        metadata: Default::default(),
        end_time: None,
        extra: Default::default(),
    }
}

impl Team {
    fn new(size: usize) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let layout = Layout::for_repo(dir.path());
        let now: Timestamp = "2025-09-18T12:00:00Z".parse().expect("valid timestamp");
        let (mut developers, mut tasks) = (Vec::new(), Vec::new());
        let mut claims = TaskAssignments::default();
        for i in 0..size {
            let dev = DeveloperId::new(&format!("dev{i:04}")).expect("valid id");
            let task = TaskId::new(&format!("feature-area{}-{i}", i / 10)).expect("valid id");
            for dir in layout.namespace_dirs(&dev) {
                create_private_dir_all(&dir).expect("namespace");
            }
            let current = session(&dev, &task, now - 2.hours(), "feature/work");
            write_json(&layout.current_session(&dev), &current).expect("session");
            let entries = (1..=2)
                .map(|h| TimeEntry {
                    session_id: None,
                    task_id: Some(task.clone()),
                    minutes: 30,
                    recorded_at: now - h.hours(),
                    extra: Default::default(),
                })
                .collect();
            let tracking = TimeTracking {
                total_minutes: 60,
                sessions: entries,
                extra: Default::default(),
            };
            write_json(&layout.time_tracking(&dev), &tracking).expect("time");
            let claim = TaskAssignment {
                assignee: dev.clone(),
                status: "in_progress".into(),
                claimed_at: now - 2.hours(),
                extra: Default::default(),
            };
            claims.tasks.insert(task.clone(), claim);
            developers.push(dev);
            tasks.push(task);
        }
        create_private_dir_all(&layout.team_dir()).expect("team dir");
        write_json(&layout.task_assignments(), &claims).expect("claims");
        Self {
            _dir: dir,
            layout,
            developers,
            tasks,
            now,
        }
    }

    /// Rewrites one developer's session with a different branch: one changed namespace.
    fn change_one(&self, serial: u64) {
        let i = (serial as usize * 7) % self.developers.len();
        let branch = format!("feature/work-{}", serial % 2);
        let s = session(
            &self.developers[i],
            &self.tasks[i],
            self.now - 2.hours(),
            &branch,
        );
        write_json(&self.layout.current_session(&self.developers[i]), &s).expect("session");
    }
}

/// One team per size, generated once for every group.
fn teams() -> &'static [(usize, Team)] {
    static TEAMS: OnceLock<Vec<(usize, Team)>> = OnceLock::new();
    TEAMS.get_or_init(|| SIZES.iter().map(|&n| (n, Team::new(n))).collect())
}

fn queries(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_query");
    for &(n, ref team) in teams() {
        let index = Index::build(&team.layout).expect("index");
        let last = n - 1;
        let (task, dev) = (&team.tasks[last], &team.developers[last]);
        assert_eq!(index.who(task).holder.as_ref(), Some(dev));
        let area = Pattern::new(&format!("feature-area{}-*", last / 10));
        group.bench_with_input(BenchmarkId::new("who", n), &n, |b, _| {
            b.iter(|| black_box(index.who(black_box(task))))
        });
        group.bench_with_input(BenchmarkId::new("task_of", n), &n, |b, _| {
            b.iter(|| black_box(index.task_of(black_box(dev)).cloned()))
        });
        group.bench_with_input(BenchmarkId::new("tasks_pattern", n), &n, |b, _| {
            b.iter(|| black_box(index.tasks(black_box(&area))))
        });
        group.bench_with_input(BenchmarkId::new("time_of", n), &n, |b, _| {
            b.iter(|| black_box(index.time_of(black_box(dev), &TimeRange::all())))
        });
        // Lists every active developer: O(active), all of them here.
        group.bench_with_input(BenchmarkId::new("active_all", n), &n, |b, _| {
            b.iter(|| black_box(index.active()))
        });
    }
    group.finish();
}

fn refresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_refresh");
    for &(n, ref team) in teams() {
        let mut index = Index::build(&team.layout).expect("index");
        let mut serial = 0u64;
        group.bench_with_input(BenchmarkId::new("full_check_one_change", n), &n, |b, _| {
            b.iter_batched(
                || {
                    serial += 1;
                    team.change_one(serial);
                },
                |()| {
                    let stats = index.refresh().expect("refresh");
                    assert_eq!(stats.reloaded.len(), 1);
                    black_box(stats)
                },
                BatchSize::PerIteration,
            )
        });
        let mut watcher = Watcher::new(&team.layout).expect("watcher");
        index.refresh().expect("refresh");
        group.bench_with_input(BenchmarkId::new("watched_one_change", n), &n, |b, _| {
            b.iter_batched(
                || {
                    serial += 1;
                    team.change_one(serial);
                },
                |()| {
                    let stats = watcher
                        .refresh_synced(&mut index, Duration::from_secs(5))
                        .expect("refresh");
                    assert_eq!((stats.checked, stats.reloaded.len()), (1, 1));
                    black_box(stats)
                },
                BatchSize::PerIteration,
            )
        });
        drop(watcher);
        group.bench_with_input(BenchmarkId::new("full_check_no_change", n), &n, |b, _| {
            b.iter(|| black_box(index.refresh().expect("refresh")))
        });
        group.bench_with_input(BenchmarkId::new("targeted_one_change", n), &n, |b, _| {
            b.iter_batched(
                || {
                    serial += 1;
                    team.change_one(serial);
                    let i = (serial as usize * 7) % n;
                    vec![team.developers[i].clone()]
                },
                |changed| {
                    let stats = index.refresh_developers(&changed);
                    assert_eq!(stats.reloaded.len(), 1);
                    black_box(stats)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn cold_start(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_cold_start");
    for &(n, ref team) in teams() {
        Index::build(&team.layout)
            .expect("index")
            .save_snapshot()
            .expect("snapshot");
        assert_eq!(
            Index::open(&team.layout).expect("open").started_from,
            StartedFrom::Snapshot
        );
        group.bench_with_input(BenchmarkId::new("from_snapshot", n), &n, |b, _| {
            b.iter(|| black_box(Index::open(&team.layout).expect("open")))
        });
        group.bench_with_input(BenchmarkId::new("full_build", n), &n, |b, _| {
            b.iter(|| black_box(Index::build(&team.layout).expect("build")))
        });
    }
    group.finish();
}

fn report(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_report");
    for &(n, ref team) in teams() {
        let index = Index::build(&team.layout).expect("index");
        let options = ReportOptions {
            period: Period::Daily,
            zone: Zone::utc(),
            now: team.now,
        };
        for (name, format) in [("markdown", Format::Markdown), ("json", Format::Json)] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    let report = Report::generate(&index, black_box(&options)).expect("report");
                    black_box(report.render(format))
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    targets = queries, refresh, cold_start, report
}
criterion_main!(benches);
