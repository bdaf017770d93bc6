//! Time tracking without a size wall: 100,000 entries for one developer, exact totals, and a
//! `time-tracking.json` that stays small.

use std::fs;

use flowforge_core::{
    DeveloperId, Layout,
    model::{DeveloperInfo, TimeEntry, TimeTracking},
};
use flowforge_session::{
    AddMinutes, GcOptions, Namespace, SessionOptions, TIME_KEY, namespace,
    store::Key,
    time::{
        LARGE_SEGMENT_ENTRIES, SEGMENT_ENTRIES, SEGMENT_KEY_PREFIX, TAIL_ENTRIES, first_segment,
        sealed_segments,
    },
};
use jiff::Timestamp;

#[test]
fn a_hundred_thousand_entries_keep_exact_totals_and_small_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let dev = DeveloperId::new("alice").unwrap();
    namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
    // The bash tools' file with 100,000 entries (about 9 MB, far over a document's limit).
    let n = 100_000u64;
    let recorded_at: Timestamp = "2025-09-18T10:00:00Z".parse().unwrap();
    let bash = TimeTracking {
        total_minutes: (1..=n).sum(),
        sessions: (1..=n)
            .map(|i| TimeEntry {
                session_id: Some(format!("s{i}")),
                task_id: None,
                minutes: i,
                recorded_at,
                extra: serde_json::Map::new(),
            })
            .collect(),
        extra: serde_json::Map::new(),
    };
    let view = layout.time_tracking(&dev);
    fs::write(&view, serde_json::to_vec(&bash).unwrap()).unwrap();

    let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
    // Enough additions to seal at least one more segment on the way.
    let adds = SEGMENT_ENTRIES as u64;
    for i in 0..adds {
        let what = AddMinutes {
            session_id: Some(format!("new{i}")),
            task_id: None,
            since: None,
        };
        ns.add_minutes(1, &what).unwrap();
    }
    // Ending a session after a crash adds its minutes once.
    let again = ns
        .add_minutes(
            1,
            &AddMinutes {
                session_id: Some(format!("new{}", adds - 1)),
                task_id: None,
                since: None,
            },
        )
        .unwrap();
    let total = (1..=n).sum::<u64>() + adds;
    assert_eq!(again.value.total_minutes, total);

    // The changed document and its view hold the exact total and only the latest entries.
    let head = latest_document(&ns);
    assert!(head.sessions.len() < SEGMENT_ENTRIES + TAIL_ENTRIES);
    let shown: TimeTracking = serde_json::from_slice(&fs::read(&view).unwrap()).unwrap();
    assert_eq!(shown, head);
    assert_eq!(shown.total_minutes, total);
    // The history came in as large segments; the additions' seals are small ones.
    let sizes: Vec<usize> = (0..sealed_segments(&head))
        .map(|k| segment(&ns, k).len())
        .collect();
    assert_eq!(
        sizes.iter().sum::<usize>() + head.sessions.len(),
        (n + adds) as usize
    );
    let large = sizes
        .iter()
        .take_while(|&&s| s == LARGE_SEGMENT_ENTRIES)
        .count();
    assert!(large >= n as usize / LARGE_SEGMENT_ENTRIES - 1, "{sizes:?}");
    assert!(
        sizes[large..].iter().all(|&s| s == SEGMENT_ENTRIES),
        "{sizes:?}"
    );

    // Every entry is still there, in order.
    let all = ns.time_tracking().unwrap().unwrap().value;
    assert_eq!(all.total_minutes, total);
    assert_eq!(all.sessions.len() as u64, n + adds);
    assert_eq!(all.sessions.iter().map(|e| e.minutes).sum::<u64>(), total);
    let ids: Vec<_> = all
        .sessions
        .iter()
        .map(|e| e.session_id.clone().unwrap())
        .collect();
    let expected: Vec<_> = (1..=n)
        .map(|i| format!("s{i}"))
        .chain((0..adds).map(|i| format!("new{i}")))
        .collect();
    assert!(ids == expected, "entries are kept once each, in order");
    let state = flowforge_session::load_namespace(&layout, &dev).unwrap();
    assert_eq!(state.time.unwrap().value.sessions.len() as u64, n + adds);
}

/// Sealed segment `k` of the developer's time tracking.
fn segment(ns: &Namespace, k: u64) -> Vec<TimeEntry> {
    let key = Key::new(&format!("{SEGMENT_KEY_PREFIX}{k}")).unwrap();
    ns.store()
        .get::<Vec<TimeEntry>>(&key)
        .unwrap()
        .unwrap()
        .value
}

fn entry(i: u64) -> TimeEntry {
    TimeEntry {
        session_id: Some(format!("s{i}")),
        task_id: None,
        minutes: 1,
        recorded_at: "2025-09-18T10:00:00Z".parse().unwrap(),
        extra: serde_json::Map::new(),
    }
}

/// The time tracking document that additions change: the total and the latest entries.
fn latest_document(ns: &Namespace) -> TimeTracking {
    ns.store()
        .get::<TimeTracking>(&Key::new(TIME_KEY).unwrap())
        .unwrap()
        .unwrap()
        .value
}

/// The namespace of a developer made in a repository at `dir`.
fn alice(dir: &std::path::Path) -> Namespace {
    let layout = Layout::for_repo(dir);
    let dev = DeveloperId::new("alice").unwrap();
    namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
    Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap()
}

/// A developer's namespace in a repository at `dir` with one-minute entries `s0`, `s1`, …
/// added until the document is one addition short of a seal.
fn one_addition_short_of_a_seal(dir: &std::path::Path) -> Namespace {
    let ns = alice(dir);
    add_each(&ns, "s", 0..SEGMENT_ENTRIES + TAIL_ENTRIES - 1);
    ns
}

#[test]
fn a_segment_sealed_by_another_size_rule_is_taken_as_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = one_addition_short_of_a_seal(tmp.path());
    // A writer that seals smaller segments got there first with the oldest 10 entries.
    let first = Key::new(&format!("{SEGMENT_KEY_PREFIX}0")).unwrap();
    let theirs: Vec<TimeEntry> = ns.time_tracking().unwrap().unwrap().value.sessions[..10].to_vec();
    let _ = ns.store().create(&first, &theirs).unwrap();

    let time = ns.add_minutes(1, &AddMinutes::default()).unwrap().value;
    assert_eq!(sealed_segments(&time), 1);
    assert_eq!(time.sessions.len(), SEGMENT_ENTRIES + TAIL_ENTRIES - 10);
    let all = ns.time_tracking().unwrap().unwrap().value;
    let ids: Vec<_> = all.sessions.iter().map(|e| e.session_id.clone()).collect();
    let expected: Vec<_> = (0..(SEGMENT_ENTRIES + TAIL_ENTRIES - 1) as u64)
        .map(|i| Some(format!("s{i}")))
        .chain([None])
        .collect();
    assert_eq!(ids, expected, "every entry once, in order");
    assert_eq!(all.total_minutes, (SEGMENT_ENTRIES + TAIL_ENTRIES) as u64);
}

/// A segment where the document's next seal goes, holding other entries (sealed by a first
/// addition that lost): no document reads it, so the seal replaces it.
#[test]
fn a_segment_in_the_way_holding_other_entries_is_replaced_by_the_next_seal() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = one_addition_short_of_a_seal(tmp.path());
    let before = ns.time_tracking().unwrap().unwrap().value;
    let _ = ns
        .store()
        .create(&segment_key(0), &vec![entry(1000)])
        .unwrap();

    let after = ns.add_minutes(1, &AddMinutes::default()).unwrap().value;
    assert_eq!(sealed_segments(&after), 1);
    assert_eq!(after.total_minutes, before.total_minutes + 1);
    let all = ns.time_tracking().unwrap().unwrap().value;
    assert_eq!(all.sessions[..before.sessions.len()], before.sessions[..]);
    assert_eq!(all.sessions.len(), before.sessions.len() + 1);
    assert_eq!(segment(&ns, 0), before.sessions[..SEGMENT_ENTRIES]);
}

#[test]
fn a_session_end_repeated_after_many_other_additions_counts_its_minutes_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = alice(tmp.path());
    let other = AddMinutes::default();
    // Entries recorded before the session began.
    for _ in 0..50 {
        ns.add_minutes(1, &other).unwrap();
    }
    let ended = AddMinutes {
        session_id: Some("s1".to_owned()),
        task_id: None,
        since: Some(Timestamp::now()),
    };
    // The end's addition went through, then the process died before ending the session; more
    // additions than the latest entries hold came before the end was run again.
    ns.add_minutes(7, &ended).unwrap();
    for _ in 0..2 * (SEGMENT_ENTRIES + TAIL_ENTRIES) {
        ns.add_minutes(1, &other).unwrap();
    }
    let time = ns.time_tracking().unwrap().unwrap().value;
    let latest = latest_document(&ns);
    assert!(
        latest
            .sessions
            .iter()
            .all(|e| e.session_id.as_deref() != Some("s1")),
        "the first addition is sealed"
    );

    // The segments before the session's start are not read: one removed changes nothing.
    let first = Key::new(&format!("{SEGMENT_KEY_PREFIX}0")).unwrap();
    fs::remove_dir_all(ns.store().key_dir(&first)).unwrap();
    let again = ns.add_minutes(7, &ended).unwrap();
    assert_eq!(again.value.total_minutes, time.total_minutes);
    assert_eq!(again.value.sessions.len(), latest.sessions.len());
    // A session of the same start with no entry yet: looked for back to that start, no
    // further, and added.
    let new = AddMinutes {
        session_id: Some("s2".to_owned()),
        ..ended
    };
    let added = ns.add_minutes(7, &new).unwrap();
    assert_eq!(added.value.total_minutes, time.total_minutes + 7);
}

/// Alice's namespace where a first addition took the bash tools' file in (entries `s0` to
/// `s599`), sealed its first two large segments and died before publishing its document; the
/// bash tools then rewrote the file with the oldest 100 entries trimmed and 50 more recorded
/// (`s100` to `s649`). No document yet.
fn with_a_dead_first_addition(dir: &std::path::Path) -> Namespace {
    let ns = alice(dir);
    let layout = Layout::for_repo(dir);
    let dev = DeveloperId::new("alice").unwrap();
    let was: Vec<TimeEntry> = (0..600).map(entry).collect();
    for (k, chunk) in was.chunks(LARGE_SEGMENT_ENTRIES).take(2).enumerate() {
        let _ = ns.store().create(&segment_key(k), &chunk.to_vec()).unwrap();
    }
    let now: Vec<TimeEntry> = (100..650).map(entry).collect();
    let bash = TimeTracking {
        total_minutes: now.len() as u64,
        sessions: now,
        extra: serde_json::Map::new(),
    };
    fs::write(
        layout.time_tracking(&dev),
        serde_json::to_vec(&bash).unwrap(),
    )
    .unwrap();
    ns
}

fn segment_key(k: usize) -> Key {
    Key::new(&format!("{SEGMENT_KEY_PREFIX}{k}")).unwrap()
}

/// One-minute additions, each for its own session `<prefix><i>` for `i` in `range`.
fn add_each(ns: &Namespace, prefix: &str, range: std::ops::Range<usize>) {
    for i in range {
        let what = AddMinutes {
            session_id: Some(format!("{prefix}{i}")),
            task_id: None,
            since: None,
        };
        ns.add_minutes(1, &what).unwrap();
    }
}

/// `gc` removes the dead first addition's segments (numbered below the document's first):
/// no document reads them. Every entry reads back as before, additions go on, and the
/// document's own segments stay.
#[test]
fn gc_removes_the_segments_no_document_reads_and_keeps_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let ns = with_a_dead_first_addition(tmp.path());
    add_each(&ns, "new", 0..1 + SEGMENT_ENTRIES + TAIL_ENTRIES);
    let head = latest_document(&ns);
    assert_eq!(first_segment(&head), 2);
    let sealed = sealed_segments(&head);
    assert!(
        sealed > 3,
        "the document sealed segments of its own: {sealed}"
    );
    let before = ns.time_tracking().unwrap().unwrap().value;
    let exists = |k: usize| ns.store().generation(&segment_key(k)).unwrap() != 0;

    let dry = flowforge_session::gc(&layout, GcOptions { dry_run: true }).unwrap();
    assert_eq!(dry.orphan_segments, 2, "{dry:?}");
    assert!(exists(0) && exists(1), "a dry run removes nothing");

    let report = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(report.orphan_segments, 2, "{report:?}");
    assert!(report.bytes > 0);
    assert!(!exists(0) && !exists(1));
    assert!(
        (2..sealed as usize).all(exists),
        "the document's own segments stay"
    );
    assert_eq!(ns.time_tracking().unwrap().unwrap().value, before);
    let state = flowforge_session::load_namespace(&layout, ns.developer()).unwrap();
    assert_eq!(state.time.unwrap().value, before);

    add_each(&ns, "new", 100..100 + SEGMENT_ENTRIES);
    let after = ns.time_tracking().unwrap().unwrap().value;
    assert_eq!(after.sessions[..before.sessions.len()], before.sessions[..]);
    assert_eq!(
        after.total_minutes,
        before.total_minutes + SEGMENT_ENTRIES as u64
    );
    let again = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(again.orphan_segments, 0, "{again:?}");
}

/// A document that read every segment it sealed (its first is 0) loses none to `gc`.
#[test]
fn gc_keeps_every_segment_of_a_document_that_reads_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let ns = alice(tmp.path());
    add_each(&ns, "new", 0..3 * SEGMENT_ENTRIES + TAIL_ENTRIES);
    let head = latest_document(&ns);
    assert_eq!((first_segment(&head), sealed_segments(&head)), (0, 3));
    let before = ns.time_tracking().unwrap().unwrap().value;
    let report = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(report.orphan_segments, 0, "{report:?}");
    assert!((0..3).all(|k| ns.store().generation(&segment_key(k)).unwrap() != 0));
    assert_eq!(ns.time_tracking().unwrap().unwrap().value, before);
}

/// A first addition took the bash tools' file in, sealed its oldest entries and died before
/// publishing the document; the bash tools then rewrote the file with its oldest entries
/// trimmed. The next first addition seals its own file's entries past the dead writer's
/// segments (which are none of its entries): nothing of the file now there is lost or
/// counted twice, and the additions after it go on.
#[test]
fn a_first_addition_seals_past_the_segments_of_one_that_never_published() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = with_a_dead_first_addition(tmp.path());
    let layout = Layout::for_repo(tmp.path());
    let dev = DeveloperId::new("alice").unwrap();

    let add = |id: String| {
        let what = AddMinutes {
            session_id: Some(id),
            task_id: None,
            since: None,
        };
        ns.add_minutes(1, &what).unwrap().value
    };
    let ids = |time: &TimeTracking| -> Vec<String> {
        time.sessions
            .iter()
            .map(|e| e.session_id.clone().unwrap())
            .collect()
    };
    let expected = |adds: usize| -> Vec<String> {
        (100..650)
            .map(|i| format!("s{i}"))
            .chain((0..adds).map(|i| match i {
                i if i == 1 + SEGMENT_ENTRIES + TAIL_ENTRIES => "s50".to_owned(),
                i => format!("new{i}"),
            }))
            .collect()
    };
    let head = add("new0".to_owned());
    assert_eq!(
        first_segment(&head),
        2,
        "sealed past the two foreign segments"
    );
    assert_eq!(head.total_minutes, 551);
    let all = ns.time_tracking().unwrap().unwrap().value;
    assert_eq!(ids(&all), expected(1));
    assert_eq!(all.total_minutes, 551);

    // Later additions seal small segments after the document's own.
    let adds = 1 + SEGMENT_ENTRIES + TAIL_ENTRIES;
    for i in 1..adds {
        add(format!("new{i}"));
    }
    let all = ns.time_tracking().unwrap().unwrap().value;
    assert_eq!(ids(&all), expected(adds));
    assert_eq!(all.total_minutes, 550 + adds as u64);
    // A session end retried after a crash, from before the first addition, counts once.
    let again = AddMinutes {
        session_id: Some("new0".to_owned()),
        task_id: None,
        since: Some("2025-09-18T09:00:00Z".parse().unwrap()),
    };
    assert_eq!(
        ns.add_minutes(1, &again).unwrap().value.total_minutes,
        550 + adds as u64
    );
    // An entry only the foreign segments hold (trimmed from the file) is not this document's:
    // an addition for its session counts.
    let trimmed = AddMinutes {
        session_id: Some("s50".to_owned()),
        ..again
    };
    assert_eq!(
        ns.add_minutes(1, &trimmed).unwrap().value.total_minutes,
        551 + adds as u64
    );
    let adds = adds + 1;

    // A reader that kept the entries of the document's first segments reads on from there;
    // one that kept fewer segments than the document's first, or none, reads every entry.
    let head = latest_document(&ns);
    let sealed = sealed_segments(&head);
    for (kept, first) in [(0, 0), (1, 0), (2, 0), (3, 3), (sealed, sealed)] {
        let (documents, read) =
            flowforge_session::read_documents_after(&layout, &dev, kept).unwrap();
        assert_eq!(read.first, first, "kept {kept}");
        let time = documents.time.unwrap().value;
        if first == 0 {
            assert_eq!(ids(&time), expected(adds), "kept {kept}");
        } else {
            let skipped: usize = (2..first).map(|k| segment(&ns, k).len()).sum();
            assert_eq!(ids(&time), expected(adds)[skipped..], "kept {kept}");
        }
    }
    let state = flowforge_session::load_namespace(&layout, &dev).unwrap();
    assert_eq!(state.time.unwrap().value.sessions.len(), 550 + adds);
    assert_eq!(
        ids(&ns.time_tracking().unwrap().unwrap().value),
        expected(adds)
    );
}
