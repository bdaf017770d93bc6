//! Bad input and faults: a clear error or a correct answer, never a panic.

use crate::status_support;

use std::{os::unix::fs::PermissionsExt, path::PathBuf};

use flowforge_git::{Error, Repo, StatusOptions};
use status_support::{TestRepo, assert_matches_git, git_in};

fn committed_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.write("dir/b.txt", "b\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo
}

#[test]
fn repo_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Repo>();
    assert_traits::<flowforge_git::Status>();
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Repo::open(dir.path()).expect_err("not a repository");
    assert!(matches!(err, Error::NotARepository { .. }), "{err:?}");
    assert!(err.to_string().starts_with("not a git repository"), "{err}");
    let missing = dir.path().join("does/not/exist");
    assert!(matches!(
        Repo::open(missing),
        Err(Error::NotARepository { .. })
    ));
}

#[test]
fn bare_repository_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = git_in(dir.path(), &["init", "-q", "--bare", "bare.git"]);
    assert!(out.status.success());
    let err = Repo::open(dir.path().join("bare.git")).expect_err("bare");
    assert!(matches!(err, Error::Bare { .. }), "{err:?}");
    assert!(err.to_string().contains("bare repository"), "{err}");
}

#[test]
fn opens_from_a_subdirectory_and_answers_like_git_there() {
    let repo = committed_repo();
    repo.write("dir/b.txt", "changed\n");
    repo.write("dir/new/c.txt", "c\n");
    let handle = Repo::open(repo.path().join("dir")).expect("open from subdirectory");
    assert_eq!(handle.workdir(), repo.path());
    let status = handle.status(&StatusOptions::default()).expect("status");
    // git prints porcelain paths relative to the top wherever it runs.
    let from_subdir = git_in(
        &repo.path().join("dir"),
        &["--no-optional-locks", "status", "--porcelain=v1"],
    );
    assert_eq!(status.porcelain(Default::default()), from_subdir.stdout);
}

#[test]
fn linked_worktree_has_its_own_status() {
    let repo = committed_repo();
    let linked = repo.path().join("linked");
    repo.git_ok(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "side",
        linked.to_str().expect("utf-8"),
    ]);
    std::fs::write(linked.join("a.txt"), "in the linked worktree\n").expect("write");
    let handle = Repo::open(&linked).expect("open linked worktree");
    assert_eq!(handle.workdir(), linked);
    assert_ne!(handle.git_dir(), handle.common_dir());
    assert_eq!(handle.common_dir(), repo.path().join(".git"));
    let status = handle.status(&StatusOptions::default()).expect("status");
    let git = git_in(
        &linked,
        &["--no-optional-locks", "status", "--porcelain=v1", "-b"],
    );
    assert_eq!(
        status.porcelain(flowforge_git::PorcelainOptions {
            branch: true,
            ..Default::default()
        }),
        git.stdout
    );
}

#[test]
fn corrupted_index_is_a_clear_error() {
    let repo = committed_repo();
    let handle = Repo::open(repo.path()).expect("open");
    std::fs::write(
        repo.path().join(".git/index"),
        b"DIRC garbage that is not an index",
    )
    .expect("corrupt");
    let err = handle
        .status(&StatusOptions::default())
        .expect_err("corrupt index");
    assert!(matches!(err, Error::Git { .. }), "{err:?}");
    assert!(err.to_string().contains("read the index"), "{err}");
}

#[test]
fn index_lock_held_by_another_process_reads_fine_and_writes_nothing() {
    let repo = committed_repo();
    repo.write("a.txt", "changed\n");
    repo.write("new.txt", "new\n");
    let index = repo.path().join(".git/index");
    let before = std::fs::read(&index).expect("index");
    // Another git process holds the lock while it works.
    std::fs::write(repo.path().join(".git/index.lock"), b"held").expect("lock");
    let handle = Repo::open(repo.path()).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status with the lock held");
    assert_matches_git("lock held", &repo, tracker.status());
    repo.write("dir/b.txt", "changed too\n");
    tracker
        .refresh_paths(&handle, &[PathBuf::from("dir/b.txt")])
        .expect("refresh with the lock held");
    assert_matches_git("lock held, refreshed", &repo, tracker.status());
    assert_eq!(
        std::fs::read(&index).expect("index"),
        before,
        "the index was not written"
    );
    assert_eq!(
        std::fs::read(repo.path().join(".git/index.lock")).expect("lock"),
        b"held",
        "the lock is untouched"
    );
}

#[test]
fn repository_deleted_while_open_is_a_clear_error() {
    let repo = committed_repo();
    let handle = Repo::open(repo.path()).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status");
    std::fs::remove_dir_all(repo.path()).expect("delete");
    let err = handle.status(&StatusOptions::default()).expect_err("gone");
    assert!(matches!(err, Error::Gone { .. }), "{err:?}");
    assert!(err.to_string().contains("no longer exists"), "{err}");
    let before = tracker.status().clone();
    let err = tracker
        .refresh_paths(&handle, &[PathBuf::from("a.txt")])
        .expect_err("gone");
    assert!(matches!(err, Error::Gone { .. }), "{err:?}");
    assert_eq!(
        tracker.status(),
        &before,
        "a failed refresh leaves the status as it was"
    );
    assert!(matches!(
        tracker.refresh_index_and_head(&handle),
        Err(Error::Gone { .. })
    ));
}

#[test]
fn unreadable_file_gives_git_answer_or_a_clear_error() {
    let repo = committed_repo();
    repo.write("a.txt", "changed, then made unreadable\n");
    let path = repo.path().join("a.txt");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let handle = Repo::open(repo.path()).expect("open");
    let ours = handle.status(&StatusOptions::default());
    let git = repo.git(&["--no-optional-locks", "status", "--porcelain=v1"]);
    match ours {
        // Running as root, or git could read it: the answers must agree.
        Ok(status) if git.status.success() => {
            assert_eq!(status.porcelain(Default::default()), git.stdout);
        }
        Ok(status) => panic!("git failed but we answered {status:?}"),
        Err(err) => {
            assert!(
                matches!(err, Error::Git { .. } | Error::Io { .. }),
                "{err:?}"
            );
            assert!(!err.to_string().is_empty());
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod back");
}

#[test]
fn many_threads_share_one_handle() {
    let repo = committed_repo();
    repo.write("a.txt", "changed\n");
    repo.write("untracked/x", "x\n");
    let handle = Repo::open(repo.path()).expect("open");
    let expected = repo.porcelain(&[]);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let handle = handle.clone();
            let expected = &expected;
            scope.spawn(move || {
                for _ in 0..5 {
                    let status = handle.status(&StatusOptions::default()).expect("status");
                    assert_eq!(&status.porcelain(Default::default()), expected);
                }
            });
        }
    });
}
