//! The work-tree walk on more than one thread: a repository large enough for the status to
//! split its directories over threads (thousands of entries, one directory far larger than
//! the others, deep and shallow ones), with changes in every kind of directory, a staged
//! change (computed on the calling thread while the others walk), stale stat data (content
//! hashed on every thread, then cached in the index) and ignored and untracked entries,
//! compared with git's answers in every porcelain form, from the top and from a subdirectory.

use std::path::Path;

use flowforge_git::{Repo, StatusOptions};

use crate::status_support::{TestRepo, assert_matches_git, check_status_at};

/// Files in the one big directory, and in each of the small ones.
const BIG: usize = 2_600;
const SMALL: usize = 12;

fn write_many(root: &Path, dir: &str, count: usize) {
    let dir = root.join(dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for i in 0..count {
        std::fs::write(dir.join(format!("f{i:04}.txt")), format!("{i}\n")).expect("write");
    }
}

#[test]
fn a_walk_over_threads_agrees_with_git() {
    let repo = TestRepo::new();
    let root = repo.path();
    write_many(root, "big", BIG);
    for d in 0..120 {
        let dir = match d % 3 {
            0 => format!("s{d}"),
            1 => format!("deep/a/b/c{d}"),
            _ => format!("mid/m{d}"),
        };
        write_many(root, &dir, SMALL);
    }
    write_many(root, "", 5);
    repo.write(".gitignore", "*.log\nbuild/\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);

    let status = |repo: &TestRepo| {
        let mut options = StatusOptions::default();
        options.no_optional_locks = true;
        Repo::open(repo.path())
            .expect("open")
            .status(&options)
            .expect("status")
    };
    assert_matches_git("clean", &repo, &status(&repo));

    // Stale stat data for most of the big directory (as a checkout leaves them): their
    // content is hashed, on every thread, and found unchanged.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for i in 0..2_100 {
        std::fs::File::options()
            .write(true)
            .open(root.join(format!("big/f{i:04}.txt")))
            .expect("open")
            .set_modified(past)
            .expect("set mtime");
    }
    // Changes in the big directory, small ones, deep ones and the top.
    repo.write("big/f0007.txt", "changed\n");
    std::fs::remove_file(root.join("big/f2599.txt")).expect("rm");
    repo.write("big/new.txt", "untracked\n");
    repo.write("big/skip.log", "ignored\n");
    repo.write("s0/f0003.txt", "changed too\n");
    for name in ["s3/f0000.txt", "s3/f0011.txt"] {
        std::fs::remove_file(root.join(name)).expect("rm");
    }
    // Whole directories deleted: a small one, and one with everything below it.
    std::fs::remove_dir_all(root.join("s12")).expect("rm dir");
    std::fs::remove_dir_all(root.join("deep/a/b/c4")).expect("rm dir");
    std::fs::remove_dir_all(root.join("mid/m8")).expect("rm dir");
    repo.write("deep/a/b/c1/f0000.txt", "deep change\n");
    repo.write("deep/a/b/c1/extra/inside.txt", "untracked dir\n");
    repo.write("mid/m2/build/out.o", "ignored dir\n");
    repo.write("mid/new-dir/x.txt", "untracked dir\n");
    repo.write("f0001.txt", "top change\n");
    std::fs::remove_file(root.join("mid/m5/f0004.txt")).expect("rm");
    std::os::unix::fs::symlink("f0000.txt", root.join("mid/m5/f0004.txt")).expect("link");
    // A staged change and a staged deletion: the staged side is not skipped.
    repo.write("s6/f0001.txt", "staged\n");
    repo.git_ok(&["add", "s6/f0001.txt"]);
    repo.git_ok(&["rm", "-q", "--cached", "s9/f0002.txt"]);
    let changed = status(&repo);
    assert_matches_git("changed", &repo, &changed);
    // From a subdirectory too, without writing the index: a status allowed to write would
    // cache the stat data touched above as soon as they are a second old, which the check
    // below must find still stale.
    let sub = root.join("deep/a");
    let mut no_write = StatusOptions::default();
    no_write.no_optional_locks = true;
    let from_sub = Repo::open(&sub)
        .expect("open")
        .status(&no_write)
        .expect("status");
    check_status_at("changed, from a subdirectory", &sub, &from_sub);

    // A status allowed to write caches the stat data of the files it hashed (only the fast
    // engine does, so this also proves that it answered): git no longer takes them for
    // changed (`diff-files` does not refresh), and the answer stays git's.
    let stale = |repo: &TestRepo| {
        String::from_utf8_lossy(&repo.git_ok(&["diff-files", "--name-only"]))
            .lines()
            .filter(|p| p.starts_with("big/f"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The touched files (the modified one among them) and the deleted one.
    assert_eq!(stale(&repo).len(), 2_101, "stat data stale before");
    // Stat data are cached only once older than the second the status starts (their change
    // time is the touch's): start in the next second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 10_000_000,
    ));
    let written = Repo::open(root)
        .expect("open")
        .status(&StatusOptions::default())
        .expect("status");
    assert_eq!(
        stale(&repo),
        ["big/f0007.txt", "big/f2599.txt"],
        "only the modified and the deleted file are left"
    );
    assert_matches_git("after the stat data were cached", &repo, &written);
}
