//! The whole baseline pipeline on a small fixture, through the real binary, with the JSON
//! checked against its documented schema. No timing is asserted.

use std::{path::Path, process::Command};

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
    assert!(integer(doc, "samples", "$") >= 1);
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
        assert!(integer(row, "samples", &at) >= 1);
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

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowforge-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let doc: Value = serde_json::from_slice(
        &std::fs::read(&json)
            .unwrap_or_else(|e| panic!("no JSON ({e}); stdout:\n{stdout}\nstderr:\n{stderr}")),
    )
    .unwrap();
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
    assert!(stdout.contains("| Git Sync (after edit)"), "{stdout}");
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
}

#[test]
fn bad_usage_exits_2_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("never.json");
    for args in [&["--devs", "0"][..], &["--samples", "0"], &["--files", "x"]] {
        let mut all = args.to_vec();
        all.extend(["--json", json.to_str().unwrap()]);
        let output = run(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!Path::new(&json).exists());
    }
}
