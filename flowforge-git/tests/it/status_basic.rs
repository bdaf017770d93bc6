//! Hand-picked cases: each one of git's porcelain codes against the real git CLI.

use crate::status_support;

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

#[test]
fn submodules_as_git_shows_them() {
    let sub = TestRepo::new();
    sub.write("inside.txt", "one\n");
    sub.git_ok(&["add", "."]);
    sub.git_ok(&["commit", "-qm", "sub"]);
    let repo = TestRepo::new();
    repo.write("top.txt", "top\n");
    let url = sub.path().to_string_lossy().into_owned();
    repo.git_ok(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &url,
        "sm",
    ]);
    check("submodule staged", &repo);
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "with submodule"]);
    check("submodule clean", &repo);
    repo.write("sm/untracked.txt", "u\n");
    check("untracked content in the submodule", &repo);
    repo.write("sm/inside.txt", "two\n");
    check("modified content in the submodule", &repo);
    let sm = repo.path().join("sm");
    status_support::git_in(&sm, &["commit", "-qam", "new commit"]);
    check("new commits in the submodule", &repo);
    repo.git_ok(&["add", "sm"]);
    check("submodule commit staged", &repo);
    repo.git_ok(&["commit", "-qm", "new submodule commit"]);
    // Not checked out, then replaced by a file, and gone.
    std::fs::remove_dir_all(&sm).expect("rm");
    std::fs::create_dir(&sm).expect("mkdir");
    check("submodule not checked out", &repo);
    std::fs::remove_dir(&sm).expect("rm");
    repo.write("sm", "a file\n");
    check("submodule replaced by a file", &repo);
    std::fs::remove_file(&sm).expect("rm");
    check("submodule gone", &repo);
}

#[test]
fn branch_header_ahead_behind_gone_detached_and_config() {
    let origin = TestRepo::new();
    origin.write("f.txt", "base\n");
    origin.git_ok(&["add", "."]);
    origin.git_ok(&["commit", "-qm", "base"]);
    let parent = tempfile::tempdir().expect("temp dir");
    let clone = parent.path().join("clone");
    let url = origin.path().to_string_lossy().into_owned();
    let out = status_support::git_in(parent.path(), &["clone", "-q", &url, "clone"]);
    assert!(out.status.success());
    let in_clone = |args: &[&str]| {
        let out = status_support::git_in(&clone, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let check_clone = |what: &str| {
        let handle = Repo::open(&clone).expect("open");
        let status = handle.status(&StatusOptions::default()).expect("status");
        for flags in [&["-b"][..], &["-b", "-z"][..]] {
            let mut args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
            args.extend_from_slice(flags);
            let git = status_support::git_in(&clone, &args);
            status_support::assert_same(what, &status_support::ours(&status, flags), &git.stdout);
        }
    };
    check_clone("up to date");
    std::fs::write(clone.join("f.txt"), "ours\n").expect("write");
    in_clone(&["commit", "-qam", "ours"]);
    origin.write("g.txt", "theirs\n");
    origin.git_ok(&["add", "."]);
    origin.git_ok(&["commit", "-qm", "theirs"]);
    in_clone(&["fetch", "-q"]);
    check_clone("ahead 1, behind 1");
    in_clone(&["config", "core.quotePath", "false"]);
    std::fs::write(clone.join("é ü.txt"), "x\n").expect("write");
    check_clone("quotePath off");
    in_clone(&["config", "core.fileMode", "false"]);
    let f = clone.join("f.txt");
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    check_clone("fileMode off hides the exec bit");
    in_clone(&["update-ref", "-d", "refs/remotes/origin/main"]);
    check_clone("upstream gone");
    in_clone(&["checkout", "-q", "--detach"]);
    check_clone("detached");
}

#[test]
fn work_tree_renames_into_intent_to_add_files() {
    let repo = TestRepo::new();
    let body: String = (0..30).map(|i| format!("line {i} of a file\n")).collect();
    repo.write("moved.txt", &body);
    repo.write("edited.txt", &body.replace("file", "text"));
    repo.write("kept.txt", "kept\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    std::fs::create_dir_all(repo.path().join("dir")).expect("mkdir");
    std::fs::rename(
        repo.path().join("moved.txt"),
        repo.path().join("dir/moved.txt"),
    )
    .expect("mv");
    repo.git_ok(&["add", "-N", "dir/moved.txt"]);
    check("exact work-tree rename", &repo);
    std::fs::remove_file(repo.path().join("edited.txt")).expect("rm");
    repo.write(
        "renamed.txt",
        &format!("{}changed tail\n", body.replace("file", "text")),
    );
    repo.git_ok(&["add", "-N", "renamed.txt"]);
    check("similar work-tree rename", &repo);
    repo.write("empty-a", "");
    repo.write("empty-b", "");
    repo.git_ok(&["add", "-N", "empty-a", "empty-b"]);
    std::fs::remove_file(repo.path().join("empty-a")).expect("rm");
    check("intent-to-add source", &repo);
    let handle = Repo::open(repo.path()).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status");
    std::fs::remove_file(repo.path().join("kept.txt")).expect("rm");
    tracker
        .refresh_paths(&handle, &["kept.txt".into()])
        .expect("refresh");
    status_support::assert_matches_git("refreshed", &repo, tracker.status());
}

#[test]
fn an_intent_to_add_file_marked_unchanged_or_skipped_is_not_looked_at() {
    let repo = TestRepo::new();
    repo.write("kept.txt", "kept\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo.write("a.txt", "new\n");
    repo.write("b.txt", "new\n");
    // Every engine, libgit2's among them (it compared such a file all the same).
    let check = |what: &str| {
        let handle = Repo::open(repo.path()).expect("open");
        for engine in [
            flowforge_git::Engine::default(),
            flowforge_git::Engine::Libgit2,
        ] {
            let mut options = StatusOptions::default();
            options.engine = engine;
            let status = handle.status(&options).expect("status");
            assert_matches_git(&format!("{what} ({engine:?})"), &repo, &status);
        }
    };
    repo.git_ok(&["add", "-N", "a.txt", "b.txt"]);
    check("intent-to-add");
    repo.git_ok(&["update-index", "--assume-unchanged", "a.txt"]);
    repo.git_ok(&["update-index", "--skip-worktree", "b.txt"]);
    check("assume-unchanged and skip-worktree");
    std::fs::remove_file(repo.path().join("a.txt")).expect("rm");
    std::fs::remove_file(repo.path().join("b.txt")).expect("rm");
    check("their files removed");
}

#[test]
fn a_deleted_file_moved_onto_an_unmerged_path_hides_behind_the_conflict() {
    let repo = TestRepo::new();
    repo.git_ok(&["commit", "-q", "--allow-empty", "-m", "base"]);
    repo.git_ok(&["checkout", "-q", "-b", "theirs"]);
    repo.write("c.txt", "theirs\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "theirs"]);
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.write("c.txt", "ours\n");
    repo.write("q.txt", "tracked\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "ours"]);
    assert!(!repo.git(&["merge", "-q", "theirs"]).status.success());
    check("conflict", &repo);
    std::fs::rename(repo.path().join("q.txt"), repo.path().join("c.txt")).expect("mv");
    check("deleted file moved onto the conflicted path", &repo);
}

#[test]
fn tracked_paths_replaced_by_other_kinds() {
    let repo = TestRepo::new();
    for name in ["d1/a", "d2/a", "f1", "f2", "keep/x"] {
        repo.write(name, name);
    }
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    let root = repo.path();
    // A tracked directory replaced by a file, another by a symbolic link to a directory.
    std::fs::remove_dir_all(root.join("d1")).expect("rm");
    std::fs::write(root.join("d1"), "now a file").expect("write");
    std::fs::remove_dir_all(root.join("d2")).expect("rm");
    std::os::unix::fs::symlink("keep", root.join("d2")).expect("symlink");
    check("directories replaced", &repo);
    // A tracked file replaced by a directory with content, another by an empty directory.
    std::fs::remove_file(root.join("f1")).expect("rm");
    repo.write("f1/inside", "x");
    std::fs::remove_file(root.join("f2")).expect("rm");
    std::fs::create_dir(root.join("f2")).expect("mkdir");
    check("files replaced", &repo);
}

#[test]
fn untracked_directory_corner_cases() {
    let repo = TestRepo::new();
    repo.write("tracked.txt", "t\n");
    repo.write(
        "ignored-dir/kept.txt",
        "tracked inside an ignored directory\n",
    );
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo.write(".gitignore", "ignored-dir/\n*.tmp\n");
    let root = repo.path();
    // A nested repository, an empty directory, a directory holding only an empty directory,
    // one holding only ignored files, an untracked file beside a tracked one in an ignored
    // directory, and names git must quote.
    std::fs::create_dir_all(root.join("nested")).expect("mkdir");
    status_support::git_in(&root.join("nested"), &["init", "-q"]);
    std::fs::create_dir_all(root.join("empty")).expect("mkdir");
    std::fs::create_dir_all(root.join("outer/inner-empty")).expect("mkdir");
    repo.write("only-ignored/a.tmp", "x\n");
    repo.write("ignored-dir/new.txt", "x\n");
    repo.write("new\nline", "x\n");
    repo.write("back\\slash", "x\n");
    repo.write("deep/er/still/file.txt", "x\n");
    std::fs::set_permissions(
        root.join("tracked.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    check("corner cases", &repo);
    // A nested repository deeper down, seen by a cold status and by a refresh.
    let handle = Repo::open(root).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status");
    std::fs::create_dir_all(root.join("holder/n2")).expect("mkdir");
    status_support::git_in(&root.join("holder/n2"), &["init", "-q"]);
    tracker
        .refresh_paths(&handle, &[root.join("holder/n2/.git/HEAD")])
        .expect("refresh");
    status_support::assert_matches_git("nested repository, refreshed", &repo, tracker.status());
    check("nested repository deeper down", &repo);
    let excludes = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(excludes.path(), "deep/\n").expect("write");
    repo.git_ok(&[
        "config",
        "core.excludesFile",
        excludes.path().to_str().expect("utf-8"),
    ]);
    check("core.excludesFile", &repo);
}

#[test]
fn ignore_rule_corner_cases() {
    let repo = TestRepo::new();
    repo.write("tracked.txt", "t\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo.write(
        ".gitignore",
        "*.log\n!important.log\n/root-only.txt\n**/build/\nexcluded/\n!excluded/keep.txt\n.gitignore-ignored\n",
    );
    for name in [
        "a.log",
        "important.log",
        "sub/important.log",
        "root-only.txt",
        "sub/root-only.txt",
        "x/y/build/out.o",
        "build-not/x",
        "excluded/keep.txt",
        "excluded/other.txt",
        "trailing space ",
        "a b/c d",
        "-dash",
        "#hash",
        "sub/.gitignore",
    ] {
        repo.write(name, "x\n");
    }
    repo.write("sub/.gitignore", "*\n!*.keep\n");
    repo.write("sub/shown.keep", "x\n");
    std::os::unix::fs::symlink("sub", repo.path().join("dir-link")).expect("symlink");
    std::os::unix::fs::symlink("/nonexistent", repo.path().join("dangling")).expect("symlink");
    check("ignore corner cases", &repo);
    let handle = Repo::open(repo.path()).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status");
    repo.write("sub/.gitignore", "*.log\n");
    tracker
        .refresh_paths(&handle, &["sub/.gitignore".into()])
        .expect("refresh");
    let what = "nested .gitignore changed, refreshed";
    status_support::assert_matches_git(what, &repo, tracker.status());
    repo.write(".gitignore", "*.txt\n");
    tracker
        .refresh_paths(&handle, &[".gitignore".into()])
        .expect("refresh");
    let what = "top .gitignore changed, refreshed";
    status_support::assert_matches_git(what, &repo, tracker.status());
}
