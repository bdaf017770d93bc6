//! A watched index keeps the time tracking's sealed segments between reloads and updates its
//! time tables by the entries added: against a fresh build and the store's own totals, while
//! entries are added across many seals, and after a namespace is removed and made again
//! with other entries (its segments then differ under the same names).

use std::{collections::BTreeMap, time::Duration};

use flowforge_core::{DeveloperId, Layout, TaskId};
use flowforge_index::{Index, TimeRange, Watcher};
use flowforge_session::{AddMinutes, Namespace, SessionOptions, time::SEGMENT_ENTRIES};

use crate::common::{dev, task};

const SYNC: Duration = Duration::from_secs(10);
const TASKS: [&str; 3] = ["t-a", "t-b", "t-c"];

fn add(layout: &Layout, who: &DeveloperId, entries: usize, minutes: impl Fn(usize) -> u64) {
    let ns = Namespace::open(layout, who, SessionOptions::relaxed()).unwrap();
    for i in 0..entries {
        let what = AddMinutes {
            session_id: None,
            task_id: Some(task(TASKS[i % TASKS.len()])),
            since: None,
        };
        ns.record_minutes(minutes(i), &what).unwrap();
    }
}

/// The minutes per developer and per task, as the index answers them.
fn tables(index: &Index) -> (BTreeMap<DeveloperId, u64>, BTreeMap<TaskId, u64>) {
    let all = TimeRange::all();
    (index.time_by_developer(&all), index.time_by_task(&all))
}

/// The store's own total of `who`'s minutes.
fn total(layout: &Layout, who: &DeveloperId) -> u64 {
    let ns = Namespace::open(layout, who, SessionOptions::relaxed()).unwrap();
    ns.time_tracking()
        .unwrap()
        .map_or(0, |t| t.value.total_minutes)
}

fn check(index: &Index, layout: &Layout, devs: &[DeveloperId]) {
    let fresh = Index::build(layout).unwrap();
    assert_eq!(tables(index), tables(&fresh));
    for d in devs {
        assert_eq!(
            index.time_of(d, &TimeRange::all()),
            total(layout, d),
            "{d}: the index against the store's total"
        );
    }
}

#[test]
fn sealed_segments_are_kept_and_only_added_entries_change_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let devs = [dev("alice"), dev("bob")];
    for d in &devs {
        flowforge_session::namespace::init(&layout, d, &Default::default()).unwrap();
    }
    let mut watcher = Watcher::new(&layout).unwrap();
    let mut index = Index::build(&layout).unwrap();
    // Steps of uneven sizes, so that reloads fall before, on and after seals.
    for (step, entries) in [260, 40, 300, 1, 30].into_iter().enumerate() {
        add(&layout, &devs[step % 2], entries, |i| (i % 7 + 1) as u64);
        add(&layout, &devs[0], 3, |i| (i + step) as u64);
        watcher.refresh_synced(&mut index, SYNC).unwrap();
        check(&index, &layout, &devs);
    }
    let ns = Namespace::open(&layout, &devs[0], SessionOptions::relaxed()).unwrap();
    let sealed = ns.time_tracking().unwrap().unwrap().value.sessions.len() / SEGMENT_ENTRIES;
    assert!(
        sealed >= 2,
        "alice's entries fill sealed segments: {sealed}"
    );

    // Alice's namespace made again, with other entries: the same segment names, other
    // contents.
    std::fs::remove_dir_all(layout.dev_dir(&devs[0])).unwrap();
    flowforge_session::namespace::init(&layout, &devs[0], &Default::default()).unwrap();
    add(&layout, &devs[0], 300, |i| (i % 11 + 2) as u64);
    watcher.refresh_synced(&mut index, SYNC).unwrap();
    check(&index, &layout, &devs);
    add(&layout, &devs[0], 5, |_| 4);
    watcher.refresh_synced(&mut index, SYNC).unwrap();
    check(&index, &layout, &devs);
}
