//! `flowforge session|time|claim` as the bash tools call them: real processes racing on real
//! directories.

use std::{
    fs,
    path::Path,
    process::{Child, Command, Output, Stdio},
};

fn flowforge(dir: &Path, dev: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = crate::flowforge_command();
    cmd.current_dir(dir)
        .env_remove("FLOWFORGE_DEVELOPER")
        .args(args);
    if let Some(dev) = dev {
        cmd.env("FLOWFORGE_DEVELOPER", dev);
    }
    cmd
}

fn run(dir: &Path, dev: Option<&str>, args: &[&str]) -> Output {
    flowforge(dir, dev, args).output().unwrap()
}

fn spawn(dir: &Path, dev: &str, args: &[&str]) -> Child {
    flowforge(dir, Some(dev), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn repo_with(devs: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".git")).unwrap();
    for dev in devs {
        let out = run(tmp.path(), None, &["dev", "init", dev]);
        assert!(out.status.success(), "{out:?}");
    }
    tmp
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn processes_racing_for_one_task_exactly_one_wins_the_others_exit_3_naming_it() {
    let devs: Vec<String> = (0..6).map(|i| format!("dev{i}")).collect();
    let names: Vec<&str> = devs.iter().map(String::as_str).collect();
    let tmp = repo_with(&names);
    let children: Vec<(String, Child)> = devs
        .iter()
        .map(|d| {
            (
                d.clone(),
                spawn(tmp.path(), d, &["session", "start", "T-1"]),
            )
        })
        .collect();
    let outcomes: Vec<(String, Output)> = children
        .into_iter()
        .map(|(d, c)| (d, c.wait_with_output().unwrap()))
        .collect();
    let winners: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| o.status.success())
        .map(|(d, _)| d)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0];
    for (dev, out) in &outcomes {
        if dev != winner {
            assert_eq!(out.status.code(), Some(3), "{dev}: {out:?}");
            let err = stderr(out);
            assert!(
                err.contains(&format!("claimed by {winner}")),
                "{dev}: {err}"
            );
            let show = json(&run(tmp.path(), Some(dev), &["session", "show", "--json"]));
            assert!(show.is_null(), "{dev} has no session: {show}");
        }
    }
    let claims = json(&run(tmp.path(), None, &["claim", "list", "--json"]));
    assert_eq!(claims["claims"].as_array().unwrap().len(), 1);
    assert_eq!(claims["claims"][0]["assignee"], winner.as_str());
    let assignments: serde_json::Value = serde_json::from_slice(
        &fs::read(tmp.path().join(".flowforge/team/task-assignments.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(assignments["tasks"]["T-1"]["assignee"], winner.as_str());
    // The compatibility view is what the bash tools read with jq.
    let view: serde_json::Value = serde_json::from_slice(
        &fs::read(
            tmp.path()
                .join(format!(".flowforge/dev-{winner}/sessions/current.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(view["taskId"], "T-1");
    assert_eq!(view["active"], true);
    assert_eq!(view["developerId"], winner.as_str());
}

#[test]
fn concurrent_time_add_processes_sum_exactly() {
    let tmp = repo_with(&["alice"]);
    let children: Vec<Child> = (1..=8)
        .map(|m| {
            let minutes = m.to_string();
            spawn(tmp.path(), "alice", &["time", "add", "--minutes", &minutes])
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let time = json(&run(tmp.path(), Some("alice"), &["time", "show", "--json"]));
    assert_eq!(time["total_minutes"], (1..=8).sum::<u64>());
    assert_eq!(time["sessions"].as_array().unwrap().len(), 8);
    let view: serde_json::Value = serde_json::from_slice(
        &fs::read(tmp.path().join(".flowforge/dev-alice/time-tracking.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(view, time);
}

#[test]
fn a_session_lifecycle_through_the_cli() {
    let tmp = repo_with(&["alice", "bob"]);
    let dir = tmp.path();
    let out = run(
        dir,
        Some("alice"),
        &["session", "start", "T-2", "--branch", "feature/T-2"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = run(dir, Some("alice"), &["session", "start", "T-3"]);
    assert_eq!(out.status.code(), Some(3), "one active session: {out:?}");
    assert!(
        stderr(&out).starts_with("flowforge: error: alice already has an active session ")
            && stderr(&out).ends_with(" on task T-2 (pass --replace to end it)\n"),
        "{}",
        stderr(&out)
    );
    let out = run(
        dir,
        Some("alice"),
        &["session", "start", "T-3", "--replace"],
    );
    assert!(out.status.success(), "{out:?}");
    let show = json(&run(dir, Some("alice"), &["session", "show", "--json"]));
    assert_eq!(show["taskId"], "T-3");
    assert!(show["sessionId"].as_str().unwrap().starts_with("session-"));

    // Bob may not release Alice's claim without --force.
    let out = run(dir, Some("bob"), &["claim", "release", "T-3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stderr(&out).contains("claimed by alice"));
    let out = run(dir, Some("bob"), &["claim", "release", "T-3", "--force"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(dir, Some("bob"), &["claim", "release", "T-3", "--force"]);
    assert_eq!(out.status.code(), Some(1), "nothing to release: {out:?}");

    let out = run(dir, Some("alice"), &["session", "end"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(dir, Some("alice"), &["session", "end"]);
    assert_eq!(out.status.code(), Some(1), "no active session: {out:?}");
    let history = json(&run(dir, Some("alice"), &["session", "history", "--json"]));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["taskId"], "T-2");
    assert_eq!(history[0]["branch"], "feature/T-2");
    assert_eq!(history[1]["active"], false);
    let old = history[0]["sessionId"].as_str().unwrap();
    let out = run(dir, Some("alice"), &["session", "restore", old]);
    assert!(out.status.success(), "{out:?}");
    let show = json(&run(dir, Some("alice"), &["session", "show", "--json"]));
    assert_eq!(show["taskId"], "T-2");
    assert_eq!(show["metadata"]["restoredFrom"], old);
    let time = json(&run(dir, Some("alice"), &["time", "show", "--json"]));
    assert_eq!(time["sessions"].as_array().unwrap().len(), 2, "{time}");
}

fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(tree(&path));
        }
    }
    out.sort();
    out
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let tmp = repo_with(&["alice"]);
    let dir = tmp.path();
    let before = tree(dir);
    let cases: [(Option<&str>, &[&str], &str); 6] = [
        (
            Some("alice"),
            &["session", "start", "../x"],
            "invalid task id",
        ),
        (
            Some("alice"),
            &["session", "start", "--", "-x"],
            "invalid task id",
        ),
        (
            Some("../alice"),
            &["session", "start", "T"],
            "invalid developer id",
        ),
        (
            Some("carol"),
            &["session", "start", "T"],
            "flowforge: error: developer carol has no namespace (run `flowforge dev init carol`)\n",
        ),
        (
            None,
            &["time", "add", "--minutes", "3"],
            "no developer given",
        ),
        (Some("alice"), &["time", "add", "--minutes", "-3"], ""),
    ];
    for (dev, args, message) in cases {
        let out = run(dir, dev, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert_eq!(tree(dir), before, "{args:?} wrote something");
    }
    let out = run(
        dir,
        Some("alice"),
        &["session", "restore", "../../etc/passwd"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(tree(dir), before);
}

fn claimed_tasks(root: &Path) -> Vec<String> {
    let out = run(root, None, &["claim", "list", "--json"]);
    json(&out)["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["task"].as_str().unwrap(),
                c["assignee"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_committed_change_exits_0_with_a_warning_and_the_next_write_repairs_what_failed() {
    let tmp = repo_with(&["alice", "bob"]);
    let root = tmp.path();
    let team = root.join(".flowforge/team");
    // Bob holds a task; a claim of another task left damaged by an older store, and a
    // damaged view, never block Alice.
    let out = run(root, Some("bob"), &["session", "start", "b-task"]);
    assert!(out.status.success(), "{out:?}");
    let legacy = team.join("store/claim-other");
    fs::create_dir_all(&legacy).unwrap();
    fs::write(legacy.join("00000000000000000001.json"), "{garbage").unwrap();
    fs::write(team.join("task-assignments.json"), "{not json").unwrap();
    let out = run(root, Some("alice"), &["session", "start", "a-task"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let view: serde_json::Value =
        serde_json::from_slice(&fs::read(team.join("task-assignments.json")).unwrap()).unwrap();
    assert_eq!(view["tasks"]["a-task"]["assignee"], "alice", "{view}");
    assert_eq!(view["tasks"]["b-task"]["assignee"], "bob", "{view}");

    // The team store cannot be read when Alice ends: the session is ended (exit 0), the
    // claim release is a warning naming the cause.
    let store = team.join("store");
    let aside = team.join("store.aside");
    fs::rename(&store, &aside).unwrap();
    fs::write(&store, "not a directory").unwrap();
    let out = run(root, Some("alice"), &["session", "end"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    let shown = json(&run(root, Some("alice"), &["session", "show", "--json"]));
    assert_eq!(shown["active"], false);
    // Starting needs the team store: refused with nothing changed.
    let out = run(root, Some("alice"), &["session", "start", "c-task"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let shown = json(&run(root, Some("alice"), &["session", "show", "--json"]));
    assert_eq!(shown["active"], false, "nothing was started");

    // Back: the claim of the ended session is still recorded (reported by `claim list`)…
    fs::remove_file(&store).unwrap();
    fs::rename(&aside, &store).unwrap();
    assert_eq!(claimed_tasks(root), ["a-task:alice", "b-task:bob"]);
    // …and Alice's next claim change releases it.
    let out = run(root, Some("alice"), &["session", "start", "c-task"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(claimed_tasks(root), ["b-task:bob", "c-task:alice"]);
    let view: serde_json::Value =
        serde_json::from_slice(&fs::read(team.join("task-assignments.json")).unwrap()).unwrap();
    let tasks: Vec<_> = view["tasks"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(tasks, ["b-task", "c-task"]);
}

#[test]
fn gc_while_processes_race_keeps_every_claim_and_minute_and_reports_what_it_freed() {
    let devs: Vec<String> = (0..4).map(|i| format!("dev{i}")).collect();
    let names: Vec<&str> = devs.iter().map(String::as_str).collect();
    let tmp = repo_with(&names);
    let root = tmp.path();
    // History to reclaim: sessions started and ended.
    for round in 0..5 {
        for dev in &names {
            let task = format!("{dev}-old-{round}");
            assert!(
                run(root, Some(dev), &["session", "start", &task])
                    .status
                    .success()
            );
            assert!(run(root, Some(dev), &["session", "end"]).status.success());
        }
    }
    let dry = json(&run(root, None, &["gc", "--dry-run", "--json"]));
    assert_eq!(dry["dry_run"], true);
    assert!(dry["superseded_versions"].as_u64().unwrap() > 0, "{dry}");

    // Every developer races for one task and adds minutes while gc runs.
    let mut children: Vec<(String, Child)> = Vec::new();
    for dev in &names {
        children.push((
            dev.to_string(),
            spawn(root, dev, &["session", "start", "contested"]),
        ));
        for _ in 0..3 {
            children.push((
                dev.to_string(),
                spawn(root, dev, &["time", "add", "--minutes", "2"]),
            ));
        }
    }
    let gc = json(&run(root, None, &["gc", "--json"]));
    assert_eq!(gc["dry_run"], false);
    let mut winners = Vec::new();
    for (dev, child) in children {
        let out = child.wait_with_output().unwrap();
        let is_start = String::from_utf8_lossy(&out.stdout).contains("started");
        match out.status.code() {
            Some(0) if is_start => winners.push(dev),
            Some(0) => {}
            Some(3) => assert!(stderr(&out).contains("contested"), "{out:?}"),
            _ => panic!("{out:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(claimed_tasks(root), [format!("contested:{}", winners[0])]);
    for dev in &names {
        let shown = json(&run(root, Some(dev), &["time", "show", "--json"]));
        assert_eq!(shown["total_minutes"], 6, "{dev}: {shown}");
    }
    // Afterwards nothing superseded is left, and a bad flag changes nothing.
    run(root, None, &["gc"]);
    let again = json(&run(root, None, &["gc", "--dry-run", "--json"]));
    assert_eq!(again["superseded_versions"], 0, "{again}");
    assert_eq!(again["released_claims"], serde_json::json!([]), "{again}");
    assert_eq!(again["orphan_segments"], 0, "{again}");
    assert!(again["spare_files"].is_u64(), "{again}");
    let out = run(root, None, &["gc", "--bogus"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_minute_addition_whose_view_cannot_be_written_exits_0_and_the_next_repairs_it() {
    let tmp = repo_with(&["alice"]);
    let root = tmp.path();
    let view = root.join(".flowforge/dev-alice/time-tracking.json");
    // Before the store holds any time, the view is the bash tools' record: unreadable, the
    // addition is refused with nothing written.
    fs::create_dir(&view).unwrap();
    let out = run(root, Some("alice"), &["time", "add", "--minutes", "5"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    fs::remove_dir(&view).unwrap();
    let out = run(root, Some("alice"), &["time", "add", "--minutes", "5"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Afterwards the store is the record: a directory where the view goes makes the
    // addition's follow-up fail, a warning, and the addition is committed (exit 0).
    fs::remove_file(&view).unwrap();
    fs::create_dir(&view).unwrap();
    let out = run(root, Some("alice"), &["time", "add", "--minutes", "2"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    let shown = json(&run(root, Some("alice"), &["time", "show", "--json"]));
    assert_eq!(shown["total_minutes"], 7);
    fs::remove_dir(&view).unwrap();
    let out = run(root, Some("alice"), &["time", "add", "--minutes", "1"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&view).unwrap()).unwrap();
    assert_eq!(written["total_minutes"], 8);
}
