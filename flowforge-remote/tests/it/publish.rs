//! Publishing sessions and time: merges without loss, retries on lost races, recovers from
//! rewritten refs, and never overwrites a ref that moved during the push.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use flowforge_core::{Layout, model::TimeTracking};
use flowforge_remote::{Options, Stage, view_root};
use flowforge_session::{AddMinutes, Namespace, SessionOptions, fs::read_json};

use crate::support::{Clone, Team, dev, git};

fn add(clone: &Clone, who: &str, minutes: u64) {
    let ns = Namespace::open(&clone.layout, &dev(who), SessionOptions::default()).expect("open");
    ns.add_minutes(minutes, &AddMinutes::default())
        .expect("add");
}

/// The time another clone sees for `who` after a pull.
fn pulled_time(viewer: &Clone, who: &str) -> TimeTracking {
    viewer.remote().pull(&viewer.layout).expect("pull");
    let view = Layout::new(view_root(&viewer.layout, "origin"));
    read_json(viewer.layout.root(), &view.time_tracking(&dev(who)))
        .expect("readable")
        .unwrap_or_default()
}

#[test]
fn an_interleaved_push_costs_a_retry_and_loses_nothing() {
    let team = Team::new();
    let (a, b, viewer) = (team.clone("a"), team.clone("b"), team.clone("viewer"));
    for c in [&a, &b] {
        c.init_dev("alice");
    }
    add(&a, "alice", 5);
    add(&b, "alice", 7);

    let fired = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&fired);
    let (b_dir, b_layout) = (b.dir.clone(), b.layout.clone());
    let options = Options {
        interleave: Some(Arc::new(move |stage, _: &str| {
            if stage == Stage::BeforePush && !f.swap(true, Ordering::SeqCst) {
                let other = flowforge_remote::Remote::open(&b_dir, Options::default())
                    .expect("open")
                    .expect("configured");
                other
                    .publish(&b_layout, &dev("alice"))
                    .expect("b publishes first");
            }
        })),
        ..Options::default()
    };
    let published = a
        .remote_with(options)
        .publish(&a.layout, &dev("alice"))
        .expect("publish");
    assert!(published.pushed);
    assert_eq!(
        published.attempts, 2,
        "the first push lost to b's and was retried"
    );

    let time = pulled_time(&viewer, "alice");
    assert_eq!(time.total_minutes, 12);
    let mut minutes: Vec<u64> = time.sessions.iter().map(|e| e.minutes).collect();
    minutes.sort_unstable();
    assert_eq!(minutes, [5, 7]);

    // Publishing again adds nothing: the entries are named by their content.
    let again = a
        .remote()
        .publish(&a.layout, &dev("alice"))
        .expect("publish");
    assert!(!again.pushed);
    assert_eq!(pulled_time(&viewer, "alice").total_minutes, 12);
}

#[test]
fn a_ref_moved_after_negotiation_is_refused_not_overwritten() {
    // libgit2's file:// push would overwrite the ref the hook moved (a lost update); the git
    // binary checks the lease under the remote's ref lock. This fails if a push ever goes
    // through libgit2.
    let team = Team::new();
    let a = team.clone("a");
    a.init_dev("alice");
    add(&a, "alice", 3);
    a.remote()
        .publish(&a.layout, &dev("alice"))
        .expect("first publication");
    add(&a, "alice", 4);
    let marker = team.tmp.path().join("moved");
    team.pre_receive(&format!(
        "[ -e {m} ] && exit 0\n\
         touch {m}\n\
         unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
         tree=$(git hash-object -t tree -w /dev/null)\n\
         c=$(git commit-tree \"$tree\" -m moved)\n\
         git update-ref refs/flowforge/v1/devs/alice \"$c\"",
        m = marker.display()
    ));
    let published = a
        .remote()
        .publish(&a.layout, &dev("alice"))
        .expect("publish");
    assert!(marker.exists(), "the hook ran");
    assert_eq!(
        published.attempts, 2,
        "the push that raced the hook was refused"
    );
    let parent = git(
        &team.bare,
        &["log", "-1", "--format=%s", "refs/flowforge/v1/devs/alice^"],
    );
    assert_eq!(
        parent.trim(),
        "moved",
        "the retry was built on the moved ref"
    );
    let viewer = team.clone("viewer");
    assert_eq!(pulled_time(&viewer, "alice").total_minutes, 7);
}

#[test]
fn a_rewritten_or_deleted_developer_ref_is_recovered_by_the_next_publications() {
    let team = Team::new();
    let (a, b, viewer) = (team.clone("a"), team.clone("b"), team.clone("viewer"));
    for c in [&a, &b] {
        c.init_dev("alice");
    }
    add(&a, "alice", 1);
    add(&b, "alice", 2);
    a.remote().publish(&a.layout, &dev("alice")).expect("a");
    b.remote().publish(&b.layout, &dev("alice")).expect("b");

    // Someone force-pushes a blob over the ref.
    let blob = crate::support::write_blob(&team.bare, b"garbage\n");
    git(
        &team.bare,
        &["update-ref", "refs/flowforge/v1/devs/alice", &blob],
    );
    let pulled = viewer.remote().pull(&viewer.layout).expect("pull");
    assert_eq!(pulled.problems.len(), 1, "{:?}", pulled.problems);
    a.remote()
        .publish(&a.layout, &dev("alice"))
        .expect("a recovers");
    b.remote()
        .publish(&b.layout, &dev("alice"))
        .expect("b recovers");
    assert_eq!(pulled_time(&viewer, "alice").total_minutes, 3);

    // Deleted: the next publications recreate it.
    git(
        &team.bare,
        &["update-ref", "-d", "refs/flowforge/v1/devs/alice"],
    );
    assert_eq!(pulled_time(&viewer, "alice").total_minutes, 0);
    a.remote().publish(&a.layout, &dev("alice")).expect("a");
    b.remote().publish(&b.layout, &dev("alice")).expect("b");
    let time = pulled_time(&viewer, "alice");
    assert_eq!((time.total_minutes, time.sessions.len()), (3, 2));
}
