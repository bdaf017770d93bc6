//! The index against real namespace files in a temporary directory.

use crate::common;

use std::{collections::BTreeMap, fs, os::unix::fs::symlink, path::PathBuf};

use common::*;
use flowforge_core::{DeveloperId, Layout};
use flowforge_index::{ConflictKind, Index, Pattern, TimeRange};
use jiff::ToSpan;

#[test]
fn queries_answer_from_the_namespaces() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    let index = Index::build(&layout).unwrap();

    let who = index.who(&task("feature-auth-2"));
    assert_eq!(who.holder, Some(dev("carol")));
    assert_eq!(who.working, [dev("bob")]);
    assert_eq!(index.who(&task("nobody-has-it")).holder, None);
    assert_eq!(index.task_of(&dev("alice")), Some(&task("feature-auth-1")));
    assert_eq!(index.task_of(&dev("carol")), None, "carol's session ended");

    let active: Vec<_> = index
        .active()
        .into_iter()
        .map(|a| (a.developer, a.branch))
        .collect();
    assert_eq!(
        active,
        [
            (dev("alice"), Some("feature/feature-auth-1".to_owned())),
            (dev("bob"), Some("feature/feature-auth-2".to_owned()))
        ]
    );

    let matches = index.tasks(&Pattern::new("feature-auth-*"));
    let names: Vec<_> = matches.tasks.iter().map(|t| t.task.to_string()).collect();
    assert_eq!(names, ["feature-auth-1", "feature-auth-2"]);
    assert_eq!(matches.developers, [dev("alice"), dev("bob"), dev("carol")]);
    assert!(matches.parallel);
    assert!(!index.tasks(&Pattern::new("feature-auth-1")).parallel);
    assert!(
        index.tasks(&Pattern::new("billing-*")).tasks.is_empty(),
        "not claimed, not active"
    );

    let conflicts: Vec<_> = (index.conflicts().into_iter())
        .map(|c| (c.kind, c.subject, c.developers))
        .collect();
    assert_eq!(
        conflicts,
        [
            (
                ConflictKind::SameTask,
                "feature-auth-2".to_owned(),
                vec![dev("bob"), dev("carol")]
            ),
            (
                ConflictKind::SamePath,
                "src/lib.rs".to_owned(),
                vec![dev("alice"), dev("bob")]
            ),
        ]
    );

    let all = TimeRange::all();
    assert_eq!(index.time_of(&dev("alice"), &all), 75);
    let first_day = TimeRange {
        start: base(),
        end: base() + 24.hours(),
    };
    assert_eq!(index.time_of(&dev("alice"), &first_day), 30);
    assert_eq!(index.time_on(&task("feature-auth-1"), &first_day), 30);
    let by_dev = index.time_by_developer(&first_day);
    assert_eq!(
        by_dev,
        BTreeMap::from([(dev("alice"), 30), (dev("bob"), 20), (dev("carol"), 60)])
    );
    assert_eq!(index.time_by_task(&all)[&task("billing-1")], 60);

    assert_eq!(
        index.touching("src/auth").keys().collect::<Vec<_>>(),
        [&dev("alice")]
    );
    assert_eq!(index.touching("src/").len(), 2);
    assert!(
        index.touching("src/au").is_empty(),
        "prefixes are whole path components"
    );
    assert_eq!(index.touching("").len(), 2);
    assert!(index.problems().is_empty(), "{:?}", index.problems());
}

#[test]
fn bad_namespaces_are_left_out_and_reported_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    // dave: a corrupt time-tracking file.
    let mut dave = spec("feature-auth-3", &[], &[]);
    dave.corrupt = true;
    write_dev(&layout, &dev("dave"), &dave);
    // erin's current session claims to be frank's.
    write_dev(&layout, &dev("erin"), &spec("x-1", &[], &[]));
    let mut forged = session(&dev("frank"), 0, Some("x-1"), base());
    forged.active = true;
    flowforge_testkit::bash_tools::write_json(&layout.current_session(&dev("erin")), &forged)
        .unwrap();
    // Directories that are not namespaces.
    let outside = tempfile::tempdir().unwrap();
    let outside_layout = Layout::new(outside.path());
    write_dev(&outside_layout, &dev("mallory"), &spec("evil-1", &[], &[]));
    symlink(
        outside_layout.dev_dir(&dev("mallory")),
        layout.root().join("dev-mallory"),
    )
    .unwrap();
    for name in ["dev-..", "dev-ADMIN", "dev-a b", "dev-"] {
        fs::create_dir(layout.root().join(name)).unwrap();
    }
    let non_utf8 = std::ffi::OsStr::new("dev-\u{0}")
        .as_encoded_bytes()
        .to_vec();
    let mut non_utf8 = non_utf8[..4].to_vec();
    non_utf8.push(0xff);
    fs::create_dir(
        layout
            .root()
            .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&non_utf8)),
    )
    .unwrap();
    fs::write(layout.root().join("dev-file"), "not a directory").unwrap();

    let index = Index::build(&layout).unwrap();
    let active: Vec<DeveloperId> = index.active().into_iter().map(|a| a.developer).collect();
    assert_eq!(
        active,
        [dev("alice"), dev("bob")],
        "dave, erin and mallory are left out"
    );
    let borrowed: Vec<&DeveloperId> = index.active_sessions().map(|s| &s.developer_id).collect();
    assert_eq!(borrowed, [&dev("alice"), &dev("bob")]);
    assert!(index.tasks(&Pattern::new("evil-*")).tasks.is_empty());
    assert!(
        index
            .tasks(&Pattern::new("feature-auth-3"))
            .tasks
            .is_empty()
    );

    let problems = index.problems();
    let by_path: BTreeMap<PathBuf, (Option<DeveloperId>, String)> = (problems.iter())
        .map(|p| (p.path.clone(), (p.developer.clone(), p.message.clone())))
        .collect();
    let dave = &by_path[&layout.time_tracking(&dev("dave"))];
    assert_eq!(dave.0, Some(dev("dave")));
    assert!(dave.1.contains("corrupt JSON"), "{}", dave.1);
    let erin = &by_path[&layout.current_session(&dev("erin"))];
    assert!(erin.1.contains("belongs to developer frank"), "{}", erin.1);
    assert!(
        by_path[&layout.root().join("dev-mallory")]
            .1
            .contains("symbolic link")
    );
    assert!(
        by_path[&layout.root().join("dev-file")]
            .1
            .contains("not a directory")
    );
    for name in ["dev-..", "dev-ADMIN", "dev-a b", "dev-"] {
        let (developer, message) = &by_path[&layout.root().join(name)];
        assert_eq!(developer, &None);
        assert!(
            message.contains("invalid developer id"),
            "{name}: {message}"
        );
    }
    assert!(
        problems.iter().any(|p| p.message.contains("\\xff")),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 9, "{problems:#?}");

    // A corrupt team file is a problem too, and leaves the claims out.
    fs::write(layout.task_assignments(), "{\"tasks\": 7}").unwrap();
    let index = Index::build(&layout).unwrap();
    assert_eq!(index.who(&task("feature-auth-1")).holder, None);
    assert!(
        index
            .problems()
            .iter()
            .any(|p| p.path == layout.task_assignments())
    );
}

#[test]
fn refresh_reloads_only_changed_namespaces() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    let mut index = Index::build(&layout).unwrap();
    let unchanged = index.refresh().unwrap();
    assert_eq!((unchanged.checked, unchanged.reloaded.len()), (3, 0));
    assert!(!unchanged.team_reloaded);

    write_dev(&layout, &dev("bob"), &spec("feature-auth-1", &[], &[]));
    let stats = index.refresh().unwrap();
    assert_eq!(stats.reloaded, [dev("bob")]);
    assert_eq!(
        index.who(&task("feature-auth-1")).working,
        [dev("alice"), dev("bob")]
    );
    assert!(index.who(&task("feature-auth-2")).working.is_empty());
    assert!(index.touching("src/lib.rs").len() == 1);

    write_dev(&layout, &dev("dan"), &spec("d-1", &[], &[]));
    fs::remove_dir_all(layout.dev_dir(&dev("carol"))).unwrap();
    let stats = index.refresh().unwrap();
    assert_eq!(
        (stats.reloaded, stats.removed),
        (vec![dev("dan")], vec![dev("carol")])
    );
    assert_eq!(
        index
            .time_by_task(&TimeRange::all())
            .get(&task("billing-1")),
        None
    );

    write_claims(&layout, &[("d-1", &dev("dan"))]);
    write_dev(&layout, &dev("alice"), &DevSpec::default());
    let stats = index.refresh_developers(&[dev("alice")]);
    assert_eq!(stats.reloaded, [dev("alice")]);
    assert!(stats.team_reloaded);
    assert_eq!(index.who(&task("d-1")).holder, Some(dev("dan")));
    assert_eq!(index.task_of(&dev("alice")), None);
    let fresh = Index::build(&layout).unwrap();
    assert_eq!(index.active(), fresh.active());
    assert_eq!(index.conflicts(), fresh.conflicts());
}

#[test]
fn namespaces_written_through_the_session_store_are_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    let erin = dev("erin");
    store_op(
        &layout,
        &erin,
        &StoreOp::Start("store-1".into(), Some("feature/store-1".into())),
    );
    let mut index = Index::build(&layout).unwrap();
    let who = index.who(&task("store-1"));
    assert_eq!(
        (who.holder, who.working),
        (Some(erin.clone()), vec![erin.clone()])
    );
    assert_eq!(index.task_of(&erin), Some(&task("store-1")));

    // The store is the truth: a view overwritten by hand does not change the answer.
    let mut stale = session(&erin, 9, Some("hand-written"), base());
    stale.active = true;
    flowforge_testkit::bash_tools::write_json(&layout.current_session(&erin), &stale).unwrap();
    assert!(
        index.refresh().unwrap().reloaded.is_empty(),
        "the store did not change"
    );
    assert_eq!(
        Index::build(&layout).unwrap().task_of(&erin),
        Some(&task("store-1"))
    );

    store_op(
        &layout,
        &erin,
        &StoreOp::Minutes(Some("store-1".into()), 25),
    );
    let stats = index.refresh().unwrap();
    assert_eq!(stats.reloaded, std::slice::from_ref(&erin));
    assert_eq!(index.time_on(&task("store-1"), &TimeRange::all()), 25);
    for total in [35, 45] {
        store_op(
            &layout,
            &erin,
            &StoreOp::Minutes(Some("store-1".into()), 10),
        );
        assert_eq!(
            index.refresh().unwrap().reloaded,
            std::slice::from_ref(&erin)
        );
        assert_eq!(index.time_on(&task("store-1"), &TimeRange::all()), total);
    }

    store_op(&layout, &erin, &StoreOp::End);
    let stats = index.refresh().unwrap();
    assert_eq!(stats.reloaded, std::slice::from_ref(&erin));
    assert!(stats.team_reloaded, "ending the session released the claim");
    assert_eq!(index.who(&task("store-1")).holder, None);
    assert_eq!(index.task_of(&erin), None);
    assert_eq!(index.record(&erin).unwrap().history.len(), 1);

    // The bash tools' task-assignments.json gives feature-auth-1 to alice: honoured until
    // the store takes the claim over (here by a forced release).
    store_op(
        &layout,
        &erin,
        &StoreOp::Start("feature-auth-1".into(), None),
    );
    index.refresh().unwrap();
    assert_eq!(
        index.who(&task("feature-auth-1")).holder,
        Some(dev("alice"))
    );
    flowforge_session::claim::release(
        &layout,
        &erin,
        &task("feature-auth-1"),
        flowforge_session::ReleaseOptions { force: true },
        Default::default(),
    )
    .unwrap();
    store_op(
        &layout,
        &erin,
        &StoreOp::Start("feature-auth-1".into(), None),
    );
    // A claim in the store wins over the file, even one the bash tools rewrite afterwards.
    let mut file: flowforge_core::model::TaskAssignments =
        serde_json::from_slice(&std::fs::read(layout.task_assignments()).unwrap()).unwrap();
    let mut alices = file.tasks[&task("feature-auth-1")].clone();
    alices.assignee = dev("alice");
    file.tasks.insert(task("feature-auth-1"), alices);
    flowforge_testkit::bash_tools::write_json(&layout.task_assignments(), &file).unwrap();
    index.refresh().unwrap();
    assert_eq!(
        index.who(&task("feature-auth-1")).holder,
        Some(erin.clone())
    );
    assert_eq!(
        index.who(&task("feature-auth-2")).holder,
        Some(dev("carol")),
        "json claims stay"
    );
}

#[test]
fn large_teams_refresh_in_parallel_and_agree_with_a_fresh_build() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let ids: Vec<DeveloperId> = (0..150).map(|i| dev(&format!("dev{i:03}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        let area = format!("area{}-{i}", i / 10);
        write_dev(
            &layout,
            id,
            &spec(&area, &[&format!("src/{area}.rs")], &[(&area, 10, 1)]),
        );
    }
    let mut index = Index::build(&layout).unwrap();
    assert_eq!(index.active().len(), 150);
    let mut corrupt = spec("x-1", &[], &[]);
    corrupt.corrupt = true;
    write_dev(&layout, &ids[7], &corrupt);
    write_dev(
        &layout,
        &ids[70],
        &spec("area0-0", &["src/area0-0.rs"], &[]),
    );
    write_dev(&layout, &ids[140], &DevSpec::default());
    let stats = index.refresh().unwrap();
    assert_eq!(stats.checked, 150);
    assert_eq!(
        stats.reloaded,
        [ids[7].clone(), ids[70].clone(), ids[140].clone()]
    );
    let fresh = Index::build(&layout).unwrap();
    assert_eq!(index.active(), fresh.active());
    assert_eq!(index.conflicts(), fresh.conflicts());
    assert_eq!(index.problems(), fresh.problems());
    assert_eq!(
        index.who(&task("area0-0")).working,
        [ids[0].clone(), ids[70].clone()]
    );
    assert_eq!(
        index.time_by_task(&TimeRange::all()),
        fresh.time_by_task(&TimeRange::all())
    );
}

/// The active sessions come out sorted and complete whether few namespaces are active (each
/// active developer looked up) or many (one pass over the records), with inactive and
/// broken namespaces among them, as the files say (`naive::scan`).
#[test]
fn active_sessions_agree_with_the_files_for_few_and_many_active() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::for_repo(tmp.path());
    let ids: Vec<DeveloperId> = (0..40).map(|i| dev(&format!("d{i:02}"))).collect();
    let inactive = || {
        let mut s = spec("idle-1", &[], &[]);
        s.session = Some((false, Some("idle-1".into()), None));
        s
    };
    for id in &ids {
        write_dev(&layout, id, &inactive());
    }
    let mut broken = spec("x-1", &[], &[]);
    broken.corrupt = true;
    write_dev(&layout, &ids[5], &broken);
    let mut index = Index::build(&layout).unwrap();
    let check = |index: &Index, expected: usize| {
        let ours: Vec<_> = (index.active_sessions())
            .map(|s| (s.developer_id.clone(), s.task_id.clone(), s.branch.clone()))
            .collect();
        assert_eq!(ours, crate::naive::scan(&layout).active());
        assert_eq!(ours.len(), expected);
        assert_eq!(index.active().len(), expected);
    };
    check(&index, 0);
    // 3 of 40: looked up. Out of order on purpose, one beside the broken namespace.
    for i in [31, 4, 17] {
        write_dev(&layout, &ids[i], &spec(&format!("t-{i}"), &[], &[]));
    }
    index.refresh().unwrap();
    check(&index, 3);
    // 5 of 40, then all but the broken one: walked.
    for i in [0, 39] {
        write_dev(&layout, &ids[i], &spec(&format!("t-{i}"), &[], &[]));
    }
    index.refresh().unwrap();
    check(&index, 5);
    for (i, id) in ids.iter().enumerate().filter(|&(i, _)| i != 5) {
        write_dev(&layout, id, &spec(&format!("t-{i}"), &[], &[]));
    }
    index.refresh().unwrap();
    check(&index, 39);
    // Back to sparse: one session ended.
    for (_, id) in ids.iter().enumerate().filter(|&(i, _)| i != 5 && i != 22) {
        write_dev(&layout, id, &inactive());
    }
    index.refresh().unwrap();
    check(&index, 1);
}
