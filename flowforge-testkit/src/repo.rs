//! A repository made by `git init` in a temporary directory.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use crate::git;

/// A repository made by `git init -b main` at `<temporary directory>/repo`; the temporary
/// directory around it ([`TestRepo::scratch`]) has room for clones, worktrees and files
/// outside the repository. Everything is removed on drop.
#[derive(Debug)]
pub struct TestRepo {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl TestRepo {
    /// An empty repository on branch `main`.
    ///
    /// # Panics
    /// When the temporary directory cannot be made or git fails.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("the repository directory can be made");
        let path = path
            .canonicalize()
            .expect("the repository directory exists");
        let repo = Self { dir, path };
        repo.git_ok(&["init", "-q", "-b", "main"]);
        repo
    }

    /// The work tree's top, canonical.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary directory holding the repository, for siblings of it.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the work tree; see [`git::output`].
    pub fn git(&self, args: &[&str]) -> Output {
        git::output(&self.path, args)
    }

    /// Runs git in the work tree, which must succeed; see [`git::ok`].
    pub fn git_ok(&self, args: &[&str]) -> Vec<u8> {
        git::ok(&self.path, args)
    }

    /// As [`TestRepo::git_ok`], as text.
    pub fn git_stdout(&self, args: &[&str]) -> String {
        git::ok_text(&self.path, args)
    }

    /// Writes `content` to the work-tree path `rel`, making its directories.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the parent directory can be made");
        }
        std::fs::write(&path, content).expect("the file can be written");
    }

    /// `git status --porcelain=v1` with `flags`, as git prints it, without taking the index
    /// lock (so it never refreshes the index under the code being tested).
    pub fn porcelain(&self, flags: &[&str]) -> Vec<u8> {
        let mut args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
        args.extend_from_slice(flags);
        self.git_ok(&args)
    }
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}
