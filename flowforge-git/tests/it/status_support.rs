//! Shared by the status tests: repositories made with the real `git` CLI, and git's answers.

pub use crate::git_cli::git_in;

use std::{path::PathBuf, process::Output};

use flowforge_git::{PorcelainOptions, Status};

/// A repository created by `git init` in a temporary directory.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Self { dir };
        repo.git_ok(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().expect("canonical temp dir")
    }

    /// Runs git in the work tree with a fixed identity; never writes the index on `status`.
    pub fn git(&self, args: &[&str]) -> Output {
        git_in(&self.path(), args)
    }

    pub fn git_ok(&self, args: &[&str]) -> Output {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    /// `git status --porcelain=v1` with `flags`, as git prints it (without taking locks).
    pub fn git_porcelain(&self, flags: &[&str]) -> Vec<u8> {
        let mut args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
        args.extend_from_slice(flags);
        self.git_ok(&args).stdout
    }
}

/// Our output for the flag set git was given, to compare byte for byte.
pub fn ours(status: &Status, flags: &[&str]) -> Vec<u8> {
    let options = PorcelainOptions {
        branch: flags.contains(&"-b"),
        nul_terminated: flags.contains(&"-z"),
    };
    status.porcelain(options)
}

/// Asserts ours equals git's with a readable diff.
pub fn assert_same(what: &str, ours: &[u8], git: &[u8]) {
    assert!(
        ours == git,
        "{what}: ours differs from git\n--- ours ---\n{}\n--- git ---\n{}",
        String::from_utf8_lossy(ours).replace('\0', "\\0\n"),
        String::from_utf8_lossy(git).replace('\0', "\\0\n"),
    );
}

/// Compares a status with git's answer in every porcelain form.
pub fn assert_matches_git(what: &str, repo: &TestRepo, status: &Status) {
    for flags in [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]] {
        let git = repo.git_porcelain(flags);
        assert_same(&format!("{what} {flags:?}"), &ours(status, flags), &git);
    }
}
