//! What the watcher does with events: no work for events that change no answer, exact answers
//! in linked worktrees and after bursts large enough to overflow the event queue.

use crate::cache_support;

use cache_support::{RepoExt as _, committed_repo, git_in, ours};
use flowforge_git::{Freshness, GitView, ViewOptions};

fn settle(view: &GitView) {
    for _ in 0..10 {
        if !view.status(Freshness::Synced).expect("status").computed {
            return;
        }
    }
    panic!("the view never settled: {:?}", view.stats());
}

#[test]
fn events_that_change_no_answer_cause_no_work() {
    let repo = committed_repo();
    let view = repo.view();
    view.refs(Freshness::Synced).expect("refs");
    settle(&view);
    let before = view.stats();

    // Reading every file, git reading the repository, object writes, a lock taken and dropped,
    // logs: none of them can change the status or the refs.
    for entry in std::fs::read_dir(repo.path().join("src")).expect("list") {
        std::fs::read(entry.expect("entry").path()).expect("read");
    }
    repo.git_porcelain();
    repo.git_ok(&["log", "--oneline"]);
    repo.write("scratch.log", "ignored by *.log\n");
    repo.git_ok(&["hash-object", "-w", "scratch.log"]);
    std::fs::remove_file(repo.path().join("scratch.log")).expect("remove");
    let lock = repo.path().join(".git/index.lock");
    std::fs::write(&lock, "").expect("lock");
    std::fs::remove_file(&lock).expect("unlock");
    std::fs::write(repo.path().join(".git/FETCH_HEAD"), "").expect("fetch head");

    let answer = view.status(Freshness::Synced).expect("status");
    let refs = view.refs(Freshness::Synced).expect("refs");
    let after = view.stats();
    // The ignored file's creation and removal made one refresh of its path at most.
    assert!(
        after.full_computations == before.full_computations
            && after.misses - before.misses <= 1
            && !refs.computed,
        "{before:?} -> {after:?}"
    );
    assert_eq!(ours(&answer.value), repo.git_porcelain());
}

#[test]
fn a_linked_worktree_sees_its_own_changes_and_the_shared_refs() {
    let repo = committed_repo();
    let wt = repo.scratch().join("wt");
    let wt_arg = wt.to_str().expect("utf-8 path");
    repo.git_ok(&["worktree", "add", "-q", wt_arg, "-b", "dev-alice/wt"]);
    let view = GitView::open(&wt, &ViewOptions::default()).expect("open worktree");
    assert!(view.is_watching(), "{:?}", view.not_watching_because());
    let git_status = || {
        let out = git_in(&wt, &["--no-optional-locks", "status", "--porcelain"]);
        String::from_utf8(out.stdout).expect("utf-8")
    };

    std::fs::write(wt.join("src/file0.txt"), "edited in the worktree\n").expect("write");
    std::fs::write(wt.join("wt-only.txt"), "new\n").expect("write");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), git_status());
    assert_eq!(answer.value.head().branch.as_deref(), Some("dev-alice/wt"));

    // A commit in the worktree moves its HEAD and empties its status.
    let out = git_in(&wt, &["commit", "-q", "-a", "-m", "in wt"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        git_status()
    );

    // The main work tree's changes are not the worktree's; its branches are shared.
    repo.write("src/file1.txt", "edited in main\n");
    repo.git_ok(&["branch", "dev-bob/new"]);
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        git_status()
    );
    let refs = view.refs(Freshness::Synced).expect("refs").value;
    assert!(refs.branch("dev-bob/new").is_some());
    assert_eq!(refs.head.branch.as_deref(), Some("dev-alice/wt"));
}

#[test]
fn a_burst_larger_than_the_event_queue_still_gives_gits_answer() {
    let repo = committed_repo();
    let view = repo.view();
    settle(&view);
    // About 36,000 events (create, modify, close) against a queue of 16,384 by default: the
    // queue may overflow, and the answer must be exact either way.
    for i in 0..12_000 {
        repo.write(&format!("src/burst/{}/f{i}.txt", i % 50), "x\n");
    }
    repo.git_ok(&["add", "src/burst/7"]);
    repo.write("src/file2.txt", "edited during the burst\n");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    let stats = view.stats();
    assert!(stats.watching, "{stats:?}");
    // One more edit after the burst is seen too.
    repo.write("src/burst/3/f3.txt", "again\n");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
}

#[test]
fn a_watcher_that_cannot_prove_it_works_is_never_trusted() {
    use flowforge_core::metrics::Registry;
    use flowforge_git::{Fresh, cache::names::GIT_WATCH_FALLBACK};

    let repo = committed_repo();
    let fallbacks = Registry::global().counter(GIT_WATCH_FALLBACK);

    // On Linux the cookie only proves, once, that events arrive; after that a sync reads
    // inotify's queue, so losing the cookie directory loses nothing.
    if cfg!(target_os = "linux") {
        let view = repo.view();
        settle(&view);
        std::fs::remove_dir_all(repo.path().join(".git/flowforge-cookies"))
            .expect("remove cookies");
        repo.write("src/file3.txt", "edited after the cookies went\n");
        let answer = view.status(Freshness::Synced).expect("status");
        assert_ne!(answer.fresh, Fresh::Recomputed);
        assert_eq!(ours(&answer.value), repo.git_porcelain());
        assert!(view.is_watching(), "{:?}", view.not_watching_because());
    }

    // A cookie directory that cannot be made: the watcher never proves it works.
    let _ = std::fs::remove_dir_all(repo.path().join(".git/flowforge-cookies"));
    std::fs::write(repo.path().join(".git/flowforge-cookies"), "in the way\n").expect("write");
    let before = fallbacks.get();
    let view = repo.view();
    repo.write("src/file4.txt", "edited while not watched\n");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(answer.fresh, Fresh::Recomputed);
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    assert!(!view.is_watching());
    assert!(view.not_watching_because().is_some());

    // Cached answers are recomputed too: nothing the watcher saw can be trusted.
    repo.write("src/file0.txt", "edited again\n");
    let cached = view.status(Freshness::Cached).expect("status");
    assert_eq!(cached.fresh, Fresh::Recomputed);
    assert_eq!(ours(&cached.value), repo.git_porcelain());
    assert!(view.stats().fallback_answers >= 2, "{:?}", view.stats());
    assert!(fallbacks.get() >= before + 2);
}

#[test]
fn symbolic_links_are_entries_and_are_not_followed() {
    let repo = committed_repo();
    let outside = repo.scratch().join("outside");
    std::fs::create_dir_all(outside.join("deep")).expect("mkdir");
    std::os::unix::fs::symlink(&outside, repo.path().join("link")).expect("symlink");
    repo.git_ok(&["add", "link"]);
    repo.git_ok(&["commit", "-q", "-m", "link"]);
    let view = repo.view();
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        repo.git_porcelain()
    );

    // Changes behind the link are not the repository's.
    std::fs::write(outside.join("deep/x.txt"), "outside\n").expect("write");
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        repo.git_porcelain()
    );

    // Pointing the link elsewhere is a change of the link itself.
    std::fs::remove_file(repo.path().join("link")).expect("unlink");
    std::os::unix::fs::symlink(outside.join("deep"), repo.path().join("link")).expect("symlink");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    assert_eq!(ours(&answer.value), " M link\n");
}

#[test]
fn directories_moved_or_created_later_are_watched_before_they_are_read() {
    let repo = committed_repo();
    let view = repo.view();
    settle(&view);
    // A tracked directory moved inside the work tree, then edited at its new place.
    std::fs::rename(repo.path().join("docs/d1"), repo.path().join("moved")).expect("move");
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        repo.git_porcelain()
    );
    repo.write("moved/page.md", "edited after the move\n");
    repo.write("moved/sub/new.md", "new\n");
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        repo.git_porcelain()
    );
    // Moved back and tracked again: edits inside are seen, nested new directories too.
    std::fs::rename(repo.path().join("moved"), repo.path().join("docs/d1")).expect("move back");
    repo.git_ok(&["add", "docs/d1"]);
    assert_eq!(
        ours(&view.status(Freshness::Synced).expect("status").value),
        repo.git_porcelain()
    );
    for i in 0..5 {
        repo.write(&format!("docs/d1/sub/level{i}/f.md"), "deeper\n");
        repo.git_ok(&["add", "docs/d1"]);
        repo.write(&format!("docs/d1/sub/level{i}/f.md"), "edited\n");
        assert_eq!(
            ours(&view.status(Freshness::Synced).expect("status").value),
            repo.git_porcelain(),
            "level {i}"
        );
    }
    assert!(view.is_watching(), "{:?}", view.not_watching_because());
}

#[test]
fn an_ignored_directory_is_not_watched_until_git_may_read_it() {
    let repo = committed_repo();
    repo.write(".flowforge/dev-a/current.json", "{}\n");
    repo.write("out/build.o", "o\n");
    std::fs::write(repo.path().join(".git/info/exclude"), "/out/\n").expect("exclude");
    let view = repo.view();
    settle(&view);
    let before = view.stats();

    // Ignored, nothing tracked in them: what happens inside is no event.
    for i in 0..50 {
        repo.write(&format!(".flowforge/dev-a/f{i}.json"), "{}\n");
        repo.write(&format!("out/sub/f{i}.o"), "o\n");
    }
    let answer = view.status(Freshness::Synced).expect("status");
    assert!(!answer.computed, "{before:?} -> {:?}", view.stats());
    assert_eq!(ours(&answer.value), repo.git_porcelain());

    // A file forced into the index: git reads that directory now, and so does the view.
    repo.git_ok(&["add", "-f", ".flowforge/dev-a/current.json"]);
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    assert_eq!(ours(&answer.value), "A  .flowforge/dev-a/current.json\n");
    repo.write(".flowforge/dev-a/current.json", "{\"edited\": true}\n");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), "AM .flowforge/dev-a/current.json\n");
    assert_eq!(ours(&answer.value), repo.git_porcelain());

    // No longer ignored: its files show, and later ones too.
    std::fs::write(repo.path().join(".git/info/exclude"), "").expect("exclude");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    assert!(
        ours(&answer.value).contains("?? out/\n"),
        "{}",
        ours(&answer.value)
    );
    repo.git_ok(&["add", "out/build.o"]);
    repo.write("out/sub/f3.o", "edited\n");
    repo.write("out/new.o", "new\n");
    let answer = view.status(Freshness::Synced).expect("status");
    assert_eq!(ours(&answer.value), repo.git_porcelain());
    assert!(
        ours(&answer.value).contains("?? out/new.o\n"),
        "{}",
        ours(&answer.value)
    );
    assert!(view.is_watching(), "{:?}", view.not_watching_because());
}
