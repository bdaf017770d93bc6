//! Batched refs against `git for-each-ref` and `git rev-list --count`, loose and packed.

use crate::cache_support;

use cache_support::{RepoExt as _, TestRepo, committed_repo};
use flowforge_core::{DeveloperId, TaskId};
use flowforge_git::{Freshness, RefsSnapshot, refs::AheadBehind};

/// `git rev-list --left-right --count a...b` as (ahead, behind).
fn git_ahead_behind(repo: &TestRepo, a: &str, b: &str) -> AheadBehind {
    let out = repo.git_stdout(&["rev-list", "--left-right", "--count", &format!("{a}...{b}")]);
    let mut parts = out
        .split_whitespace()
        .map(|n| n.parse::<usize>().expect("count"));
    AheadBehind {
        ahead: parts.next().expect("ahead"),
        behind: parts.next().expect("behind"),
    }
}

fn commit(repo: &TestRepo, file: &str) {
    repo.write(file, file);
    repo.git_ok(&["add", file]);
    repo.git_ok(&["commit", "-q", "-m", file]);
}

/// main, dev-alice/login (2 ahead, 1 behind), dev-bob (1 ahead), feature/auth-1-work, other.
fn branches() -> TestRepo {
    let repo = committed_repo();
    repo.git_ok(&["branch", "dev-alice/login"]);
    repo.git_ok(&["branch", "dev-bob"]);
    repo.git_ok(&["branch", "feature/auth-1-work"]);
    repo.git_ok(&["branch", "other"]);
    commit(&repo, "on-main.txt");
    repo.git_ok(&["checkout", "-q", "dev-alice/login"]);
    commit(&repo, "a1.txt");
    commit(&repo, "a2.txt");
    repo.git_ok(&["checkout", "-q", "dev-bob"]);
    commit(&repo, "b1.txt");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo
}

fn check_against_git(repo: &TestRepo, snapshot: &RefsSnapshot) {
    let listed = repo.git_stdout(&[
        "for-each-ref",
        "--format=%(refname:short) %(objectname)",
        "refs/heads/",
    ]);
    let ours: Vec<String> = snapshot
        .branches
        .iter()
        .map(|b| format!("{} {}", b.name, b.tip))
        .collect();
    let theirs: Vec<&str> = listed.lines().collect();
    assert_eq!(ours, theirs);
    assert_eq!(snapshot.head.branch.as_deref(), Some("main"));
    let head = repo.git_stdout(&["rev-parse", "HEAD"]);
    assert_eq!(
        snapshot.head.commit.map(|c| c.to_string()),
        Some(head.trim().to_owned())
    );
    for name in ["dev-alice/login", "dev-bob", "feature/auth-1-work"] {
        let branch = snapshot.branch(name).expect(name);
        assert_eq!(
            branch.vs_base,
            Some(git_ahead_behind(repo, name, "main")),
            "{name}"
        );
    }
    assert_eq!(snapshot.branch("other").expect("other").vs_base, None);
}

#[test]
fn one_pass_gives_every_branch_its_tip_and_ahead_behind_as_git_counts_them() {
    let repo = branches();
    let view = repo.view();
    let snapshot = view.refs(Freshness::Synced).expect("refs").value;
    check_against_git(&repo, &snapshot);
    assert_eq!(
        snapshot.branch("dev-alice/login").and_then(|b| b.vs_base),
        Some(AheadBehind {
            ahead: 2,
            behind: 1
        })
    );

    let alice = DeveloperId::new("alice").expect("id");
    let task = TaskId::new("auth-1").expect("id");
    let names: Vec<&str> = snapshot
        .developer_branches(&alice, std::slice::from_ref(&task))
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["dev-alice/login", "feature/auth-1-work"]);

    // Packed refs give the same snapshot.
    repo.git_ok(&["pack-refs", "--all"]);
    let packed = view.refs(Freshness::Synced).expect("refs").value;
    assert_eq!(*packed, *snapshot);
}

#[test]
fn the_snapshot_is_reused_until_a_ref_changes() {
    let repo = branches();
    let view = repo.view();
    view.refs(Freshness::Synced).expect("refs");
    let computed = view.stats().refs_computations;
    // Work-tree edits and object writes do not touch refs.
    repo.write("src/file0.txt", "edited\n");
    repo.git_ok(&["hash-object", "-w", "src/file0.txt"]);
    for _ in 0..5 {
        assert!(!view.refs(Freshness::Synced).expect("refs").computed);
    }
    assert_eq!(view.stats().refs_computations, computed);

    repo.git_ok(&["branch", "dev-alice/second", "dev-bob"]);
    let after = view.refs(Freshness::Synced).expect("refs");
    assert!(after.computed);
    check_against_git(&repo, &after.value);
    assert!(after.value.branch("dev-alice/second").is_some());

    repo.git_ok(&["checkout", "-q", "dev-bob"]);
    repo.git_ok(&["commit", "-q", "--allow-empty", "-m", "more"]);
    let moved = view.refs(Freshness::Synced).expect("refs").value;
    assert_eq!(moved.head.branch.as_deref(), Some("dev-bob"));
    assert_eq!(
        moved.branch("dev-bob").and_then(|b| b.vs_base),
        Some(git_ahead_behind(&repo, "dev-bob", "main"))
    );
}

#[test]
fn upstreams_are_counted_and_gone_ones_are_reported() {
    let repo = branches();
    // A remote-tracking ref one commit behind dev-bob, as a fetch would leave it.
    let base = repo.git_stdout(&["rev-parse", "dev-bob~1"]);
    repo.git_ok(&["update-ref", "refs/remotes/origin/dev-bob", base.trim()]);
    repo.git_ok(&["config", "remote.origin.url", "/nowhere"]);
    repo.git_ok(&[
        "config",
        "remote.origin.fetch",
        "+refs/heads/*:refs/remotes/origin/*",
    ]);
    repo.git_ok(&[
        "branch",
        "-q",
        "--set-upstream-to=origin/dev-bob",
        "dev-bob",
    ]);
    let view = repo.view();
    let snapshot = view.refs(Freshness::Synced).expect("refs").value;
    let upstream = snapshot
        .branch("dev-bob")
        .and_then(|b| b.upstream.clone())
        .expect("upstream");
    assert_eq!(upstream.name, "origin/dev-bob");
    assert_eq!(
        upstream.ahead_behind,
        Some(git_ahead_behind(&repo, "dev-bob", "origin/dev-bob"))
    );

    repo.git_ok(&["update-ref", "-d", "refs/remotes/origin/dev-bob"]);
    let gone = view.refs(Freshness::Synced).expect("refs").value;
    let upstream = gone
        .branch("dev-bob")
        .and_then(|b| b.upstream.clone())
        .expect("upstream still configured");
    assert_eq!((upstream.tip, upstream.ahead_behind), (None, None));
}

/// A developer's branches are `dev-<id>`, `dev-<id>/…` and `feature/<task>-work` of the tasks
/// they hold, and no other: not their neighbours in git's order (`dev-bob-x`, `dev-bob.y`,
/// `dev-bob0`, `dev-bob_x` and `dev-Bob` sort around `dev-bob`, `dev-alice-x` before
/// `dev-alice/…`), not `feature/<task>-workx`; checked against git's list by name and against
/// the branches' own fields.
#[test]
fn a_developer_gets_exactly_the_branches_their_name_and_tasks_give_them() {
    let repo = committed_repo();
    let names = [
        "dev-al",
        "dev-alice-x",
        "dev-alice.x",
        "dev-alice/a",
        "dev-alice/b/c",
        "dev-alice2",
        "dev-bob",
        "dev-bob-x",
        "dev-bob.y",
        "dev-bob0",
        "dev-Bob",
        "dev-bob_x",
        "dev-carol/é",
        "feature/1-work",
        "feature/1-work-work",
        "feature/1-workx",
        "feature/10-work",
        "feature/x-1-work",
        "zzz",
    ];
    for name in names {
        repo.git_ok(&["branch", name]);
    }
    let snapshot = repo.view().refs(Freshness::Synced).expect("refs").value;
    let listed = repo.git_stdout(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"]);

    let id = |s: &str| DeveloperId::new(s).expect("id");
    let task = |s: &str| TaskId::new(s).expect("id");
    let cases = [
        (
            id("alice"),
            vec![task("10"), task("1"), task("1"), task("none")],
        ),
        (id("alice-x"), vec![task("x-1")]),
        (id("alice2"), vec![]),
        (id("bob"), vec![task("1")]),
        (id("al"), vec![task("1-work")]),
        (id("carol"), vec![]),
        (id("Bob"), vec![]),
        (id("bob_x"), vec![task("1"), task("10")]),
        (id("dave"), vec![]),
    ];
    for (dev, tasks) in cases {
        let ours: Vec<&str> = snapshot
            .developer_branches(&dev, &tasks)
            .map(|b| b.name.as_str())
            .collect();
        // The definition, applied to git's own list (sorted as git sorts it).
        let theirs: Vec<&str> = listed
            .lines()
            .filter(|name| {
                let own = format!("dev-{dev}");
                *name == own
                    || name.starts_with(&format!("{own}/"))
                    || tasks.iter().any(|t| *name == format!("feature/{t}-work"))
            })
            .collect();
        assert_eq!(ours, theirs, "{dev} holding {tasks:?}");
        // And as the branches' own fields say, parsed from their names.
        let by_fields: Vec<&str> = snapshot
            .branches
            .iter()
            .filter(|b| {
                b.developer.as_ref() == Some(&dev)
                    || b.task.as_ref().is_some_and(|t| tasks.contains(t))
            })
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(ours, by_fields, "{dev} holding {tasks:?}");
        assert!(!ours.is_empty() || dev.as_str() == "dave");
    }
}
