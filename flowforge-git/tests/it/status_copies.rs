//! Copy detection (`status.renames=copies`, or `diff.renames=copies` when `status.renames` is
//! unset): git shows `C  src -> dst` for a staged copy of a modified or deleted path and
//! ` C src -> dst` for an intent-to-add copy on the work-tree side. Each repository is built
//! from `git init` and compared byte for byte with `git status --porcelain` (plain, `-z`,
//! `-b`) from the top and a subdirectory, through libgit2 (SHA-1) and through the `git`
//! program (SHA-256).

use std::path::Path;

use flowforge_git::{Repo, StatusOptions};

use crate::status_support::check_at;

fn git(dir: &Path, args: &[&str]) {
    flowforge_testkit::git::ok(dir, args);
}

/// Lines `from..to`, one number a line, as the file content git compares.
fn lines(from: u32, to: u32) -> String {
    (from..to).map(|n| format!("line {n}\n")).collect()
}

/// A repository (`git init <init_flags>`) with copies of every kind staged, and one on the
/// work-tree side:
/// * `sub/kept` modified and copied exactly into `sub/exact`, and with edits into `near`;
/// * `gone` deleted and copied exactly into `copy-a`, `copy-b` (copies) and `copy-c` (the
///   rename: the last in path order);
/// * `moved` renamed alone (a rename still);
/// * `sub/wt` modified in the work tree, copied into the intent-to-add `sub/wt-copy`;
/// * `wt-gone` deleted from the work tree, renamed into the intent-to-add `sub/wt-renamed`.
fn with_copies(init_flags: &[&str]) -> tempfile::TempDir {
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
    write("sub/kept", &lines(0, 40));
    write("gone", &lines(100, 140));
    write("moved", &lines(200, 240));
    write("sub/wt", &lines(300, 340));
    write("wt-gone", &lines(400, 440));
    write("other", "unrelated\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let kept = lines(0, 40);
    write("sub/exact", &kept);
    write("near", &(lines(0, 36) + "edited\n"));
    write("sub/kept", &(kept + "appended\n"));
    for copy in ["copy-a", "copy-b", "copy-c"] {
        write(copy, &lines(100, 140));
    }
    std::fs::remove_file(repo.join("gone")).expect("rm");
    git(&repo, &["mv", "moved", "sub/moved"]);
    git(&repo, &["add", "-A"]);
    write("sub/wt-copy", &lines(300, 340));
    write("sub/wt-renamed", &lines(400, 440));
    git(&repo, &["add", "-N", "sub/wt-copy", "sub/wt-renamed"]);
    std::fs::remove_file(repo.join("wt-gone")).expect("rm");
    write("sub/wt", &(lines(300, 340) + "more\n"));
    write("untracked", "u\n");
    scratch
}

fn check_everywhere(what: &str, repo: &Path) {
    check_at(what, repo);
    check_at(&format!("{what}, subdirectory"), &repo.join("sub"));
}

#[test]
fn copies_as_git_shows_them() {
    for flags in [&[][..], &["--object-format=sha256"][..]] {
        let scratch = with_copies(flags);
        let repo = scratch.path().join("repo");
        let by_git = Repo::open(&repo)
            .expect("open")
            .status(&StatusOptions::default())
            .expect("status")
            .computed_by_git()
            .is_some();
        assert_eq!(by_git, !flags.is_empty(), "{flags:?}: the expected engine");
        check_everywhere(&format!("{flags:?} renames only"), &repo);
        let porcelain = flowforge_testkit::git::ok(&repo, &["status", "--porcelain"]);
        let porcelain = String::from_utf8(porcelain).expect("utf-8");
        assert!(
            porcelain.contains(" R wt-gone -> sub/wt-renamed"),
            "{porcelain}"
        );
        git(&repo, &["config", "status.renames", "copies"]);
        let porcelain = flowforge_testkit::git::ok(&repo, &["status", "--porcelain"]);
        let porcelain = String::from_utf8(porcelain).expect("utf-8");
        for line in [
            "C  gone -> copy-a",
            "R  gone -> copy-c",
            " C sub/wt -> sub/wt-copy",
        ] {
            assert!(porcelain.contains(line), "git shows {line:?}:\n{porcelain}");
        }
        check_everywhere(&format!("{flags:?} status.renames=copies"), &repo);
        git(&repo, &["config", "--unset", "status.renames"]);
        git(&repo, &["config", "diff.renames", "copies"]);
        check_everywhere(&format!("{flags:?} diff.renames=copies"), &repo);
        git(&repo, &["config", "status.renames", "true"]);
        check_everywhere(&format!("{flags:?} status.renames wins"), &repo);
        git(&repo, &["config", "status.renames", "false"]);
        check_everywhere(&format!("{flags:?} no renames"), &repo);
    }
}
