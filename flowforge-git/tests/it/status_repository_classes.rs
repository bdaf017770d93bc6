//! Repository classes where FlowForge once answered differently from git, or failed where git
//! answers: each built from `git init` with the real `git` CLI and compared with
//! `git status --porcelain` (plain, `-z`, `-b`) byte for byte — in full, through the libgit2
//! engine where it applies, and through the incremental refresh where the class concerns it.

use std::os::unix::fs::symlink;

use flowforge_git::{Engine, Repo, StatusOptions};

use crate::{
    status_repository_shapes::three_files,
    status_support::{TestRepo, check_at, check_status_at},
};

fn libgit2_engine() -> StatusOptions {
    let mut options = StatusOptions::default();
    options.engine = Engine::Libgit2;
    options
}

/// A sparse index (`sdir`): libgit2 refuses it; its directory entries are expanded.
#[test]
fn a_sparse_index_is_read() {
    let repo = three_files();
    repo.git_ok(&["sparse-checkout", "set", "--cone", "--sparse-index", "a"]);
    let index = std::fs::read(repo.path().join(".git/index")).expect("index");
    assert!(
        index.windows(4).any(|w| w == b"sdir"),
        "git wrote a sparse index"
    );
    repo.write("a/x", "changed\n");
    repo.write("a/staged", "s\n");
    repo.git_ok(&["add", "a/staged"]);
    repo.write("new", "n\n");
    check_at("sparse index", repo.path());
    check_at("sparse index, subdirectory", &repo.path().join("a"));
    let libgit2 = Repo::open(repo.path())
        .expect("open")
        .status(&libgit2_engine())
        .expect("the libgit2 engine reads it too");
    check_status_at("sparse index, libgit2 engine", repo.path(), &libgit2);
}

/// A split index (`link`): the shared index with this file's deletions, replacements and
/// additions applied. Nothing FlowForge does leaves git unable to read it.
#[test]
fn a_split_index_is_read() {
    let repo = three_files();
    repo.write("c", "c\n");
    repo.git_ok(&["add", "c"]);
    repo.git_ok(&["commit", "-qm", "two"]);
    repo.git_ok(&["update-index", "--split-index"]);
    repo.write("a/x", "staged\n");
    repo.git_ok(&["add", "a/x"]); // replaces a shared entry
    repo.git_ok(&["rm", "-q", "--cached", "b/y"]); // deletes one
    repo.write("new", "n\n");
    repo.git_ok(&["add", "new"]); // adds one
    repo.write("c", "unstaged\n");
    let git_dir = repo.path().join(".git");
    let shared = std::fs::read_dir(&git_dir)
        .expect("git dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("sharedindex."));
    assert!(shared, "git wrote a shared index");
    check_at("split index", repo.path());
    let status = Repo::open(repo.path())
        .expect("open")
        .status(&libgit2_engine())
        .expect("the libgit2 engine reads it too");
    check_status_at("split index, libgit2 engine", repo.path(), &status);
    repo.git_ok(&["status", "--porcelain"]);
}

/// `git add -N f` where HEAD had a directory `f/`: the directory's files are deleted, `f` is
/// not (git: ` A f` and `D  f/x`).
#[test]
fn intent_to_add_where_head_had_a_directory() {
    let repo = three_files();
    repo.git_ok(&["rm", "-rq", "a"]);
    repo.write("a", "now a file\n");
    repo.git_ok(&["add", "-N", "a"]);
    check_at("intent to add over a directory", repo.path());
}

/// Nested repositories and directories that only look like one, in an outer repository with
/// commits, with none, and with `core.symlinks=false`; computed in full and refreshed path by
/// path from a status taken before they appeared.
#[test]
fn nested_repositories_and_look_alikes() {
    let make = |with_commit: bool, symlinks: bool| {
        let repo = if with_commit {
            let repo = three_files();
            symlink("top", repo.path().join("link")).expect("symlink");
            repo.git_ok(&["add", "link"]);
            repo.git_ok(&["commit", "-qm", "link"]);
            repo
        } else {
            let repo = TestRepo::new();
            repo.write("f", "f\n");
            repo
        };
        if !symlinks {
            repo.git_ok(&["config", "core.symlinks", "false"]);
            if with_commit {
                std::fs::remove_file(repo.path().join("link")).expect("rm link");
                repo.git_ok(&["checkout", "link"]); // now a file holding `top`
            }
        }
        repo
    };
    let add_nested = |repo: &TestRepo| {
        let root = repo.path();
        let git = |dir: &str, args: &[&str]| flowforge_testkit::git::ok(&root.join(dir), args);
        std::fs::create_dir_all(root.join("nested")).expect("mkdir");
        git("nested", &["init", "-q"]);
        std::fs::create_dir_all(root.join("d1/.git")).expect("mkdir"); // not a repository
        std::fs::create_dir_all(root.join("d2")).expect("mkdir");
        std::fs::write(root.join("d2/.git"), "not a gitfile\n").expect("write");
        git("", &["init", "-q", "--bare", "bare.git"]);
        std::fs::create_dir_all(root.join("dir")).expect("mkdir");
        std::fs::write(root.join("dir/.GIT"), "x\n").expect("write");
        std::fs::create_dir_all(root.join("deep/er")).expect("mkdir");
        git("deep/er", &["init", "-q"]);
    };
    for (with_commit, symlinks) in [(true, true), (false, true), (true, false)] {
        let what = format!("commits {with_commit}, core.symlinks {symlinks}");
        let repo = make(with_commit, symlinks);
        let opened = Repo::open(repo.path()).expect("open");
        let mut before = opened
            .track_status(&StatusOptions::default())
            .expect("status");
        add_nested(&repo);
        check_at(&what, repo.path());
        let changed: Vec<std::path::PathBuf> = ["nested", "d1", "d2", "bare.git", "dir", "deep"]
            .iter()
            .map(|p| repo.path().join(p))
            .collect();
        before.refresh_paths(&opened, &changed).expect("refresh");
        check_status_at(&format!("{what}, refreshed"), repo.path(), before.status());
    }
}

/// A tracked file replaced by a repository: a type change when that repository's HEAD
/// resolves, a deletion when it has no commits.
#[test]
fn a_tracked_file_replaced_by_a_repository() {
    for commit in [true, false] {
        let repo = three_files();
        std::fs::remove_file(repo.path().join("top")).expect("rm");
        std::fs::create_dir(repo.path().join("top")).expect("mkdir");
        let inner = repo.path().join("top");
        flowforge_testkit::git::ok(&inner, &["init", "-q"]);
        if commit {
            std::fs::write(inner.join("f"), "f\n").expect("write");
            flowforge_testkit::git::ok(&inner, &["add", "f"]);
            flowforge_testkit::git::ok(&inner, &["commit", "-qm", "inner"]);
        }
        check_at(
            &format!("file replaced by a repository, commit {commit}"),
            repo.path(),
        );
    }
}

/// A repository with a submodule named `nm` at path `sm` (name ≠ path), committed.
fn with_submodule() -> (TestRepo, TestRepo) {
    let source = TestRepo::new();
    source.write("s", "s\n");
    source.git_ok(&["add", "s"]);
    source.git_ok(&["commit", "-qm", "s"]);
    let repo = three_files();
    let url = source.path().to_str().expect("utf-8");
    let add = ["-c", "protocol.file.allow=always", "submodule", "add", "-q"];
    repo.git_ok(&[&add[..], &["--name", "nm", url, "sm"]].concat());
    repo.git_ok(&["commit", "-qm", "sm"]);
    (repo, source)
}

/// Which `ignore` applies to a submodule: `submodule.<name>.ignore` (by name, found through
/// the path in `.gitmodules`) from `.git/config`, then from `.gitmodules`, over
/// `diff.ignoreSubmodules`.
#[test]
fn submodule_ignore_rules_and_their_precedence() {
    let (repo, _source) = with_submodule();
    let sm = repo.path().join("sm");
    std::fs::write(sm.join("s"), "dirty\n").expect("write");
    check_at("dirty submodule", repo.path());
    let steps: [(&str, &[&str]); 5] = [
        (
            "name's ignore=dirty in .git/config",
            &["config", "submodule.nm.ignore", "dirty"],
        ),
        (
            "it wins over diff.ignoreSubmodules=none",
            &["config", "diff.ignoreSubmodules", "none"],
        ),
        (
            "no ignore for the name",
            &["config", "--unset", "submodule.nm.ignore"],
        ),
        (
            "diff.ignoreSubmodules=all",
            &["config", "diff.ignoreSubmodules", "all"],
        ),
        (
            "ignore=untracked in .gitmodules wins over diff.ignoreSubmodules",
            &[
                "config",
                "-f",
                ".gitmodules",
                "submodule.nm.ignore",
                "untracked",
            ],
        ),
    ];
    for (what, args) in steps {
        repo.git_ok(args);
        check_at(what, repo.path());
    }
    flowforge_testkit::git::ok(&sm, &["checkout", "-q", "--", "s"]);
    std::fs::write(sm.join("untracked"), "u\n").expect("write");
    check_at("only untracked content under ignore=untracked", repo.path());
    repo.git_ok(&[
        "config",
        "-f",
        ".gitmodules",
        "submodule.nm.ignore",
        "dirty",
    ]);
    flowforge_testkit::git::ok(&sm, &["commit", "-q", "--allow-empty", "-m", "moved"]);
    check_at("a new commit under ignore=dirty", repo.path());
}

/// An unmerged `.gitmodules` (git does not read it) beside a submodule: `UU .gitmodules`.
#[test]
fn an_unmerged_gitmodules() {
    let (repo, _source) = with_submodule();
    repo.git_ok(&["checkout", "-qb", "other"]);
    repo.git_ok(&["config", "-f", ".gitmodules", "submodule.nm.branch", "x"]);
    repo.git_ok(&["commit", "-qam", "x"]);
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.git_ok(&["config", "-f", ".gitmodules", "submodule.nm.branch", "y"]);
    repo.git_ok(&["commit", "-qam", "y"]);
    assert!(
        !repo.git(&["merge", "-q", "other"]).status.success(),
        "a conflict"
    );
    check_at("unmerged .gitmodules", repo.path());
}

/// `git replace`: HEAD's commit replaced by its parent, so the index holds a staged change.
#[test]
fn replaced_objects_are_honoured() {
    let repo = three_files();
    repo.write("top", "two\n");
    repo.git_ok(&["commit", "-qam", "two"]);
    repo.git_ok(&["replace", "HEAD", "HEAD~1"]);
    check_at("HEAD replaced by its parent", repo.path());
}

/// A directory-only ignore pattern (`link/`) does not hide a symbolic link to a directory:
/// git sees a link (`?? link`), at the top, inside an untracked directory, and refreshed.
#[test]
fn an_ignored_directory_pattern_does_not_hide_a_link_to_a_directory() {
    let repo = three_files();
    let opened = Repo::open(repo.path()).expect("open");
    let mut before = opened
        .track_status(&StatusOptions::default())
        .expect("status");
    repo.write(".gitignore", "link/\nreal/\nlinked-away\n");
    repo.write("real/f", "r\n");
    symlink("real", repo.path().join("link")).expect("symlink");
    symlink("real", repo.path().join("linked-away")).expect("symlink"); // ignored as a file
    repo.write("untracked/x/f", "f\n");
    symlink("../real", repo.path().join("untracked/link")).expect("symlink");
    std::fs::remove_file(repo.path().join("untracked/x/f")).expect("rm");
    check_at("link to a directory", repo.path());
    check_at("link to a directory, subdirectory", &repo.path().join("a"));
    let changed: Vec<std::path::PathBuf> =
        [".gitignore", "real", "link", "linked-away", "untracked"]
            .iter()
            .map(|p| repo.path().join(p))
            .collect();
    before.refresh_paths(&opened, &changed).expect("refresh");
    check_status_at(
        "link to a directory, refreshed",
        repo.path(),
        before.status(),
    );
}

/// A `!` pattern in a nested `.gitignore` re-includes what a shallower one ignores: a file
/// (`*.log` at the top, `!n.log` in `a/`) and a directory (`vendor/` at the top, `!vendor` in
/// `b/`). libgit2 keeps both ignored; git shows them. In full, through the libgit2 engine and
/// through the incremental refresh.
#[test]
fn a_negation_in_a_nested_gitignore_re_includes_what_a_shallower_one_ignores() {
    let repo = three_files();
    let opened = Repo::open(repo.path()).expect("open");
    let mut before = opened
        .track_status(&StatusOptions::default())
        .expect("status");
    repo.write(".gitignore", "*.log\nvendor/\n");
    repo.write("a/.gitignore", "!n.log\n");
    repo.write("b/.gitignore", "!vendor\n");
    repo.write("a/n.log", "n\n");
    repo.write("a/other.log", "o\n");
    repo.write("b/vendor/f.txt", "f\n");
    repo.write("vendor/g.txt", "g\n");
    check_at("nested negation", repo.path());
    let libgit2 = opened.status(&libgit2_engine()).expect("status");
    check_status_at("nested negation, libgit2 engine", repo.path(), &libgit2);
    let changed: Vec<std::path::PathBuf> = [
        ".gitignore",
        "a/.gitignore",
        "b/.gitignore",
        "a/n.log",
        "a/other.log",
        "b/vendor",
        "vendor",
    ]
    .iter()
    .map(|p| repo.path().join(p))
    .collect();
    before.refresh_paths(&opened, &changed).expect("refresh");
    check_status_at("nested negation, refreshed", repo.path(), before.status());
    let shown = flowforge_testkit::git::ok(repo.path(), &["status", "--porcelain"]);
    let shown = String::from_utf8_lossy(&shown);
    assert!(
        shown.contains("?? a/n.log") && shown.contains("?? b/vendor/"),
        "the case no longer exercises the negations:\n{shown}"
    );
}

/// A skip-worktree `.gitignore` missing from the work tree: git reads its rules from the
/// index (at the top and in a subdirectory that exists).
#[test]
fn a_skip_worktree_gitignore_is_read_from_the_index() {
    let repo = three_files();
    repo.write(".gitignore", "*.log\n");
    repo.write("a/.gitignore", "*.tmp\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "ignores"]);
    repo.git_ok(&[
        "update-index",
        "--skip-worktree",
        ".gitignore",
        "a/.gitignore",
    ]);
    std::fs::remove_file(repo.path().join(".gitignore")).expect("rm");
    std::fs::remove_file(repo.path().join("a/.gitignore")).expect("rm");
    for path in ["x.log", "a/y.log", "a/z.tmp", "b/z.tmp", "shown"] {
        repo.write(path, "u\n");
    }
    check_at("skip-worktree .gitignore", repo.path());
    check_at(
        "skip-worktree .gitignore, subdirectory",
        &repo.path().join("a"),
    );
}

/// A clean filter driver (and `ident`) applied when a file whose stat data changed is hashed
/// again: git finds it clean when its cleaned content is the index's, modified otherwise.
#[test]
fn a_clean_filter_is_applied_when_hashing_again() {
    let repo = three_files();
    repo.git_ok(&["config", "filter.upper.clean", "tr a-z A-Z"]);
    repo.git_ok(&["config", "filter.upper.smudge", "cat"]);
    repo.write(
        ".gitattributes",
        "f filter=upper\ng filter=upper\ni ident\n",
    );
    repo.write("f", "HELLO\n");
    repo.write("g", "WORLD\n");
    repo.write("i", "x $Id$ y\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "filtered"]);
    for path in ["f", "i"] {
        std::fs::remove_file(repo.path().join(path)).expect("rm");
    }
    repo.git_ok(&["checkout", "--", "f", "i"]); // `i` now holds its expanded `$Id: …$`
    repo.write("f", "hello\n"); // cleans to what the index holds
    repo.write("g", "world!\n"); // does not
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(repo.path().join("i"))
        .and_then(|f| f.set_modified(past))
        .expect("touch");
    check_at("clean filter and ident", repo.path());
    check_at(
        "clean filter and ident, subdirectory",
        &repo.path().join("a"),
    );
}

/// Submodule rules when `.gitmodules` is not in the work tree: git reads the index's copy,
/// else HEAD's (names ≠ paths included).
#[test]
fn gitmodules_from_the_index_or_head() {
    let (repo, _source) = with_submodule();
    repo.git_ok(&["config", "-f", ".gitmodules", "submodule.nm.ignore", "all"]);
    repo.git_ok(&["commit", "-qam", "ignore all"]);
    std::fs::write(repo.path().join("sm/s"), "dirty\n").expect("write");
    check_at("on disk", repo.path());
    std::fs::remove_file(repo.path().join(".gitmodules")).expect("rm");
    check_at(".gitmodules from the index", repo.path());
    check_at(
        ".gitmodules from the index, subdirectory",
        &repo.path().join("a"),
    );
    repo.git_ok(&["rm", "-q", "--cached", ".gitmodules"]);
    check_at(".gitmodules from HEAD", repo.path());
}
