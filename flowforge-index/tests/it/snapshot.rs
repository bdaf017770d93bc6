//! The index's snapshot: a warm start when usable, a rebuild when not, and never a namespace
//! file written.

use crate::common;

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use common::*;
use flowforge_index::{Index, SNAPSHOT_FORMAT, StartedFrom};

/// Every file under `root` except the index's own, with its content.
fn namespace_files(root: &Path, skip: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(skip) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(path, Vec::new());
            } else if meta.is_file() {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn snapshot_starts_warm_and_bad_snapshots_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    let before = namespace_files(layout.root(), &layout.index_dir());
    let opened = Index::open(&layout).unwrap();
    assert_eq!(opened.started_from, StartedFrom::NoSnapshot);
    assert_eq!(opened.refresh.reloaded.len(), 3);
    opened.index.save_snapshot().unwrap();
    assert_eq!(
        before,
        namespace_files(layout.root(), &layout.index_dir()),
        "no namespace file was written"
    );
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&layout.index_snapshot()), 0o600);
    assert_eq!(mode(&layout.index_dir()), 0o700);

    let warm = Index::open(&layout).unwrap();
    assert_eq!(warm.started_from, StartedFrom::Snapshot);
    assert!(warm.refresh.reloaded.is_empty() && !warm.refresh.team_reloaded);
    assert_eq!(warm.index.active(), opened.index.active());
    assert_eq!(warm.index.conflicts(), opened.index.conflicts());

    // A change after the snapshot is picked up by the refresh that follows loading it.
    write_dev(&layout, &dev("alice"), &DevSpec::default());
    let after_change = Index::open(&layout).unwrap();
    assert_eq!(after_change.started_from, StartedFrom::Snapshot);
    assert_eq!(after_change.refresh.reloaded, [dev("alice")]);
    assert_eq!(
        after_change.index.active(),
        Index::build(&layout).unwrap().active()
    );

    let good = fs::read(layout.index_snapshot()).unwrap();
    let newline = good.iter().position(|&b| b == b'\n').unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x01;
    let old_format = String::from_utf8(good.clone()).unwrap().replacen(
        &format!("\"format\":{SNAPSHOT_FORMAT}"),
        &format!("\"format\":{}", SNAPSHOT_FORMAT - 1),
        1,
    );
    let other_root = String::from_utf8(good.clone())
        .unwrap()
        .replace(layout.root().to_str().unwrap(), "/elsewhere/.flowforge");
    for (what, bytes) in [
        ("a flipped bit", flipped),
        ("a truncated file", good[..good.len() / 2].to_vec()),
        ("no header", good[newline + 1..].to_vec()),
        ("an old format", old_format.into_bytes()),
        ("another root", other_root.into_bytes()),
        ("garbage", b"\x00\x01garbage".to_vec()),
    ] {
        fs::write(layout.index_snapshot(), &bytes).unwrap();
        let opened = Index::open(&layout).unwrap();
        assert!(
            matches!(opened.started_from, StartedFrom::BadSnapshot(_)),
            "{what}: {:?}",
            opened.started_from
        );
        assert_eq!(
            opened.index.active(),
            Index::build(&layout).unwrap().active(),
            "{what}"
        );
    }
}

/// A snapshot file holding `body`, with a header that matches it (the checksum is FNV-1a 64,
/// meant against damage, not tampering).
fn snapshot_file(body: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(body).unwrap();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in &body {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let header = serde_json::json!({"format": SNAPSHOT_FORMAT, "checksum": format!("{hash:016x}"), "length": body.len()});
    let mut out = serde_json::to_vec(&header).unwrap();
    out.push(b'\n');
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_forged_snapshot_never_makes_an_answer_wrong() {
    // Made elsewhere, from what a forger can know without the victim's file system: a root
    // with no claims and a namespace directory holding nothing, whose stamps would be the same
    // on every machine if they covered only the files.
    let (elsewhere_tmp, victim_tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let elsewhere = flowforge_core::Layout::for_repo(elsewhere_tmp.path());
    let active = DevSpec {
        session: Some((true, Some("t-a".into()), None)),
        ..DevSpec::default()
    };
    write_dev(&elsewhere, &dev("alice"), &active);
    fs::create_dir_all(elsewhere.dev_dir(&dev("ghost"))).unwrap();
    Index::open(&elsewhere)
        .unwrap()
        .index
        .save_snapshot()
        .unwrap();
    let made = fs::read(elsewhere.index_snapshot()).unwrap();
    let newline = made.iter().position(|&b| b == b'\n').unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&made[newline + 1..]).unwrap();

    // The victim: the same names, nobody active, nothing claimed.
    let victim = flowforge_core::Layout::for_repo(victim_tmp.path());
    write_dev(&victim, &dev("alice"), &DevSpec::default());
    fs::create_dir_all(victim.dev_dir(&dev("ghost"))).unwrap();

    // The forgery: a claim by a developer who holds nothing, and ghost active on alice's task.
    body["root"] = serde_json::json!(victim.root());
    body["team"]["claims"]["value"] = serde_json::json!({"t-z": {
        "task": "t-z", "holder": "mallory", "status": "claimed",
        "claimed_at": "2025-09-18T08:00:00Z",
    }});
    let mut state = body["namespaces"]["alice"]["state"].clone();
    state["record"]["developer"] = serde_json::json!("ghost");
    body["namespaces"]["ghost"]["state"] = state;
    fs::create_dir_all(victim.index_dir()).unwrap();
    fs::write(victim.index_snapshot(), snapshot_file(&body)).unwrap();

    let opened = Index::open(&victim).unwrap();
    assert_eq!(
        opened.started_from,
        StartedFrom::Snapshot,
        "the forgery passes every check of the file itself"
    );
    let fresh = Index::build(&victim).unwrap();
    assert_eq!(opened.index.who(&task("t-z")).holder, None);
    assert_eq!(opened.index.who(&task("t-z")), fresh.who(&task("t-z")));
    assert_eq!(opened.index.who(&task("t-a")), fresh.who(&task("t-a")));
    assert!(
        opened.index.active().is_empty(),
        "{:?}",
        opened.index.active()
    );
    assert_eq!(opened.index.problems(), fresh.problems());
}
