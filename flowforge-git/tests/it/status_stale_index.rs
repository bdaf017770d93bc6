//! A stale index (a checkout or build touched every file): the status refreshes the index's
//! stat data as git does, so the re-hash is paid once, and git trusts what it wrote.

use std::{
    fs::File,
    time::{Duration, SystemTime},
};

use flowforge_git::{Repo, StatusOptions};

use crate::status_support::{TestRepo, assert_matches_git};

/// Sets every tracked file's modification time into the past (its ctime becomes now).
fn touch_all(repo: &TestRepo, files: &[&str]) {
    let past = SystemTime::now() - Duration::from_secs(30);
    for name in files {
        File::options()
            .write(true)
            .open(repo.path().join(name))
            .expect("open")
            .set_modified(past)
            .expect("set mtime");
    }
}

/// Waits for the next second, so that the touched files are older than the status.
fn next_second() {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 10_000_000,
    ));
}

/// The tracked paths whose stat data git does not trust (`git diff-files` never refreshes).
fn stat_dirty(repo: &TestRepo) -> Vec<u8> {
    repo.git_ok(&["diff-files", "--name-only"])
}

#[test]
fn a_stale_index_is_refreshed_once_and_git_trusts_it() {
    let repo = TestRepo::new();
    let files = [
        "a.txt",
        "dir/b.txt",
        "dir/sub/c.txt",
        "crlf.txt",
        "same-size.txt",
        "id.c",
    ];
    // Line endings and `ident` apply to some files: their content goes through the filters.
    repo.write(".gitattributes", "crlf.txt text eol=crlf\n*.c ident\n");
    for name in files {
        repo.write(name, &format!("{name}\n"));
    }
    repo.write("crlf.txt", "one\r\ntwo\r\n");
    repo.write("id.c", "/* $Id$ */\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    // Checked out again by git: `id.c` now holds the expanded `$Id: …$`.
    std::fs::remove_file(repo.path().join("id.c")).expect("rm");
    repo.git_ok(&["checkout", "--", "id.c"]);

    // A build touches everything; one file changes without changing size.
    repo.write("same-size.txt", "SAME-SIZE.TXT\n");
    touch_all(&repo, &files);
    next_second();
    assert!(stat_dirty(&repo).len() > 40, "every file is stat-dirty");
    let before = std::fs::read(repo.path().join(".git/index")).expect("index");

    let handle = Repo::open(repo.path()).expect("open");
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_matches_git("first status on a stale index", &repo, &status);
    assert_ne!(
        std::fs::read(repo.path().join(".git/index")).expect("index"),
        before,
        "the index was refreshed"
    );
    assert_eq!(
        stat_dirty(&repo),
        b"same-size.txt\n",
        "git trusts the refreshed stat data of every unchanged file"
    );
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_matches_git("second status", &repo, &status);

    // Refreshing again changes nothing; git's own refresh agrees with ours.
    let refreshed = std::fs::read(repo.path().join(".git/index")).expect("index");
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_eq!(
        std::fs::read(repo.path().join(".git/index")).expect("index"),
        refreshed
    );
    repo.git_ok(&["status", "--porcelain"]);
    assert_matches_git("after git refreshed the index", &repo, &status);
    repo.git_ok(&["fsck", "--no-progress", "--cache"]);
}

#[test]
fn a_file_changed_right_after_the_index_was_written_stays_modified() {
    let repo = TestRepo::new();
    repo.write("old.txt", "old\n");
    repo.write("racy.txt", "racy\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    touch_all(&repo, &["old.txt"]);
    next_second();
    // Added, then changed (same size) in the same second as the index was written: the stat
    // data may match at git's resolution, so the entry must stay "racy" in the index we write.
    repo.write("racy.txt", "racy\n");
    repo.git_ok(&["add", "racy.txt"]);
    repo.write("racy.txt", "RACY\n");
    let handle = Repo::open(repo.path()).expect("open");
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_matches_git("racy entry", &repo, &status);
    next_second();
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert_matches_git("racy entry, a second later", &repo, &status);
    assert_eq!(repo.porcelain(&[]), b" M racy.txt\n");
}

#[test]
fn no_optional_locks_and_a_held_index_lock_leave_the_index_alone() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    touch_all(&repo, &["a.txt"]);
    next_second();
    let before = std::fs::read(repo.path().join(".git/index")).expect("index");
    let handle = Repo::open(repo.path()).expect("open");
    let mut options = StatusOptions::default();
    options.no_optional_locks = true;
    assert!(handle.status(&options).expect("status").is_clean());
    assert_eq!(
        std::fs::read(repo.path().join(".git/index")).expect("index"),
        before,
        "--no-optional-locks writes nothing"
    );
    let lock = repo.path().join(".git/index.lock");
    std::fs::write(&lock, "held by someone else").expect("lock");
    let status = handle.status(&StatusOptions::default()).expect("status");
    assert!(status.is_clean());
    assert_eq!(
        std::fs::read(repo.path().join(".git/index")).expect("index"),
        before
    );
    assert_eq!(
        std::fs::read(&lock).expect("the lock is still there"),
        b"held by someone else"
    );
}

/// A repository whose files hold CRLF pairs and lone CRs under every kind of line-ending rule
/// (`text=auto`, `binary`, `-text`, explicit `text eol=…` directly and through a macro), each
/// committed before or after its rule, with its index made stale.
fn line_ending_repo() -> TestRepo {
    let repo = TestRepo::new();
    let files = [
        ("bin/blob.dat", "a\r\nb\0c\r\n"),
        ("bin/same.dat", "x\r\ny\0"),
        ("raw/crlf.txt", "one\r\ntwo\r\n"),
        ("raw/lone.txt", "one\rtwo\n"),
        ("auto/kept.txt", "kept\r\nwith crlf\r\n"),
        ("auto/changed.txt", "old\r\n"),
        ("auto/lone.txt", "lone\rcr\n"),
        ("script.sh", "echo\r\n"),
        ("mac.m", "macro\r\n"),
        ("plain.m", "plain\n"),
    ];
    for (name, content) in files {
        repo.write(name, content);
    }
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "bytes as they are"]);
    repo.write(
        ".gitattributes",
        "* text=auto\n*.sh text eol=lf\n[attr]crlfy text eol=crlf\n*.m crlfy\n",
    );
    repo.write("bin/.gitattributes", "* binary\n");
    repo.write("raw/.gitattributes", "* -text\n");
    repo.write("auto/normalized.txt", "lf\r\nin the index\r\n");
    // Only the new files: `add .` would store the racily clean ones again, converted.
    repo.git_ok(&[
        "add",
        ".gitattributes",
        "bin/.gitattributes",
        "raw/.gitattributes",
        "auto/normalized.txt",
    ]);
    repo.git_ok(&["commit", "-qm", "rules"]);
    // Same-size edits: only the content tells.
    repo.write("bin/same.dat", "X\r\nY\0");
    repo.write("auto/changed.txt", "new\r\n");
    repo.write("auto/lone.txt", "LONE\rCR\n");
    let mut names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    names.push("auto/normalized.txt");
    touch_all(&repo, &names);
    next_second();
    repo
}

/// git's porcelain in every form, run in `at` without refreshing the index.
fn git_answers(at: &std::path::Path) -> Vec<Vec<u8>> {
    [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]]
        .iter()
        .map(|flags| {
            let mut args = vec!["--no-optional-locks", "status", "--porcelain=v1"];
            args.extend_from_slice(flags);
            flowforge_testkit::git::ok(at, &args)
        })
        .collect()
}

/// Files with CR bytes on a stale index are decided from their bytes where the attributes
/// cannot change the answer and by libgit2 elsewhere, always as git decides; the stat data
/// cached for them is data git trusts. Checked from the top and from a subdirectory, each
/// against git's answer taken before the index was refreshed.
#[test]
fn line_endings_on_a_stale_index_are_decided_as_git_does() {
    for at in ["", "auto"] {
        let repo = line_ending_repo();
        let dir = repo.path().join(at);
        let expected = git_answers(&dir);
        let status = Repo::open(&dir)
            .expect("open")
            .status(&StatusOptions::default())
            .expect("status");
        for (flags, git) in [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]]
            .iter()
            .zip(&expected)
        {
            let what = format!("line endings from {at:?} {flags:?}");
            crate::status_support::assert_same(
                &what,
                &crate::status_support::ours(&status, flags),
                git,
            );
        }
        // What was refreshed is what git itself finds unchanged; git still agrees.
        assert_eq!(git_answers(&dir), expected, "from {at:?} after the refresh");
        let dirty = String::from_utf8(stat_dirty(&repo)).expect("utf-8");
        let mut dirty: Vec<&str> = dirty.lines().collect();
        dirty.sort_unstable();
        assert_eq!(
            dirty,
            [
                "auto/changed.txt",
                "auto/lone.txt",
                "bin/same.dat",
                "mac.m",
                "script.sh"
            ],
            "from {at:?}"
        );
    }
}

/// The attribute lines the property below draws from (one per file, or none).
const EOL_RULES: &[&str] = &[
    "",
    "text=auto",
    "-text",
    "binary",
    "text",
    "text eol=lf",
    "text eol=crlf",
    "eol=crlf",
    "crlf",
    "-crlf",
    "text=auto eol=crlf",
    "mytext",
];

/// Bytes a file is made of: CR, LF and NUL often, so that CRLF pairs, lone CRs and binary
/// content all occur.
fn eol_content() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'\r'), Just(b'\n'), Just(b'\r'), Just(0u8)],
        0..12,
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random bytes under random line-ending rules, committed before or after the rules and
    /// then edited or not, on a stale index: the first status answers as git does (git's
    /// answer taken before anything refreshed the index), and git agrees after our refresh.
    #[test]
    fn random_line_endings_on_a_stale_index(
        files in proptest::collection::vec(
            (eol_content(), 0..EOL_RULES.len(), proptest::option::of(eol_content()), proptest::bool::ANY),
            1..6,
        ),
    ) {
        let repo = TestRepo::new();
        let names: Vec<String> = (0..files.len()).map(|i| format!("f{i}")).collect();
        for (name, (content, _, _, _)) in names.iter().zip(&files) {
            std::fs::write(repo.path().join(name), content).expect("write");
        }
        repo.git_ok(&["add", "."]);
        repo.git_ok(&["commit", "-qm", "bytes"]);
        let mut rules = String::from("[attr]mytext text eol=lf\n");
        for (name, (_, rule, _, _)) in names.iter().zip(&files) {
            if !EOL_RULES[*rule].is_empty() {
                rules.push_str(&format!("{name} {}\n", EOL_RULES[*rule]));
            }
        }
        repo.write(".gitattributes", &rules);
        repo.git_ok(&["add", ".gitattributes"]);
        // Some files are stored again under their rule (git converts what it stores).
        for (name, (_, _, _, renormalize)) in names.iter().zip(&files) {
            if *renormalize {
                repo.git_ok(&["add", "--renormalize", name]);
            }
        }
        repo.git_ok(&["commit", "-qm", "rules", "--allow-empty"]);
        for (name, (_, _, edit, _)) in names.iter().zip(&files) {
            if let Some(edit) = edit {
                std::fs::write(repo.path().join(name), edit).expect("write");
            }
        }
        let mut touched: Vec<&str> = names.iter().map(String::as_str).collect();
        touched.push(".gitattributes");
        touch_all(&repo, &touched);
        next_second();
        let expected = git_answers(repo.path());
        let status = Repo::open(repo.path())
            .expect("open")
            .status(&StatusOptions::default())
            .expect("status");
        for (flags, git) in [&[][..], &["-z"][..], &["-b"][..], &["-b", "-z"][..]]
            .iter()
            .zip(&expected)
        {
            crate::status_support::assert_same(
                &format!("random line endings {flags:?}"),
                &crate::status_support::ours(&status, flags),
                git,
            );
        }
        proptest::prop_assert_eq!(git_answers(repo.path()), expected, "after the refresh");
    }
}
