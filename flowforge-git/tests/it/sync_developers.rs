//! Git sync for N developers: one status and one ref snapshot, each developer's branches.

use crate::cache_support;

use cache_support::{RepoExt as _, committed_repo, ours};
use flowforge_core::{DeveloperId, TaskId};
use flowforge_git::{
    DeveloperRequest, Fresh, Freshness, ViewOptions, WatchMode, status::EntryKind,
    sync::DirtySummary, sync_once,
};

fn developers(n: usize) -> Vec<DeveloperRequest> {
    (0..n)
        .map(|i| DeveloperRequest::new(DeveloperId::new(&format!("dev{i}")).expect("id")))
        .collect()
}

#[test]
fn ten_developers_share_one_status_and_one_ref_snapshot() {
    let repo = committed_repo();
    repo.git_ok(&["branch", "dev-dev3/topic"]);
    repo.git_ok(&["branch", "feature/t-7-work"]);
    let view = repo.view();
    let mut devs = developers(10);
    devs[5].tasks.push(TaskId::new("t-7").expect("task"));

    let report = view.sync(&devs, Freshness::Synced).expect("sync");
    assert_eq!(report.developers.len(), 10);
    let stats = view.stats();
    assert_eq!((stats.misses, stats.refs_computations), (1, 1), "{stats:?}");
    for (i, dev) in report.developers.iter().enumerate() {
        assert_eq!(dev.developer, devs[i].id);
        // Shared, not copied.
        assert!(std::ptr::eq(dev.status(), &*report.status.value));
        assert!(std::ptr::eq(dev.refs(), &*report.refs.value));
        assert_eq!(dev.head().branch.as_deref(), Some("main"));
        assert!(dev.dirty.is_clean());
        let names: Vec<&str> = dev.branches().map(|b| b.name.as_str()).collect();
        match i {
            3 => assert_eq!(names, ["dev-dev3/topic"]),
            5 => assert_eq!(names, ["feature/t-7-work"]),
            _ => assert!(names.is_empty(), "dev{i}: {names:?}"),
        }
    }

    // An edit made right before a synced sync is in every developer's answer.
    repo.write("src/file2.txt", "edited\n");
    repo.write("brand-new.txt", "new\n");
    let report = view.sync(&devs, Freshness::Synced).expect("sync");
    assert_eq!(report.status.fresh, Fresh::Synced);
    for dev in &report.developers {
        assert_eq!(ours(dev.status()), repo.git_porcelain());
        assert_eq!((dev.dirty.unstaged, dev.dirty.untracked), (1, 1));
        assert!(matches!(
            dev.entry(b"src/file2.txt").map(|e| e.kind),
            Some(EntryKind::Tracked { .. })
        ));
    }
    assert_eq!(view.stats().misses, 2);
    assert_eq!(view.stats().refs_computations, 1, "no ref changed");
}

#[test]
fn one_call_opens_and_syncs_without_a_watcher() {
    let repo = committed_repo();
    repo.write("src/file0.txt", "edited\n");
    let options = ViewOptions {
        watch: WatchMode::Off,
        ..ViewOptions::default()
    };
    let report = sync_once(repo.path(), &developers(6), &options, Freshness::Synced).expect("sync");
    assert_eq!(report.status.fresh, Fresh::Recomputed);
    assert_eq!(report.developers.len(), 6);
    for dev in &report.developers {
        assert!(dev.entry(b"src/file0.txt").is_some());
        assert_eq!(ours(dev.status()), repo.git_porcelain());
    }
}

#[test]
fn syncing_a_path_outside_any_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = sync_once(
        dir.path(),
        &developers(1),
        &ViewOptions::default(),
        Freshness::Synced,
    )
    .expect_err("not a repository");
    assert!(
        matches!(&err, flowforge_git::Error::NotARepository { path, .. } if path == dir.path()),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("not a git repository"), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "libgit2's reason is kept"
    );
}

/// The dirty summary git's porcelain lines give: staged (`X`), unstaged (`Y`), unmerged and
/// untracked paths counted as [`DirtySummary`] counts them.
fn summary_of_porcelain(porcelain: &str) -> DirtySummary {
    let mut summary = DirtySummary::default();
    for line in porcelain.lines() {
        let code = &line.as_bytes()[..2];
        match code {
            b"??" => summary.untracked += 1,
            b"DD" | b"AU" | b"UD" | b"UA" | b"DU" | b"AA" | b"UU" => summary.conflicted += 1,
            [x, y] => {
                summary.staged += usize::from(*x != b' ');
                summary.unstaged += usize::from(*y != b' ');
            }
            _ => unreachable!("two bytes"),
        }
    }
    summary
}

/// The summary is counted once per status and reused while the status stands: every sync
/// after a change still gives git's counts, back to clean.
#[test]
fn the_dirty_summary_follows_every_change_back_to_clean() {
    let repo = committed_repo();
    let view = repo.view();
    let devs = developers(3);
    let check = |what: &str| {
        for _ in 0..2 {
            let report = view.sync(&devs, Freshness::Synced).expect("sync");
            let expected = summary_of_porcelain(&repo.git_porcelain());
            for dev in &report.developers {
                assert_eq!(dev.dirty, expected, "{what}");
            }
        }
    };
    check("clean");
    repo.write("src/file2.txt", "edited\n");
    repo.write("brand-new.txt", "new\n");
    check("an edit and a new file");
    assert_eq!(
        view.sync(&devs, Freshness::Synced)
            .expect("sync")
            .developers[0]
            .dirty,
        DirtySummary {
            unstaged: 1,
            untracked: 1,
            ..DirtySummary::default()
        }
    );
    repo.git_ok(&["add", "src/file2.txt"]);
    check("the edit staged");
    repo.write("src/file2.txt", "edited again\n");
    check("staged and edited again");
    repo.git_ok(&["reset", "-q", "--hard"]);
    std::fs::remove_file(repo.path().join("brand-new.txt")).expect("remove");
    check("reset");
    assert!(
        view.sync(&devs, Freshness::Synced)
            .expect("sync")
            .developers[0]
            .dirty
            .is_clean()
    );
}
