//! Faults: a declining hook, an unreachable or vanished remote, corrupt refs and objects,
//! another format version, an empty remote. Each is a clear error or a recovery, and local
//! state is never damaged.

use flowforge_remote::{Error, last_pull};

use crate::support::{Team, dev, git, task};

#[test]
fn a_pre_receive_hook_that_declines_is_a_refusal_and_nothing_is_recorded() {
    let team = Team::new();
    let a = team.clone("a");
    a.init_dev("alice");
    team.pre_receive("echo 'no FlowForge here' >&2; exit 1");
    let err = a
        .remote()
        .claim(&task("t"), &dev("alice"), None)
        .expect_err("declined");
    match &err {
        Error::Refused {
            reason, reference, ..
        } => {
            assert!(reason.contains("pre-receive hook declined"), "{reason}");
            assert_eq!(reference, "refs/flowforge/v1/claims/t");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    let err = a
        .remote()
        .publish(&a.layout, &dev("alice"))
        .expect_err("declined");
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert_eq!(team.refs(), "");
    assert!(!a.local_refs().contains("flowforge-own"));
}

#[test]
fn a_remote_that_vanishes_mid_run_is_unreachable_and_local_state_stays() {
    let team = Team::new();
    let a = team.clone("a");
    a.init_dev("alice");
    a.remote()
        .claim(&task("t1"), &dev("alice"), None)
        .expect("claim");
    let pulled = a.remote().pull(&a.layout).expect("pull");
    let moved = team.tmp.path().join("gone.git");
    std::fs::rename(&team.bare, &moved).expect("remove the remote");

    for err in [
        a.remote()
            .claim(&task("t2"), &dev("alice"), None)
            .expect_err("gone"),
        a.remote().pull(&a.layout).expect_err("gone"),
        a.remote()
            .publish(&a.layout, &dev("alice"))
            .expect_err("gone"),
        a.remote()
            .release(&task("t1"), &dev("alice"), false)
            .expect_err("gone"),
    ] {
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        assert!(
            err.to_string().contains("\"origin\" is unreachable"),
            "{err}"
        );
    }
    // Without the network: the claim is still recorded, the view is the last pull's.
    let status = a.remote().status(&a.layout).expect("status offline");
    assert_eq!(status.claims.len(), 1);
    assert_eq!(last_pull(&a.layout, "origin").expect("read"), Some(pulled));

    std::fs::rename(&moved, &team.bare).expect("restore");
    a.remote()
        .release(&task("t1"), &dev("alice"), false)
        .expect("release once back");
    assert_eq!(team.refs(), "");
}

#[test]
fn a_remote_of_another_format_version_is_read_but_never_written() {
    let team = Team::new();
    let a = team.clone("a");
    a.init_dev("alice");
    let empty = a
        .remote()
        .pull(&a.layout)
        .expect("a remote without FlowForge refs");
    assert_eq!((empty.claims, empty.developers), (0, 0));

    let tree = git(
        &team.bare,
        &["hash-object", "-t", "tree", "-w", "/dev/null"],
    );
    let commit = git(&team.bare, &["commit-tree", tree.trim(), "-m", "v2 claim"]);
    git(
        &team.bare,
        &["update-ref", "refs/flowforge/v2/claims/t", commit.trim()],
    );

    let pulled = a.remote().pull(&a.layout).expect("pull");
    assert_eq!(pulled.other_formats, ["v2"]);
    for err in [
        a.remote()
            .claim(&task("t"), &dev("alice"), None)
            .expect_err("refused"),
        a.remote()
            .publish(&a.layout, &dev("alice"))
            .expect_err("refused"),
    ] {
        assert!(
            matches!(&err, Error::OtherFormat { found, .. } if found == "v2"),
            "{err:?}"
        );
    }
    assert!(
        !team.refs().contains("v1"),
        "nothing written in v1 beside v2"
    );
}

#[test]
fn corrupt_claims_and_objects_are_named_and_leave_local_state_alone() {
    let team = Team::new();
    let (a, b) = (team.clone("a"), team.clone("b"));
    // A claim ref whose content is not a claim.
    let blob = crate::support::write_blob(&team.bare, b"not json");
    let listing = format!("100644 blob {blob}\tclaim.json\n");
    let tree =
        flowforge_testkit::git::run_with_input(&team.bare, ["mktree"], Some(listing.as_bytes()))
            .expect("mktree");
    let tree = String::from_utf8_lossy(&tree).trim().to_owned();
    let commit = git(&team.bare, &["commit-tree", &tree, "-m", "bad"]);
    git(
        &team.bare,
        &["update-ref", "refs/flowforge/v1/claims/bad", commit.trim()],
    );
    let err = a.remote().holder(&task("bad")).expect_err("corrupt");
    assert!(
        matches!(&err, Error::Corrupt { reference, .. } if reference.ends_with("claims/bad")),
        "{err:?}"
    );
    let pulled = a.remote().pull(&a.layout).expect("pull reports, not fails");
    assert_eq!(pulled.problems.len(), 1, "{:?}", pulled.problems);
    assert!(pulled.problems[0].contains("claims/bad"));

    // A corrupt object on the remote: the fetch fails, the clone's refs are untouched.
    a.remote()
        .claim(&task("good"), &dev("alice"), None)
        .expect("claim");
    let oid = git(&team.bare, &["rev-parse", "refs/flowforge/v1/claims/good"]);
    let oid = oid.trim();
    let path = team.bare.join("objects").join(&oid[..2]).join(&oid[2..]);
    assert!(
        path.exists(),
        "small pushes are unpacked into loose objects"
    );
    let mut perms = std::fs::metadata(&path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&path, perms).expect("chmod");
    std::fs::write(&path, b"corrupt").expect("corrupt the object");
    let before = b.local_refs();
    let err = b.remote().pull(&b.layout).expect_err("corrupt object");
    assert!(matches!(err, Error::Git { .. }), "{err:?}");
    assert_eq!(b.local_refs(), before);
    assert_eq!(last_pull(&b.layout, "origin").expect("read"), None);
}

#[test]
fn an_authentication_failure_is_named_as_such() {
    let team = Team::new();
    let a = team.clone("a");
    // An ssh remote whose ssh refuses our key, as a server would.
    let ssh = team.tmp.path().join("fake-ssh");
    std::fs::write(
        &ssh,
        "#!/bin/sh\necho 'git@example.invalid: Permission denied (publickey).' >&2\nexit 255\n",
    )
    .expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&ssh)
        .status()
        .expect("chmod");
    git(
        &a.dir,
        &["config", "core.sshCommand", ssh.to_str().expect("utf-8")],
    );
    git(
        &a.dir,
        &[
            "remote",
            "set-url",
            "origin",
            "ssh://git@example.invalid/team.git",
        ],
    );
    let err = a
        .remote()
        .claim(&task("t"), &dev("alice"), None)
        .expect_err("refused");
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("authentication to the git remote \"origin\" failed"),
        "{err}"
    );
    let err = a.remote().pull(&a.layout).expect_err("refused");
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(!a.local_refs().contains("flowforge"));
}
