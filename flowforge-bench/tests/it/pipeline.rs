//! The whole baseline pipeline on a small fixture, through the real binary, with the JSON
//! checked against its documented schema. No timing is asserted.

use std::{path::Path, process::Command};

use flowforge_core::score::{ORIGINAL_BASELINE, Operation};
use serde_json::Value;

const OPERATIONS: [&str; 6] = [
    "session",
    "report_generation",
    "cross_dev_queries",
    "file_io",
    "concurrent_ops",
    "git_sync",
];
const VARIANTS: [&str; 2] = ["naive", "optimized"];
const MODES: [&str; 3] = ["cold", "warm", "after_edit"];

fn key<'a>(object: &'a Value, name: &str, at: &str) -> &'a Value {
    object
        .get(name)
        .unwrap_or_else(|| panic!("{at}: required key {name:?} is missing"))
}

fn number(object: &Value, name: &str, at: &str) -> f64 {
    key(object, name, at)
        .as_f64()
        .unwrap_or_else(|| panic!("{at}.{name} is not a number"))
}

fn integer(object: &Value, name: &str, at: &str) -> u64 {
    key(object, name, at)
        .as_u64()
        .unwrap_or_else(|| panic!("{at}.{name} is not a non-negative integer"))
}

fn string<'a>(object: &'a Value, name: &str, at: &str) -> &'a str {
    key(object, name, at)
        .as_str()
        .unwrap_or_else(|| panic!("{at}.{name} is not a string"))
}

fn one_of(value: &str, allowed: &[&str], at: &str) {
    assert!(
        allowed.contains(&value),
        "{at}: {value:?} is not one of {allowed:?}"
    );
}

fn number_or_null(object: &Value, name: &str, at: &str) {
    let v = key(object, name, at);
    assert!(
        v.is_null() || v.is_f64() || v.is_u64(),
        "{at}.{name} is neither number nor null"
    );
}

/// Checks `doc` against the schema documented in `flowforge_bench::baseline`.
fn check_schema(doc: &Value, devs: &[u64]) {
    assert_eq!(integer(doc, "schema_version", "$"), 1);
    let generated: Result<jiff::Timestamp, _> = string(doc, "generated_at", "$").parse();
    assert!(generated.is_ok(), "generated_at is not an RFC 3339 time");
    string(doc, "command", "$");
    let machine = key(doc, "machine", "$");
    assert!(integer(machine, "cpus", "machine") >= 1);
    string(machine, "os", "machine");
    number_or_null(machine, "load_before", "machine");
    number_or_null(machine, "load_after", "machine");
    let fixture = key(doc, "fixture", "$");
    one_of(
        string(key(fixture, "source", "fixture"), "kind", "fixture.source"),
        &["generated", "clone"],
        "fixture.source.kind",
    );
    string(fixture, "repo", "fixture");
    for name in ["tracked_files", "directories", "branches", "developers"] {
        integer(fixture, name, "fixture");
    }
    assert!(key(fixture, "kept", "fixture").is_boolean());
    let listed: Vec<u64> = key(doc, "developers", "$")
        .as_array()
        .expect("developers is an array")
        .iter()
        .map(|v| v.as_u64().expect("developer counts are integers"))
        .collect();
    assert_eq!(listed, devs);
    let samples = integer(doc, "samples", "$");
    assert!(samples >= 1);
    assert!(number(doc, "cell_budget_s", "$") >= 0.0);
    check_calibration(doc);
    check_original(doc);
    for variant in VARIANTS {
        assert!(integer(key(doc, "score", "$"), variant, "score") <= 100);
        one_of(
            string(key(doc, "status", "$"), variant, "status"),
            &["PASS", "NEEDS_OPTIMIZATION"],
            "status",
        );
        assert!(key(key(doc, "complete", "$"), variant, "complete").is_boolean());
    }
    number_or_null(doc, "peak_rss_mib", "$");
    number_or_null(doc, "git_cache_rss_mib", "$");
    number_or_null(key(doc, "reference", "$"), "git_status_ms", "reference");
    let floor = key(key(doc, "reference", "$"), "file_floor", "reference");
    if !floor.is_null() {
        let developers = key(floor, "developers", "file_floor").as_array();
        let per_developer = key(floor, "us_per_developer", "file_floor").as_array();
        assert!(
            developers.is_some_and(|d| d.len() == 2 && d[0].as_u64() < d[1].as_u64()),
            "file_floor.developers: {floor}"
        );
        assert!(
            per_developer.is_some_and(
                |p| p.len() == 2 && p.iter().all(|v| v.as_f64().is_some_and(|v| v > 0.0))
            ),
            "file_floor.us_per_developer: {floor}"
        );
    }
    integer(doc, "naive_torn_reads", "$");

    let rows = key(doc, "rows", "$").as_array().expect("rows is an array");
    for (i, row) in rows.iter().enumerate() {
        let at = format!("rows[{i}]");
        let operation = string(row, "operation", &at);
        one_of(operation, &OPERATIONS, &at);
        one_of(string(row, "variant", &at), &VARIANTS, &at);
        let mode = key(row, "mode", &at);
        if operation == "git_sync" {
            one_of(
                mode.as_str().expect("git_sync rows have a mode"),
                &MODES,
                &at,
            );
        } else {
            assert!(mode.is_null(), "{at}: only git_sync has a mode");
        }
        assert!(devs.contains(&integer(row, "developers", &at)));
        let median = number(row, "median_ms", &at);
        let p95 = number(row, "p95_ms", &at);
        assert!(
            median >= 0.0 && p95 >= median,
            "{at}: p95 {p95} below median {median}"
        );
        let taken = integer(row, "samples", &at);
        assert!((1..=samples).contains(&taken), "{at}: {taken} samples");
        let threshold = number(row, "threshold_ms", &at);
        assert!(threshold > 0.0);
        one_of(
            string(row, "level", &at),
            &["ok", "warning", "critical"],
            &at,
        );
        let status = string(row, "status", &at);
        one_of(status, &["PASS", "FAIL"], &at);
        assert_eq!(
            status == "PASS",
            median <= threshold,
            "{at}: status disagrees with the threshold"
        );
        assert!(key(row, "scored", &at).is_boolean());
    }
    // Every naive cell is measured: six operations (git sync in three modes) per count.
    let naive = rows.iter().filter(|r| r["variant"] == "naive").count();
    assert_eq!(naive, 8 * devs.len());
    for (i, m) in key(doc, "not_measured", "$")
        .as_array()
        .expect("an array")
        .iter()
        .enumerate()
    {
        let at = format!("not_measured[{i}]");
        one_of(string(m, "operation", &at), &OPERATIONS, &at);
        one_of(string(m, "variant", &at), &VARIANTS, &at);
        assert!(!string(m, "reason", &at).is_empty());
    }
    let measured_or_not =
        rows.len() / devs.len() + key(doc, "not_measured", "$").as_array().map_or(0, Vec::len);
    assert_eq!(
        measured_or_not, 16,
        "every cell is either measured or listed as not measured"
    );
    for (i, t) in key(doc, "targets", "$")
        .as_array()
        .expect("an array")
        .iter()
        .enumerate()
    {
        let at = format!("targets[{i}]");
        string(t, "name", &at);
        number_or_null(t, "measured", &at);
        number(t, "target", &at);
        string(t, "unit", &at);
        let met = key(t, "met", &at);
        assert!(met.is_null() || met.is_boolean(), "{at}.met");
    }
}

/// `calibration`: null, or how the generated repository was sized.
fn check_calibration(doc: &Value) {
    let c = key(doc, "calibration", "$");
    if c.is_null() {
        return;
    }
    let at = "calibration";
    assert!(number(c, "target_ms", at) > 0.0);
    assert!(integer(c, "tolerance_percent", at) <= 100);
    let files = integer(c, "files", at);
    assert_eq!(
        files,
        integer(key(doc, "fixture", "$"), "tracked_files", "fixture"),
        "the fixture has the size calibration chose"
    );
    let measured = number(c, "git_status_ms", at);
    let reached = key(c, "reached", at)
        .as_bool()
        .expect("reached is a boolean");
    let stopped_by = key(c, "stopped_by", at);
    assert_eq!(
        reached,
        stopped_by.is_null(),
        "stopped_by says why it was not reached"
    );
    if let Some(why) = stopped_by.as_str() {
        one_of(
            why,
            &["max_files", "one file", "time budget", "max steps"],
            at,
        );
    }
    assert!(number(c, "seconds", at) >= 0.0);
    let steps = key(c, "steps", at).as_array().expect("steps is an array");
    let last = steps.last().expect("at least one step");
    assert_eq!(integer(last, "files", "steps[-1]"), files);
    assert_eq!(number(last, "git_status_ms", "steps[-1]"), measured);
}

/// `original`: the original FlowForge table, exactly `flowforge_core`'s, scored 80.
fn check_original(doc: &Value) {
    let o = key(doc, "original", "$");
    let at = "original";
    assert!(!string(o, "source", at).is_empty());
    assert_eq!(string(o, "date", at), "2025-09-18");
    assert_eq!(number(o, "git_status_ms", at), 270.0);
    assert_eq!(o["developers"], serde_json::json!([1, 6, 10]));
    assert_eq!(integer(o, "score", at), 80);
    assert_eq!(string(o, "status", at), "NEEDS_OPTIMIZATION");
    let rows = key(o, "rows", at).as_array().expect("rows is an array");
    assert_eq!(rows.len(), ORIGINAL_BASELINE.len());
    for (row, cell) in rows.iter().zip(ORIGINAL_BASELINE) {
        let at = "original.rows";
        let operation: Operation = string(row, "operation", at).parse().unwrap();
        assert_eq!(operation, cell.operation);
        assert_eq!(integer(row, "developers", at), u64::from(cell.developers));
        assert_eq!(number(row, "ms", at), cell.ms);
        assert_eq!(number(row, "threshold_ms", at), operation.threshold_ms());
        assert_eq!(string(row, "level", at), cell.level().as_str());
        let failing = operation == Operation::GitSync && cell.developers > 1;
        assert_eq!(
            string(row, "status", at),
            if failing { "FAIL" } else { "PASS" }
        );
    }
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowforge-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The JSON document the run that printed `output` wrote to `json`; the run's output names
/// what went wrong when there is none.
fn written_json(output: &std::process::Output, json: &std::path::Path) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    serde_json::from_slice(
        &std::fs::read(json)
            .unwrap_or_else(|e| panic!("no JSON ({e}); stdout:\n{stdout}\nstderr:\n{stderr}")),
    )
    .unwrap()
}

#[test]
fn a_small_run_writes_json_that_matches_the_schema_and_an_svg_chart() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("run/baseline.json");
    let output = run(&[
        "--files",
        "500",
        "--devs",
        "1,2",
        "--samples",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    let doc = written_json(&output, &json);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    check_schema(&doc, &[1, 2]);
    // Every optimized crate is on main: no cell may fall back to "not measured".
    assert_eq!(
        doc["complete"]["optimized"], true,
        "{}",
        doc["not_measured"]
    );
    assert_eq!(doc["rows"].as_array().unwrap().len(), 16 * 2);

    // Exit 1 exactly when an optimized cell is over its threshold.
    let optimized_fails = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["variant"] == "optimized" && r["status"] == "FAIL");
    assert_eq!(
        output.status.code(),
        Some(if optimized_fails { 1 } else { 0 }),
        "{stderr}"
    );
    assert_eq!(doc["calibration"], Value::Null, "--files fixes the size");
    assert!(stdout.contains("| Git Sync (after edit)"), "{stdout}");
    assert!(
        stdout.contains("Original FlowForge baseline (2025-09-18")
            && stdout.contains("score 80/100, status NEEDS_OPTIMIZATION"),
        "{stdout}"
    );
    assert!(stdout.contains("Improvement"), "{stdout}");
    assert!(
        stderr.contains("[1/"),
        "plain progress lines when not on a terminal: {stderr}"
    );

    let svg = std::fs::read_to_string(json.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for label in [
        "Session",
        "Report Generation",
        "Cross-Dev Queries",
        "File I/O",
        "Concurrent Ops",
        "Git Sync",
    ] {
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "no panel for {label}"
        );
    }
    assert!(
        svg.contains("<title>original @ 6: 1672 ms</title>"),
        "the original's points are drawn"
    );
}

#[test]
fn a_calibrated_run_names_its_calibration_and_the_original_table() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("calibrated.json");
    let output = run(&[
        "--git-status-ms",
        "25",
        "--devs",
        "1",
        "--samples",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    let doc = written_json(&output, &json);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    check_schema(&doc, &[1]);
    let calibration = &doc["calibration"];
    assert_eq!(calibration["target_ms"], 25.0, "{calibration}");
    assert!(
        stdout.contains("Calibration: one `git status --porcelain` should take 25.0 ms")
            && stdout.contains(&format!("{} files measured", calibration["files"])),
        "{stdout}"
    );
    assert!(
        stderr.contains("Calibration:"),
        "shown as it happens: {stderr}"
    );
    assert!(stdout.contains("Original FlowForge baseline"), "{stdout}");
}

#[test]
fn files_and_a_calibration_target_exclude_each_other() {
    let output = run(&["--files", "100", "--git-status-ms", "20"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn bad_usage_exits_2_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("never.json");
    for args in [
        &["--devs", "0"][..],
        &["--samples", "0"],
        &["--files", "x"],
        &["--git-status-ms", "0"],
        &["--cell-budget", "-1"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--json", json.to_str().unwrap()]);
        let output = run(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!Path::new(&json).exists());
    }
}

/// With `--history`, the per-developer target compares the largest team's optimized Session
/// round with the reference team's (the smallest size, made without history), timed beside it.
#[test]
fn a_run_with_history_compares_the_largest_team_with_a_reference_without_history() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("history.json");
    let output = run(&[
        "--files",
        "100",
        "--devs",
        "2,4",
        "--history",
        "3",
        "--ops",
        "session",
        "--samples",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    let doc = written_json(&output, &json);
    let reference = &doc["reference"]["session_without_history"];
    assert_eq!(reference["developers"], 2, "{reference}");
    let reference_ms = number(reference, "median_ms", "reference");
    assert!(reference_ms > 0.0);
    let largest = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["operation"] == "session" && r["variant"] == "optimized" && r["developers"] == 4
        })
        .expect("the largest team's optimized Session row");
    let per_developer = number(largest, "median_ms", "row") / 4.0 / (reference_ms / 2.0);
    let target = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["name"] == "session optimized per developer @4 (history 3) / @2 without history"
        })
        .unwrap_or_else(|| panic!("the per-developer target: {}", doc["targets"]));
    let measured = number(target, "measured", "target");
    assert!(
        (measured - per_developer).abs() < 1e-9 * per_developer.max(1.0),
        "{measured} vs {per_developer}"
    );
    // The file-system floor, at the same two sizes, and said under the tables.
    let floor = &doc["reference"]["file_floor"];
    assert_eq!(floor["developers"], serde_json::json!([2, 4]), "{floor}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("File-system floor per developer") && stdout.contains(" @ 4: "),
        "{stdout}"
    );
}
