//! `flowforge remote` and the remote claims of `session start|end`: real processes in real
//! clones of one bare repository over `file://`, each clone with its own `.flowforge`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

struct Team {
    tmp: tempfile::TempDir,
    bare: PathBuf,
}

use flowforge_testkit::git::ok_text as git;

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&str]) -> Command {
    // No daemon: every test here is about processes racing on the remote, and a daemon
    // started in the background per clone would only compete with them for the CPU.
    let mut cmd = crate::flowforge_command();
    cmd.current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .env_remove("FLOWFORGE_REMOTE_TEST_HOOK")
        .args(args);
    if let Some(dev) = dev {
        cmd.env("FLOWFORGE_DEVELOPER", dev);
    }
    cmd
}

fn run(dir: &Path, dev: Option<&str>, args: &[&str]) -> Output {
    flowforge(dir, dev, args).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

impl Team {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("team.git");
        git(
            tmp.path(),
            &["init", "-q", "--bare", bare.to_str().unwrap()],
        );
        Self { tmp, bare }
    }

    /// A clone using the remote as machine `name`, with developers `devs` initialised.
    fn clone(&self, name: &str, devs: &[&str]) -> PathBuf {
        let dir = self.tmp.path().join(name);
        git(self.tmp.path(), &["init", "-q", dir.to_str().unwrap()]);
        git(
            &dir,
            &[
                "remote",
                "add",
                "origin",
                &format!("file://{}", self.bare.display()),
            ],
        );
        for dev in devs {
            ok(run(&dir, None, &["dev", "init", dev]));
        }
        ok(run(
            &dir,
            None,
            &["remote", "use", "origin", "--machine", name],
        ));
        dir
    }

    fn refs(&self) -> String {
        git(
            &self.bare,
            &["for-each-ref", "--format=%(refname)", "refs/flowforge/"],
        )
    }
}

/// The holder of every task matching `pattern` as a clone sees it after a pull.
fn holders(dir: &Path, pattern: &str) -> BTreeMap<String, String> {
    let out = json(run(dir, None, &["tasks", pattern, "--json", "--fresh"]));
    (out["tasks"].as_array().unwrap().iter())
        .filter_map(|t| {
            Some((
                t["task"].as_str()?.to_owned(),
                t["holder"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[test]
fn sixteen_clones_race_for_each_task_exactly_one_wins_and_all_agree_on_the_holder() {
    const CLONES: usize = 16;
    const ROUNDS: usize = 20;
    let team = Team::new();
    let clones: Vec<PathBuf> = (0..CLONES)
        .map(|i| team.clone(&format!("m{i}"), &[&format!("d{i}")]))
        .collect();
    // The task each clone's developer holds last.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for round in 0..ROUNDS {
        let task = format!("race-{round}");
        let children: Vec<_> = (clones.iter().enumerate())
            .map(|(i, dir)| {
                flowforge(
                    dir,
                    Some(&format!("d{i}")),
                    &["session", "start", &task, "--replace"],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<usize> = (0..CLONES).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outs:?}");
        let w = winners[0];
        for (i, out) in outs.iter().enumerate().filter(|(i, _)| *i != w) {
            assert_eq!(
                out.status.code(),
                Some(3),
                "round {round}, clone {i}: {out:?}"
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("held by d{w} on machine m{w}")),
                "{err}"
            );
        }
        expected.retain(|_, holder| *holder != format!("d{w}"));
        expected.insert(task, format!("d{w}"));
    }
    let remote_claims = team
        .refs()
        .lines()
        .filter(|l| l.contains("/claims/"))
        .count();
    assert_eq!(remote_claims, expected.len(), "released claims are deleted");
    for dir in &clones {
        assert_eq!(holders(dir, "race-*"), expected, "{}", dir.display());
    }
}

#[test]
fn twelve_clones_publish_time_concurrently_and_every_entry_arrives_once() {
    const CLONES: usize = 12;
    let team = Team::new();
    let clones: Vec<PathBuf> = (0..CLONES)
        .map(|i| team.clone(&format!("m{i}"), &["alice"]))
        .collect();
    let mut expected = Vec::new();
    for (i, dir) in clones.iter().enumerate() {
        for k in 1..=3 {
            let minutes = (i * 10 + k).to_string();
            ok(run(
                dir,
                Some("alice"),
                &["time", "add", "--minutes", &minutes, "--task", "shared"],
            ));
            expected.push(i * 10 + k);
        }
    }
    let children: Vec<_> = (clones.iter())
        .map(|dir| {
            flowforge(dir, None, &["remote", "push"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        ok(child.wait_with_output().unwrap());
    }
    // Publishing again adds nothing.
    ok(run(&clones[0], None, &["remote", "push"]));

    let viewer = team.clone("viewer", &["bob"]);
    let report = json(run(
        &viewer,
        None,
        &["report", "monthly", "--format", "json", "--fresh"],
    ));
    let total: usize = expected.iter().sum();
    assert_eq!(report["total_minutes"], total, "{report:#}");
    let view = viewer.join(".flowforge/remote/origin/dev-alice/time-tracking.json");
    let time: serde_json::Value = serde_json::from_slice(&std::fs::read(view).unwrap()).unwrap();
    let mut minutes: Vec<usize> = (time["sessions"].as_array().unwrap().iter())
        .map(|e| e["minutes"].as_u64().unwrap() as usize)
        .collect();
    minutes.sort_unstable();
    expected.sort_unstable();
    assert_eq!(minutes, expected, "every entry exactly once");
}

#[test]
fn a_command_killed_during_its_push_is_repaired_by_the_next_one() {
    let team = Team::new();
    let a = team.clone("a", &["alice"]);
    let kill = "[ \"$1\" = after-push ] && case \"$2\" in */claims/*) kill -9 $PPID;; esac; true";

    // Killed after the claim reached the remote, before anything local happened.
    let out = flowforge(&a, Some("alice"), &["session", "start", "t"])
        .env("FLOWFORGE_REMOTE_TEST_HOOK", kill)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "killed by a signal: {out:?}");
    assert!(team.refs().contains("claims/t"));
    assert_eq!(
        json(run(&a, Some("alice"), &["session", "show", "--json"])),
        serde_json::Value::Null
    );
    // The next start adopts its own claim instead of refusing it.
    let out = ok(run(&a, Some("alice"), &["session", "start", "t"]));
    assert!(out.contains("already published by this machine"), "{out}");

    // Killed after the release reached the remote, before the local record was removed.
    let out = flowforge(&a, Some("alice"), &["session", "end"])
        .env("FLOWFORGE_REMOTE_TEST_HOOK", kill)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "{out:?}");
    assert!(!team.refs().contains("claims/t"));
    let status = json(run(&a, None, &["remote", "status", "--json"]));
    assert_eq!(
        status["pending_releases"],
        serde_json::json!(["t"]),
        "{status:#}"
    );
    ok(run(&a, None, &["remote", "push"]));
    let status = json(run(&a, None, &["remote", "status", "--json"]));
    assert_eq!(
        status["pending_releases"],
        serde_json::json!([]),
        "{status:#}"
    );
    assert_eq!(status["unpublished"], serde_json::json!([]), "{status:#}");
    assert!(team.refs().contains("devs/alice") && !team.refs().contains("claims/"));
}

#[test]
fn team_queries_show_other_machines_with_the_age_of_the_view_and_local_claims_stay_local() {
    let team = Team::new();
    let (a, b) = (team.clone("a", &["alice"]), team.clone("b", &["bob"]));
    ok(run(
        &a,
        Some("alice"),
        &["session", "start", "t1", "--branch", "feature/t1"],
    ));

    // Before any pull, b knows only itself.
    let who = json(run(&b, None, &["who", "t1", "--json"]));
    assert_eq!(who["holder"], serde_json::Value::Null);
    let who = json(run(&b, None, &["who", "t1", "--json", "--fresh"]));
    assert_eq!(
        (who["holder"].as_str(), who["machine"].as_str()),
        (Some("alice"), Some("a")),
        "{who:#}"
    );
    assert!(who["remote"]["age_seconds"].as_i64().is_some(), "{who:#}");
    let active = json(run(&b, None, &["active", "--json"]));
    assert_eq!(active["active"][0]["developer"], "alice", "{active:#}");
    assert_eq!(active["active"][0]["machine"], "a");
    let text = ok(run(&b, None, &["active"]));
    assert!(
        text.contains("other machines: as pulled from origin"),
        "{text}"
    );

    let out = run(&b, Some("bob"), &["session", "start", "t1"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("held by alice on machine a"));

    // Offline work is explicit: a machine-local claim, not published.
    let out = ok(run(&b, Some("bob"), &["session", "start", "t2", "--local"]));
    assert!(out.contains("on this machine only"), "{out}");
    assert!(!team.refs().contains("claims/t2"));
    let status = json(run(&b, None, &["remote", "status", "--json"]));
    assert_eq!(
        status["local_only"],
        serde_json::json!(["t2"]),
        "{status:#}"
    );

    // A remote that cannot be reached: the start fails and says how to work offline.
    git(
        &b,
        &[
            "remote",
            "set-url",
            "origin",
            "file:///nonexistent/team.git",
        ],
    );
    let out = run(&b, Some("bob"), &["session", "start", "t3", "--replace"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unreachable") && err.contains("--local"),
        "{err}"
    );
    let show = json(run(&b, Some("bob"), &["session", "show", "--json"]));
    assert_eq!(show["taskId"], "t2", "the running session is untouched");
}

#[test]
fn a_remote_or_machine_name_refused_before_anything_is_written_exits_2() {
    let team = Team::new();
    let dir = team.clone("a", &[]);
    let config = || git(&dir, &["config", "--get-regexp", "^flowforge\\."]);
    let before = config();
    for args in [
        &["remote", "use", "nosuch"][..],
        &["remote", "use", "origin", "--machine", "bad name"],
    ] {
        let out = run(&dir, None, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("flowforge: error: "),
            "{out:?}"
        );
    }
    assert_eq!(config(), before, "nothing was configured");
}

/// The remote settings are found wherever git reads them from: here only through a file the
/// repository's configuration includes, with a section name in capitals. A start publishes its
/// claim, and another clone is refused the task.
#[test]
fn settings_reached_through_an_include_still_publish_the_claim() {
    let team = Team::new();
    let a = team.tmp.path().join("a");
    git(team.tmp.path(), &["init", "-q", a.to_str().unwrap()]);
    let url = format!("file://{}", team.bare.display());
    git(&a, &["remote", "add", "origin", &url]);
    ok(run(&a, None, &["dev", "init", "alice"]));
    let settings = team.tmp.path().join("shared.gitconfig");
    std::fs::write(&settings, "[FLOWFORGE]\n\tremote = origin\n\tmachine = a\n").unwrap();
    let included = format!("[include]\n\tpath = {}\n", settings.display());
    let config = a.join(".git/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&included);
    std::fs::write(&config, text).unwrap();

    ok(run(&a, Some("alice"), &["session", "start", "t1"]));
    assert!(team.refs().contains("claims/t1"), "{}", team.refs());
    let b = team.clone("b", &["bob"]);
    let out = run(&b, Some("bob"), &["session", "start", "t1"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
