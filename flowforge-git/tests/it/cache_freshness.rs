//! Freshness: a synced answer includes every change made before the call, every time; the
//! cache's answers equal git's; a deleted or moved repository is an error, never a stale answer.

use crate::cache_support;

use std::time::Duration;

use cache_support::{RepoExt as _, committed_repo, ours};
use flowforge_git::{Error, Fresh, Freshness, GitView, ViewOptions, WatchMode};

fn synced(view: &GitView) -> (String, Fresh) {
    let answer = view.status(Freshness::Synced).expect("synced status");
    (ours(&answer.value), answer.fresh)
}

#[test]
fn an_edit_made_right_before_a_synced_call_is_in_its_answer_every_time() {
    let repo = committed_repo();
    let view = repo.view();
    assert!(view.is_watching(), "{:?}", view.not_watching_because());
    assert_eq!(synced(&view).0, repo.git_porcelain());
    for i in 0..50 {
        match i % 5 {
            0 => repo.write(&format!("src/file{}.txt", i % 4), &format!("edit {i}\n")),
            1 => repo.write(&format!("new/n{i}.txt"), "new\n"),
            2 => repo.write(&format!("deep/d{i}/e/f/g.txt"), "deep\n"),
            3 => {
                let _ = std::fs::remove_file(repo.path().join(format!("src/file{}.txt", i % 4)));
            }
            _ => repo.write(
                &format!("src/file{}.txt", i % 4),
                &format!("content {}\n", i % 4),
            ),
        }
        let (text, fresh) = synced(&view);
        assert_eq!(fresh, Fresh::Synced);
        assert_eq!(text, repo.git_porcelain(), "after edit {i}");
    }
    assert!(view.stats().incremental_refreshes > 0, "{:?}", view.stats());
}

#[test]
fn files_created_in_a_brand_new_directory_are_never_missed() {
    let repo = committed_repo();
    let view = repo.view();
    synced(&view);
    for i in 0..20 {
        // The directory and its files appear before notify can add the directory's watch.
        let dir = format!("burst{i}/a/b");
        std::fs::create_dir_all(repo.path().join(&dir)).expect("mkdir");
        for j in 0..5 {
            repo.write(&format!("{dir}/f{j}.txt"), "x\n");
        }
        assert_eq!(synced(&view).0, repo.git_porcelain(), "burst {i}");
        // Later changes inside it are seen too: its watch exists now.
        repo.git_ok(&["add", &format!("burst{i}")]);
        repo.write(&format!("{dir}/f0.txt"), "changed\n");
        assert_eq!(synced(&view).0, repo.git_porcelain(), "burst {i} edited");
    }
}

#[test]
fn git_operations_are_seen_by_synced_calls() {
    let repo = committed_repo();
    let view = repo.view();
    synced(&view);
    let steps: &[&[&str]] = &[
        &["add", "-A"],
        &["commit", "-q", "--allow-empty", "-m", "empty"],
        &["mv", "src/file0.txt", "src/renamed.txt"],
        &["rm", "-q", "--cached", "src/file1.txt"],
        &["commit", "-q", "-m", "second"],
        &["checkout", "-q", "-b", "dev-alice/work"],
        &["reset", "-q", "--soft", "HEAD~1"],
        &["stash", "-q"],
        &["checkout", "-q", "main"],
        &["stash", "pop", "-q"],
    ];
    for (i, step) in steps.iter().enumerate() {
        repo.write(&format!("scratch/s{i}.txt"), &format!("step {i}\n"));
        repo.git_ok(step);
        assert_eq!(synced(&view).0, repo.git_porcelain(), "after git {step:?}");
    }
    // An ignore rule changes what is shown without touching the files it hides.
    repo.write("notes.tmp", "scratch\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
    repo.write(".git/info/exclude", "*.tmp\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
    repo.write("docs/.gitignore", "*.md\n");
    repo.write("docs/new.md", "hidden\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
}

#[test]
fn namespace_files_in_the_work_tree_are_shown_exactly_as_git_shows_them() {
    let repo = committed_repo();
    let view = repo.view();
    // Ignored by the repository's .gitignore: no entry.
    repo.write(".flowforge/dev-alice/sessions/current.json", "{}\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
    // Not ignored any more: the directory shows up collapsed.
    repo.write(".gitignore", "*.log\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
    repo.write(".flowforge/dev-bob/config.json", "{}\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
}

#[test]
fn a_held_index_lock_does_not_stop_the_answer() {
    let repo = committed_repo();
    let view = repo.view();
    synced(&view);
    // Another process holds the index lock, as a running git command does.
    let lock = repo.path().join(".git/index.lock");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo held > \"$1\"")
        .arg("sh")
        .arg(&lock)
        .status()
        .expect("sh runs");
    assert!(status.success());
    repo.write("src/file3.txt", "while locked\n");
    assert_eq!(synced(&view).0, repo.git_porcelain());
    std::fs::remove_file(&lock).expect("unlock");
    assert_eq!(synced(&view).0, repo.git_porcelain());
}

#[test]
fn max_age_serves_a_young_answer_and_says_it_may_be_stale() {
    let repo = committed_repo();
    let view = repo.view();
    let before = synced(&view).0;
    repo.write("src/file0.txt", "changed\n");
    let aged = view
        .status(Freshness::MaxAge(Duration::from_secs(3600)))
        .expect("aged status");
    assert!(matches!(aged.fresh, Fresh::Aged(_)), "{:?}", aged.fresh);
    assert!(!aged.computed);
    assert_eq!(ours(&aged.value), before);
    assert_eq!(synced(&view).0, repo.git_porcelain());
    assert_ne!(before, repo.git_porcelain());
}

#[test]
fn without_a_watcher_every_answer_is_recomputed_and_exact() {
    let repo = committed_repo();
    let options = ViewOptions {
        watch: WatchMode::Off,
        ..ViewOptions::default()
    };
    let view = GitView::open(repo.path(), &options).expect("open");
    assert!(!view.is_watching());
    for i in 0..5 {
        repo.write(&format!("x{i}.txt"), "x\n");
        for freshness in [Freshness::Synced, Freshness::Cached] {
            let answer = view.status(freshness).expect("status");
            assert_eq!(answer.fresh, Fresh::Recomputed);
            assert_eq!(ours(&answer.value), repo.git_porcelain());
        }
    }
    assert_eq!(view.stats().fallback_answers, 10);
    assert_eq!(view.stats().full_computations, 10);
}

#[test]
fn a_repository_deleted_while_watched_is_an_error_not_a_stale_answer() {
    let repo = committed_repo();
    let view = repo.view();
    synced(&view);
    std::fs::remove_dir_all(repo.path()).expect("delete the repository");
    for freshness in [
        Freshness::Synced,
        Freshness::Cached,
        Freshness::MaxAge(Duration::from_secs(3600)),
    ] {
        let err = view
            .status(freshness)
            .expect_err("no answer from a deleted repository");
        assert!(matches!(err, Error::Gone { .. }), "{freshness:?}: {err}");
        assert!(view.refs(freshness).is_err(), "{freshness:?}");
    }
}

#[test]
fn a_repository_moved_while_watched_is_an_error_not_a_stale_answer() {
    let repo = committed_repo();
    let view = repo.view();
    synced(&view);
    let moved = repo.scratch().join("moved");
    std::fs::rename(repo.path(), &moved).expect("move the repository");
    std::fs::write(moved.join("src/file0.txt"), "changed after the move\n").expect("write");
    for freshness in [Freshness::Synced, Freshness::Cached] {
        let err = view
            .status(freshness)
            .expect_err("no answer from a moved repository");
        assert!(matches!(err, Error::Gone { .. }), "{freshness:?}: {err}");
    }
}
