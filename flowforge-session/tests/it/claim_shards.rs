//! Claims kept in shards: real processes racing for the same and for different tasks, the
//! view the bash tools read converging to the shards, an older store's single claims
//! document read and migrated, and the journal replaced when long.

use std::{
    collections::BTreeMap,
    fs,
    process::{Command, Stdio},
};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{DeveloperInfo, TaskAssignments},
};
use flowforge_session::{
    Error, Namespace, ReleaseOptions, SessionOptions, StartOptions,
    claim::{self, CLAIM_SHARDS, claim_shard},
    list_claims, namespace,
    store::{Key, Store, StoreOptions},
};

const ROOT: &str = "FLOWFORGE_TEST_CLAIMS_ROOT";
const PROCESS: &str = "FLOWFORGE_TEST_CLAIMS_PROCESS";
const TASKS: usize = 12;
const PROCESSES: usize = 6;
const CHURN_ROUNDS: usize = 4;

fn task(s: &str) -> TaskId {
    TaskId::new(s).unwrap()
}

fn dev(process: usize, task: usize) -> DeveloperId {
    DeveloperId::new(&format!("p{process}-t{task}")).unwrap()
}

/// The view as the bash tools read it: task → assignee.
fn view(layout: &Layout) -> BTreeMap<String, String> {
    let view: TaskAssignments =
        serde_json::from_slice(&fs::read(layout.task_assignments()).unwrap()).unwrap();
    (view.tasks.iter())
        .map(|(t, a)| (t.to_string(), a.assignee.to_string()))
        .collect()
}

fn held(layout: &Layout) -> BTreeMap<String, String> {
    (list_claims(layout).unwrap().iter())
        .map(|c| (c.task.to_string(), c.holder().to_string()))
        .collect()
}

/// The body of a racing process (this test binary again, see [`race`]): process `p` is the
/// developers `p<p>-t<k>`, the one of task `race-<k>` each, and goes through the tasks in its
/// own order, so that processes meet on different tasks (and shards) at once. Phase `claim`
/// starts a session on each task and prints `won <k>` for those it got; phase `churn` starts
/// and ends sessions on every task for a few rounds, printing the rounds it won.
#[test]
fn claims_worker() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    let layout = Layout::new(root);
    let p: usize = std::env::var(PROCESS).unwrap().parse().unwrap();
    let churn = std::env::var("FLOWFORGE_TEST_CLAIMS_PHASE").unwrap() == "churn";
    let rounds = if churn { CHURN_ROUNDS } else { 1 };
    for round in 0..rounds {
        for i in 0..TASKS {
            let k = (i + p * 2) % TASKS;
            let ns = Namespace::open(&layout, &dev(p, k), SessionOptions::relaxed()).unwrap();
            let options = StartOptions {
                replace: true,
                ..StartOptions::default()
            };
            match ns.start_session(&task(&format!("race-{k}")), &options) {
                Ok(started) => {
                    assert!(started.warnings.is_empty(), "{:?}", started.warnings);
                    println!("won {k} {round}");
                    if churn {
                        let ended = ns.end_session().unwrap();
                        assert!(ended.warnings.is_empty(), "{:?}", ended.warnings);
                    }
                }
                Err(Error::ClaimHeld { .. }) => {}
                Err(e) => panic!("process {p}, task {k}: {e}"),
            }
        }
    }
}

/// Runs [`PROCESSES`] racing processes in `phase`; returns each one's `won` lines.
fn race(layout: &Layout, phase: &str) -> Vec<Vec<(usize, usize)>> {
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "claim_shards::claims_worker", "--nocapture"])
                .env(ROOT, layout.root())
                .env(PROCESS, p.to_string())
                .env("FLOWFORGE_TEST_CLAIMS_PHASE", phase)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
            (String::from_utf8(out.stdout).unwrap().lines())
                .filter_map(|l| l.strip_prefix("won "))
                .map(|l| {
                    let (k, round) = l.split_once(' ').unwrap();
                    (k.parse().unwrap(), round.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

#[test]
fn processes_racing_for_tasks_across_shards_get_exactly_one_winner_each() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    for p in 0..PROCESSES {
        for k in 0..TASKS {
            namespace::init(&layout, &dev(p, k), &DeveloperInfo::default()).unwrap();
        }
    }
    let shards: std::collections::BTreeSet<usize> = (0..TASKS)
        .map(|k| claim_shard(&task(&format!("race-{k}"))))
        .collect();
    assert!(shards.len() > 4, "the tasks spread over shards: {shards:?}");

    // Every process tries every task once: one winner per task.
    let won = race(&layout, "claim");
    let mut winners: BTreeMap<String, String> = BTreeMap::new();
    for (p, tasks) in won.iter().enumerate() {
        for &(k, _) in tasks {
            let previous = winners.insert(format!("race-{k}"), dev(p, k).to_string());
            assert_eq!(previous, None, "task {k} won twice");
        }
    }
    assert_eq!(winners.len(), TASKS, "every task has a winner: {won:?}");
    assert_eq!(held(&layout), winners);
    assert_eq!(view(&layout), winners, "the view converged to the shards");

    // The winners' sessions end while everyone keeps taking and giving back every task:
    // each start that won was followed by its end, so nothing stays held.
    for (task_name, holder) in &winners {
        let ns = Namespace::open(
            &layout,
            &DeveloperId::new(holder).unwrap(),
            SessionOptions::relaxed(),
        )
        .unwrap();
        assert_eq!(
            ns.session().unwrap().unwrap().task_id,
            Some(task(task_name))
        );
        ns.end_session().unwrap();
    }
    let won = race(&layout, "churn");
    let wins: usize = won.iter().map(Vec::len).sum();
    assert!(wins >= TASKS, "{won:?}");
    assert_eq!(held(&layout), BTreeMap::new());
    assert_eq!(
        view(&layout),
        BTreeMap::new(),
        "every release reached the view"
    );
    // Every win is an ended session in its developer's history (one each from the first
    // phase for the winners).
    for (p, tasks) in won.iter().enumerate() {
        for k in 0..TASKS {
            let ns = Namespace::open(&layout, &dev(p, k), SessionOptions::relaxed()).unwrap();
            let churned = tasks.iter().filter(|(t, _)| *t == k).count();
            let first =
                usize::from(winners.get(&format!("race-{k}")) == Some(&dev(p, k).to_string()));
            assert_eq!(ns.history().unwrap().len(), churned + first, "p{p}-t{k}");
        }
    }
}

fn setup(devs: &[&str]) -> (tempfile::TempDir, Layout, Vec<Namespace>) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let namespaces = devs
        .iter()
        .map(|d| {
            let dev = DeveloperId::new(d).unwrap();
            namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
            Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap()
        })
        .collect();
    (tmp, layout, namespaces)
}

/// `n` tasks named `prefix<i>`, each in a shard of its own.
fn tasks_in_distinct_shards(prefix: &str, n: usize) -> Vec<TaskId> {
    let mut seen = std::collections::BTreeSet::new();
    (0..)
        .map(|i| task(&format!("{prefix}{i}")))
        .filter(|t| seen.insert(claim_shard(t)))
        .take(n)
        .collect()
}

#[test]
fn an_older_store_with_one_claims_document_is_read_then_migrated_shard_by_shard_and_by_gc() {
    let (_tmp, layout, ns) = setup(&["alice", "bob", "carol"]);
    let (alice, bob, carol) = (&ns[0], &ns[1], &ns[2]);
    let tasks = tasks_in_distinct_shards("old-", 3);
    // The single document an older FlowForge wrote: three held claims and a bash tools'
    // entry it took over (`dropped`).
    let team = Store::new(layout.team_store_dir(), StoreOptions::relaxed());
    // Taken a moment ago: younger than the orphan age, so gc keeps them.
    let at = jiff::Timestamp::now().to_string();
    let at = at.as_str();
    let entry = |dev: &str, session: &str| {
        serde_json::json!({"a": {"assignee": dev, "status": "claimed", "claimed_at": at,
            "session_id": session, "note": "kept"}, "g": 7})
    };
    let document = serde_json::json!({
        "claims": {
            tasks[0].as_str(): entry("alice", "s-a"),
            tasks[1].as_str(): entry("bob", "s-b"),
            tasks[2].as_str(): entry("alice", "s-c"),
        },
        "dropped": {"gone": "2025-09-18T08:00:00Z"},
    });
    let key = Key::new(claim::CLAIMS_KEY).unwrap();
    team.create(&key, &document).unwrap().swapped().unwrap();
    fs::write(
        layout.task_assignments(),
        r#"{"tasks":{"gone":{"assignee":"dave","status":"claimed","claimed_at":"2025-09-18T08:00:00Z"}}}"#,
    )
    .unwrap();

    // Read as it was.
    let expected: BTreeMap<String, String> = [
        (tasks[0].to_string(), "alice".to_owned()),
        (tasks[1].to_string(), "bob".to_owned()),
        (tasks[2].to_string(), "alice".to_owned()),
    ]
    .into();
    assert_eq!(held(&layout), expected);
    let claim = claim::claim_of(&layout, &tasks[1]).unwrap().unwrap();
    assert_eq!(
        claim.assignment.extra["note"], "kept",
        "unknown fields are kept"
    );
    // Its claims hold: Carol is refused Bob's task, and the taken-over entry stays dropped.
    let err = carol
        .start_session(&tasks[1], &StartOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::ClaimHeld { ref holder, .. } if holder.as_str() == "bob"));
    assert!(matches!(
        claim::release(
            &layout,
            carol.developer(),
            &task("gone"),
            ReleaseOptions::default(),
            StoreOptions::relaxed()
        ),
        Err(Error::NotClaimed { .. })
    ));
    // A change seeds its own shard from the document; the others still read it.
    let released = claim::release(
        &layout,
        bob.developer(),
        &tasks[1],
        ReleaseOptions::default(),
        StoreOptions::relaxed(),
    )
    .unwrap();
    assert!(released.warning.is_none(), "{:?}", released.warning);
    let mut expected = expected;
    expected.remove(tasks[1].as_str());
    assert_eq!(held(&layout), expected);
    assert_eq!(
        view(&layout),
        expected,
        "the view was rebuilt from every shard"
    );
    alice
        .start_session(&task("new"), &StartOptions::default())
        .unwrap();
    expected.insert("new".to_owned(), "alice".to_owned());
    assert_eq!(held(&layout), expected);

    // gc seeds every other shard and removes the document; nothing changes for readers.
    let report = flowforge_session::gc(&layout, Default::default()).unwrap();
    assert_eq!(report.legacy_claim_keys, 1, "{report:?}");
    assert!(!layout.team_store_dir().join(claim::CLAIMS_KEY).exists());
    for shard in 0..CLAIM_SHARDS {
        assert!(
            layout
                .team_store_dir()
                .join(format!("claims-{shard:02x}"))
                .is_dir(),
            "shard {shard} seeded"
        );
    }
    assert_eq!(held(&layout), expected);
    let claim = claim::claim_of(&layout, &tasks[0]).unwrap().unwrap();
    assert_eq!(claim.assignment.extra["note"], "kept");
    bob.start_session(&tasks[1], &StartOptions::default())
        .unwrap();
    expected.insert(tasks[1].to_string(), "bob".to_owned());
    assert_eq!(held(&layout), expected);
    assert_eq!(view(&layout), expected);
}

#[test]
fn a_view_rewritten_by_the_bash_tools_is_rebuilt_whole_by_the_next_change() {
    let (_tmp, layout, ns) = setup(&["alice", "bob", "dave"]);
    let tasks = tasks_in_distinct_shards("v-", 3);
    ns[0]
        .start_session(&tasks[0], &StartOptions::default())
        .unwrap();
    ns[1]
        .start_session(&tasks[1], &StartOptions::default())
        .unwrap();
    // A bash tool rewrote the view from an old copy: FlowForge's entries are gone, its own
    // entry is new.
    fs::write(
        layout.task_assignments(),
        r#"{"tasks":{"b-1":{"developer":"carol","status":"in_progress","claimedAt":"2025-09-18T08:00:00Z"}},"version":3}"#,
    )
    .unwrap();
    ns[2]
        .start_session(&tasks[2], &StartOptions::default())
        .unwrap();
    let expected: BTreeMap<String, String> = [
        ("b-1".to_owned(), "carol".to_owned()),
        (tasks[0].to_string(), "alice".to_owned()),
        (tasks[1].to_string(), "bob".to_owned()),
        (tasks[2].to_string(), "dave".to_owned()),
    ]
    .into();
    assert_eq!(view(&layout), expected);
    let raw: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.task_assignments()).unwrap()).unwrap();
    assert_eq!(raw["version"], 3, "unknown fields of the file are kept");
}

#[test]
fn a_long_journal_is_replaced_and_the_view_stays_exact() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let tasks = tasks_in_distinct_shards("j-", 2);
    ns[0]
        .start_session(&tasks[0], &StartOptions::default())
        .unwrap();
    let journal = layout.team_store_dir().join(".claims/journal");
    let before = fs::metadata(&journal).unwrap();
    assert!(before.len() >= 1, "the change was noted");
    // Many changes later (written here directly: one byte per change, a shard's number).
    let shard = u8::try_from(claim_shard(&tasks[0])).unwrap();
    let mut bytes = fs::read(&journal).unwrap();
    bytes.resize(70_000, shard);
    fs::write(&journal, &bytes).unwrap();
    ns[1]
        .start_session(&tasks[1], &StartOptions::default())
        .unwrap();
    let after = fs::metadata(&journal).unwrap();
    assert!(after.len() < 1000, "replaced: {} bytes", after.len());
    let expected: BTreeMap<String, String> = [
        (tasks[0].to_string(), "alice".to_owned()),
        (tasks[1].to_string(), "bob".to_owned()),
    ]
    .into();
    assert_eq!(view(&layout), expected);
    ns[0].end_session().unwrap();
    assert_eq!(
        view(&layout),
        [(tasks[1].to_string(), "bob".to_owned())].into()
    );
}

/// A damaged shard stops the claims of its own tasks only: another task's start and end
/// work, and the damaged shard's tasks are refused with the file named, nothing changed.
#[test]
fn a_damaged_shard_stops_only_its_own_tasks() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let tasks = tasks_in_distinct_shards("d-", 2);
    ns[1]
        .start_session(&tasks[0], &StartOptions::default())
        .unwrap();
    let dir = layout
        .team_store_dir()
        .join(format!("claims-{:02x}", claim_shard(&tasks[0])));
    let mut damaged = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            fs::write(&path, "{garbage").unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    let started = ns[0]
        .start_session(&tasks[1], &StartOptions::default())
        .unwrap();
    assert!(started.warnings.is_empty(), "{:?}", started.warnings);
    ns[0].end_session().unwrap();
    let err = ns[0]
        .start_session(&tasks[0], &StartOptions::default())
        .unwrap_err();
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(ns[0].session().unwrap().is_some_and(|s| !s.active));
}

/// A claim whose session was never written, in a shard its holder's later changes do not
/// touch, is released by `gc` once older than the orphan age; a young one and live ones stay.
#[test]
fn gc_releases_a_claim_whose_session_was_never_written_in_any_shard() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let tasks = tasks_in_distinct_shards("o-", 4);
    ns[0]
        .start_session(&tasks[0], &StartOptions::default())
        .unwrap();
    ns[1]
        .start_session(&tasks[1], &StartOptions::default())
        .unwrap();
    let team = Store::new(layout.team_store_dir(), StoreOptions::relaxed());
    for (task, age_secs) in [(&tasks[2], 7200), (&tasks[3], 1)] {
        let key = Key::new(&format!("claims-{:02x}", claim_shard(task))).unwrap();
        team.update(&key, |doc: Option<&serde_json::Value>| {
            let mut doc = doc
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"claims": {}}));
            let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(age_secs);
            doc["claims"][task.as_str()] = serde_json::json!({
                "a": {"assignee": "alice", "status": "claimed", "claimed_at": at.to_string(),
                      "session_id": format!("never-{task}")},
                "g": 1,
            });
            Ok(doc)
        })
        .unwrap();
    }
    let all = |layout: &Layout| held(layout).into_keys().collect::<Vec<_>>();
    let mut expected: Vec<String> = tasks.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(all(&layout), expected);
    let dry = flowforge_session::gc(&layout, flowforge_session::GcOptions { dry_run: true });
    assert_eq!(dry.unwrap().released_claims, [tasks[2].clone()]);
    assert_eq!(all(&layout), expected, "a dry run releases nothing");
    let done = flowforge_session::gc(&layout, Default::default()).unwrap();
    assert_eq!(done.released_claims, [tasks[2].clone()]);
    expected.retain(|t| *t != tasks[2].as_str());
    assert_eq!(all(&layout), expected);
    assert_eq!(view(&layout).into_keys().collect::<Vec<_>>(), expected);
}

/// A reader answers for every shard written before it was made, written or not in the
/// shards it probes itself; a shard first written after its listing of the store reads as
/// unwritten to it (as it was when the reader was made) and as written to the next reader.
#[test]
fn a_claims_reader_sees_every_shard_written_before_it_was_made() {
    let (_tmp, layout, ns) = setup(&["alice", "bob"]);
    let tasks = tasks_in_distinct_shards("listed-", 3);
    let (first, late) = (&tasks[0], &tasks[2]);
    ns[0]
        .start_session(first, &StartOptions::default())
        .unwrap();
    let mut reader = claim::ClaimsReader::new(&layout);
    let versions: Vec<u64> = (0..CLAIM_SHARDS)
        .map(|s| reader.shard_version(s).unwrap().generation())
        .collect();
    assert!(versions[claim_shard(first)] > 0, "{versions:?}");
    assert_eq!(
        versions.iter().filter(|&&g| g > 0).count(),
        1,
        "{versions:?}"
    );

    ns[1].start_session(late, &StartOptions::default()).unwrap();
    let shard = claim_shard(late);
    assert_eq!(reader.shard_version(shard).unwrap().generation(), 0);
    let mut next = claim::ClaimsReader::new(&layout);
    for s in 0..CLAIM_SHARDS {
        let generation = next.shard_version(s).unwrap().generation();
        assert_eq!(
            generation > 0,
            s == shard || s == claim_shard(first),
            "shard {s}"
        );
    }
    assert!(claim::claims_version(&layout).unwrap().generation() >= 2);
}
