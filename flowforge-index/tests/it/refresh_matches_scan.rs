//! The index, refreshed after random changes, answers exactly what a naive scan of every
//! namespace answers (the bash tools' way: list every directory, parse every file, each time).
//! Changes are written both as the bash tools write them (the JSON views) and through the
//! session store.

use crate::common;
use crate::naive;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::PathBuf,
};

use common::*;
use flowforge_core::{DeveloperId, Layout, TaskId};
use flowforge_index::{
    ActiveDeveloper, Index, Pattern, TaskHolder, TimeRange,
    report::{Format, Period, Report, ReportOptions, Zone},
};
use jiff::ToSpan;
use naive::scan;
use proptest::prelude::*;

const DEVS: [&str; 6] = ["d0", "d1", "d2", "d3", "d4", "d5"];
const TASKS: [&str; 5] = ["t1", "t2", "feat-a-1", "feat-a-2", "feat-b-1"];
const PATHS: [&str; 4] = ["src/a.rs", "src/b/c.rs", "src/bc.rs", "docs/x.md"];
const PATTERNS: [&str; 5] = ["*", "t*", "feat-a-*", "feat-?-1", "t1"];
const PREFIXES: [&str; 5] = ["", "src", "src/b", "docs/x.md", "nothing"];

fn assert_same(index: &Index, layout: &Layout) {
    let naive = scan(layout);
    for t in TASKS {
        let t = task(t);
        let TaskHolder {
            holder, working, ..
        } = index.who(&t);
        assert_eq!((holder, working), naive.who(&t), "who {t}");
    }
    let active: Vec<_> = (index.active().into_iter())
        .map(
            |ActiveDeveloper {
                 developer,
                 task,
                 branch,
                 ..
             }| (developer, task, branch),
        )
        .collect();
    assert_eq!(active, naive.active(), "active");
    for p in PATTERNS {
        let p = Pattern::new(p);
        let found: Vec<TaskId> = index.tasks(&p).tasks.into_iter().map(|t| t.task).collect();
        assert_eq!(found, naive.tasks(&p), "tasks {p}");
    }
    assert_eq!(index.conflicts(), naive.conflicts(), "conflicts");
    let ranges = [
        TimeRange::all(),
        TimeRange {
            start: base(),
            end: base() + 24.hours(),
        },
        TimeRange {
            start: base() - 12.hours(),
            end: base() + 2.hours(),
        },
    ];
    for range in &ranges {
        assert_eq!(
            index.time_by_developer(range),
            naive.time_by_developer(range),
            "time by developer {range:?}"
        );
        assert_eq!(
            index.time_by_task(range),
            naive.time_by_task(range),
            "time by task {range:?}"
        );
    }
    for prefix in PREFIXES {
        assert_eq!(
            index.touching(prefix),
            naive.touching(prefix),
            "touching {prefix:?}"
        );
    }
    let problems = index.problems();
    let bad_devs: BTreeSet<DeveloperId> = problems
        .iter()
        .filter_map(|p| p.developer.clone())
        .collect();
    let bad_dirs: BTreeSet<PathBuf> = problems
        .iter()
        .filter(|p| p.developer.is_none())
        .map(|p| p.path.clone())
        .collect();
    assert_eq!(bad_devs, naive.bad_devs, "developers left out");
    assert_eq!(bad_dirs, naive.bad_dirs, "entries that are not namespaces");
}

fn report_json(index: &Index) -> String {
    let options = ReportOptions {
        period: Period::Weekly,
        zone: Zone::named("America/New_York").unwrap(),
        now: base(),
    };
    Report::generate(index, &options)
        .unwrap()
        .render(Format::Json)
}

// ---- Random teams and changes ---------------------------------------------------------------

fn opt_task() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(&TASKS[..]).prop_map(str::to_owned))
}

fn dev_spec() -> impl Strategy<Value = DevSpec> {
    (
        prop::option::of((
            any::<bool>(),
            opt_task(),
            prop::option::of(prop::sample::select(&["b1", "b2"][..]).prop_map(str::to_owned)),
        )),
        prop::collection::vec((opt_task(), -48i64..48), 0..3),
        prop::collection::vec((opt_task(), 1u64..120, -48i64..72), 0..4),
        prop::sample::subsequence(&PATHS[..], 0..=PATHS.len()),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(session, history, time, paths, corrupt)| DevSpec {
            session,
            history,
            time,
            paths: paths.into_iter().map(str::to_owned).collect(),
            corrupt,
        })
}

#[derive(Debug, Clone)]
enum Change {
    Write(usize, DevSpec),
    Remove(usize),
    Claims(Vec<(usize, usize)>),
    BadDir(&'static str),
    Store(usize, StoreOp),
    /// One of the developer's files (picked by the number) changed in place: same inode and
    /// modification time, and except for a truncation the same size.
    InPlace(usize, usize, Edit),
}

#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Another digit where the first digit was: a valid file with another value.
    Digit,
    /// `t1` and `t2` swapped: a valid file naming another task.
    Task,
    /// Every byte replaced by `x`.
    Garbage,
    /// Cut to half its length.
    Truncate,
}

/// Every file under `dir`, sorted.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Changes `path` in place and sets its modification time back, as an editor keeping
/// timestamps (or a second write within the same second) would.
fn edit_in_place(path: &std::path::Path, edit: Edit) {
    use std::io::{Seek, Write};
    let Ok(before) = fs::metadata(path) else {
        return;
    };
    let Ok(mut bytes) = fs::read(path) else {
        return;
    };
    match edit {
        Edit::Digit => {
            if let Some(b) = bytes.iter_mut().find(|b| b.is_ascii_digit()) {
                *b = if *b == b'9' { b'1' } else { *b + 1 };
            }
        }
        Edit::Task => {
            for pair in bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w == b"t1" || w == b"t2")
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
            {
                bytes[pair + 1] = if bytes[pair + 1] == b'1' { b'2' } else { b'1' };
            }
        }
        Edit::Garbage => bytes.iter_mut().for_each(|b| *b = b'x'),
        Edit::Truncate => bytes.truncate(bytes.len() / 2),
    }
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.rewind().unwrap();
    file.write_all(&bytes).unwrap();
    file.set_len(bytes.len() as u64).unwrap();
    file.set_times(fs::FileTimes::new().set_modified(before.modified().unwrap()))
        .unwrap();
}

fn store_op_strategy() -> impl Strategy<Value = StoreOp> {
    prop_oneof![
        (
            prop::sample::select(&TASKS[..]).prop_map(str::to_owned),
            prop::option::of(Just("b9".to_owned()))
        )
            .prop_map(|(t, b)| StoreOp::Start(t, b)),
        Just(StoreOp::End),
        (opt_task(), 1u64..60).prop_map(|(t, m)| StoreOp::Minutes(t, m)),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (0..DEVS.len(), dev_spec()).prop_map(|(d, s)| Change::Write(d, s)),
        1 => (0..DEVS.len()).prop_map(Change::Remove),
        1 => claims().prop_map(Change::Claims),
        1 => prop::sample::select(&["dev-..", "dev-Root", "dev-x y"][..]).prop_map(Change::BadDir),
        4 => (0..DEVS.len(), store_op_strategy()).prop_map(|(d, op)| Change::Store(d, op)),
        4 => (
            0..DEVS.len(),
            0..64usize,
            prop::sample::select(&[Edit::Digit, Edit::Task, Edit::Garbage, Edit::Truncate][..]),
        )
            .prop_map(|(d, f, e)| Change::InPlace(d, f, e)),
    ]
}

fn claims() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..TASKS.len(), 0..DEVS.len()), 0..4)
}

fn apply(layout: &Layout, change: &Change) {
    match change {
        Change::Write(d, spec) => write_dev(layout, &dev(DEVS[*d]), spec),
        Change::Remove(d) => {
            let _ = fs::remove_dir_all(layout.dev_dir(&dev(DEVS[*d])));
        }
        Change::Claims(claims) => {
            let devs: Vec<DeveloperId> = DEVS.iter().map(|d| dev(d)).collect();
            let claims: Vec<(&str, &DeveloperId)> =
                claims.iter().map(|(t, d)| (TASKS[*t], &devs[*d])).collect();
            write_claims(layout, &claims);
        }
        Change::BadDir(name) => {
            let _ = fs::create_dir(layout.root().join(name));
        }
        Change::Store(d, op) => store_op(layout, &dev(DEVS[*d]), op),
        Change::InPlace(d, f, edit) => {
            let files = files_under(&layout.dev_dir(&dev(DEVS[*d])));
            if !files.is_empty() {
                edit_in_place(&files[f % files.len()], *edit);
            }
        }
    }
}

/// How the index learns of changes.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `Index::refresh`: every namespace's stamp is checked.
    Poll,
    /// `Watcher::refresh_synced`: only the namespaces file events name.
    Watch,
}

fn check_case(
    team: &BTreeMap<usize, DevSpec>,
    initial_claims: Vec<(usize, usize)>,
    changes: &[Vec<Change>],
    mode: Mode,
) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    fs::create_dir_all(layout.root()).unwrap();
    for (d, spec) in team {
        write_dev(&layout, &dev(DEVS[*d]), spec);
    }
    apply(&layout, &Change::Claims(initial_claims));
    let mut watcher = match mode {
        Mode::Poll => None,
        Mode::Watch => Some(flowforge_index::Watcher::new(&layout).unwrap()),
    };
    let mut index = Index::build(&layout).unwrap();
    assert_same(&index, &layout);
    index.save_snapshot().unwrap();

    for step in changes {
        for change in step {
            apply(&layout, change);
        }
        let stats = match &mut watcher {
            None => index.refresh().unwrap(),
            Some(w) => w
                .refresh_synced(&mut index, std::time::Duration::from_secs(10))
                .unwrap(),
        };
        assert_same(&index, &layout);
        let fresh = Index::build(&layout).unwrap();
        prop_assert_eq!(report_json(&index), report_json(&fresh));
        // Only namespaces written in this step were reloaded.
        let written: BTreeSet<DeveloperId> = step
            .iter()
            .filter_map(|c| match c {
                Change::Write(d, _) | Change::Store(d, _) | Change::InPlace(d, _, _) => {
                    Some(dev(DEVS[*d]))
                }
                _ => None,
            })
            .collect();
        for reloaded in &stats.reloaded {
            prop_assert!(
                written.contains(reloaded),
                "{} reloaded but not written",
                reloaded
            );
        }
    }
    // A cold start from the snapshot taken before all the changes answers the same.
    let opened = Index::open(&layout).unwrap();
    assert_same(&opened.index, &layout);
    prop_assert_eq!(report_json(&opened.index), report_json(&index));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn refreshed_index_answers_like_a_fresh_scan(
        team in prop::collection::btree_map(0..DEVS.len(), dev_spec(), 0..5),
        initial_claims in claims(),
        changes in prop::collection::vec(prop::collection::vec(change(), 1..3), 1..5),
    ) {
        check_case(&team, initial_claims, &changes, Mode::Poll)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn watched_index_answers_like_a_fresh_scan(
        team in prop::collection::btree_map(0..DEVS.len(), dev_spec(), 0..5),
        initial_claims in claims(),
        changes in prop::collection::vec(prop::collection::vec(change(), 1..3), 1..5),
    ) {
        check_case(&team, initial_claims, &changes, Mode::Watch)?;
    }
}
