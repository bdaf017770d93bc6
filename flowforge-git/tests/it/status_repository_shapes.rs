//! Repositories git accepts in unusual shapes, each built from `git init` and compared with
//! `git status --porcelain` (plain, `-z`, `-b`) byte for byte, opened from the top and from a
//! subdirectory.

use std::{
    fs::File,
    time::{Duration, SystemTime},
};

use flowforge_git::Repo;
use flowforge_testkit::git;

use crate::status_support::{TestRepo, check_at};

/// A repository with `top`, `a/x` and `b/y` committed.
pub(crate) fn three_files() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("top", "top\n");
    repo.write("a/x", "x\n");
    repo.write("b/y", "y\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo
}

#[test]
fn a_separate_git_dir_has_the_gitfile_s_directory_for_work_tree() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let root = scratch.path().canonicalize().expect("canonical");
    let wt = root.join("wt");
    let git_dir = root.join("s.git");
    std::fs::create_dir(&wt).expect("mkdir");
    git::ok(
        &wt,
        &[
            "init",
            "-q",
            "-b",
            "main",
            "--separate-git-dir",
            git_dir.to_str().expect("utf-8"),
        ],
    );
    std::fs::create_dir(wt.join("d")).expect("mkdir");
    std::fs::write(wt.join("f"), "f\n").expect("write");
    std::fs::write(wt.join("d/g"), "g\n").expect("write");
    git::ok(&wt, &["add", "."]);
    git::ok(&wt, &["commit", "-qm", "one"]);
    std::fs::write(wt.join("d/g"), "changed\n").expect("write");
    std::fs::write(wt.join("new"), "n\n").expect("write");
    let repo = Repo::open(wt.join("d")).expect("open");
    assert_eq!(repo.workdir(), wt);
    check_at("separate git dir", &wt);
    check_at("separate git dir, from a subdirectory", &wt.join("d"));
}

#[test]
fn sparse_checkouts_hide_skip_worktree_entries() {
    for (mode, patterns) in [("--cone", &["a"][..]), ("--no-cone", &["/a/", "/top"][..])] {
        let repo = three_files();
        let mut args = vec!["sparse-checkout", "set", mode];
        args.extend_from_slice(patterns);
        repo.git_ok(&args);
        assert!(
            !repo.path().join("b").exists(),
            "{mode}: b/ left the work tree"
        );
        check_at(&format!("sparse {mode}"), repo.path());
        check_at(
            &format!("sparse {mode}, subdirectory"),
            &repo.path().join("a"),
        );
        repo.write("a/x", "changed\n");
        repo.write("a/new", "n\n");
        std::fs::create_dir(repo.path().join("b")).expect("mkdir");
        repo.write("b/untracked", "u\n");
        check_at(&format!("sparse {mode}, changes"), repo.path());
    }
}

#[test]
fn head_as_a_symbolic_link_or_an_annotated_tag() {
    let repo = three_files();
    let head = repo.path().join(".git/HEAD");
    std::fs::remove_file(&head).expect("rm HEAD");
    std::os::unix::fs::symlink("refs/heads/main", &head).expect("symlink");
    repo.write("top", "changed\n");
    check_at("HEAD a symbolic link to the branch", repo.path());

    let repo = three_files();
    repo.git_ok(&["tag", "-a", "-m", "tag", "v1"]);
    let tag = repo.git_stdout(&["rev-parse", "v1"]);
    std::fs::write(repo.path().join(".git/HEAD"), tag).expect("write HEAD");
    repo.write("a/x", "changed\n");
    check_at("HEAD holding an annotated tag's id", repo.path());
}

#[test]
fn fifos_and_changed_sizes_as_git_sees_them() {
    let repo = three_files();
    // A tracked file replaced by a fifo is modified; an untracked fifo is not listed.
    std::fs::remove_file(repo.path().join("top")).expect("rm");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        repo.path().join("top"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("mkfifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        repo.path().join("a/untracked-fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("mkfifo");
    check_at("fifos", repo.path());

    // A size that differs from the index is a change, even when the filtered content is equal.
    let repo = TestRepo::new();
    repo.write("f.txt", "one\ntwo\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo.git_ok(&["config", "core.autocrlf", "true"]);
    repo.write("f.txt", "one\r\ntwo\r\n");
    check_at("size differs, content equal after autocrlf", repo.path());
}

#[test]
fn stat_data_compare_at_git_s_resolution() {
    // Changed within the second its stat data were recorded, same size: git (built without
    // USE_NSEC, its default) does not see the change, and neither does FlowForge.
    let repo = TestRepo::new();
    let set_mtime = |nanos: u32| {
        File::options()
            .write(true)
            .open(repo.path().join("f"))
            .expect("open")
            .set_modified(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, nanos))
            .expect("mtime");
    };
    repo.write("f", "aaaa\n");
    set_mtime(100_000_000);
    repo.git_ok(&["add", "f"]);
    repo.write("f", "bbbb\n");
    set_mtime(900_000_000);
    check_at("same-second change", repo.path());
}
