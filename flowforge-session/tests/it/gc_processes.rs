//! `gc` against real processes: claims and time increments racing across processes stay
//! exact while `gc` runs, and a `gc` killed with SIGKILL at random points leaves a sound
//! store that the next `gc` finishes.

use std::{
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo};
use flowforge_session::{
    GcOptions, Namespace, SessionOptions, StartOptions, TIME_KEY, namespace, store::Key,
};

use crate::processes::{Work, jitter, minutes_writer, minutes_writers, setup, temp_files};

const CLAIM_ROOT: &str = "FLOWFORGE_TEST_CLAIM_ROOT";
const GC_ROOT: &str = "FLOWFORGE_TEST_GC_ROOT";
const ROUNDS: usize = 6;
const RACERS: usize = 4;

fn racer_id(racer: usize, round: usize) -> DeveloperId {
    format!("r{racer}x{round}").parse().unwrap()
}

fn round_task(round: usize) -> TaskId {
    format!("task-{round}").parse().unwrap()
}

/// A claiming process: racer `FLOWFORGE_TEST_CLAIM_RACER` starts a session on `task-<r>` as
/// developer `r<racer>x<r>` for every round, and prints the rounds it won.
#[test]
fn claim_worker() {
    let Some(root) = std::env::var_os(CLAIM_ROOT) else {
        return;
    };
    let racer: usize = std::env::var("FLOWFORGE_TEST_CLAIM_RACER")
        .unwrap()
        .parse()
        .unwrap();
    let layout = Layout::new(root);
    for round in 0..ROUNDS {
        let dev = racer_id(racer, round);
        let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
        match ns.start_session(&round_task(round), &StartOptions::default()) {
            Ok(_) => println!("won {round}"),
            Err(e) if e.is_conflict() => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// A `gc` process: runs `gc` over and over until killed.
#[test]
fn gc_worker() {
    let Some(root) = std::env::var_os(GC_ROOT) else {
        return;
    };
    let layout = Layout::new(root);
    loop {
        flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    }
}

fn worker(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

#[test]
fn claims_and_minutes_race_exactly_across_processes_while_gc_runs() {
    let (_tmp, layout, dev) = setup();
    for round in 0..ROUNDS {
        for racer in 0..RACERS {
            namespace::init(&layout, &racer_id(racer, round), &DeveloperInfo::default()).unwrap();
        }
    }
    let root = layout.root().to_string_lossy().into_owned();
    let racers: Vec<Child> = (0..RACERS)
        .map(|racer| {
            worker(
                "gc_processes::claim_worker",
                &[
                    (CLAIM_ROOT, root.clone()),
                    ("FLOWFORGE_TEST_CLAIM_RACER", racer.to_string()),
                ],
            )
        })
        .collect();
    let (processes, threads, adds) = (3u64, 2u32, 15u64);
    let writers = minutes_writers(&layout, processes, threads, adds);
    let done = AtomicBool::new(false);
    let mut outputs = Vec::new();
    let mut gc_runs = 0;
    std::thread::scope(|s| {
        let collecting = s.spawn(|| {
            let mut outs = Vec::new();
            for child in racers.into_iter().chain(writers) {
                outs.push(child.wait_with_output().unwrap());
            }
            done.store(true, Ordering::SeqCst);
            outs
        });
        while !done.load(Ordering::SeqCst) {
            flowforge_session::gc(&layout, GcOptions::default()).unwrap();
            gc_runs += 1;
        }
        outputs = collecting.join().unwrap();
    });
    assert!(gc_runs > 0);
    let mut winners = vec![Vec::new(); ROUNDS];
    for (racer, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "{out:?}");
        if racer < RACERS {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(round) = line.strip_prefix("won ") {
                    winners[round.parse::<usize>().unwrap()].push(racer);
                }
            }
        }
    }
    // Exactly one winner per task, and the claims say who.
    let claims = flowforge_session::list_claims(&layout).unwrap();
    assert_eq!(claims.len(), ROUNDS);
    for (round, won) in winners.iter().enumerate() {
        assert_eq!(won.len(), 1, "round {round}: {winners:?}");
        let claim = claims.iter().find(|c| c.task == round_task(round)).unwrap();
        assert_eq!(claim.holder(), &racer_id(won[0], round));
    }
    // Every minute counted once.
    let ns = Namespace::open(&layout, &dev, SessionOptions::default()).unwrap();
    let time = ns.time_tracking().unwrap().unwrap();
    let expected = processes * u64::from(threads) * adds;
    assert_eq!(time.value.total_minutes, expected);
    assert_eq!(time.version.get(), expected);
    assert_eq!(time.value.sessions.len() as u64, expected);
}

#[test]
fn gc_killed_with_sigkill_leaves_a_sound_store_and_the_next_gc_finishes() {
    let (_tmp, layout, dev) = setup();
    let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
    let key = Key::new(TIME_KEY).unwrap();
    let root = layout.root().to_string_lossy().into_owned();
    let writer = minutes_writer(
        &layout,
        &Work {
            threads: 2,
            adds: 0,
            relaxed: true,
            forever: true,
        },
    );
    let mut writer = Guard(writer);
    for _ in 0..5 {
        let before = ns.store().generation(&key).unwrap();
        let mut gc = worker("gc_processes::gc_worker", &[(GC_ROOT, root.clone())]);
        while ns.store().generation(&key).unwrap() < before + 20 {
            assert!(writer.0.try_wait().unwrap().is_none(), "the writer died");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(jitter(5_000)));
        gc.kill().unwrap(); // SIGKILL
        gc.wait().unwrap();
        // Whatever step it died at, the store reads whole and exact, and its versions still
        // form one contiguous range of counts.
        let time = ns.time_tracking().unwrap().unwrap();
        assert_eq!(time.value.total_minutes, time.version.get());
        assert_eq!(time.value.sessions.len() as u64, time.version.get());
        let history = ns.store().history::<serde_json::Value>(&key).unwrap();
        let first = history[0].generation;
        for (i, head) in history.iter().enumerate() {
            assert_eq!(head.generation, first + i as u64, "contiguous");
            let total = head.value.as_ref().unwrap()["total_minutes"].as_u64();
            assert_eq!(total, Some(head.generation));
        }
    }
    writer.0.kill().unwrap();
    writer.0.wait().unwrap();
    // The next gc is not blocked by anything the dead ones held, and finishes the job (the
    // killed writer's temporary files included).
    let latest = ns.time_tracking().unwrap().unwrap();
    flowforge_session::gc(&layout, GcOptions::default()).unwrap();
    let dir = ns.store().key_dir(&key);
    assert_eq!(
        ns.store().history::<serde_json::Value>(&key).unwrap().len(),
        1
    );
    assert_eq!(temp_files(&dir), 0);
    let next = ns
        .add_minutes(1, &flowforge_session::AddMinutes::default())
        .unwrap();
    assert_eq!(next.version.get(), latest.version.get() + 1);
    assert_eq!(next.value.total_minutes, latest.value.total_minutes + 1);
}

/// Kills the child if the test fails before it does.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
