//! Shared by the cache, refs and sync tests: repositories made with the real `git` CLI.

pub use crate::git_cli::git_in;

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use flowforge_git::{GitView, Status, ViewOptions, status::PorcelainOptions};

/// A repository created by `git init` in a temporary directory, with one commit.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    path: PathBuf,
}

impl TestRepo {
    /// `git init -b main` and a first commit of a few files in a few directories.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("mkdir repo");
        let path = path.canonicalize().expect("canonical temp dir");
        let repo = Self { dir, path };
        repo.git_ok(&["init", "-q", "-b", "main"]);
        for i in 0..4 {
            repo.write(&format!("src/file{i}.txt"), &format!("content {i}\n"));
            repo.write(&format!("docs/d{i}/page.md"), "page\n");
        }
        repo.write(".gitignore", "*.log\n/.flowforge/\n");
        repo.git_ok(&["add", "-A"]);
        repo.git_ok(&["commit", "-q", "-m", "initial"]);
        repo
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn git(&self, args: &[&str]) -> Output {
        git_in(&self.path, args)
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

    pub fn git_stdout(&self, args: &[&str]) -> String {
        String::from_utf8(self.git_ok(args).stdout).expect("utf-8")
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path.join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    /// `git status --porcelain=v1`, as git prints it (without taking locks).
    pub fn git_porcelain(&self) -> String {
        self.git_stdout(&["--no-optional-locks", "status", "--porcelain=v1"])
    }

    /// A watching view with the default options.
    pub fn view(&self) -> GitView {
        GitView::open(&self.path, &ViewOptions::default()).expect("open view")
    }
}

/// Our porcelain v1 text.
pub fn ours(status: &Status) -> String {
    String::from_utf8(status.porcelain(PorcelainOptions::default())).expect("utf-8")
}
