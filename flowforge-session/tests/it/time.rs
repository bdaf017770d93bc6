//! Time tracking without a size wall: 100,000 entries for one developer, exact totals, and a
//! `time-tracking.json` that stays small.

use std::fs;

use flowforge_core::{
    DeveloperId, Layout,
    model::{DeveloperInfo, TimeEntry, TimeTracking},
};
use flowforge_session::{
    AddMinutes, Namespace, SessionOptions, TIME_KEY, namespace,
    store::Key,
    time::{SEGMENT_ENTRIES, TAIL_ENTRIES, sealed_segments},
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
            },
        )
        .unwrap();
    let total = (1..=n).sum::<u64>() + adds;
    assert_eq!(again.value.total_minutes, total);

    // The changed document and its view hold the exact total and only the latest entries.
    let head = ns
        .store()
        .get::<TimeTracking>(&Key::new(TIME_KEY).unwrap())
        .unwrap()
        .unwrap()
        .value;
    assert!(head.sessions.len() < SEGMENT_ENTRIES + TAIL_ENTRIES);
    let shown: TimeTracking = serde_json::from_slice(&fs::read(&view).unwrap()).unwrap();
    assert_eq!(shown, head);
    assert_eq!(shown.total_minutes, total);
    let sealed = sealed_segments(&head);
    assert_eq!(
        sealed as usize * SEGMENT_ENTRIES + head.sessions.len(),
        (n + adds) as usize
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
