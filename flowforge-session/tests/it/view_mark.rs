//! `team/task-assignments.json` after random claim changes and the bash tools' edits: the
//! view a change writes (its changed shards' entries spliced into the bytes FlowForge wrote
//! before) is the document a rebuild from every shard writes, each task named once, whatever
//! the key order and the spaces left by entries dropped in place; the bash tools' entries are kept,
//! and the view's mark vouches for a file only while it is the file FlowForge wrote.

use std::{fs, io::Write, os::unix::fs::FileExt};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{MapEntries, TaskAssignment, TaskAssignments},
};
use flowforge_session::{
    Error, Namespace, ReleaseOptions, SessionOptions, StartOptions,
    claim::{self, ForeignId, view_vouch, vouched_foreign_entries},
    fs::stat,
};
use proptest::prelude::*;
use serde_json::Value;

const DEVS: usize = 4;
const TASKS: usize = 10;

fn dev(d: usize) -> DeveloperId {
    DeveloperId::new(&format!("dev-{d}")).unwrap()
}

/// The `t`-th task whose claim lives in one of the first three shards: every change
/// rewrites a shard that holds other entries, the bash tools' included.
fn task(t: usize) -> TaskId {
    (0..)
        .map(|n| TaskId::new(&format!("task-{n}")).unwrap())
        .filter(|task| claim::claim_shard(task) < 3)
        .nth(t)
        .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Start(usize, usize),
    End(usize),
    Release(usize, usize),
    /// The bash tools give a task to a developer (`jq … > tmp && mv tmp …`).
    BashGive(usize, usize),
    /// The bash tools remove a task's entry.
    BashDrop(usize),
    /// The bash tools rewrite the file in place, the same size: one status changed.
    BashInPlace,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..DEVS, 0..TASKS).prop_map(|(d, t)| Op::Start(d, t)),
        2 => (0..DEVS).prop_map(Op::End),
        1 => (0..DEVS, 0..TASKS).prop_map(|(d, t)| Op::Release(d, t)),
        1 => (0..DEVS, 0..TASKS).prop_map(|(d, t)| Op::BashGive(d, t)),
        1 => (0..TASKS).prop_map(Op::BashDrop),
        1 => Just(Op::BashInPlace),
    ]
}

/// The view `bytes` as any JSON reader reads it (the order of the keys aside), after checking
/// that it names each task once.
fn document(bytes: &[u8]) -> Value {
    #[derive(serde::Deserialize)]
    struct Keys {
        tasks: MapEntries<String, serde::de::IgnoredAny>,
    }
    let keys = serde_json::from_slice::<Keys>(bytes)
        .expect("the view parses")
        .tasks
        .0;
    let mut names: Vec<_> = keys.iter().map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), keys.len(), "a task named twice");
    serde_json::from_slice(bytes).unwrap()
}

fn read_view(layout: &Layout) -> Option<TaskAssignments> {
    let bytes = fs::read(layout.task_assignments()).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

/// The entries of a view that are not FlowForge's.
fn foreign(view: &TaskAssignments) -> usize {
    (view.tasks.values())
        .filter(|a| !claim::is_flowforge_entry(a))
        .count()
}

/// The bash tools' entries of a view, by task.
fn bash_entries(view: &TaskAssignments) -> Vec<(TaskId, TaskAssignment)> {
    (view.tasks.iter())
        .filter(|(_, a)| !claim::is_flowforge_entry(a))
        .map(|(t, a)| (t.clone(), a.clone()))
        .collect()
}

/// Starts developer `d`'s session on task `t`, replacing the one it has.
fn start_replacing(layout: &Layout, d: usize, t: usize) -> Result<(), Error> {
    let options = StartOptions {
        replace: true,
        ..StartOptions::default()
    };
    Namespace::open(layout, &dev(d), SessionOptions::relaxed())?
        .start_session(&task(t), &options)
        .map(drop)
}

/// Applies `op`; returns whether it was a claim change (which wrote the view).
fn apply(layout: &Layout, op: &Op) -> bool {
    let ns = |d| Namespace::open(layout, &dev(d), SessionOptions::relaxed()).unwrap();
    let ok = |result: Result<(), Error>| match result {
        Ok(()) => true,
        Err(Error::ClaimHeld { .. } | Error::NoActiveSession { .. } | Error::NotClaimed { .. }) => {
            false
        }
        Err(e) => panic!("{op:?}: {e}"),
    };
    let path = layout.task_assignments();
    match *op {
        Op::Start(d, t) => ok(start_replacing(layout, d, t)),
        Op::End(d) => ok(ns(d).end_session().map(drop)),
        Op::Release(d, t) => ok(claim::release(
            layout,
            &dev(d),
            &task(t),
            ReleaseOptions { force: d == 0 },
            Default::default(),
        )
        .map(drop)),
        Op::BashGive(d, t) => {
            let mut view = read_view(layout).unwrap_or_default();
            let entry = serde_json::json!({
                "developer": dev(d).to_string(),
                "status": "in_progress",
                "claimedAt": "2025-09-18T09:30:00Z",
                "note": format!("by bash {d}"),
            });
            view.tasks
                .insert(task(t), serde_json::from_value(entry).unwrap());
            flowforge_testkit::bash_tools::write_json(&path, &view).unwrap();
            false
        }
        Op::BashDrop(t) => {
            if let Some(mut view) = read_view(layout) {
                view.tasks.remove(&task(t));
                flowforge_testkit::bash_tools::write_json(&path, &view).unwrap();
            }
            false
        }
        Op::BashInPlace => {
            if let Ok(bytes) = fs::read(&path) {
                let text = String::from_utf8(bytes).unwrap();
                let (from, to) = if text.contains("\"claimed\"") {
                    ("\"claimed\"", "\"started\"")
                } else {
                    ("\"in_progress\"", "\"in_review__\"")
                };
                if let Some(at) = text.find(from) {
                    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
                    file.write_all_at(to.as_bytes(), at as u64).unwrap();
                }
            }
            false
        }
    }
}

fn setup() -> (tempfile::TempDir, Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    for d in 0..DEVS {
        flowforge_session::namespace::init(&layout, &dev(d), &Default::default()).unwrap();
    }
    (tmp, layout)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// After every claim change the view is the document a rebuild from every shard writes,
    /// with the bash tools' entries kept; the mark vouches for it with the right count of the
    /// bash tools' entries, and names them by an identity that every view vouched for with it
    /// shares: the same entries of the bash tools. After an edit of the bash tools (replaced,
    /// or in place with the same size) the mark vouches for nothing.
    #[test]
    fn every_change_writes_the_view_a_full_rebuild_writes(ops in prop::collection::vec(op(), 1..18)) {
        let (_tmp, layout) = setup();
        let path = layout.task_assignments();
        let mut named: Vec<(ForeignId, Vec<(TaskId, TaskAssignment)>)> = Vec::new();
        for op in &ops {
            let before = read_view(&layout);
            let stat_before = stat(layout.root(), &path).unwrap();
            let bash = matches!(op, Op::BashGive(..) | Op::BashDrop(_) | Op::BashInPlace);
            let changed = apply(&layout, op);
            let Some(view) = read_view(&layout) else {
                continue;
            };
            // A change that released nothing (its claim was gone already), or an edit that
            // found nothing to edit, wrote no view.
            if stat(layout.root(), &path).unwrap() == stat_before {
                continue;
            }
            let vouched = vouched_foreign_entries(&layout, &stat(layout.root(), &path).unwrap().unwrap());
            if bash {
                prop_assert_eq!(vouched, None, "{:?} vouched for a file FlowForge did not write", op);
                continue;
            }
            if !changed {
                continue;
            }
            prop_assert_eq!(vouched, Some(foreign(&view) as u64), "{:?}", op);
            let stat_now = stat(layout.root(), &path).unwrap().unwrap();
            let id = view_vouch(&layout, &stat_now).and_then(|v| v.foreign_id());
            let id = id.expect("every vouched write names the bash tools' entries");
            let entries = bash_entries(&view);
            match named.iter().find(|(known, _)| *known == id) {
                Some((_, earlier)) => prop_assert_eq!(earlier, &entries, "{:?}", op),
                None => named.push((id, entries)),
            }
            // The bash tools' entries of tasks the change left alone are kept.
            if let Some(before) = before {
                for (t, a) in &before.tasks {
                    let touched = matches!(*op, Op::Start(_, k) | Op::Release(_, k) if task(k) == *t);
                    if !claim::is_flowforge_entry(a) && !touched && claim::claim_of(&layout, t).unwrap().is_none() {
                        prop_assert_eq!(view.tasks.get(t), Some(a), "{:?} lost {}", op, t);
                    }
                }
            }
            let written = fs::read(&path).unwrap();
            claim::refresh_view(&layout).unwrap();
            let rebuilt = fs::read(&path).unwrap();
            prop_assert_eq!(document(&written), document(&rebuilt), "{:?}", op);
        }
    }
}

/// An edit in place right after FlowForge wrote the view, the same size and within the same
/// tick of the file clock (so inode, size and times but the modification time can all stay),
/// and a mark torn, damaged or replayed from an earlier write: the mark vouches for nothing,
/// and the next change rebuilds the view from the file as it is (the edit kept).
#[test]
fn an_edit_in_place_or_a_damaged_mark_is_never_vouched_for() {
    let (_tmp, layout) = setup();
    let path = layout.task_assignments();
    let mark_path = layout.team_store_dir().join(".claims/view-mark");
    let start = |d: usize, t: usize| start_replacing(&layout, d, t).unwrap();
    let vouched =
        || vouched_foreign_entries(&layout, &stat(layout.root(), &path).unwrap().unwrap());
    start(0, 0);
    start(1, 1);
    assert_eq!(vouched(), Some(0));
    let old_mark = fs::read(&mark_path).unwrap();

    // Same size, in place: dev-1's entry of task(1) becomes the bash tools' entry of
    // another task (its name's first letter changed, its "session_id" → "session_ix").
    start(2, 2);
    assert_eq!(vouched(), Some(0));
    let text = fs::read_to_string(&path).unwrap();
    let (name, other) = (
        format!("\"{}\"", task(1)),
        format!("\"u{}\"", &task(1).as_str()[1..]),
    );
    let key = text.find(&name).unwrap();
    let field = key + text[key..].find("\"session_id\"").unwrap();
    let mut edited = text.clone();
    edited.replace_range(key..key + name.len(), &other);
    edited.replace_range(field..field + 12, "\"session_ix\"");
    assert_eq!(edited.len(), text.len());
    let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all(edited.as_bytes()).unwrap();
    drop(file);
    assert_eq!(vouched(), None, "an edit in place is never vouched for");

    // A replayed, a torn and a damaged mark: nothing vouched.
    for mark in [old_mark.clone(), old_mark[..old_mark.len() / 2].to_vec(), {
        let mut m = fs::read(&mark_path).unwrap();
        m[3] = if m[3] == b'1' { b'2' } else { b'1' };
        m
    }] {
        let current = fs::read(&mark_path).unwrap();
        fs::write(&mark_path, &mark).unwrap();
        assert_eq!(vouched(), None, "{}", String::from_utf8_lossy(&mark));
        fs::write(&mark_path, current).unwrap();
    }

    // The next change keeps the edited file's bash entry (it was not FlowForge's write, so
    // the full path reads it) and vouches again.
    start(3, 3);
    let view = read_view(&layout).unwrap();
    let seven = &view.tasks[&TaskId::new(&other[1..other.len() - 1]).unwrap()];
    assert_eq!(seven.assignee, dev(1));
    assert!(!claim::is_flowforge_entry(seven));
    assert_eq!(vouched(), Some(1));
}

/// A writer splices the bytes it published last without reading the view only while the
/// view is that very file: after a change by another writer (another thread, with a memory
/// of its own), the next change reads the view, and the other writer's entry stays.
#[test]
fn a_writer_reads_the_view_again_after_another_writers_change() {
    let (_tmp, layout) = setup();
    let path = layout.task_assignments();
    let start = |d: usize, t: usize| start_replacing(&layout, d, t).unwrap();
    start(0, 0);
    start(1, 1);
    std::thread::scope(|s| s.spawn(|| start(2, 2)).join().unwrap());
    start(3, 3);
    let view = read_view(&layout).unwrap();
    for d in 0..4 {
        assert_eq!(view.tasks[&task(d)].assignee, dev(d), "{view:?}");
    }
    let written = fs::read(&path).unwrap();
    claim::refresh_view(&layout).unwrap();
    assert_eq!(document(&written), document(&fs::read(&path).unwrap()));
}

/// A writer that replaced the view keeps the replaced file's bytes and, when its next change
/// takes that file back from its spare slot, writes only what differs: never after anyone
/// wrote to the spare (in place, the same bytes or others). Every view is the rebuild's.
#[test]
fn a_spare_written_to_since_it_was_replaced_is_rewritten_whole() {
    let (_tmp, layout) = setup();
    let path = layout.task_assignments();
    let team = path.parent().unwrap().to_owned();
    let start = |d: usize, t: usize| start_replacing(&layout, d, t).unwrap();
    let spares = || {
        fs::read_dir(&team)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(".tmp-spare-") && name.ends_with("task-assignments.json")
            })
            .collect::<Vec<_>>()
    };
    // Checked without writing the view (a rebuild would take the spare the next change is
    // to take), and against a rebuild at the end.
    let holds = |held: &[Option<usize>]| {
        let view = read_view(&layout).expect("the view parses");
        let found: Vec<_> = view
            .tasks
            .into_iter()
            .map(|(t, a)| (t, a.assignee))
            .collect();
        let mut wanted: Vec<_> = (0..DEVS)
            .filter_map(|d| held[d].map(|t| (task(t), dev(d))))
            .collect();
        wanted.sort();
        assert_eq!(found, wanted);
    };
    let mut held = vec![None; DEVS];
    for round in 0..6 {
        for d in 0..DEVS {
            let t = d + DEVS * (round % 2);
            start(d, t);
            held[d] = Some(t);
            holds(&held);
        }
        // Each spare rewritten in place: its own bytes, or spaces (still JSON) of its length.
        for spare in spares() {
            let bytes = fs::read(&spare).unwrap();
            let file = fs::OpenOptions::new().write(true).open(&spare).unwrap();
            if round % 3 == 1 {
                file.write_all_at(&vec![b' '; bytes.len()], 0).unwrap();
            } else if round % 3 == 2 {
                file.write_all_at(&bytes, 0).unwrap();
            }
        }
    }
    let written = fs::read(&path).unwrap();
    claim::refresh_view(&layout).unwrap();
    assert_eq!(document(&written), document(&fs::read(&path).unwrap()));
}
