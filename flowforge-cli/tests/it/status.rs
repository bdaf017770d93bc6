//! `flowforge status` against `git status --porcelain=v1`: real processes, real repositories.

use std::{fs, path::Path, process::Output};

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    flowforge_testkit::git::ok(dir, args)
}

fn flowforge(dir: &Path, args: &[&str]) -> Output {
    crate::flowforge_command()
        .current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .args(args)
        .output()
        .expect("process runs")
}

/// A repository with a commit, an upstream it is ahead of, and changes of every kind.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    fs::create_dir_all(root.join("src/deep")).expect("mkdir");
    fs::write(root.join("src/lib.rs"), "fn main() {}\n").expect("write");
    fs::write(
        root.join("src/deep/old name.txt"),
        "kept content\n".repeat(20),
    )
    .expect("write");
    fs::write(root.join("README"), "readme\n").expect("write");
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "one"]);
    git(root, &["branch", "upstream"]);
    git(root, &["config", "branch.main.remote", "."]);
    git(
        root,
        &["config", "branch.main.merge", "refs/heads/upstream"],
    );
    fs::write(root.join("README"), "readme 2\n").expect("write");
    git(root, &["commit", "-qam", "two"]);
    git(
        root,
        &["mv", "src/deep/old name.txt", "src/deep/new name.txt"],
    );
    fs::write(root.join("src/lib.rs"), "fn main() { changed() }\n").expect("write");
    fs::create_dir_all(root.join("untracked/dir")).expect("mkdir");
    fs::write(root.join("untracked/dir/file"), "x\n").expect("write");
    fs::write(root.join("src/ünïcode.txt"), "u\n").expect("write");
    dir
}

#[test]
fn porcelain_is_byte_identical_to_git_from_any_directory() {
    let dir = repository();
    for cwd in [dir.path().to_path_buf(), dir.path().join("src/deep")] {
        for flags in [
            &[][..],
            &["-b"][..],
            &["-z"][..],
            &["-b", "-z"][..],
            &["--branch"][..],
        ] {
            let mut ours_args = vec!["status", "--porcelain"];
            ours_args.extend_from_slice(flags);
            let mut git_args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
            git_args.extend_from_slice(flags);
            let ours = flowforge(&cwd, &ours_args);
            assert!(
                ours.status.success(),
                "{}",
                String::from_utf8_lossy(&ours.stderr)
            );
            let theirs = git(&cwd, &git_args);
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&theirs),
                "flags {flags:?} in {}",
                cwd.display()
            );
            assert_eq!(ours.stdout, theirs);
        }
    }
}

#[test]
fn json_prints_the_git_status_snapshot() {
    let dir = repository();
    let out = flowforge(dir.path(), &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot: flowforge_core::model::GitStatusCache =
        serde_json::from_slice(&out.stdout).expect("GitStatusCache JSON");
    assert_eq!(snapshot.branch, "main");
    assert_eq!(snapshot.remote_status, "ahead 1");
    assert_eq!(snapshot.uncommitted_changes, 2);
    assert_eq!(snapshot.untracked_files, 2);
    let git = git(
        dir.path(),
        &["--no-optional-locks", "status", "--porcelain=v1"],
    );
    assert_eq!(snapshot.status.as_bytes(), git.as_slice());
}

#[test]
fn outside_a_repository_exits_2_with_one_line_per_cause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = flowforge(dir.path(), &["status", "--porcelain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("flowforge: error: not a git repository"),
        "{stderr}"
    );
}

#[test]
fn json_and_porcelain_together_are_bad_usage() {
    let dir = repository();
    let out = flowforge(dir.path(), &["status", "--json", "--porcelain"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A SHA-256 repository (libgit2 cannot open it): the `git` program answers, `--verbose` says
/// so; without a git program on `PATH` the error names both reasons (exit 1), nothing on stdout.
#[test]
fn a_sha256_repository_is_answered_by_the_git_program() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git(
        root,
        &["init", "-q", "-b", "main", "--object-format=sha256"],
    );
    fs::write(root.join("f"), "f\n").expect("write");
    git(root, &["add", "f"]);
    git(root, &["commit", "-qm", "one"]);
    fs::write(root.join("f"), "g\n").expect("write");
    fs::write(root.join("new"), "n\n").expect("write");
    let out = flowforge(root, &["status", "--porcelain", "-b", "--verbose"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let theirs = git(
        root,
        &["--no-optional-locks", "status", "--porcelain=v1", "-b"],
    );
    assert_eq!(out.stdout, theirs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("status computed by the git program: libgit2 cannot open it"),
        "{stderr}"
    );

    let no_git = crate::flowforge_command()
        .current_dir(root)
        .env("PATH", "/nonexistent")
        .args(["status", "--porcelain"])
        .output()
        .expect("process runs");
    assert_eq!(no_git.status.code(), Some(1), "{no_git:?}");
    assert!(no_git.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&no_git.stderr);
    assert!(
        stderr.contains("cannot run the git program") && stderr.contains("sha256"),
        "{stderr}"
    );
}
