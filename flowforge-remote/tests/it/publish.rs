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
    let (a, b) = (team.clone("a"), team.clone("b"));
    for c in [&a, &b] {
        c.init_dev("alice");
    }
    add(&a, "alice", 3);
    let first = a
        .remote()
        .publish(&a.layout, &dev("alice"))
        .expect("first publication");
    add(&b, "alice", 11);
    let moved = b.remote().publish(&b.layout, &dev("alice")).expect("b");
    // The remote goes back to a's publication; the hook puts b's back in the middle of a's
    // next push, after a's lease was checked against what the remote advertised.
    git(
        &team.bare,
        &[
            "update-ref",
            "refs/flowforge/v1/devs/alice",
            &first.commit.to_string(),
        ],
    );
    add(&a, "alice", 4);
    let marker = team.tmp.path().join("moved");
    team.pre_receive(&format!(
        "[ -e {m} ] && exit 0\n\
         touch {m}\n\
         unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
         git update-ref refs/flowforge/v1/devs/alice {moved}",
        m = marker.display(),
        moved = moved.commit,
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
    let viewer = team.clone("viewer");
    assert_eq!(
        pulled_time(&viewer, "alice").total_minutes,
        18,
        "the retry was merged with the moved ref: b's 11 minutes are kept"
    );
}

#[test]
fn a_developer_ref_holds_one_commit_however_often_it_is_published() {
    let team = Team::new();
    let (a, b, viewer) = (team.clone("a"), team.clone("b"), team.clone("viewer"));
    for c in [&a, &b] {
        c.init_dev("alice");
    }
    let mut total = 0;
    for round in 1..=4 {
        for (c, minutes) in [(&a, round), (&b, 10 * round)] {
            add(c, "alice", minutes);
            total += minutes;
            let p = c
                .remote()
                .publish(&c.layout, &dev("alice"))
                .expect("publish");
            assert!(p.pushed);
        }
    }
    // Every commit reachable on the remote: only the ref's one, not one per publication.
    let commits = git(&team.bare, &["rev-list", "--all", "--count"]);
    assert_eq!(commits.trim(), "1", "eight publications, one commit");
    let time = pulled_time(&viewer, "alice");
    assert_eq!((time.total_minutes, time.sessions.len()), (total, 8));
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
