//! The daemon against the in-process answers: real processes, sockets, repositories and
//! signals. Each test has its own runtime directory and stops every daemon it started.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use proptest::prelude::*;

/// A repository with a team, and a private runtime directory for its daemon.
struct Setup {
    repo: tempfile::TempDir,
    runtime: tempfile::TempDir,
}

impl Setup {
    fn new(files: usize) -> Self {
        let repo = tempfile::tempdir().expect("temp dir");
        let runtime = tempfile::tempdir().expect("temp dir");
        let setup = Self { repo, runtime };
        setup.git(&["init", "-q", "-b", "main"]);
        for i in 0..files {
            let dir = setup.path().join(format!("src/d{}", i % 10));
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(dir.join(format!("f{i}.txt")), format!("{i}\n")).expect("write");
        }
        fs::write(setup.path().join(".gitignore"), ".flowforge/\n").expect("write");
        setup.git(&["add", "."]);
        setup.git(&["commit", "-qm", "one"]);
        for dev in ["alice", "bob"] {
            setup.ok("off", &["dev", "init", dev]);
        }
        setup
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    fn cmd(&self, mode: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowforge"));
        cmd.current_dir(self.path())
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("FLOWFORGE_DAEMON", mode)
            .env("FLOWFORGE_DEVELOPER", "alice")
            .env_remove("FLOWFORGE_DAEMON_IDLE_SECS")
            .args(args);
        cmd
    }

    fn run(&self, mode: &str, args: &[&str]) -> Output {
        output(&mut self.cmd(mode, args))
    }

    fn ok(&self, mode: &str, args: &[&str]) -> Output {
        let out = self.run(mode, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        out
    }

    /// The pid `daemon start` reports.
    fn start(&self, extra: &[&str]) -> u32 {
        let mut args = vec!["daemon", "start"];
        args.extend_from_slice(extra);
        pid_of(&self.ok("off", &args))
    }

    fn status_json(&self) -> serde_json::Value {
        let out = self.run("off", &["daemon", "status", "--json"]);
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// The `flowforge daemon run` processes of this test's runtime directory.
    fn daemons(&self) -> Vec<u32> {
        let marker = format!("XDG_RUNTIME_DIR={}\0", self.runtime.path().display());
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let state = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if !in_state(&state, 'Z')
                && contains(&environ, marker.as_bytes())
                && contains(&cmdline, b"daemon\0run\0")
            {
                pids.push(pid);
            }
        }
        pids
    }

    fn wait_no_daemon(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.daemons().is_empty() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// The socket path the daemon of this repository uses.
    fn socket(&self) -> PathBuf {
        let location = flowforge_daemon::Location::under(
            &self.path().join(".git"),
            Some(self.runtime.path().join("flowforge")),
        )
        .expect("location");
        location.socket().to_owned()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.run("off", &["daemon", "stop"]);
        if !self.wait_no_daemon(Duration::from_secs(10)) {
            // Only daemons of this test's own runtime directory, by pid.
            for pid in self.daemons() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// How long a `flowforge` process of these tests may take: far more than any needs, so a
/// process that hangs fails its test instead of holding up the whole run.
const PROCESS_LIMIT: Duration = Duration::from_secs(120);

/// Runs `cmd` to completion, as [`Command::output`] does, within [`PROCESS_LIMIT`].
fn output(cmd: &mut Command) -> Output {
    let child = (cmd.stdout(Stdio::piped()).stderr(Stdio::piped()))
        .spawn()
        .expect("flowforge runs");
    finish(child)
}

/// Waits for `child` and collects its output, as [`std::process::Child::wait_with_output`]
/// does; a child still running after [`PROCESS_LIMIT`] is killed and the test fails.
fn finish(mut child: std::process::Child) -> Output {
    use std::io::Read;
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + PROCESS_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "flowforge (pid {}) still ran after {PROCESS_LIMIT:?}; stderr so far: {}",
                child.id(),
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Stops process `pid` and waits until every one of its threads is stopped: the kernel stops
/// the threads of a process one by one as each next runs, so a process sent `SIGSTOP` may go on
/// answering for a while on a busy machine.
fn stop_fully(pid: u32) {
    let stop = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    assert!(stop.expect("kill runs").success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("the process lives");
        let running = tasks.flatten().any(|task| {
            let stat = fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            !in_state(&stat, 'T')
        });
        if !running {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a `/proc/<pid>/stat` line says the process is in `state` (the state follows the
/// command name, which is in parentheses and may hold any character).
fn in_state(stat: &str, state: char) -> bool {
    stat.rsplit(')')
        .next()
        .is_some_and(|s| s.trim_start().starts_with(state))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn pid_of(out: &Output) -> u32 {
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// What a reading command prints, with the parts that legitimately change between two calls
/// (elapsed times, the report's generation time, the status snapshot's second) blanked.
fn answer(out: &Output) -> (String, String, Option<i32>) {
    let mask = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                if l.contains("elapsed_ms") || l.contains("enerated") || l.contains("\"timestamp\"")
                {
                    "<varies>"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    (mask(&out.stdout), mask(&out.stderr), out.status.code())
}

/// The reading commands the differential test draws from.
const READS: &[&[&str]] = &[
    &["status", "--porcelain"],
    &["status", "-z", "-b"],
    &["status"],
    &["status", "--json"],
    &["sync"],
    &["sync", "--json", "--dev", "bob"],
    &["sync", "--dev", "nobody!"],
    &["who", "task-1"],
    &["who", "task-2", "--json"],
    &["who", "bad/task"],
    &["active"],
    &["active", "--json"],
    &["tasks"],
    &["tasks", "task-*", "--json"],
    &["report", "daily", "--timezone", "UTC"],
    &["report", "weekly", "--format", "json", "--timezone", "UTC"],
    &["report", "daily", "--timezone", "Not/AZone"],
    &["session", "show", "--json"],
    &["session", "history"],
    &["time", "show"],
    &["claim", "list", "--json"],
];

#[derive(Debug, Clone)]
enum Step {
    Read(usize),
    Edit(usize),
    NewFile(usize),
    Stage,
    Commit,
    Branch(usize),
    Start(bool, usize),
    End(bool),
    AddTime(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..READS.len()).prop_map(Step::Read),
        1 => (0usize..20).prop_map(Step::Edit),
        1 => (0usize..5).prop_map(Step::NewFile),
        1 => Just(Step::Stage),
        1 => Just(Step::Commit),
        1 => (0usize..3).prop_map(Step::Branch),
        1 => (any::<bool>(), 1usize..4).prop_map(|(b, t)| Step::Start(b, t)),
        1 => any::<bool>().prop_map(Step::End),
        1 => (1u8..30).prop_map(Step::AddTime),
    ]
}

fn apply(setup: &Setup, step: &Step) {
    let dev = |bob: bool| if bob { "bob" } else { "alice" };
    match step {
        Step::Read(_) => {}
        Step::Edit(i) => {
            let path = setup.path().join(format!("src/d{}/f{i}.txt", i % 10));
            fs::write(path, format!("edited {i}\n")).expect("write");
        }
        Step::NewFile(i) => {
            fs::write(setup.path().join(format!("new-{i}.txt")), "new\n").expect("write");
        }
        Step::Stage => setup.git(&["add", "-A"]),
        Step::Commit => setup.git(&["commit", "-qam", "step", "--allow-empty"]),
        Step::Branch(i) => setup.git(&["branch", "-f", &format!("feature/task-{i}")]),
        Step::Start(bob, task) => {
            let _ = output(
                setup
                    .cmd("off", &["session", "start", &format!("task-{task}")])
                    .env("FLOWFORGE_DEVELOPER", dev(*bob)),
            );
        }
        Step::End(bob) => {
            let _ = output(
                setup
                    .cmd("off", &["session", "end"])
                    .env("FLOWFORGE_DEVELOPER", dev(*bob)),
            );
        }
        Step::AddTime(minutes) => {
            setup.ok("off", &["time", "add", "--minutes", &minutes.to_string()]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// Random sequences of changes and reading commands: every answer of the daemon is the
    /// in-process answer, bytes and exit code.
    #[test]
    fn the_daemon_answers_exactly_what_the_process_would(
        steps in prop::collection::vec(step(), 10..25),
    ) {
        let setup = Setup::new(20);
        setup.start(&[]);
        let mut reads = 0;
        for step in &steps {
            apply(&setup, step);
            if let Step::Read(i) = step {
                let args = READS[*i];
                let alone = setup.run("off", args);
                let mut verbose = args.to_vec();
                verbose.push("--verbose");
                let mut daemon = setup.run("require", &verbose);
                // The last stderr line says who answered: it must be the daemon.
                let note = b"flowforge: answered by the daemon (pid ";
                let at = daemon.stderr.windows(note.len()).rposition(|w| w == note);
                prop_assert!(at.is_some(), "{:?} not answered by the daemon: {:?}", args, daemon);
                daemon.stderr.truncate(at.unwrap_or(0));
                prop_assert_eq!(answer(&daemon), answer(&alone), "{:?} after {:?}", args, steps);
                reads += 1;
            }
        }
        let status = setup.status_json();
        prop_assert!(
            status["daemon"]["requests"].as_u64().unwrap_or(0) >= reads,
            "the daemon answered every read: {}", status
        );
    }
}

#[test]
fn an_edit_made_before_the_call_is_always_in_the_answer() {
    let setup = Setup::new(10);
    setup.start(&[]);
    for round in 0..100 {
        let name = format!("round-{round}.txt");
        fs::write(setup.path().join(&name), "x\n").expect("write");
        let out = setup.ok("require", &["status", "--porcelain"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("?? {name}\n")),
            "round {round}: {text}"
        );
        fs::remove_file(setup.path().join(&name)).expect("rm");
        if round % 10 == 0 {
            let task = format!("task-{round}");
            setup.ok("off", &["session", "start", &task, "--replace"]);
            let out = setup.ok("require", &["who", &task]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.starts_with(&format!("{task}: held by alice")),
                "{text}"
            );
            let out = setup.ok("require", &["status", "--porcelain"]);
            assert!(out.stdout.is_empty(), "removed files are gone: {out:?}");
        }
    }
}

/// A claim changed by another process right before the call is always in the answer: taken
/// by a session start, released, taken by the bash tools in `team/task-assignments.json`
/// (written in place), and the registry damaged and repaired, each asked right after.
#[test]
fn a_claim_changed_right_before_the_call_is_always_in_the_answer() {
    let setup = Setup::new(10);
    setup.start(&[]);
    let as_dev = |dev: &str, args: &[&str]| {
        let mut cmd = setup.cmd("off", args);
        cmd.env("FLOWFORGE_DEVELOPER", dev);
        let out = output(&mut cmd);
        assert!(out.status.success(), "{dev} {args:?}: {out:?}");
    };
    let who = |task: &str| {
        let out = setup.ok("require", &["who", task]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let view = setup.path().join(".flowforge/team/task-assignments.json");
    for round in 0..24 {
        let dev = ["alice", "bob"][round % 2];
        let task = format!("claim-{round}");
        as_dev(dev, &["session", "start", &task, "--replace"]);
        let text = who(&task);
        assert!(
            text.starts_with(&format!("{task}: held by {dev} (")),
            "round {round}: {text}"
        );
        match round % 3 {
            0 => {
                as_dev(dev, &["session", "end"]);
                assert_eq!(
                    who(&task),
                    format!("{task}: nobody holds it\n"),
                    "round {round}"
                );
            }
            1 => {
                // The bash tools' claim, written in place into the view.
                let bash = format!("bash-{round}");
                let mut doc: serde_json::Value =
                    serde_json::from_slice(&fs::read(&view).expect("the view")).expect("json");
                doc["tasks"][&bash] = serde_json::json!({
                    "assignee": "carol", "status": "claimed",
                    "claimed_at": "2025-09-18T08:00:00Z",
                });
                fs::write(&view, serde_json::to_vec(&doc).expect("json")).expect("write");
                let text = who(&bash);
                assert!(
                    text.starts_with(&format!("{bash}: held by carol (")),
                    "round {round}: {text}"
                );
            }
            _ => {
                // The registry: damaged, then repaired; the claims stay as they were.
                let config = setup.path().join(".flowforge/team/config.json");
                let good = fs::read(&config).expect("the registry");
                fs::write(&config, b"{not json").expect("write");
                let out = setup.ok("require", &["who", &task]);
                assert_eq!(answer(&out), answer(&setup.ok("off", &["who", &task])));
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("config.json"),
                    "round {round}: {out:?}"
                );
                fs::write(&config, good).expect("write");
                let out = setup.ok("require", &["who", &task]);
                assert!(out.stderr.is_empty(), "round {round}: {out:?}");
                assert!(
                    String::from_utf8_lossy(&out.stdout)
                        .starts_with(&format!("{task}: held by {dev} (")),
                    "round {round}: {out:?}"
                );
            }
        }
    }
}

#[test]
fn a_daemon_killed_between_or_during_calls_costs_nothing_but_time() {
    let setup = Setup::new(400);
    fs::write(setup.path().join("src/d1/f1.txt"), "changed\n").expect("write");
    let expected = answer(&setup.ok("off", &["status", "--porcelain"]));
    let pid = setup.start(&[]);
    assert_eq!(
        answer(&setup.ok("require", &["status", "--porcelain"])),
        expected
    );

    // Between calls: the socket is left behind; the next call answers in-process.
    kill9(pid);
    assert!(setup.wait_no_daemon(Duration::from_secs(10)));
    // The last threads of a killed process may hold the socket a moment longer than its
    // main thread: wait until connecting is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = setup.status_json();
    while !status["reason"]
        .as_str()
        .unwrap_or("")
        .contains("left behind")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        status = setup.status_json();
    }
    assert_eq!(status["running"], false);
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or("")
            .contains("left behind"),
        "{status}"
    );
    let out = setup.run("auto", &["status", "--porcelain", "--verbose"]);
    assert_eq!(
        answer(&setup.run("auto", &["status", "--porcelain"])).0,
        expected.0
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answered in-process"),
        "{out:?}"
    );

    // During calls: several clients in flight when the daemon dies all get the right answer.
    let pid = setup.start(&[]);
    let children: Vec<_> = (0..6)
        .map(|_| {
            setup
                .cmd("auto", &["status", "--porcelain"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    kill9(pid);
    for child in children {
        assert_eq!(answer(&finish(child)), expected);
    }
    // A stopped daemon: the client sees it stopped and the process answers.
    let pid = setup.start(&[]);
    stop_fully(pid);
    let out = setup.run("auto", &["status", "--porcelain", "--verbose"]);
    let _ = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    assert_eq!(
        answer(&setup.run("off", &["status", "--porcelain"])),
        expected
    );
    assert_eq!(answer(&out).0, expected.0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("daemon {pid} at")),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is stopped"),
        "{out:?}"
    );
}

#[test]
fn racing_starts_leave_one_daemon() {
    let setup = Setup::new(5);
    let children: Vec<_> = (0..4)
        .map(|_| {
            setup
                .cmd("off", &["daemon", "start"])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let pids: Vec<u32> = children.into_iter().map(|c| pid_of(&finish(c))).collect();
    assert!(pids.iter().all(|p| *p == pids[0]), "{pids:?}");
    // Losers of the race exit by themselves.
    let deadline = Instant::now() + Duration::from_secs(10);
    while setup.daemons().len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(setup.daemons(), vec![pids[0]]);
}

#[test]
fn a_stale_socket_file_is_explained_and_replaced() {
    let setup = Setup::new(5);
    let socket = setup.socket();
    fs::create_dir_all(socket.parent().expect("dir")).expect("mkdir");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
    let status = setup.status_json();
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or("")
            .contains("left behind"),
        "{status}"
    );
    let alone = answer(&setup.ok("off", &["who", "task-1"]));
    assert_eq!(answer(&setup.ok("auto", &["who", "task-1"])), alone);
    setup.start(&[]);
    assert_eq!(answer(&setup.ok("require", &["who", "task-1"])), alone);
    assert_eq!(setup.status_json()["running"], true);
}

#[test]
fn an_idle_daemon_exits_by_itself() {
    let setup = Setup::new(5);
    let pid = setup.start(&["--idle-timeout", "1"]);
    assert_eq!(setup.daemons(), vec![pid]);
    assert!(
        setup.wait_no_daemon(Duration::from_secs(20)),
        "still running"
    );
    assert!(!setup.socket().exists());
    assert_eq!(setup.status_json()["running"], false);
}

#[test]
fn stop_and_status_explain_themselves() {
    let setup = Setup::new(5);
    let out = setup.run("off", &["daemon", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no daemon"),
        "{out:?}"
    );
    let pid = setup.start(&[]);
    let text = String::from_utf8_lossy(&setup.ok("off", &["daemon", "status"]).stdout).into_owned();
    assert!(text.contains(&format!("daemon {pid}")), "{text}");
    assert!(text.contains("git       watched"), "{text}");
    let out = setup.ok("off", &["daemon", "stop"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("daemon {pid} stopped")));
    assert!(setup.daemons().is_empty());
    // Outside a repository there is no daemon to run.
    let plain = tempfile::tempdir().expect("temp dir");
    let out = output(
        setup
            .cmd("off", &["daemon", "start"])
            .current_dir(plain.path()),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `--cached` and `--max-age` accept an older answer, and every such answer says how old it
/// is; without them the same daemon answers fresh.
#[test]
fn cached_answers_say_so_and_the_default_stays_fresh() {
    let setup = Setup::new(10);
    setup.start(&[]);
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();

    // A synced answer proves the daemon's state current now.
    setup.ok("off", &["session", "start", "task-a"]);
    let out = setup.ok("require", &["who", "task-a"]);
    assert!(stdout(&out).starts_with("task-a: held by alice"), "{out:?}");
    assert!(
        !stderr(&out).contains("note:"),
        "a default answer has no note: {out:?}"
    );
    assert!(
        setup
            .ok("require", &["status", "--porcelain"])
            .stdout
            .is_empty()
    );

    // Changes the cached answers must not be assumed to hold.
    let bob = |args: &[&str]| {
        let mut cmd = setup.cmd("off", args);
        cmd.env("FLOWFORGE_DEVELOPER", "bob");
        let out = output(&mut cmd);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    bob(&["session", "start", "task-b"]);
    fs::write(setup.path().join("new.txt"), "x\n").expect("write");

    // --max-age: the state proven a moment ago, without looking, and it says so. Only what
    // came before that proof is promised: bob's claim is in the answer only if the daemon
    // applied it ahead of the question.
    let out = setup.ok("require", &["who", "task-b", "--max-age", "1h"]);
    assert!(
        stdout(&out) == "task-b: nobody holds it\n"
            || stdout(&out).starts_with("task-b: held by bob"),
        "{out:?}"
    );
    assert!(
        stderr(&out).contains("flowforge: note: cached answer: namespace index as of "),
        "{out:?}"
    );
    let out = setup.ok("require", &["status", "--porcelain", "--max-age", "1h"]);
    assert!(
        out.stdout.is_empty(),
        "the status of before the edit: {out:?}"
    );
    assert!(
        stderr(&out).contains("flowforge: note: cached answer: git status as of "),
        "{out:?}"
    );
    // --cached: whatever the watcher reported; the note says which.
    let out = setup.ok("require", &["who", "task-b", "--cached", "--json"]);
    assert!(
        stderr(&out).contains("namespace index as its watcher last reported"),
        "{out:?}"
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("stdout stays pure JSON");

    // The default is fresh again, with no note.
    let out = setup.ok("require", &["who", "task-b"]);
    assert!(stdout(&out).starts_with("task-b: held by bob"), "{out:?}");
    assert!(!stderr(&out).contains("note:"), "{out:?}");
    let out = setup.ok("require", &["status", "--porcelain"]);
    assert_eq!(stdout(&out), "?? new.txt\n");
    // A max-age younger than the last proof looks again: fresh, and says so.
    std::thread::sleep(Duration::from_millis(20));
    let out = setup.ok("require", &["who", "task-b", "--max-age", "1ms"]);
    assert!(stdout(&out).starts_with("task-b: held by bob"), "{out:?}");
    assert!(
        stderr(&out).contains("flowforge: note: fresh answer"),
        "{out:?}"
    );
    // Without a daemon every answer is read now: fresh.
    let out = setup.ok("off", &["who", "task-b", "--cached"]);
    assert!(stdout(&out).starts_with("task-b: held by bob"), "{out:?}");
    assert_eq!(stderr(&out), "flowforge: note: fresh answer\n", "{out:?}");
    // A bad duration is bad usage.
    let out = setup.run("require", &["who", "task-b", "--max-age", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The daemon keeps the remote settings between calls, and a change of `.git/config` made
/// right before a call is in its answer: starting to share through a remote, and stopping.
#[test]
fn remote_settings_changed_before_a_call_are_in_the_answer() {
    let setup = Setup::new(4);
    setup.start(&[]);
    let stdout = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let note = "other machines: as pulled from origin";
    for _ in 0..3 {
        let out = setup.ok("require", &["who", "t1"]);
        assert!(!stdout(&out).contains(note), "{out:?}");
    }
    let hits = |status: &serde_json::Value| {
        status["daemon"]["handler"]["work_trees"][0]["remote_settings"]["hits"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(hits(&setup.status_json()) >= 2, "{}", setup.status_json());

    let bare = setup.runtime.path().join("team.git");
    setup.git(&["init", "-q", "--bare", bare.to_str().expect("utf-8")]);
    setup.git(&[
        "remote",
        "add",
        "origin",
        &format!("file://{}", bare.display()),
    ]);
    setup.ok("off", &["remote", "use", "origin", "--machine", "m1"]);
    setup.ok("off", &["remote", "pull"]);
    let out = setup.ok("require", &["who", "t1"]);
    assert!(
        stdout(&out).contains(note),
        "the remote in use at once: {out:?}"
    );
    // The same answer as the process's (the pull's age in seconds may tick in between).
    let first = |out: &Output| stdout(out).lines().next().map(str::to_owned);
    let alone = setup.ok("off", &["who", "t1"]);
    assert_eq!(first(&out), first(&alone));
    assert!(stdout(&alone).contains(note), "{alone:?}");

    setup.git(&["config", "--unset", "flowforge.remote"]);
    let out = setup.ok("require", &["who", "t1"]);
    assert!(!stdout(&out).contains(note), "no remote at once: {out:?}");
    assert_eq!(stdout(&out), stdout(&setup.ok("off", &["who", "t1"])));
}

/// The daemon applies a change to its namespace index as the change arrives, before any
/// question asks for it, and the next question's answer holds it.
#[test]
fn a_change_is_applied_before_the_question_comes() {
    let setup = Setup::new(4);
    setup.start(&[]);
    let ahead = |status: &serde_json::Value| {
        status["daemon"]["handler"]["work_trees"][0]["index"]["refreshed_ahead"].as_u64()
    };
    let before = ahead(&setup.status_json()).expect("the index is open and counted");
    let mut bob = setup.cmd("off", &["session", "start", "task-ahead"]);
    bob.env("FLOWFORGE_DEVELOPER", "bob");
    assert!(output(&mut bob).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while ahead(&setup.status_json()) == Some(before) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = setup.status_json();
    assert!(ahead(&status) > Some(before), "no refresh ahead: {status}");
    let text = String::from_utf8_lossy(&setup.ok("off", &["daemon", "status"]).stdout).into_owned();
    assert!(text.contains("refreshes ahead of a question"), "{text}");
    let out = setup.ok("require", &["who", "task-ahead"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("task-ahead: held by bob ("),
        "{out:?}"
    );
}
