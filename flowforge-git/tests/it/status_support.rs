//! Shared by the status tests: repositories made with the real `git` CLI, and git's answers.

pub(crate) use flowforge_testkit::{TestRepo, git::output as git_in};

use std::path::Path;

use flowforge_git::{PorcelainOptions, Repo, Status, StatusOptions};

/// Our output for the flag set git was given, to compare byte for byte.
pub(crate) fn ours(status: &Status, flags: &[&str]) -> Vec<u8> {
    let options = PorcelainOptions {
        branch: flags.contains(&"-b"),
        nul_terminated: flags.contains(&"-z"),
    };
    status.porcelain(options)
}

/// Asserts ours equals git's with a readable diff.
pub(crate) fn assert_same(what: &str, ours: &[u8], git: &[u8]) {
    assert!(
        ours == git,
        "{what}: ours differs from git\n--- ours ---\n{}\n--- git ---\n{}",
        String::from_utf8_lossy(ours).replace('\0', "\\0\n"),
        String::from_utf8_lossy(git).replace('\0', "\\0\n"),
    );
}

/// Compares a status with git's answer in every porcelain form.
pub(crate) fn assert_matches_git(what: &str, repo: &TestRepo, status: &Status) {
    for flags in [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]] {
        let git = repo.porcelain(flags);
        assert_same(&format!("{what} {flags:?}"), &ours(status, flags), &git);
    }
}

/// Opens the repository at `at` and compares every porcelain form with git run in `at`.
pub(crate) fn check_at(what: &str, at: &Path) {
    let status = Repo::open(at)
        .expect("open")
        .status(&StatusOptions::default())
        .expect("status");
    check_status_at(what, at, &status);
}

/// Compares `status` in every porcelain form with git run in `at`.
pub(crate) fn check_status_at(what: &str, at: &Path, status: &Status) {
    for flags in [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]] {
        let mut args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
        args.extend_from_slice(flags);
        let theirs = flowforge_testkit::git::ok(at, &args);
        assert_same(&format!("{what} {flags:?}"), &ours(status, flags), &theirs);
    }
}
