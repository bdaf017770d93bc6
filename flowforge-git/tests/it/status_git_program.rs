//! Repositories libgit2 cannot read, answered through the `git` program: SHA-256 objects,
//! reftable refs, a linked worktree whose `HEAD` is a symbolic link, and index entries libgit2
//! refuses (`../x`, `.git/x`). Each is built from `git init` and compared with `git status
//! --porcelain` (plain, `-z`, `-b`) byte for byte, from the top and from a subdirectory.

use std::{os::unix::fs::symlink, path::Path};

use flowforge_git::{Engine, Freshness, GitView, Repo, StatusOptions, ViewOptions};
use sha1::{Digest, Sha1};

use crate::status_support::{check_at, check_status_at};

fn git(dir: &Path, args: &[&str]) {
    flowforge_testkit::git::ok(dir, args);
}

/// A repository made by `git init <init_flags>` holding every kind of entry: a staged
/// rename, a modification on both sides, an unmerged path, an untracked directory, a path
/// that needs quoting, and a branch one commit ahead of its upstream.
fn every_kind_of_entry(init_flags: &[&str]) -> tempfile::TempDir {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut init = vec!["init", "-q", "-b", "main"];
    init.extend_from_slice(init_flags);
    init.push("repo");
    git(scratch.path(), &init);
    let repo = scratch.path().join("repo");
    let write = |rel: &str, text: &str| {
        let path = repo.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    for (rel, text) in [
        ("a", "a\n"),
        ("b", "b\n"),
        ("sub/c", "c\n"),
        ("both", "base\n"),
    ] {
        write(rel, text);
    }
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    git(&repo, &["branch", "up"]);
    git(&repo, &["branch", "--set-upstream-to=up"]);
    git(&repo, &["checkout", "-qb", "theirs"]);
    write("both", "theirs\n");
    git(&repo, &["commit", "-qam", "theirs"]);
    git(&repo, &["checkout", "-q", "main"]);
    write("both", "ours\n");
    git(&repo, &["commit", "-qam", "ours"]);
    let merge = flowforge_testkit::git::output(&repo, &["merge", "-q", "theirs"]);
    assert!(!merge.status.success(), "the merge conflicts");
    git(&repo, &["mv", "b", "renamed"]);
    write("a", "staged\n");
    git(&repo, &["add", "a"]);
    write("a", "and unstaged\n");
    write("sub/c", "changed\n");
    write("new dir/file", "n\n");
    write("tab\there", "t\n");
    scratch
}

fn assert_by_git(at: &Path) {
    let status = Repo::open(at)
        .expect("open")
        .status(&StatusOptions::default())
        .expect("status");
    assert!(
        status.computed_by_git().is_some(),
        "the git program answered"
    );
}

/// SHA-256 and reftable repositories: libgit2 opens neither.
#[test]
fn sha256_and_reftable_repositories() {
    for flags in [
        &["--object-format=sha256"][..],
        &["--ref-format=reftable"][..],
    ] {
        let scratch = every_kind_of_entry(flags);
        let repo = scratch.path().join("repo");
        check_at(&format!("{flags:?}"), &repo);
        check_at(&format!("{flags:?}, subdirectory"), &repo.join("sub"));
        assert_by_git(&repo);
        let opened = Repo::open(&repo).expect("open");
        assert!(opened.needs_git_program().is_some());
        assert!(opened.with_git2(|_| Ok(())).is_err(), "libgit2 cannot");
        // The shared view answers through git too, without a watcher.
        let view = GitView::open(&repo, &ViewOptions::default()).expect("view");
        let answer = view.status(Freshness::Synced).expect("status");
        check_status_at(&format!("{flags:?}, view"), &repo, &answer.value);
        assert!(!view.is_watching());
        std::fs::write(repo.join("later"), "l\n").expect("write");
        let answer = view.status(Freshness::Synced).expect("status");
        check_status_at(&format!("{flags:?}, view again"), &repo, &answer.value);
    }
}

/// A SHA-256 repository with no commits yet, and one with a detached HEAD.
#[test]
fn sha256_unborn_and_detached() {
    let scratch = tempfile::tempdir().expect("tempdir");
    git(
        scratch.path(),
        &["init", "-q", "-b", "main", "--object-format=sha256", "repo"],
    );
    let repo = scratch.path().join("repo");
    std::fs::write(repo.join("f"), "f\n").expect("write");
    check_at("unborn", &repo);
    git(&repo, &["add", "f"]);
    check_at("unborn, staged", &repo);
    git(&repo, &["commit", "-qm", "one"]);
    git(&repo, &["checkout", "-q", "--detach"]);
    std::fs::write(repo.join("f"), "g\n").expect("write");
    check_at("detached", &repo);
}

/// A linked worktree whose `HEAD` is a symbolic link into `refs/` (git reads it as a symbolic
/// ref; libgit2 does not take the directory for a repository).
#[test]
fn a_linked_worktree_with_a_symlinked_head() {
    let scratch = every_kind_of_entry(&[]);
    let main = scratch.path().join("repo");
    let linked = scratch.path().join("linked");
    git(
        &main,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            linked.to_str().expect("utf-8"),
        ],
    );
    let head = main.join(".git/worktrees/linked/HEAD");
    std::fs::remove_file(&head).expect("rm HEAD");
    symlink("refs/heads/side", &head).expect("symlink");
    std::fs::write(linked.join("a"), "changed\n").expect("write");
    std::fs::write(linked.join("untracked"), "u\n").expect("write");
    check_at("symlinked HEAD", &linked);
    check_at("symlinked HEAD, subdirectory", &linked.join("sub"));
    assert_by_git(&linked);
}

/// Repositories nested inside another that libgit2 passes over for the one around them: a
/// `HEAD` that is a symbolic link to a branch kept only in `packed-refs` (dangling for
/// libgit2, a symbolic ref for git), and a linked worktree whose `HEAD` is such a link. Each is
/// answered for itself (by git), from its top and a subdirectory; the outer repository, a
/// look-alike `.git` inside it and a separate git dir beside it keep libgit2.
#[test]
fn nested_repositories_libgit2_passes_over() {
    let scratch = every_kind_of_entry(&[]);
    let outer = scratch.path().join("repo");
    // A repository whose HEAD names a packed branch through a symbolic link.
    let inner = outer.join("sub/inner");
    git(&outer, &["init", "-q", "-b", "main", "sub/inner"]);
    std::fs::write(inner.join("f"), "f\n").expect("write");
    git(&inner, &["add", "f"]);
    git(&inner, &["commit", "-qm", "inner"]);
    git(&inner, &["pack-refs", "--all"]);
    let head = inner.join(".git/HEAD");
    std::fs::remove_file(&head).expect("rm HEAD");
    symlink("refs/heads/main", &head).expect("symlink");
    std::fs::create_dir_all(inner.join("dir")).expect("mkdir");
    std::fs::write(inner.join("dir/new"), "n\n").expect("write");
    std::fs::write(inner.join("f"), "changed\n").expect("write");
    // A linked worktree of another repository, inside the outer one, HEAD a symbolic link.
    let other = scratch.path().join("other");
    git(scratch.path(), &["init", "-q", "-b", "main", "other"]);
    std::fs::write(other.join("o"), "o\n").expect("write");
    git(&other, &["add", "o"]);
    git(&other, &["commit", "-qm", "other"]);
    let linked = outer.join("linked");
    git(
        &other,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            linked.to_str().expect("utf-8"),
        ],
    );
    git(&other, &["pack-refs", "--all"]);
    let head = other.join(".git/worktrees/linked/HEAD");
    std::fs::remove_file(&head).expect("rm HEAD");
    symlink("refs/heads/side", &head).expect("symlink");
    std::fs::create_dir_all(linked.join("dir")).expect("mkdir");
    std::fs::write(linked.join("dir/new"), "n\n").expect("write");
    for (what, top) in [
        ("packed symbolic HEAD", &inner),
        ("linked worktree", &linked),
    ] {
        check_at(what, top);
        check_at(&format!("{what}, subdirectory"), &top.join("dir"));
        let opened = Repo::open(top.join("dir")).expect("open");
        assert_eq!(
            opened.workdir(),
            top.canonicalize().expect("canonical"),
            "{what}"
        );
        assert!(opened.needs_git_program().is_some(), "{what}: git answers");
    }
    // Around them, and beside them, libgit2 still answers.
    std::fs::create_dir_all(outer.join("sub/looks/.git")).expect("mkdir");
    std::fs::write(outer.join("sub/looks/x"), "x\n").expect("write");
    let separate = outer.join("sub/separate");
    git(
        &outer,
        &[
            "init",
            "-q",
            "--separate-git-dir",
            "../separate.git",
            "sub/separate",
        ],
    );
    std::fs::write(separate.join("s"), "s\n").expect("write");
    for (what, at) in [
        ("outer", outer.clone()),
        ("look-alike", outer.join("sub/looks")),
        ("separate git dir", separate.clone()),
    ] {
        check_at(what, &at);
        let opened = Repo::open(&at).expect("open");
        assert!(
            opened.needs_git_program().is_none(),
            "{what}: libgit2 answers"
        );
    }
}

/// Index entries `../x` and `.git/x`: git never writes them but reads them (and shows them
/// added and deleted); libgit2 refuses the whole index.
#[test]
fn index_entries_outside_the_work_tree() {
    let scratch = tempfile::tempdir().expect("tempdir");
    git(scratch.path(), &["init", "-q", "-b", "main", "repo"]);
    let repo = scratch.path().join("repo");
    std::fs::write(repo.join("zz"), "z\n").expect("write");
    git(&repo, &["add", "zz"]);
    git(&repo, &["commit", "-qm", "one"]);
    // Entries that sort where the forged names will: `aa/x` becomes `../x`, `abcd/y` `.git/y`.
    std::fs::create_dir_all(repo.join("aa")).expect("mkdir");
    std::fs::create_dir_all(repo.join("abcd")).expect("mkdir");
    std::fs::write(repo.join("aa/x"), "x\n").expect("write");
    std::fs::write(repo.join("abcd/y"), "y\n").expect("write");
    git(&repo, &["add", "aa/x", "abcd/y"]);
    std::fs::remove_dir_all(repo.join("aa")).expect("rm");
    std::fs::remove_dir_all(repo.join("abcd")).expect("rm");
    let index = repo.join(".git/index");
    let mut data = std::fs::read(&index).expect("index");
    data.truncate(data.len() - 20);
    for (from, to) in [(&b"aa/x"[..], &b"../x"[..]), (b"abcd/y", b".git/y")] {
        let at = data
            .windows(from.len())
            .position(|w| w == from)
            .expect("the entry is in the index");
        data[at..at + from.len()].copy_from_slice(to);
    }
    let checksum = Sha1::digest(&data);
    data.extend_from_slice(&checksum);
    std::fs::write(&index, &data).expect("write index");
    let listed = flowforge_testkit::git::ok_text(&repo, &["ls-files"]);
    assert_eq!(listed, "../x\n.git/y\nzz\n", "git reads the forged index");
    check_at("entries outside the work tree", &repo);
    std::fs::write(repo.join("zz"), "changed\n").expect("write");
    check_at("entries outside the work tree, then a change", &repo);
    assert_by_git(&repo);
}

/// The `git` program as an engine of its own, on an ordinary repository.
#[test]
fn the_git_program_engine_on_an_ordinary_repository() {
    let scratch = every_kind_of_entry(&[]);
    let repo = scratch.path().join("repo");
    let mut options = StatusOptions::default();
    options.engine = Engine::GitProgram;
    let status = Repo::open(&repo)
        .expect("open")
        .status(&options)
        .expect("status");
    assert_eq!(status.computed_by_git(), Some("asked for"));
    check_status_at("git program engine", &repo, &status);
    let ours = Repo::open(&repo)
        .expect("open")
        .status(&StatusOptions::default())
        .expect("status");
    assert_eq!(ours.computed_by_git(), None, "libgit2 reads it");
    check_status_at("fast engine", &repo, &ours);
}
