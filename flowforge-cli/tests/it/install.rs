//! The installable package: `cargo install --path flowforge-cli` installs exactly one binary,
//! `flowforge`, which runs from wherever it is installed.
//!
//! A real `cargo install` inside the test suite would either rebuild the workspace in the
//! release profile (minutes on a small machine) or wait forever on the build-directory lock
//! the running `cargo test` holds. So the test checks what `cargo install` acts on — the
//! package's binary targets, from `cargo metadata` (no build, no lock on the target
//! directory) — and then installs the binary as `cargo install` lays it out
//! (`<root>/bin/flowforge`) from the build of this very test run and runs it there, far from
//! the build tree.

use std::{path::Path, process::Command};

use serde_json::Value;

#[test]
fn the_package_installs_exactly_flowforge_and_the_installed_binary_runs() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{out:?}");
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let bins_of = |package: &Value| -> Vec<String> {
        package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let cli = packages
        .iter()
        .find(|p| p["name"] == "flowforge-cli")
        .expect("the flowforge-cli package");
    assert_eq!(
        bins_of(cli),
        ["flowforge"],
        "what `cargo install --path flowforge-cli` installs"
    );
    assert_ne!(
        cli["publish"],
        serde_json::json!([]),
        "flowforge-cli is publishable"
    );
    // No other package of the workspace installs a binary by the same path.
    for package in packages.iter().filter(|p| p["name"] != "flowforge-cli") {
        let bins = bins_of(package);
        assert!(
            bins.is_empty() || package["publish"] == serde_json::json!([]),
            "{} installs {bins:?}",
            package["name"]
        );
    }

    // Installed as cargo lays it out, it runs from there: version, help, and a real command.
    let root = tempfile::tempdir().expect("temp dir");
    let bin = root.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let installed = bin.join("flowforge");
    std::fs::copy(env!("CARGO_BIN_EXE_flowforge"), &installed).expect("install the binary");
    let work = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let out = Command::new(&installed)
            .current_dir(work.path())
            .env("FLOWFORGE_DAEMON", "off")
            .env_remove("FLOWFORGE_DEVELOPER")
            .env_remove("FLOWFORGE_DEVELOPER_ID")
            .env_remove("FLOWFORGE_DEV_ID")
            .env_remove("FLOWFORGE_ROOT")
            .args(args)
            .output()
            .expect("the installed binary runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let version = run(&["--version"]);
    assert_eq!(
        version.trim(),
        format!("flowforge {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(run(&["--help"]).contains("migrate"));
    run(&["dev", "init", "alice"]);
    let list: Value = serde_json::from_str(&run(&["dev", "list", "--json"])).unwrap();
    assert_eq!(list["developers"][0]["id"], "alice");
}
