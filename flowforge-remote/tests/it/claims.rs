//! Claims on the remote: create-only, leases on release, atomic multi-ref claims.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use flowforge_remote::{Claimed, Error, Options, RemoteRelease, Stage};

use crate::support::{Team, dev, task};

#[test]
fn an_atomic_claim_with_one_stale_lease_changes_nothing() {
    let team = Team::new();
    let (a, b) = (team.clone("a"), team.clone("b"));
    b.remote()
        .claim(&task("t2"), &dev("bob"), None)
        .expect("bob claims t2");
    let before = team.refs();

    let err = a
        .remote()
        .claim_all(&[task("t1"), task("t2"), task("t3")], &dev("alice"))
        .expect_err("t2 is held");
    match err {
        Error::Held {
            task: t,
            holder,
            machine,
            ..
        } => {
            assert_eq!(
                (t.as_str(), holder.as_str(), machine.as_str()),
                ("t2", "bob", "b")
            );
        }
        other => panic!("expected Held, got {other:?}"),
    }
    assert_eq!(team.refs(), before, "neither t1 nor t3 was created");
    assert!(
        !a.local_refs().contains("flowforge-own"),
        "nothing recorded as owned"
    );

    a.remote()
        .claim_all(&[task("t1"), task("t3")], &dev("alice"))
        .expect("both free");
    let refs = team.refs();
    assert!(
        refs.contains("claims/t1") && refs.contains("claims/t3"),
        "{refs}"
    );
}

#[test]
fn a_release_leases_on_the_value_it_owns_and_never_deletes_a_takeover() {
    let team = Team::new();
    let (a, b) = (team.clone("a"), team.clone("b"));
    let (alice, bob, t) = (dev("alice"), dev("bob"), task("feature.lock"));
    assert_eq!(
        a.remote().claim(&t, &alice, Some("s1")).expect("claim"),
        Claimed::New
    );

    // Bob cannot release it without force, then takes it over.
    assert!(matches!(
        b.remote().release(&t, &bob, false),
        Err(Error::Held { .. })
    ));
    match b.remote().release(&t, &bob, true).expect("forced release") {
        RemoteRelease::Released(c) => {
            assert_eq!((c.developer.as_str(), c.machine.as_str()), ("alice", "a"))
        }
        other => panic!("expected RemoteRelease, got {other:?}"),
    }
    assert_eq!(
        b.remote().claim(&t, &bob, None).expect("claim"),
        Claimed::New
    );
    let held_by_bob = team.refs();

    // Alice's own record is stale: her release must not delete Bob's claim.
    match a.remote().release(&t, &alice, false).expect("release") {
        RemoteRelease::TakenOver(c) => assert_eq!(c.developer.as_str(), "bob"),
        other => panic!("expected TakenOver, got {other:?}"),
    }
    assert_eq!(team.refs(), held_by_bob);
    assert!(!a.local_refs().contains("flowforge-own/origin/v1/claims"));

    // Bob releases his own: the ref is deleted, not left behind.
    assert!(matches!(
        b.remote().release(&t, &bob, false),
        Ok(RemoteRelease::Released(_))
    ));
    assert_eq!(team.refs(), "");
}

#[test]
fn of_two_forced_takeovers_racing_exactly_one_wins() {
    let team = Team::new();
    let (a, b, c) = (team.clone("a"), team.clone("b"), team.clone("c"));
    let t = task("t");
    a.remote().claim(&t, &dev("alice"), None).expect("claim");

    // B observes Alice's claim; between its fetch and its push, C takes the task over.
    let c_remote = Arc::new(Mutex::new(c.remote()));
    let fired = Arc::new(AtomicBool::new(false));
    let (cr, f) = (Arc::clone(&c_remote), Arc::clone(&fired));
    let options = Options {
        interleave: Some(Arc::new(move |stage, _: &str| {
            if stage == Stage::BeforePush && !f.swap(true, Ordering::SeqCst) {
                let c = cr.lock().expect("not poisoned");
                c.release(&task("t"), &dev("carol"), true)
                    .expect("carol's takeover");
                c.claim(&task("t"), &dev("carol"), None)
                    .expect("carol claims");
            }
        })),
        ..Options::default()
    };
    let err = b
        .remote_with(options)
        .release(&t, &dev("bob"), true)
        .expect_err("lost");
    assert!(matches!(err, Error::ReleaseRaced { .. }), "{err:?}");
    assert!(fired.load(Ordering::SeqCst));
    let holder = a.remote().holder(&t).expect("fetch").expect("held");
    assert_eq!(
        (holder.developer.as_str(), holder.machine.as_str()),
        ("carol", "c")
    );
}

#[test]
fn a_claim_pushed_by_a_command_that_died_is_adopted_by_the_next_one() {
    let team = Team::new();
    let a = team.clone("a");
    let (alice, t) = (dev("alice"), task("t"));
    a.remote().claim(&t, &alice, None).expect("claim");
    // The process died after the push, before recording it.
    crate::support::git(
        &a.dir,
        &["update-ref", "-d", "refs/flowforge-own/origin/v1/claims/t"],
    );
    assert_eq!(
        a.remote().claim(&t, &alice, None).expect("again"),
        Claimed::Adopted
    );
    assert_eq!(a.remote().own_claims().expect("own").len(), 1);
    // The same developer on another machine is a different holder.
    let b = team.clone("b");
    let err = b
        .remote()
        .claim(&t, &alice, None)
        .expect_err("held from machine a");
    assert!(
        err.to_string().contains("held by alice on machine a"),
        "{err}"
    );
}
