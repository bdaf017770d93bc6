//! The bash tools' claims in `team/task-assignments.json`, taken from FlowForge's mark when
//! it vouches for the file and read from the file otherwise: against a reference that always
//! reads the file, through claim changes made by other processes, the bash tools' entries
//! appearing and disappearing, edits in place of the same size, and marks torn, damaged or
//! replayed; and while another process keeps changing claims.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    os::unix::fs::MetadataExt,
    process::{Command, Stdio},
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::TaskAssignments};
use flowforge_index::Index;
use flowforge_session::claim::{
    ForeignId, is_flowforge_entry, list_claims, view_vouch, vouched_foreign_entries,
};

use crate::common::{dev, task};

const ROOT: &str = "FLOWFORGE_TEST_VOUCH_ROOT";
const OPS: &str = "FLOWFORGE_TEST_VOUCH_OPS";
const TASKS: [&str; 8] = ["t-0", "t-1", "t-2", "t-3", "t-4", "t-5", "u-1", "bash-1"];

/// The body of a child process (this test binary again): runs the claim changes in
/// `FLOWFORGE_TEST_VOUCH_OPS`, `start <dev> <task>` or `end <dev>`, separated by `;`.
#[test]
fn vouch_worker() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    let layout = Layout::new(root);
    for op in std::env::var(OPS).unwrap().split(';') {
        let words: Vec<&str> = op.split(' ').collect();
        let ns = flowforge_session::Namespace::open(
            &layout,
            &dev(words[1]),
            flowforge_session::SessionOptions::relaxed(),
        )
        .unwrap();
        match words[0] {
            "start" => {
                let options = flowforge_session::StartOptions {
                    replace: true,
                    ..Default::default()
                };
                let started = ns.start_session(&task(words[2]), &options).unwrap();
                assert!(started.warnings.is_empty(), "{:?}", started.warnings);
            }
            "end" => drop(ns.end_session().unwrap()),
            other => panic!("unknown op {other}"),
        }
    }
}

/// Runs `ops` (see [`vouch_worker`]) in another process and waits for it.
fn in_process(layout: &Layout, ops: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "view_vouch::vouch_worker", "--nocapture"])
        .env(ROOT, layout.root())
        .env(OPS, ops)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(layout: &Layout, ops: &str) {
    let out = in_process(layout, ops).wait_with_output().unwrap();
    assert!(out.status.success(), "{ops}: {out:?}");
}

/// The bash tools' entries of the file as it is, read whole.
fn file_entries(layout: &Layout) -> BTreeMap<TaskId, DeveloperId> {
    let Ok(bytes) = fs::read(layout.task_assignments()) else {
        return BTreeMap::new();
    };
    let view: TaskAssignments = serde_json::from_slice(&bytes).unwrap();
    (view.tasks.into_iter())
        .filter(|(_, a)| !is_flowforge_entry(a))
        .map(|(t, a)| (t, a.assignee))
        .collect()
}

/// Who holds each task, read from the files: the store's claim, else the file's entry.
fn reference(layout: &Layout) -> BTreeMap<String, Option<DeveloperId>> {
    let store: BTreeMap<TaskId, DeveloperId> = (list_claims(layout).unwrap().into_iter())
        .map(|c| (c.task.clone(), c.holder().clone()))
        .collect();
    let file = file_entries(layout);
    (TASKS.iter())
        .map(|t| {
            let t = task(t);
            let holder = store.get(&t).or_else(|| file.get(&t)).cloned();
            (t.to_string(), holder)
        })
        .collect()
}

fn answers(index: &Index) -> BTreeMap<String, Option<DeveloperId>> {
    (TASKS.iter())
        .map(|t| (t.to_string(), index.who(&task(t)).holder))
        .collect()
}

/// The index kept open and refreshed, and one built afresh, against the reference.
fn check(layout: &Layout, index: &mut Index, step: &str) {
    index.refresh().unwrap();
    let expected = reference(layout);
    assert_eq!(answers(index), expected, "refreshed, after {step}");
    assert_eq!(
        answers(&Index::build(layout).unwrap()),
        expected,
        "built, after {step}"
    );
}

fn vouched(layout: &Layout) -> Option<u64> {
    let path = layout.task_assignments();
    let view = flowforge_session::fs::stat(layout.root(), &path).unwrap()?;
    vouched_foreign_entries(layout, &view)
}

/// Rewrites the view the way the bash tools do (`jq … > tmp && mv tmp …`).
fn bash_edit(layout: &Layout, edit: impl FnOnce(&mut TaskAssignments)) {
    let path = layout.task_assignments();
    let mut view: TaskAssignments = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut view);
    flowforge_testkit::bash_tools::write_json(&path, &view).unwrap();
}

/// `text` with the first `from` after `after` replaced by `to`, the same length.
fn replace_after(text: &mut String, after: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let start = text.find(after).unwrap();
    let at = start + text[start..].find(from).unwrap();
    text.replace_range(at..at + from.len(), to);
}

/// A repository whose namespace root holds `devs`' namespaces.
fn team_of(devs: &[&str]) -> (tempfile::TempDir, Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    for &d in devs {
        flowforge_session::namespace::init(&layout, &dev(d), &Default::default()).unwrap();
    }
    (tmp, layout)
}

#[test]
fn the_index_reads_the_view_whenever_the_mark_does_not_vouch_for_it() {
    let (_tmp, layout) = team_of(&["ann", "bob", "cyd", "dan"]);
    let path = layout.task_assignments();
    let mark = layout.team_store_dir().join(".claims/view-mark");
    let mut index = Index::build(&layout).unwrap();

    run(&layout, "start ann t-0;start bob t-1");
    assert_eq!(vouched(&layout), Some(0));
    check(&layout, &mut index, "two claims");

    // The bash tools give a task: their file, not vouched for, read.
    bash_edit(&layout, |v| {
        let mut entry = v.tasks.values().next().unwrap().clone();
        entry.assignee = dev("dan");
        entry.extra.clear();
        v.tasks.insert(task("bash-1"), entry);
    });
    assert_eq!(vouched(&layout), None);
    check(&layout, &mut index, "the bash tools' entry");
    assert_eq!(index.who(&task("bash-1")).holder, Some(dev("dan")));

    // FlowForge's next write keeps it and vouches for one entry of theirs: still read.
    run(&layout, "start cyd t-2");
    assert_eq!(vouched(&layout), Some(1));
    check(&layout, &mut index, "a claim over the bash tools' entry");
    assert_eq!(index.who(&task("bash-1")).holder, Some(dev("dan")));

    // The bash tools remove it; FlowForge writes again and vouches for none.
    bash_edit(&layout, |v| drop(v.tasks.remove(&task("bash-1"))));
    check(&layout, &mut index, "the bash tools' entry removed");
    run(&layout, "start dan t-3");
    assert_eq!(vouched(&layout), Some(0));
    check(&layout, &mut index, "a claim after the removal");
    assert_eq!(index.who(&task("bash-1")).holder, None);

    // In place, the same size, right after FlowForge's write: bob's entry of t-1 becomes
    // the bash tools' entry of u-1.
    run(&layout, "start ann t-4");
    let before = fs::metadata(&path).unwrap();
    let mut text = fs::read_to_string(&path).unwrap();
    replace_after(&mut text, "\"t-1\"", "\"t-1\"", "\"u-1\"");
    replace_after(&mut text, "\"u-1\"", "\"session_id\"", "\"session_ix\"");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .unwrap();
    let after = fs::metadata(&path).unwrap();
    assert_eq!((before.ino(), before.size()), (after.ino(), after.size()));
    assert_eq!(vouched(&layout), None, "an edit in place");
    check(&layout, &mut index, "an edit in place");
    assert_eq!(index.who(&task("u-1")).holder, Some(dev("bob")));

    // A mark from an earlier write, torn, or with a digit changed, over FlowForge's latest
    // write: never a match; and the bash tools' edit made under it is seen.
    type Damage = fn(&[u8], &[u8]) -> Vec<u8>;
    let damaged: [(&str, Damage); 3] = [
        ("older", |older, _| older.to_vec()),
        ("torn", |_, latest| latest[..latest.len() / 2].to_vec()),
        ("flipped", |_, latest| {
            let mut bytes = latest.to_vec();
            bytes[30] = if bytes[30] == b'1' { b'2' } else { b'1' };
            bytes
        }),
    ];
    for (name, damage) in damaged {
        let older = fs::read(&mark).unwrap();
        run(&layout, "start dan t-3");
        let latest = fs::read(&mark).unwrap();
        assert!(vouched(&layout).is_some());
        fs::write(&mark, damage(&older, &latest)).unwrap();
        assert_eq!(vouched(&layout), None, "{name} mark");
        check(&layout, &mut index, name);
        bash_edit(&layout, |v| {
            let mut entry = v.tasks.values().next().unwrap().clone();
            entry.assignee = dev(name);
            entry.extra.clear();
            v.tasks.insert(task("bash-1"), entry);
        });
        check(&layout, &mut index, name);
        assert_eq!(index.who(&task("bash-1")).holder, Some(dev(name)));
    }
    run(&layout, "end ann");
    check(&layout, &mut index, "the last claim change");
}

/// The identity of the bash tools' entries the mark names for the view on disk.
fn foreign_id(layout: &Layout) -> Option<ForeignId> {
    let path = layout.task_assignments();
    let view = flowforge_session::fs::stat(layout.root(), &path).unwrap()?;
    view_vouch(layout, &view)?.foreign_id()
}

/// The bytes this thread has read so far (`read` and `pread` calls).
fn bytes_read() -> u64 {
    let io = fs::read_to_string("/proc/thread-self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("rchar:")).unwrap();
    line["rchar:".len()..].trim().parse().unwrap()
}

/// The bash tools' entries are read once and then taken as held while the mark vouching for
/// the view names them: FlowForge's writes that keep them carry their identity, and every
/// other change names them anew — a writer taking one over or writing after their edit (by
/// rename or in place, the index not having looked in between), or a mark whose line naming
/// them is not its own. A mark of the first format (an older writer's) counts them without
/// naming them: the file is read.
#[test]
fn the_bash_tools_entries_are_read_again_whenever_they_may_have_changed() {
    let (_tmp, layout) = team_of(&["ann", "bob", "cyd", "dan"]);
    let path = layout.task_assignments();
    let mark = layout.team_store_dir().join(".claims/view-mark");
    run(&layout, "start ann t-0");
    // Two entries of the bash tools, one with a note that makes the file large.
    bash_edit(&layout, |v| {
        let mut entry = v.tasks.values().next().unwrap().clone();
        entry.extra.clear();
        entry.assignee = dev("bob");
        v.tasks.insert(task("u-1"), entry.clone());
        entry.assignee = dev("dan");
        entry
            .extra
            .insert("note".into(), "x".repeat(200_000).into());
        v.tasks.insert(task("bash-1"), entry);
    });
    let mut index = Index::build(&layout).unwrap();
    run(&layout, "start bob t-1");
    assert_eq!(vouched(&layout), Some(2));
    let named = foreign_id(&layout).expect("named by the write");
    check(&layout, &mut index, "the bash tools' entries read");

    // A claim change that keeps them carries their identity: the file is not read again.
    run(&layout, "start cyd t-2");
    assert_eq!(foreign_id(&layout), Some(named));
    let before = bytes_read();
    index.refresh().unwrap();
    let read = bytes_read() - before;
    assert!(read < 100_000, "{read} bytes read for a view named as held");
    check(&layout, &mut index, "a change keeping them");

    // Taken over and released with no look in between: named anew, read, gone.
    run(&layout, "start dan bash-1;end dan");
    assert_ne!(foreign_id(&layout), Some(named));
    check(&layout, &mut index, "an entry taken over and released");
    assert_eq!(index.who(&task("bash-1")).holder, None);

    // Edited by rename, then a claim change before the index looks: named anew.
    let named = foreign_id(&layout).unwrap();
    bash_edit(&layout, |v| {
        v.tasks.get_mut(&task("u-1")).unwrap().assignee = dev("dan")
    });
    run(&layout, "start ann t-3");
    assert_ne!(foreign_id(&layout), Some(named));
    check(&layout, &mut index, "an edit by rename");
    assert_eq!(index.who(&task("u-1")).holder, Some(dev("dan")));

    // Edited in place, the same size, then a claim change: named anew.
    let named = foreign_id(&layout).unwrap();
    let mut text = fs::read_to_string(&path).unwrap();
    replace_after(&mut text, "\"u-1\"", "\"dan\"", "\"cyd\"");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .unwrap();
    run(&layout, "start bob t-4");
    assert_ne!(foreign_id(&layout), Some(named));
    check(&layout, &mut index, "an edit in place");
    assert_eq!(index.who(&task("u-1")).holder, Some(dev("cyd")));

    // The line naming them taken from an earlier mark: counted, not named, read.
    let earlier = fs::read(&mark).unwrap();
    bash_edit(&layout, |v| {
        v.tasks.get_mut(&task("u-1")).unwrap().assignee = dev("ann")
    });
    run(&layout, "start cyd t-5");
    let latest = fs::read(&mark).unwrap();
    assert_eq!(latest.len(), earlier.len());
    fs::write(&mark, [&latest[..512], &earlier[512..]].concat()).unwrap();
    assert_eq!((vouched(&layout), foreign_id(&layout)), (Some(1), None));
    check(
        &layout,
        &mut index,
        "a mark with an earlier mark's identity",
    );
    assert_eq!(index.who(&task("u-1")).holder, Some(dev("ann")));

    // The first format alone: counted, not named, read.
    bash_edit(&layout, |v| {
        v.tasks.get_mut(&task("u-1")).unwrap().assignee = dev("bob")
    });
    run(&layout, "end cyd");
    let latest = fs::read(&mark).unwrap();
    fs::write(&mark, &latest[..512]).unwrap();
    assert_eq!((vouched(&layout), foreign_id(&layout)), (Some(1), None));
    check(&layout, &mut index, "a mark of the first format");
    assert_eq!(index.who(&task("u-1")).holder, Some(dev("bob")));
}

/// While another process keeps changing claims, whatever the mark vouches for is what the
/// file holds, and the bash tools' entry written before stays in every answer.
#[test]
fn vouches_hold_while_another_process_changes_claims() {
    let (_tmp, layout) = team_of(&["ann", "bob"]);
    run(&layout, "start ann t-0");
    bash_edit(&layout, |v| {
        let mut entry = v.tasks.values().next().unwrap().clone();
        entry.assignee = dev("dan");
        entry.extra.clear();
        v.tasks.insert(task("bash-1"), entry);
    });
    let ops: Vec<String> = (0..60)
        .map(|i| match i % 3 {
            2 => "end bob".to_owned(),
            k => format!("start {} t-{}", ["ann", "bob"][k], 1 + i % 5),
        })
        .collect();
    let mut child = in_process(&layout, &ops.join(";"));
    let mut index = Index::build(&layout).unwrap();
    let path = layout.task_assignments();
    let mut verified = 0;
    loop {
        let done = child.try_wait().unwrap().is_some();
        index.refresh().unwrap();
        assert_eq!(index.who(&task("bash-1")).holder, Some(dev("dan")));
        // The vouch against the file it names, read through a descriptor whose `fstat`
        // still matches the `stat` the vouch was asked about.
        if let Some(stat) = flowforge_session::fs::stat(layout.root(), &path).unwrap() {
            if let Some(count) = vouched_foreign_entries(&layout, &stat) {
                let mut file = fs::File::open(&path).unwrap();
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).unwrap();
                let meta = file.metadata().unwrap();
                let same = (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec())
                    == (stat.ino, stat.size, stat.mtime.0, i64::from(stat.mtime.1));
                if same {
                    let view: TaskAssignments = serde_json::from_slice(&bytes).unwrap();
                    let foreign = view.tasks.values().filter(|a| !is_flowforge_entry(a));
                    assert_eq!(foreign.count() as u64, count);
                    verified += 1;
                }
            }
        }
        if done {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(verified > 0, "the last write is vouched for");
    assert_eq!(vouched(&layout), Some(1));
}
