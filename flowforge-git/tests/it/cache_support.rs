//! Shared by the cache, refs and sync tests: repositories made with the real `git` CLI.

pub(crate) use flowforge_testkit::{TestRepo, git::output as git_in};

use flowforge_git::{GitView, Status, ViewOptions, status::PorcelainOptions};

/// `git init -b main` and a first commit of a few files in a few directories.
pub(crate) fn committed_repo() -> TestRepo {
    let repo = TestRepo::new();
    for i in 0..4 {
        repo.write(&format!("src/file{i}.txt"), &format!("content {i}\n"));
        repo.write(&format!("docs/d{i}/page.md"), "page\n");
    }
    repo.write(".gitignore", "*.log\n/.flowforge/\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "-m", "initial"]);
    repo
}

/// What the cache tests ask of a repository besides running git.
pub(crate) trait RepoExt {
    /// `git status --porcelain=v1`, as git prints it (without taking locks).
    fn git_porcelain(&self) -> String;
    /// A watching view with the default options.
    fn view(&self) -> GitView;
}

impl RepoExt for TestRepo {
    fn git_porcelain(&self) -> String {
        String::from_utf8(self.porcelain(&[])).expect("utf-8")
    }

    fn view(&self) -> GitView {
        GitView::open(self.path(), &ViewOptions::default()).expect("open view")
    }
}

/// Our porcelain v1 text.
pub(crate) fn ours(status: &Status) -> String {
    String::from_utf8(status.porcelain(PorcelainOptions::default())).expect("utf-8")
}
