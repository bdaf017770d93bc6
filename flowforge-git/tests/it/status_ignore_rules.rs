//! The ignore rules the fast engine matches itself (each directory's `.gitignore` read once),
//! against `git status --porcelain` (plain, `-z`, `-b`), from the top and from
//! subdirectories: nested `.gitignore` files, negations, anchored, `**` and directory-only
//! patterns, `info/exclude` and `core.excludesFile`, ignored files in tracked and untracked
//! directories; and random rules over random paths.

use std::os::unix::fs::symlink;

use proptest::prelude::*;

use flowforge_git::{Repo, StatusOptions};

use crate::status_support::{TestRepo, assert_matches_git, check_at};

/// A repository with tracked files in `src/`, `src/deep/`, `docs/` and `build/` (a tracked
/// directory that the rules hide).
fn tracked_tree() -> TestRepo {
    let repo = TestRepo::new();
    for file in [
        "top.c",
        "src/a.c",
        "src/deep/b.c",
        "docs/guide.md",
        "build/keep",
    ] {
        repo.write(file, "x\n");
    }
    repo.git_ok(&["add", "."]);
    repo.git_ok(&["commit", "-qm", "one"]);
    repo
}

fn check_everywhere(what: &str, repo: &TestRepo, subdirs: &[&str]) {
    check_at(what, repo.path());
    for sub in subdirs {
        check_at(&format!("{what}, from {sub}"), &repo.path().join(sub));
    }
}

#[test]
fn nested_rules_negations_anchors_and_directory_patterns() {
    let repo = tracked_tree();
    repo.write(
        ".gitignore",
        "*.o\n!keep.o\n/top.log\n**/gen/**\nbuild/\ncache/\n*.tmp\n\\#hash\ntrailing\\ \n",
    );
    repo.write("src/.gitignore", "!*.o\nlocal.o\n/anchored.txt\n!*.tmp\n");
    repo.write("src/deep/.gitignore", "*.o\n!important.o\n");
    repo.git_ok(&["add", ".gitignore", "src/.gitignore", "src/deep/.gitignore"]);
    repo.git_ok(&["commit", "-qm", "rules"]);
    for file in [
        "top.o",
        "keep.o",
        "top.log",
        "docs/top.log",
        "src/a.o",
        "src/local.o",
        "src/anchored.txt",
        "src/deep/anchored.txt",
        "src/x.tmp",
        "src/deep/y.tmp",
        "src/deep/b.o",
        "src/deep/important.o",
        "docs/gen/out.html",
        "src/gen/deeper/out.c",
        "gen/at-top.c",
        "build/new",
        "build/keep.o",
        "docs/cache",
        "docs/cache2/cache/x",
        "#hash",
        "trailing ",
        "trailing",
        "docs/untracked/only.o",
        "docs/untracked/shown.md",
        "docs/all-ignored/a.o",
        "docs/all-ignored/sub/b.tmp",
    ] {
        repo.write(file, "y\n");
    }
    check_everywhere("nested rules", &repo, &["src", "src/deep", "docs", "build"]);
    // The incremental refresh (libgit2's diff under the changed directories) agrees.
    let handle = Repo::open(repo.path()).expect("open");
    let mut tracker = handle
        .track_status(&StatusOptions::default())
        .expect("status");
    repo.write("src/deep/.gitignore", "!*.o\nb.o\n");
    repo.write("src/deep/c.o", "y\n");
    repo.write("src/deep/gen/z.c", "y\n");
    tracker
        .refresh_paths(
            &handle,
            &[
                "src/deep/.gitignore".into(),
                "src/deep/c.o".into(),
                "src/deep/gen/z.c".into(),
            ],
        )
        .expect("refresh");
    assert_matches_git("nested rules, refreshed", &repo, tracker.status());
}

#[test]
fn an_excluded_directory_cannot_be_re_included() {
    let repo = tracked_tree();
    repo.write(
        ".gitignore",
        "docs/\n!docs/again.md\nsrc/deep\n!src/deep/b2.c\n",
    );
    repo.write("docs/again.md", "y\n");
    repo.write("docs/.gitignore", "!*\n");
    repo.write("src/deep/b2.c", "y\n");
    repo.write("src/deep/inner/c.c", "y\n");
    check_everywhere("excluded directory", &repo, &["docs", "src/deep"]);
}

#[test]
fn info_exclude_and_the_excludes_file_rank_below_every_gitignore() {
    let repo = tracked_tree();
    std::fs::create_dir_all(repo.path().join(".git/info")).expect("info");
    std::fs::write(repo.path().join(".git/info/exclude"), "*.log\n!keep.bak\n").expect("exclude");
    let excludes = repo.scratch().join("global-ignore");
    std::fs::write(&excludes, "*.bak\n*.swp\n!src/*.swp\n").expect("excludes file");
    repo.git_ok(&[
        "config",
        "core.excludesFile",
        excludes.to_str().expect("utf-8"),
    ]);
    repo.write(".gitignore", "!docs/*.log\n");
    repo.write("src/.gitignore", "!*.bak\n");
    for file in [
        "a.log",
        "docs/b.log",
        "x.bak",
        "keep.bak",
        "src/y.bak",
        "z.swp",
        "src/w.swp",
        "src/deep/v.swp",
        "new/dir/only.log",
    ] {
        repo.write(file, "y\n");
    }
    check_everywhere("info/exclude and excludes file", &repo, &["src", "docs"]);
    // A linked worktree reads the common directory's `info/exclude`.
    let linked = repo.scratch().join("linked");
    repo.git_ok(&["worktree", "add", "-q", linked.to_str().expect("utf-8")]);
    for file in ["a.log", "src/b.log", "keep.bak", "c.txt"] {
        std::fs::write(linked.join(file), "y\n").expect("write");
    }
    check_at("linked worktree", &linked);
    // An excludes file that is not there hides nothing.
    std::fs::remove_file(&excludes).expect("remove");
    check_at("missing excludes file", repo.path());
}

#[test]
fn links_a_gitignore_directory_and_ignored_untracked_directories() {
    let repo = tracked_tree();
    repo.write(".gitignore", "link/\nlinkfile\nout/\n");
    std::fs::create_dir_all(repo.path().join("real")).expect("dir");
    symlink("real", repo.path().join("link")).expect("link to a directory");
    symlink("top.c", repo.path().join("linkfile")).expect("link to a file");
    repo.write("out/x.o", "y\n");
    repo.write("real/file", "y\n");
    // A `.gitignore` that is a directory counts for nothing.
    std::fs::create_dir_all(repo.path().join("docs/.gitignore")).expect("dir");
    repo.write("docs/.gitignore/inner", "y\n");
    repo.write("docs/new.md", "y\n");
    check_everywhere(
        "links and a directory for rules",
        &repo,
        &["src", "docs", "real"],
    );
}

/// One random rule: a name or glob, maybe anchored, maybe below a directory, maybe
/// directory-only, maybe negated.
fn rule() -> impl Strategy<Value = String> {
    let stem = prop::sample::select(vec![
        "a",
        "b",
        "*.o",
        "*",
        "?",
        "a*",
        "[ab]",
        "**/a",
        "a/**",
        "d1",
        "d1/a",
        "**/d2/*.o",
    ]);
    (any::<bool>(), any::<bool>(), any::<bool>(), stem).prop_map(|(neg, anchored, dir, stem)| {
        let mut text = String::new();
        if neg {
            text.push('!');
        }
        if anchored {
            text.push('/');
        }
        text.push_str(stem);
        if dir {
            text.push('/');
        }
        text
    })
}

fn path() -> impl Strategy<Value = String> {
    let part = prop::sample::select(vec!["a", "b", "d1", "d2", "x.o", "a.o"]);
    prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 32, ..ProptestConfig::default() })]

    /// Random rules in the top, `d1/` and `d1/d2/` and `info/exclude`, over random tracked and
    /// untracked paths: the same answer as git.
    #[test]
    fn random_rules_match_git(
        top in prop::collection::vec(rule(), 0..5),
        d1 in prop::collection::vec(rule(), 0..4),
        d2 in prop::collection::vec(rule(), 0..4),
        exclude in prop::collection::vec(rule(), 0..3),
        tracked in prop::collection::vec(path(), 1..6),
        untracked in prop::collection::vec(path(), 1..10),
    ) {
        let repo = TestRepo::new();
        let mut written: Vec<String> = Vec::new();
        let fits = |p: &str, written: &[String]| {
            // No path may be both a file and a directory.
            written.iter().all(|w| w != p && !w.starts_with(&format!("{p}/")) && !p.starts_with(&format!("{w}/")))
        };
        for p in &tracked {
            if fits(p, &written) {
                repo.write(p, "t\n");
                written.push(p.clone());
            }
        }
        repo.git_ok(&["add", "-f", "."]);
        repo.git_ok(&["commit", "-qm", "one", "--allow-empty"]);
        for p in &untracked {
            if fits(p, &written) {
                repo.write(p, "u\n");
                written.push(p.clone());
            }
        }
        let rules = |list: &[String]| list.iter().map(|r| format!("{r}\n")).collect::<String>();
        repo.write(".gitignore", &rules(&top));
        if repo.path().join("d1").is_dir() {
            repo.write("d1/.gitignore", &rules(&d1));
        }
        if repo.path().join("d1/d2").is_dir() {
            repo.write("d1/d2/.gitignore", &rules(&d2));
        }
        std::fs::create_dir_all(repo.path().join(".git/info")).expect("info");
        std::fs::write(repo.path().join(".git/info/exclude"), rules(&exclude)).expect("exclude");
        check_at("random rules", repo.path());
        if repo.path().join("d1").is_dir() {
            check_at("random rules, from d1", &repo.path().join("d1"));
        }
    }
}
