use std::{fs, os::unix::fs::PermissionsExt};

use super::*;

fn store(dir: &Path) -> Store {
    Store::new(
        dir,
        StoreOptions {
            compaction: None,
            ..StoreOptions::relaxed()
        },
    )
}

#[test]
fn create_get_swap_delete_and_recreate() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let key = Key::new("doc").unwrap();
    assert_eq!(store.get::<String>(&key).unwrap(), None);
    assert_eq!(store.generation(&key).unwrap(), 0);
    let v1 = store
        .create(&key, &"a".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    assert_eq!(v1.get(), 1);
    match store.create(&key, &"b".to_owned()).unwrap() {
        Cas::Conflict(Some(current)) => assert_eq!(current.value, "a"),
        other => panic!("create over an existing key: {other:?}"),
    }
    let v2 = store
        .compare_and_swap(&key, Some(v1), &"b".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    assert!(
        store
            .delete::<String>(&key, v1)
            .unwrap()
            .swapped()
            .is_none()
    );
    let v3 = store.delete::<String>(&key, v2).unwrap().swapped().unwrap();
    assert_eq!(store.get::<String>(&key).unwrap(), None);
    assert_eq!(store.generation(&key).unwrap(), v3.get());
    let v4 = store
        .create(&key, &"c".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    assert_eq!(v4.get(), 4);
    let history: Vec<_> = store
        .history::<String>(&key)
        .unwrap()
        .into_iter()
        .map(|h| (h.generation, h.value))
        .collect();
    assert_eq!(
        history,
        [
            (1, Some("a".to_owned())),
            (2, Some("b".to_owned())),
            (3, None),
            (4, Some("c".to_owned()))
        ]
    );
    let dir = store.key_dir(&key);
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for g in 1..=4 {
        let path = generation::version_path(&dir, g);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn a_corrupt_version_names_the_file_and_other_keys_keep_working() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let (bad, good) = (Key::new("bad").unwrap(), Key::new("good").unwrap());
    let v1 = store.create(&bad, &1u32).unwrap().swapped().unwrap();
    store.create(&good, &1u32).unwrap().swapped().unwrap();
    let path = generation::version_path(&store.key_dir(&bad), 2);
    fs::write(&path, "{\"generation\":2,\"val").unwrap();
    let err = store.get::<u32>(&bad).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    // A file claiming another generation is corrupt too.
    fs::write(&path, "{\"generation\":7,\"value\":3}").unwrap();
    assert!(matches!(store.get::<u32>(&bad), Err(Error::Corrupt { .. })));
    assert_eq!(store.get::<u32>(&good).unwrap().unwrap().value, 1);
    assert!(store.update(&good, |n| Ok(n.unwrap() + 1)).is_ok());
    // The stale version cannot overwrite it; the writer that knows the head can.
    assert!(matches!(
        store.compare_and_swap(&bad, Some(v1), &5u32),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn oversized_documents_are_refused_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let key = Key::new("big").unwrap();
    let big = "x".repeat(DEFAULT_MAX_DOCUMENT_BYTES as usize);
    assert!(matches!(
        store.create(&key, &big),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(store.generation(&key).unwrap(), 0);
    // Nor is one written by something else read whole.
    store
        .create(&key, &"small".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    let path = generation::version_path(&store.key_dir(&key), 2);
    fs::write(&path, format!("{{\"generation\":2,\"value\":\"{big}\"}}")).unwrap();
    assert!(matches!(
        store.get::<String>(&key),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn compaction_keeps_the_last_k_and_removes_stray_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let key = Key::new("k").unwrap();
    for i in 0..50u32 {
        store.update(&key, |_| Ok(i)).unwrap();
    }
    let dir = store.key_dir(&key);
    // A writer that died mid-write, and one of this (live) process.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    fs::write(
        dir.join(format!(".tmp-{dead}-0-{}", generation::file_name(51))),
        "partial",
    )
    .unwrap();
    let live = format!(
        ".tmp-{}-0-{}",
        std::process::id(),
        generation::file_name(51)
    );
    fs::write(dir.join(&live), "partial").unwrap();
    let report = store.compact(&key, 5).unwrap();
    assert_eq!(report.latest, 50);
    assert_eq!(report.removed_versions, 45);
    assert_eq!(report.removed_temp_files, 1);
    let kept: Vec<u64> = store
        .history::<u32>(&key)
        .unwrap()
        .iter()
        .map(|h| h.generation)
        .collect();
    assert_eq!(kept, (46..=50).collect::<Vec<_>>());
    assert!(dir.join(&live).exists(), "a live writer's file stays");
    fs::remove_file(dir.join(&live)).unwrap();
    assert_eq!(store.get::<u32>(&key).unwrap().unwrap().value, 49);
    store.update(&key, |n| Ok(n.unwrap() + 1)).unwrap();
    assert_eq!(store.get::<u32>(&key).unwrap().unwrap().version.get(), 51);
}

#[test]
fn automatic_compaction_keeps_the_directory_small() {
    let tmp = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compaction: Some(Compaction { keep: 4, every: 8 }),
        ..StoreOptions::relaxed()
    };
    let store = Store::new(tmp.path(), options);
    let key = Key::new("k").unwrap();
    for _ in 0..100 {
        store
            .update(&key, |n: Option<&u32>| Ok(n.copied().unwrap_or(0) + 1))
            .unwrap();
    }
    let files = fs::read_dir(store.key_dir(&key)).unwrap().count();
    // Versions, HEAD, FLOOR and the spare slots.
    let bound = 4 + 8 + 2 + generation::SPARES as usize;
    assert!(files <= bound, "{files} files");
    assert_eq!(store.get::<u32>(&key).unwrap().unwrap().value, 100);
}

/// The inode numbers of the files in `dir`.
fn inodes(dir: &std::path::Path) -> std::collections::BTreeSet<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().ino())
        .collect()
}

/// A store in `tmp` with options `options` whose key `k` was counted up `times` times.
fn counted(tmp: &Path, options: StoreOptions, times: u64) -> (Store, Key) {
    let store = Store::new(tmp, options);
    let key = Key::new("k").unwrap();
    count_up(&store, &key, times);
    (store, key)
}

fn count_up(store: &Store, key: &Key, times: u64) {
    for _ in 0..times {
        store
            .update(key, |n: Option<&u32>| Ok(n.copied().unwrap_or(0) + 1))
            .unwrap();
    }
}

/// The spares in `key`'s directory, by name.
fn spare_names(store: &Store, key: &Key) -> Vec<String> {
    spares_in(&store.key_dir(key))
}

/// The spares in the key directory `dir`, by name.
fn spares_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| generation::is_spare(n.as_ref()))
        .collect();
    names.sort();
    names
}

/// Whether there are spares and every one's name starts with `prefix`.
fn all_named(names: &[String], prefix: &str) -> bool {
    !names.is_empty() && names.iter().all(|n| n.starts_with(prefix))
}

/// Directory flushes made by this thread while `f` runs.
fn dir_syncs(f: impl FnOnce()) -> u64 {
    let before = crate::fs::DIR_SYNCS.with(std::cell::Cell::get);
    f();
    crate::fs::DIR_SYNCS.with(std::cell::Cell::get) - before
}

#[test]
fn a_durable_writer_flushes_before_rewriting_a_spare_only_when_its_move_may_not_be_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    // A relaxed writer's compactions make spares whose moves may not be on disk.
    let (relaxed, key) = counted(tmp.path(), StoreOptions::relaxed(), 2 * generation::SPARES);
    let plain = spare_names(&relaxed, &key);
    assert!(!plain.is_empty());
    assert!(
        plain
            .iter()
            .all(|n| n.starts_with(generation::SPARE_PREFIX)),
        "{plain:?}"
    );

    // A durable writer taking one flushes the directory before rewriting it, and after
    // publishing: two flushes (generation 17: no compaction).
    let sync = Store::new(tmp.path(), StoreOptions::default());
    assert_eq!(dir_syncs(|| count_up(&sync, &key, 1)), 2);
    assert_eq!(
        spare_names(&sync, &key).len(),
        plain.len() - 1,
        "it took a spare"
    );

    // Its own compactions (at 20, 24) make durable spares, which the next writers rewrite
    // with the publishing flush only.
    count_up(&sync, &key, 7);
    let durable = spare_names(&sync, &key);
    assert!(
        durable
            .iter()
            .any(|n| n.starts_with(generation::DURABLE_SPARE_PREFIX)),
        "{durable:?}"
    );
    let mut one_flush = 0;
    for _ in 0..generation::SPARES {
        let before = spare_names(&sync, &key);
        let flushes = dir_syncs(|| count_up(&sync, &key, 1));
        let after = spare_names(&sync, &key);
        let took_durable = before
            .iter()
            .any(|n| n.starts_with(generation::DURABLE_SPARE_PREFIX) && !after.contains(n));
        let latest = sync.generation(&key).unwrap();
        if took_durable && latest % 4 != 0 {
            assert_eq!(flushes, 1, "generation {latest}: {before:?} then {after:?}");
            one_flush += 1;
        }
    }
    assert!(one_flush > 0, "durable spares were taken");
    assert_eq!(
        u64::from(sync.get::<u32>(&key).unwrap().unwrap().value),
        sync.generation(&key).unwrap()
    );
}

#[test]
fn a_durable_compaction_names_its_spares_durable_only_after_the_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dir = tmp.path().join("k");
    let store = Store::new(tmp.path(), StoreOptions::default()).with_pause({
        let seen = Arc::clone(&seen);
        move |at, _| {
            if at == PausePoint::SparesFlushed {
                seen.lock().unwrap().push(spares_in(&dir));
            }
        }
    });
    let key = Key::new("k").unwrap();
    count_up(&store, &key, 12);
    // Two compactions (at 8 and 12; the one at 4 had nothing to drop) flushed their moves; at that point the moved versions were plain
    // spares, named durable only afterwards.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for names in &seen {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(generation::SPARE_PREFIX)),
            "{names:?}"
        );
    }
    let names = spare_names(&store, &key);
    assert!(
        all_named(&names, generation::DURABLE_SPARE_PREFIX),
        "{names:?}"
    );
    // A relaxed store's compactions make plain spares only.
    let tmp = tempfile::tempdir().unwrap();
    let (relaxed, key) = counted(tmp.path(), StoreOptions::relaxed(), 8);
    let names = spare_names(&relaxed, &key);
    assert!(all_named(&names, generation::SPARE_PREFIX), "{names:?}");
}

#[test]
fn history_with_a_version_file_far_past_the_others_reads_what_was_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key) = counted(tmp.path(), StoreOptions::relaxed(), 3);
    // A file named like a version no writer made: generation 2^64 - 1.
    let far = generation::file_name(u64::MAX);
    fs::write(
        store.key_dir(&key).join(&far),
        format!("{{\"generation\":{},\"value\":7}}\n", u64::MAX),
    )
    .unwrap();
    fs::set_permissions(
        store.key_dir(&key).join(&far),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // Read on another thread: reading every generation up to it would not end.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = store.clone();
    let key2 = key.clone();
    std::thread::spawn(move || {
        let _ = tx.send(reader.history::<u32>(&key2).map(|h| {
            h.iter()
                .map(|r| (r.generation, r.value))
                .collect::<Vec<_>>()
        }));
    });
    let history = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("history returns")
        .unwrap();
    assert_eq!(
        history,
        [
            (1, Some(1)),
            (2, Some(2)),
            (3, Some(3)),
            (u64::MAX, Some(7))
        ]
    );
}

#[test]
fn generation_stat_names_the_latest_version_file_whatever_this_process_saw() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let (store, key) = counted(tmp.path(), StoreOptions::relaxed(), 5);
    let dir = store.key_dir(&key);
    let ino = |g: u64| {
        fs::symlink_metadata(dir.join(generation::file_name(g)))
            .unwrap()
            .ino()
    };
    let seen = |store: &Store| {
        let (g, st) = store.generation_stat(&key).unwrap();
        (g, st.map(|st| st.ino))
    };
    // What this process wrote last is still the latest.
    assert_eq!(seen(&store), (5, Some(ino(5))));
    // Another process wrote 6 (a copy of 5 under the next name, as a writer would publish).
    fs::write(
        dir.join(generation::file_name(6)),
        fs::read_to_string(dir.join(generation::file_name(5)))
            .unwrap()
            .replace("\"generation\":5", "\"generation\":6"),
    )
    .unwrap();
    assert_eq!(seen(&store), (6, Some(ino(6))));
    // A process that saw nothing yet.
    generation::forget(&dir);
    assert_eq!(seen(&store), (6, Some(ino(6))));
    // And a key never written.
    let never = Key::new("never").unwrap();
    assert_eq!(store.generation_stat(&never).unwrap(), (0, None));
}

#[test]
fn a_sync_store_reuses_spares_and_every_version_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key) = counted(tmp.path(), StoreOptions::default(), 3 * generation::SPARES);
    assert_eq!(
        u64::from(store.get::<u32>(&key).unwrap().unwrap().value),
        3 * generation::SPARES
    );
    for head in store.history::<u32>(&key).unwrap() {
        assert_eq!(u64::from(head.value.unwrap()), head.generation);
    }
}

#[test]
fn a_document_shrinking_across_a_block_keeps_its_spares_block_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path(), StoreOptions::relaxed());
    let key = Key::new("doc").unwrap();
    // Two-block documents until every spare slot holds one, then one-block documents, each
    // rewriting a two-block spare.
    let long = "x".repeat(6000);
    for _ in 0..3 * generation::SPARES {
        store
            .update(&key, |_: Option<&String>| Ok(long.clone()))
            .unwrap();
    }
    let mut padded = 0;
    for i in 0..2 * generation::SPARES {
        let short = format!("short {i}");
        let written = store
            .update(&key, |_: Option<&String>| Ok(short.clone()))
            .unwrap();
        let path = generation::version_path(&store.key_dir(&key), written.version.get());
        let bytes = fs::read(&path).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        let envelope = text.trim_end_matches(' ');
        assert!(envelope.ends_with("}\n"), "{envelope:?}");
        if bytes.len() > envelope.len() {
            assert_eq!(bytes.len(), crate::fs::padded_len(envelope.len()));
            padded += 1;
        }
        // Read back from memory (the cache took the padded file), then from the file.
        let hits = cache_hits();
        assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, short);
        assert_eq!(
            cache_hits(),
            hits + 1,
            "version {} read from memory",
            written.version.get()
        );
        let from_file = store.history::<String>(&key).unwrap();
        let last = from_file.last().unwrap();
        assert_eq!(
            (last.generation, last.value.as_deref()),
            (written.version.get(), Some(&short[..]))
        );
    }
    assert!(padded >= generation::SPARES, "{padded} versions padded");
}

#[test]
fn a_version_is_never_padded_past_the_limit_its_readers_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new("doc").unwrap();
    // Two-block documents under a roomy limit fill the spare slots; a store with a limit of
    // one block then writes one-block documents into them.
    let roomy = Store::new(tmp.path(), StoreOptions::relaxed());
    let long = "x".repeat(6000);
    let mut version = None;
    for _ in 0..3 * generation::SPARES {
        let written = roomy.update(&key, |_: Option<&String>| Ok(long.clone()));
        version = Some(written.unwrap().version);
    }
    let tight = Store::new(
        tmp.path(),
        StoreOptions {
            max_document_bytes: 4096,
            ..StoreOptions::relaxed()
        },
    );
    // Swapped from the version known (reading the latest, too long now, is refused).
    for i in 0..2 * generation::SPARES {
        let short = format!("short {i}");
        let written = tight.compare_and_swap(&key, version, &short).unwrap();
        let written = written.swapped().unwrap();
        version = Some(written);
        let path = generation::version_path(&tight.key_dir(&key), written.get());
        let len = fs::metadata(&path).unwrap().len();
        assert!(len <= 4096, "version {} is {len} bytes", written.get());
        assert_eq!(tight.get::<String>(&key).unwrap().unwrap().value, short);
    }
}

#[test]
fn a_planted_fifo_or_second_link_in_a_spare_slot_is_never_rewritten() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let (store, key) = counted(tmp.path(), StoreOptions::relaxed(), 2 * generation::SPARES);
    // Every slot holds something a writer must not write into: fifos (an open for writing
    // would block) and a second link to a file outside the store.
    let dir = store.key_dir(&key);
    let victim = tmp.path().join("victim");
    fs::write(&victim, "untouched").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    for n in 0..generation::SPARES {
        let slot = dir.join(generation::spare_name(n));
        let _ = fs::remove_file(&slot);
        if n == 0 {
            fs::hard_link(&victim, &slot).unwrap();
        } else {
            let made = std::process::Command::new("mkfifo")
                .arg(&slot)
                .status()
                .unwrap();
            assert!(made.success());
        }
    }
    count_up(&store, &key, 2 * generation::SPARES);
    assert_eq!(
        u64::from(store.get::<u32>(&key).unwrap().unwrap().value),
        4 * generation::SPARES
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    for head in store.history::<u32>(&key).unwrap() {
        assert_eq!(u64::from(head.value.unwrap()), head.generation);
    }
    // No version is a fifo.
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.bytes().all(|b| b.is_ascii_digit()) {
            assert!(!entry.file_type().unwrap().is_fifo(), "{name}");
        }
    }
}

#[test]
fn in_steady_state_a_publication_rewrites_a_spare_instead_of_creating_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    // Two rounds of the spare slots: every slot has been filled and taken.
    let (store, key) = counted(tmp.path(), StoreOptions::relaxed(), 2 * generation::SPARES);
    let warm = inodes(&store.key_dir(&key));
    count_up(&store, &key, 100);
    let later = inodes(&store.key_dir(&key));
    assert!(
        later.is_subset(&warm),
        "files were created: {:?}",
        later.difference(&warm).collect::<Vec<_>>()
    );
    let latest = store.get::<u32>(&key).unwrap().unwrap();
    assert_eq!(latest.value, 116);
    // Every version kept reads back as written, whatever file it was rewritten into.
    for head in store.history::<u32>(&key).unwrap() {
        assert_eq!(u64::from(head.value.unwrap()), head.generation);
    }
    // gc-style compaction removes the spares with the superseded versions.
    let report = store.compact(&key, 1).unwrap();
    assert!(report.removed_spares >= 1, "{report:?}");
    let left: Vec<_> = fs::read_dir(store.key_dir(&key))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(generation::SPARE_PREFIX))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(store.get::<u32>(&key).unwrap().unwrap().value, 116);
}

#[test]
fn threads_contending_on_one_key_lose_no_increment() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path(), StoreOptions::relaxed());
    let key = Key::new("counter").unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    store
                        .update(&key, |n: Option<&u64>| Ok(n.copied().unwrap_or(0) + 1))
                        .unwrap();
                }
            });
        }
    });
    let got = store.get::<u64>(&key).unwrap().unwrap();
    assert_eq!((got.value, got.version.get()), (400, 400));
}

mod model {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Get(u8),
        Create(u8, u32),
        /// Compare-and-swap expecting the current version (or one generation behind it when
        /// `stale`).
        Cas {
            key: u8,
            value: u32,
            stale: bool,
        },
        Delete {
            key: u8,
            value: u32,
            stale: bool,
        },
        Update(u8, u32),
        Compact(u8, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0u8..3;
        prop_oneof![
            key.clone().prop_map(Op::Get),
            (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Create(k, v)),
            (key.clone(), any::<u32>(), any::<bool>()).prop_map(|(key, value, stale)| Op::Cas {
                key,
                value,
                stale
            }),
            (key.clone(), any::<bool>()).prop_map(|(key, stale)| Op::Delete {
                key,
                value: 0,
                stale
            }),
            (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Update(k, v)),
            (key, 1u64..4).prop_map(|(k, keep)| Op::Compact(k, keep)),
        ]
    }

    /// The model: per key, the latest generation and the live value (None: absent/deleted).
    type Model = BTreeMap<u8, (u64, Option<u32>)>;

    fn version_of(model: &Model, k: u8) -> Option<u64> {
        model.get(&k).and_then(|(g, v)| v.map(|_| *g))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn the_store_agrees_with_an_in_memory_model(ops in proptest::collection::vec(op(), 1..40)) {
            let tmp = tempfile::tempdir().unwrap();
            let store = store(tmp.path());
            let key = |k: u8| Key::new(&format!("k{k}")).unwrap();
            let mut model = Model::new();
            // Per key, the oldest generation compaction keeps.
            let mut floors: BTreeMap<u8, u64> = BTreeMap::new();
            // Versions the store handed out, to replay stale ones.
            let mut seen: BTreeMap<(u8, u64), Version> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Get(k) => {
                        let got = store.get::<u32>(&key(k)).unwrap();
                        let want = model.get(&k).and_then(|(g, v)| v.map(|v| (v, *g)));
                        prop_assert_eq!(got.map(|g| (g.value, g.version.get())), want);
                    }
                    Op::Create(k, v) => {
                        let entry = model.entry(k).or_insert((0, None));
                        let outcome = store.create(&key(k), &v).unwrap();
                        if entry.1.is_none() {
                            entry.0 += 1;
                            entry.1 = Some(v);
                            let version = outcome.swapped().unwrap();
                            prop_assert_eq!(version.get(), entry.0);
                            seen.insert((k, version.get()), version);
                        } else {
                            prop_assert_eq!(outcome, Cas::Conflict(Some(Versioned {
                                value: entry.1.unwrap(),
                                version: Version(entry.0),
                            })));
                        }
                    }
                    Op::Cas { key: k, value, stale } | Op::Delete { key: k, value, stale } if version_of(&model, k).is_some() => {
                        let current = version_of(&model, k).unwrap();
                        let expected = if stale {
                            match seen.range((k, 0)..(k, current)).next_back() {
                                Some((_, v)) => *v,
                                None => continue,
                            }
                        } else {
                            seen[&(k, current)]
                        };
                        let is_delete = matches!(op, Op::Delete { .. });
                        let outcome = if is_delete {
                            store.delete::<u32>(&key(k), expected).unwrap()
                        } else {
                            store.compare_and_swap(&key(k), Some(expected), &value).unwrap()
                        };
                        if stale {
                            prop_assert!(outcome.swapped().is_none());
                        } else {
                            let version = outcome.swapped().unwrap();
                            prop_assert_eq!(version.get(), current + 1);
                            let new = if is_delete { None } else { Some(value) };
                            model.insert(k, (current + 1, new));
                            seen.insert((k, version.get()), version);
                        }
                    }
                    Op::Cas { .. } | Op::Delete { .. } => {}
                    Op::Update(k, v) => {
                        let got = store.update(&key(k), |old: Option<&u32>| Ok(old.copied().unwrap_or(0).wrapping_add(v))).unwrap();
                        let entry = model.entry(k).or_insert((0, None));
                        entry.0 += 1;
                        entry.1 = Some(entry.1.unwrap_or(0).wrapping_add(v));
                        prop_assert_eq!((got.value, got.version.get()), (entry.1.unwrap(), entry.0));
                        seen.insert((k, got.version.get()), got.version);
                    }
                    Op::Compact(k, keep) => {
                        store.compact(&key(k), keep).unwrap();
                        let latest = model.get(&k).map_or(0, |e| e.0);
                        let floor = floors.entry(k).or_insert(1);
                        *floor = (*floor).max((latest + 1).saturating_sub(keep));
                        let kept: Vec<u64> = store.history::<u32>(&key(k)).unwrap().iter().map(|h| h.generation).collect();
                        prop_assert_eq!(kept, (*floor..=latest).collect::<Vec<_>>());
                    }
                }
                for (k, (g, _)) in &model {
                    prop_assert_eq!(store.generation(&key(*k)).unwrap(), *g);
                }
            }
        }
    }
}

#[test]
fn readers_racing_compaction_see_whole_increasing_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let key = Key::new("k").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            struct Done<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _done = Done(&done);
            for _ in 0..150 {
                store
                    .update(&key, |n: Option<&u64>| Ok(n.copied().unwrap_or(0) + 1))
                    .unwrap();
            }
        });
        // Compaction leaves the live writer's temporary files alone.
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                store.compact(&key, 1).unwrap();
                std::thread::yield_now();
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                let mut last = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Some(v) = store.get::<u64>(&key).unwrap() {
                        assert_eq!(v.value, v.version.get(), "a whole version");
                        assert!(v.value >= last, "never older than what was seen");
                        last = v.value;
                    }
                }
            });
        }
    });
    assert_eq!(store.get::<u64>(&key).unwrap().unwrap().value, 150);
    store.compact(&key, 1).unwrap();
    assert_eq!(store.history::<u64>(&key).unwrap().len(), 1);
}

#[test]
fn a_provisioned_floor_is_raised_in_place_and_then_bars_a_second_generation_one() {
    for options in [StoreOptions::relaxed(), StoreOptions::default()] {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path(), options);
        let key = Key::new("k").unwrap();
        store.provision_spares(&key).unwrap();
        let dir = store.open_key(&key).unwrap().unwrap();
        let floor = tmp.path().join("k").join(generation::FLOOR);
        let provisioned = fs::metadata(&floor).unwrap();
        assert_eq!(provisioned.len(), 0);
        // Empty, it says nothing was removed: generation 1 may be published.
        assert!(generation::base_stands(&dir, 1).unwrap());
        count_up(&store, &key, 3 * generation::SPARES);
        // Compaction removed versions after raising the floor in the same file.
        use std::os::unix::fs::MetadataExt;
        let raised = fs::metadata(&floor).unwrap();
        assert_eq!(raised.ino(), provisioned.ino());
        let value: u64 = fs::read_to_string(&floor).unwrap().trim().parse().unwrap();
        assert!(value > 1, "{value}");
        assert!(!generation::exists(&dir, 1));
        assert!(!generation::base_stands(&dir, 1).unwrap());
        assert_eq!(
            u64::from(store.get::<u32>(&key).unwrap().unwrap().value),
            3 * generation::SPARES
        );
    }
}

#[test]
fn head_is_written_at_a_key_s_first_write_and_at_each_compaction_and_found_past_anyway() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path(), StoreOptions::relaxed());
    let every = Compaction::default().every;
    let key = Key::new("counter").unwrap();
    let head = || {
        fs::read_to_string(store.key_dir(&key).join(generation::HINT))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    for n in 1..=every + 2 {
        store
            .update(&key, |c: Option<&u64>| Ok(c.copied().unwrap_or(0) + 1))
            .unwrap();
        let expected = if n < every { 1 } else { every };
        assert_eq!(head(), expected, "after {n} writes");
    }
    // Another process (one that remembers nothing) probes up from the lagging `HEAD`.
    generation::forget(&store.key_dir(&key));
    assert_eq!(store.generation(&key).unwrap(), every + 2);
    let read = store.get::<u64>(&key).unwrap().unwrap();
    assert_eq!((read.value, read.version.get()), (every + 2, every + 2));
}

/// Reads of this thread answered from the in-memory copy of a key's latest version.
fn cache_hits() -> u64 {
    cache::HITS.with(std::cell::Cell::get)
}

/// A store under `dir` whose key `doc` holds `"aaaa"` at version 1, and that version's file.
fn one_version_of_aaaa(dir: &Path) -> (Store, Key, Version, PathBuf) {
    let store = Store::new(dir, StoreOptions::relaxed());
    let key = Key::new("doc").unwrap();
    let v1 = store
        .create(&key, &"aaaa".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    let path = generation::version_path(&store.key_dir(&key), v1.get());
    (store, key, v1, path)
}

/// Replaces `from` by `to` (same length) in the file at `path` in place, and sets its
/// modification time back; returns the new text.
fn edit_in_place(path: &Path, from: &str, to: &str) -> String {
    let edited = fs::read_to_string(path).unwrap().replace(from, to);
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, edited.as_bytes(), 0).unwrap();
    file.set_modified(std::time::UNIX_EPOCH).unwrap();
    edited
}

#[test]
fn a_version_just_written_or_read_is_read_back_from_memory_until_its_file_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key, v1, path) = one_version_of_aaaa(tmp.path());

    // The version just written: nothing read.
    let hits = cache_hits();
    assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, "aaaa");
    assert_eq!(cache_hits(), hits + 1);

    // Edited in place, same length, its modification time set back: read from the file.
    let edited = edit_in_place(&path, "aaaa", "bbbb");
    assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, "bbbb");
    assert_eq!(cache_hits(), hits + 1);
    // A read of an unchanged file is kept in turn.
    assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, "bbbb");
    assert_eq!(cache_hits(), hits + 2);

    // Replaced by another file (another inode) with other bytes: read from the file.
    let other = tmp.path().join("other");
    fs::write(&other, edited.replace("bbbb", "cccc")).unwrap();
    fs::rename(&other, &path).unwrap();
    assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, "cccc");
    assert_eq!(cache_hits(), hits + 2);

    // A newer generation published by someone else (written here by hand): it is read.
    let next = generation::version_path(&store.key_dir(&key), v1.get() + 1);
    fs::write(&next, "{\"generation\":2,\"value\":\"dddd\"}\n").unwrap();
    let current = store.get::<String>(&key).unwrap().unwrap();
    assert_eq!((current.value.as_str(), current.version.get()), ("dddd", 2));

    // Removed and made again from generation 1: the new file is read.
    fs::remove_dir_all(store.key_dir(&key)).unwrap();
    assert_eq!(store.get::<String>(&key).unwrap(), None);
    fs::create_dir(store.key_dir(&key)).unwrap();
    fs::write(&path, "{\"generation\":1,\"value\":\"eeee\"}\n").unwrap();
    assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, "eeee");
}

#[test]
fn a_shared_read_parses_a_version_once_and_never_hands_out_a_changed_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key, v1, path) = one_version_of_aaaa(tmp.path());

    // Parsed once, then shared.
    let (version, first) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!((version, first.as_str()), (v1, "aaaa"));
    let (_, again) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    // Another type reads the same bytes as itself.
    let as_value = store
        .get_shared::<serde_json::Value>(&key)
        .unwrap()
        .unwrap();
    assert_eq!(*as_value.1, serde_json::json!("aaaa"));

    // Edited in place, same length, its modification time set back: parsed from the file.
    edit_in_place(&path, "aaaa", "bbbb");
    let (_, edited) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(edited.as_str(), "bbbb");

    // A version this process published and shared: handed out without parsing.
    let v2 = store
        .compare_and_swap(&key, Some(v1), &"cccc".to_owned())
        .unwrap()
        .swapped()
        .unwrap();
    let published = Arc::new("cccc".to_owned());
    store.share_published(&key, v2, published.clone());
    let (version, shared) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(version, v2);
    assert!(Arc::ptr_eq(&shared, &published));
    // Sharing a version that is not the one kept changes nothing.
    store.share_published(&key, v1, Arc::new("zzzz".to_owned()));
    assert_eq!(
        store
            .get_shared::<String>(&key)
            .unwrap()
            .unwrap()
            .1
            .as_str(),
        "cccc"
    );

    // A newer generation published by someone else (written here by hand): it is read.
    let next = generation::version_path(&store.key_dir(&key), v2.get() + 1);
    fs::write(&next, "{\"generation\":3,\"value\":\"dddd\"}\n").unwrap();
    let (version, newer) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!((version.get(), newer.as_str()), (3, "dddd"));
}

/// A read to change the value takes it from the cache: the caller holds it alone (changing it
/// copies nothing), the cache keeps the bytes, and the next shared read parses them again; a
/// change published and shared is handed out as published, and taken alone again.
#[test]
fn a_read_to_change_takes_the_parsed_value_and_leaves_the_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key, v1, _) = one_version_of_aaaa(tmp.path());
    let (_, shared) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(Arc::strong_count(&shared), 2, "the cache shares it");

    let (version, taken) = store.take_shared::<String>(&key).unwrap().unwrap();
    assert_eq!((version, taken.as_str()), (v1, "aaaa"));
    assert!(Arc::ptr_eq(&taken, &shared));
    drop(shared);
    assert_eq!(Arc::strong_count(&taken), 1, "the cache gave it up");
    // Taken again: parsed from the bytes kept, still alone.
    let hits = cache_hits();
    let (_, again) = store.take_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(cache_hits(), hits + 1, "answered from the cache's bytes");
    assert!(!Arc::ptr_eq(&again, &taken));
    assert_eq!((again.as_str(), Arc::strong_count(&again)), ("aaaa", 1));
    // A shared read parses them again, and shares what it parsed.
    let (_, reparsed) = store.get_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(
        (reparsed.as_str(), Arc::strong_count(&reparsed)),
        ("aaaa", 2)
    );

    // Changed and published: the change is what the next read to change takes, alone.
    let mut changed = Arc::unwrap_or_clone(again);
    changed.push_str("-b");
    let v2 = store
        .compare_and_swap(&key, Some(v1), &changed)
        .unwrap()
        .swapped()
        .unwrap();
    store.share_published(&key, v2, Arc::new(changed));
    let (version, taken) = store.take_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(
        (version, taken.as_str(), Arc::strong_count(&taken)),
        (v2, "aaaa-b", 1)
    );

    // The file edited in place under the bytes kept: read from the file, never the bytes.
    let v2_path = generation::version_path(&store.key_dir(&key), v2.get());
    edit_in_place(&v2_path, "aaaa-b", "cccc-d");
    let (_, edited) = store.take_shared::<String>(&key).unwrap().unwrap();
    assert_eq!(edited.as_str(), "cccc-d");
}

/// What a session cycle reads right after it wrote it — a time tracking document with the
/// fields it keeps in `extra` — is handed out as the value published, which is what the file
/// parses to; and once the file is edited, the edit.
#[test]
fn a_value_published_and_shared_is_read_back_as_its_file_parses() {
    use flowforge_core::model::{TimeEntry, TimeTracking};
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path(), StoreOptions::relaxed());
    let key = Key::new("time-tracking").unwrap();
    let entry = |id: &str, minutes| TimeEntry {
        session_id: Some(id.to_owned()),
        task_id: None,
        minutes,
        recorded_at: "2025-09-18T10:00:00.123456789Z".parse().unwrap(),
        extra: serde_json::Map::new(),
    };
    let mut tracking = TimeTracking {
        total_minutes: 0,
        sessions: vec![entry("s-aaaa", 7), entry("s-other", 5)],
        extra: serde_json::Map::new(),
    };
    tracking.extra.insert("totalTime".to_owned(), 0.into());
    tracking
        .extra
        .insert("sealed_segments".to_owned(), 3.into());
    tracking.set_total_minutes(12);
    let version = store
        .compare_and_swap_shared(&key, None, &tracking)
        .unwrap()
        .swapped()
        .unwrap();

    let (read, again) = (
        store.get_shared::<TimeTracking>(&key).unwrap().unwrap(),
        store.get_shared::<TimeTracking>(&key).unwrap().unwrap(),
    );
    assert!(
        Arc::ptr_eq(&read.1, &again.1),
        "shared, not parsed per read"
    );
    let cloned = store.get_cloned::<TimeTracking>(&key).unwrap().unwrap();
    assert_eq!((cloned.version, &cloned.value), (version, &tracking));
    let path = generation::version_path(&store.key_dir(&key), version.get());
    let parsed =
        parse_version::<TimeTracking>(&fs::read(&path).unwrap(), version.get(), || path.clone())
            .unwrap()
            .unwrap();
    assert_eq!(parsed, cloned.value);

    edit_in_place(&path, "s-aaaa", "s-bbbb");
    let edited = store
        .get_cloned::<TimeTracking>(&key)
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(edited.sessions[0].session_id.as_deref(), Some("s-bbbb"));
}

#[test]
fn compactions_read_floor_until_it_says_more_than_one_and_again_once_it_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path(), StoreOptions::relaxed());
    let key = Key::new("k").unwrap();
    let floor = tmp.path().join("k").join(generation::FLOOR);
    let reads = || compact::FLOOR_READS.with(std::cell::Cell::get);
    let value = || -> Option<u64> { fs::read_to_string(&floor).ok()?.trim().parse().ok() };
    let start = reads();
    // Six compactions that remove versions: the first writes FLOOR, the second reads it
    // saying more than 1, the others only look at its name.
    count_up(&store, &key, 7 * generation::SPARES / 2);
    assert!(value().is_some_and(|v| v > 1));
    assert_eq!(reads() - start, 2);

    // Replaced by an empty file: read again, and raised again before the next removal.
    fs::remove_file(&floor).unwrap();
    fs::write(&floor, "").unwrap();
    fs::set_permissions(&floor, fs::Permissions::from_mode(0o600)).unwrap();
    count_up(&store, &key, generation::SPARES);
    assert!(value().is_some_and(|v| v > 1), "{:?}", value());
    assert!(reads() - start > 2);
    assert_eq!(
        u64::from(store.get::<u32>(&key).unwrap().unwrap().value),
        9 * generation::SPARES / 2
    );
}
