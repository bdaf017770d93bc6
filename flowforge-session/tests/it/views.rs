//! Views published by recycling a pooled spare, against real reader processes: a reader that
//! holds an old view open never sees it change, a `cat` loop never sees a part of one, the
//! pool stays bounded and falls back to new files while every spare is held, `gc` keeps a
//! live view's spares and removes the others, a writer killed at any point leaves the live
//! view whole, in steady state the inodes just take turns, and a write renames one pair of
//! names: a spare rewritten in place is exchanged with the live view.

use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead, BufReader, Read, Write},
    os::unix::fs::MetadataExt,
    path::Path,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::atomic::{AtomicBool, Ordering},
};

use flowforge_core::{
    TaskId,
    model::{Session, TimeTracking},
};
use flowforge_session::{AddMinutes, GcOptions, Namespace, SessionOptions, StartOptions};

use crate::processes::{Work, jitter, minutes_writer, setup};

/// The pooled spares of `name` in `dir`.
fn spares(dir: &Path, name: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp-spare-") && n.ends_with(&format!("-{name}")))
        .collect();
    out.sort();
    out
}

/// Temporary files (of a writer, not pooled spares) in `dir`.
fn temporaries(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp-") && !n.starts_with(".tmp-spare-"))
        .count()
}

/// The inode numbers of every entry of `dir`.
fn inodes(dir: &Path) -> BTreeSet<u64> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().ino())
        .collect()
}

/// A reader process that opens `path` now and prints what it reads through that descriptor
/// only when told to: the way a slow `jq` holds the view it opened.
struct HeldReader {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl HeldReader {
    fn open(path: &Path) -> Self {
        let mut child = Command::new("sh")
            .args(["-c", r#"exec 3<"$0" && echo open && read -r _ && cat <&3"#])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "open\n", "the reader has the file open");
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Reads the held file to its end, through the descriptor opened at the start.
    fn finish(mut self) -> Vec<u8> {
        self.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut bytes = Vec::new();
        self.stdout.read_to_end(&mut bytes).unwrap();
        assert!(self.child.wait().unwrap().success());
        bytes
    }
}

impl Drop for HeldReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Changes the active session, and waits until its view shows the change. (A view writer
/// that finds the view's lock taken leaves the view to the holder; in a test binary the
/// holder can be a child process another test is spawning, which holds a copy of this
/// process's descriptors until it `exec`s: then the next write brings the view up.)
fn touch(ns: &Namespace, n: usize) {
    let path = ns.layout().current_session(ns.developer());
    for _ in 0..100 {
        let written = ns
            .update_session(|s| {
                s.metadata.insert("n".to_owned(), n.into());
            })
            .unwrap();
        if shown_session(&path) == written.value {
            return;
        }
    }
    panic!("the view never showed the session");
}

fn shown_session(path: &Path) -> Session {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn started() -> (tempfile::TempDir, flowforge_core::Layout, Namespace) {
    let (tmp, layout, dev) = setup();
    let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
    let task: TaskId = "T-1".parse().unwrap();
    ns.start_session(&task, &StartOptions::default()).unwrap();
    (tmp, layout, ns)
}

#[test]
fn readers_holding_old_views_never_see_them_change_while_writes_go_by() {
    let (_tmp, layout, ns) = started();
    let dev = ns.developer().clone();
    let view = layout.current_session(&dev);
    let dir = layout.sessions_dir(&dev);
    for n in 0..3 {
        touch(&ns, n);
    }
    // Four readers, each holding another version: more than the pool has slots, so the
    // writer finds every spare held for a while and falls back to new files.
    let mut held = Vec::new();
    for round in 0..4 {
        let bytes = fs::read(&view).unwrap();
        held.push((HeldReader::open(&view), bytes));
        for n in 0..50 {
            touch(&ns, 100 * round + n);
            assert!(
                spares(&dir, "current.json").len() <= 3,
                "the pool is bounded"
            );
        }
    }
    for (reader, bytes) in held {
        assert_eq!(reader.finish(), bytes, "the held view never changed");
    }
    assert_eq!(
        shown_session(&view),
        ns.current_session().unwrap().unwrap().value
    );
    assert_eq!(temporaries(&dir), 0);

    // Nobody holds anything now: the spares are rewritten again, and from then on the same
    // inodes take turns — no file created, none deleted.
    touch(&ns, 0);
    let steady = inodes(&dir);
    for n in 1..20 {
        touch(&ns, n);
        assert_eq!(inodes(&dir), steady);
    }
}

#[test]
fn a_cat_loop_reads_every_view_whole_while_it_is_rewritten() {
    let (_tmp, layout, ns) = started();
    let dev = ns.developer().clone();
    let view = layout.current_session(&dev);
    let reader = Command::new("sh")
        .args([
            "-c",
            r#"i=0; while [ $i -lt 400 ]; do cat "$0"; echo '@@'; i=$((i+1)); done"#,
        ])
        .arg(&view)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let done = AtomicBool::new(false);
    let output = std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                // Versions of different lengths, so a mix of two would not parse.
                ns.update_session(|s| {
                    s.metadata
                        .insert("pad".to_owned(), "x".repeat(n % 97).into());
                })
                .unwrap();
                n += 1;
            }
        });
        let output = reader.wait_with_output().unwrap();
        done.store(true, Ordering::Relaxed);
        output
    });
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let reads: Vec<&str> = text.split("@@\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(reads.len(), 400, "every cat read something");
    for read in reads {
        let session: Session = serde_json::from_str(read).unwrap_or_else(|e| {
            panic!("a torn view: {e}\n{read}");
        });
        assert!(session.active);
    }
}

#[test]
fn gc_keeps_the_spares_of_live_views_and_removes_the_others() {
    let (_tmp, layout, ns) = started();
    let dev = ns.developer().clone();
    let dir = layout.sessions_dir(&dev);
    touch(&ns, 1);
    touch(&ns, 2);
    let kept = spares(&dir, "current.json");
    assert!(!kept.is_empty());
    // A spare of a view that is gone, and one beyond the pool's slots.
    fs::write(dir.join(".tmp-spare-0-gone.json"), "{}").unwrap();
    fs::write(dir.join(".tmp-spare-7-current.json"), "{}").unwrap();
    // gc also removes the store's spares (with the versions they were): counted beside.
    let store_spares: usize = [layout.dev_dir(&dev), layout.team_dir()]
        .iter()
        .flat_map(|d| fs::read_dir(d.join("store")).unwrap())
        .flat_map(|key| fs::read_dir(key.unwrap().path()).unwrap())
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with(".spare-") || name.starts_with(".dspare-")
        })
        .count();
    let dry = flowforge_session::gc(&layout, GcOptions { dry_run: true }).unwrap();
    assert_eq!(dry.spare_files, store_spares + 2);
    assert!(dir.join(".tmp-spare-0-gone.json").exists());
    let report = flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(report.spare_files, store_spares + 2);
    assert_eq!(spares(&dir, "gone.json"), Vec::<String>::new());
    assert_eq!(spares(&dir, "current.json"), kept);
    // The view still recycles its spares after gc.
    let steady = inodes(&dir);
    touch(&ns, 3);
    assert_eq!(inodes(&dir), steady);
}

#[test]
fn writers_killed_while_they_rewrite_spares_leave_the_live_view_whole() {
    let (_tmp, layout, dev) = setup();
    let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
    let view = layout.time_tracking(&dev);
    let dir = layout.dev_dir(&dev);
    ns.add_minutes(1, &AddMinutes::default()).unwrap();
    for _ in 0..5 {
        let before = ns.time_tracking().unwrap().unwrap().version.get();
        let work = Work {
            threads: 2,
            adds: 0,
            relaxed: true,
            forever: true,
        };
        let mut child = minutes_writer(&layout, &work);
        // Once it has rewritten the view a few times, at a random point of a rewrite.
        while ns.time_tracking().unwrap().unwrap().version.get() < before + 5 {
            assert!(child.try_wait().unwrap().is_none(), "the writer died");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_micros(jitter(5_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The live view is a whole version; the pool is bounded.
        let shown: TimeTracking = serde_json::from_slice(&fs::read(&view).unwrap()).unwrap();
        let latest = ns.time_tracking().unwrap().unwrap();
        assert!(shown.total_minutes <= latest.value.total_minutes);
        assert!(spares(&dir, "time-tracking.json").len() <= 3);
        // The next write repairs the view (see `touch` for why it may take another).
        let repaired = (0..100).any(|_| {
            let next = ns.add_minutes(1, &AddMinutes::default()).unwrap();
            let shown: TimeTracking = serde_json::from_slice(&fs::read(&view).unwrap()).unwrap();
            shown == next.value
        });
        assert!(repaired);
    }
    // What the killed writers held under temporary names goes with gc; the view recycles.
    flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    assert_eq!(temporaries(&dir), 0);
    ns.add_minutes(1, &AddMinutes::default()).unwrap();
    let steady = inodes(&dir);
    ns.add_minutes(1, &AddMinutes::default()).unwrap();
    assert_eq!(inodes(&dir), steady);
}

#[test]
fn session_cycles_create_and_delete_no_file_from_the_first_one_on() {
    let (_tmp, layout, dev) = setup();
    let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
    let store = layout.dev_dir(&dev).join("store");
    let keys = [store.join("session"), store.join("time-tracking")];
    // `init` gave the keys every cycle writes their spare slots.
    let given: Vec<BTreeSet<u64>> = keys.iter().map(|k| inodes(k)).collect();
    assert!(given.iter().all(|g| g.len() == 9), "{given:?}");
    // And the views every cycle rewrites their pooled spares.
    let view_dirs = [
        layout.sessions_dir(&dev),
        layout.dev_dir(&dev),
        layout.cache_dir(&dev),
        layout.team_dir(),
    ];
    let views_given: Vec<BTreeSet<u64>> = view_dirs.iter().map(|d| inodes(d)).collect();
    let task: TaskId = "T-1".parse().unwrap();
    let cycle = |n: usize| {
        ns.start_session(&task, &StartOptions::default()).unwrap();
        touch(&ns, n);
        ns.end_session().unwrap();
        let cache = flowforge_core::model::GitStatusCache {
            timestamp: i64::try_from(n).unwrap(),
            branch: "main".to_owned(),
            status: String::new(),
            uncommitted_changes: 0,
            untracked_files: 0,
            remote_status: "no-upstream".to_owned(),
            extra: serde_json::Map::new(),
        };
        flowforge_session::compat::write_git_status_cache(&layout, &dev, &cache).unwrap();
    };
    cycle(0);
    // The claim's shard was written for the first time: it got its spare slots then.
    let shard = layout.team_store_dir().join(format!(
        "claims-{:02x}",
        flowforge_session::claim::claim_shard(&task)
    ));
    let shard_given = inodes(&shard);
    assert!(shard_given.len() >= 8, "{shard_given:?}");
    for n in 1..12 {
        cycle(n);
    }
    // Its versions were written into those, and its first compaction wrote the `FLOOR`
    // provisioned with them in place: no file was created.
    let shard_now = inodes(&shard);
    assert_eq!(shard_now, shard_given);
    // The views' first writes took those spares: what their directories gained is the
    // bookkeeping made once (each view's lock, the claims' `.claims` directory), not a file
    // per write.
    for (dir, given) in view_dirs.iter().zip(&views_given) {
        let gained: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| !given.contains(&e.metadata().unwrap().ino()))
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        assert!(
            gained.iter().all(|n| !n.ends_with(".json")),
            "{dir:?} gained {gained:?}"
        );
    }
    // Versions were written into those spares (and `FLOOR` in place): besides them, only
    // the key's small bookkeeping files (`HEAD`, the view's `.lock-view`) were ever created.
    for (key, given) in keys.iter().zip(&given) {
        let now = inodes(key);
        assert!(
            now.difference(given).count() <= 2,
            "{key:?}: {now:?} vs {given:?}"
        );
    }
    // And from then on the same inodes take turns, the views' included (the history keeps
    // one file per ended session).
    let sessions = layout.sessions_dir(&dev);
    let dirs = [
        keys[0].clone(),
        keys[1].clone(),
        sessions.clone(),
        layout.dev_dir(&dev),
    ];
    let before: Vec<_> = dirs.iter().map(|d| inodes(d)).collect();
    for n in 0..12 {
        cycle(n);
    }
    let after: Vec<_> = dirs.iter().map(|d| inodes(d)).collect();
    assert_eq!(after, before);
}

/// The names moved, created or deleted in `dir` while `f` runs, from inotify: `(event, name)`
/// with the event `"moved"`, `"created"` or `"deleted"`.
fn name_events(dir: &Path, f: impl FnOnce()) -> Vec<(&'static str, String)> {
    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
    let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).unwrap();
    let watch =
        WatchFlags::MOVED_FROM | WatchFlags::MOVED_TO | WatchFlags::CREATE | WatchFlags::DELETE;
    inotify::add_watch(&fd, dir, watch).unwrap();
    f();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut reader = inotify::Reader::new(&fd, &mut buf);
    let mut out = Vec::new();
    while let Ok(event) = reader.next() {
        let kind = if event
            .events()
            .intersects(ReadFlags::MOVED_FROM | ReadFlags::MOVED_TO)
        {
            "moved"
        } else if event.events().contains(ReadFlags::CREATE) {
            "created"
        } else {
            "deleted"
        };
        let name = event
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((kind, name));
    }
    out
}

#[test]
fn a_view_write_rewrites_a_spare_in_place_and_exchanges_it_with_the_live_view() {
    let (_tmp, layout, ns) = started();
    let view = layout.current_session(ns.developer());
    let dir = layout.sessions_dir(ns.developer());
    touch(&ns, 0);
    for n in 1..100 {
        let mut written = None;
        let events = name_events(&dir, || {
            written = Some(
                ns.update_session(|s| {
                    s.metadata.insert("n".to_owned(), n.into());
                })
                .unwrap(),
            );
        });
        if shown_session(&view) != written.unwrap().value {
            // The view's lock was held by a copy of this process's descriptors in a child
            // another test spawned: the write was left to it. Try again.
            continue;
        }
        // One exchange: the live view and the spare rewritten in its place trade names
        // (inotify reports each side's move). No temporary name, nothing created or deleted.
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(
            events.iter().all(|(kind, _)| *kind == "moved"),
            "{events:?}"
        );
        let names: BTreeSet<&str> = events.iter().map(|(_, name)| name.as_str()).collect();
        assert_eq!(names.len(), 2, "{events:?}");
        assert!(names.contains("current.json"), "{events:?}");
        assert!(
            names.iter().any(|n| n.starts_with(".tmp-spare-")),
            "{events:?}"
        );
        return;
    }
    panic!("the view was never written by this test's writes");
}
