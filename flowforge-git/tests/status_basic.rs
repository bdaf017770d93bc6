//! Hand-picked cases: each one of git's porcelain codes against the real git CLI.

mod status_support;

use flowforge_git::{Repo, StatusOptions};
use status_support::{TestRepo, assert_matches_git};

fn check(what: &str, repo: &TestRepo) {
    let handle = Repo::open(repo.path()).expect("open");
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_matches_git(what, repo, &status);
}

#[test]
fn unborn_repository_with_untracked_and_staged_files() {
    let repo = TestRepo::new();
    check("empty", &repo);
    repo.write("a.txt", "a\n");
    repo.write("dir/sub/b.txt", "b\n");
    repo.write("with space.txt", "s\n");
    repo.write("é.txt", "e\n");
    repo.write("tab\tname", "t\n");
    check("untracked", &repo);
    repo.git_ok(&["add", "a.txt", "é.txt"]);
    check("staged on unborn", &repo);
}

#[test]
fn modified_deleted_renamed_typechanged_and_ignored() {
    let repo = TestRepo::new();
    let body: String = (0..40).map(|i| format!("line {i}\n")).collect();
    repo.write("keep.txt", &body);
    repo.write("move.txt", &body.replace("line", "row"));
    repo.write("gone.txt", "g\n");
    repo.write("link", "target\n");
    repo.write("sub/.gitignore", "*.log\n!keep.log\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo.write("keep.txt", &format!("{body}more\n"));
    repo.git_ok(&["mv", "move.txt", "moved.txt"]);
    std::fs::remove_file(repo.path().join("gone.txt")).expect("rm");
    std::fs::remove_file(repo.path().join("link")).expect("rm");
    std::os::unix::fs::symlink("keep.txt", repo.path().join("link")).expect("symlink");
    repo.write("sub/x.log", "ignored\n");
    repo.write("sub/keep.log", "not ignored\n");
    repo.write("only-ignored/a.log", "x\n");
    repo.write(".gitignore", "only-ignored/\n");
    check("mixed", &repo);
}
