//! `dev status`, `dev clean` and `dev switch` on real namespaces: the work tree's default
//! developer (with `--dev` and the environment still winning), the sizes of the areas, and
//! cleaning that never follows a link.

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Output};

use serde_json::Value;

fn flowforge(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = crate::isolated_command(dir);
    cmd.envs(env.iter().copied()).args(args);
    cmd.output().expect("flowforge runs")
}

use crate::succeeded as ok;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[test]
fn switch_sets_the_work_trees_default_developer_and_flags_and_environment_win() {
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path();
    ok(flowforge(
        dir,
        &[],
        &["dev", "init", "alice", "--name", "Alice"],
    ));
    ok(flowforge(dir, &[], &["dev", "init", "bob"]));

    let none = flowforge(dir, &[], &["session", "show"]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("dev switch"));
    let unknown = flowforge(dir, &[], &["dev", "switch", "carol"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let env_file = dir.join(".flowforge/.namespace-env");
    assert!(!env_file.exists(), "nothing written");

    ok(flowforge(dir, &[], &["dev", "switch", "alice"]));
    assert_eq!(
        fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        fs::read_to_string(&env_file)
            .unwrap()
            .contains("FLOWFORGE_DEVELOPER=alice\n")
    );
    ok(flowforge(dir, &[], &["session", "start", "T-1"]));
    let who = json(&ok(flowforge(dir, &[], &["who", "T-1", "--json"])));
    assert_eq!(who["holder"], "alice");

    let status = json(&ok(flowforge(dir, &[], &["dev", "status", "--json"])));
    assert_eq!(
        (
            &status["developer"],
            &status["chosen_by"],
            &status["default_developer"]
        ),
        (
            &Value::from("alice"),
            &Value::from("dev switch"),
            &Value::from("alice")
        )
    );
    let by_flag = json(&ok(flowforge(
        dir,
        &[("FLOWFORGE_DEV_ID", "alice")],
        &["--dev", "bob", "dev", "status", "--json"],
    )));
    assert_eq!(
        (&by_flag["developer"], &by_flag["chosen_by"]),
        (&Value::from("bob"), &Value::from("--dev"))
    );
    let by_env = json(&ok(flowforge(
        dir,
        &[("FLOWFORGE_DEV_ID", "bob")],
        &["dev", "status", "--json"],
    )));
    assert_eq!(
        (&by_env["developer"], &by_env["chosen_by"]),
        (&Value::from("bob"), &Value::from("environment"))
    );
    assert_eq!(by_env["session"], Value::Null);

    // A file naming no valid developer is a clear error, not a path.
    fs::write(&env_file, "FLOWFORGE_DEVELOPER=../etc\n").unwrap();
    let bad = flowforge(dir, &[], &["session", "show"]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains(".namespace-env"));
}

#[test]
fn status_sizes_the_areas_and_clean_removes_only_what_it_says() {
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path();
    let alice = [("FLOWFORGE_DEVELOPER", "alice")];
    ok(flowforge(
        dir,
        &[],
        &["dev", "init", "alice", "--name", "Alice"],
    ));
    ok(flowforge(dir, &alice, &["session", "start", "T-1"]));
    ok(flowforge(dir, &alice, &["time", "add", "--minutes", "30"]));
    let ns = dir.join(".flowforge/dev-alice");
    fs::create_dir_all(ns.join("logs")).unwrap();
    fs::create_dir_all(ns.join("workspace/temp/deep")).unwrap();
    fs::write(ns.join("cache/provider-cache.json"), "0123456789").unwrap();
    fs::write(ns.join("cache/time-tracking.json"), "{}").unwrap();
    fs::write(ns.join("logs/session.log"), "12345").unwrap();
    fs::write(ns.join("workspace/temp/deep/x"), "abc").unwrap();
    let outside = dir.join("precious");
    fs::write(&outside, "mine").unwrap();
    std::os::unix::fs::symlink(&outside, ns.join("logs/link")).unwrap();

    let status = json(&ok(flowforge(dir, &alice, &["dev", "status", "--json"])));
    assert_eq!(status["registration"]["name"], "Alice");
    assert_eq!(status["session"]["task"], "T-1");
    assert_eq!(status["session"]["active"], true);
    assert_eq!(status["time"]["total_minutes"], 30);
    assert_eq!(status["claims"], serde_json::json!(["T-1"]));
    assert_eq!(
        (
            status["cache"]["files"].as_u64(),
            status["cache"]["bytes"].as_u64()
        ),
        (Some(2), Some(12))
    );
    let link_len = outside.to_string_lossy().len() as u64;
    assert_eq!(status["logs"]["files"], 2);
    assert_eq!(status["logs"]["bytes"].as_u64(), Some(5 + link_len));
    assert_eq!(
        (
            status["temp"]["files"].as_u64(),
            status["temp"]["bytes"].as_u64()
        ),
        (Some(1), Some(3))
    );
    let text = String::from_utf8_lossy(&ok(flowforge(dir, &alice, &["dev", "status"])).stdout)
        .into_owned();
    assert!(text.contains("claims     T-1"), "{text}");

    // The default is the cache; a dry run removes nothing.
    let dry = json(&ok(flowforge(
        dir,
        &alice,
        &["dev", "clean", "--dry-run", "--json"],
    )));
    assert_eq!(dry["areas"], serde_json::json!(["cache"]));
    assert_eq!(
        dry["removed"],
        serde_json::json!([ns.join("cache/provider-cache.json")])
    );
    assert_eq!(
        dry["kept"],
        serde_json::json!([ns.join("cache/time-tracking.json")])
    );
    assert!(ns.join("cache/provider-cache.json").exists());

    let logs = json(&ok(flowforge(
        dir,
        &alice,
        &["dev", "clean", "--logs", "--json"],
    )));
    assert_eq!(logs["areas"], serde_json::json!(["logs"]));
    assert_eq!(logs["removed"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        fs::read_to_string(&outside).unwrap(),
        "mine",
        "a link is never followed"
    );
    assert!(ns.join("cache/provider-cache.json").exists());

    ok(flowforge(dir, &alice, &["dev", "clean", "--all"]));
    let after = json(&ok(flowforge(dir, &alice, &["dev", "status", "--json"])));
    assert_eq!(after["cache"]["files"], 1, "time-tracking.json stays");
    assert_eq!(after["logs"]["files"], 0);
    assert_eq!(after["temp"]["files"], 0);
    assert!(ns.join("workspace/temp/deep").is_dir());
    // The session, its claim and the time are not the areas'.
    assert_eq!(after["claims"], serde_json::json!(["T-1"]));
    assert_eq!(after["time"]["total_minutes"], 30);
}
