//! Where the output goes: a closed pipe ends it quietly with the command's exit code, a full
//! disk is one error line and exit 1, for reading and writing commands alike.

use std::{
    fs,
    path::Path,
    process::{Command, Output, Stdio},
};

fn flowforge(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = crate::flowforge_command();
    cmd.current_dir(dir)
        .env("FLOWFORGE_DEVELOPER", "alice")
        .args(args);
    cmd
}

/// Runs with stdout a pipe whose reading end is already closed.
fn closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    drop(reader);
    flowforge(dir, args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("flowforge runs")
}

/// Runs with stdout `/dev/full`: every write fails with "no space left on device".
fn full_disk(dir: &Path, args: &[&str]) -> Output {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    flowforge(dir, args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("flowforge runs")
}

fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    flowforge_testkit::git::ok(tmp.path(), &["init", "-q", "-b", "main"]);
    for i in 0..50 {
        fs::write(tmp.path().join(format!("file-{i}")), "x\n").expect("write");
    }
    let out = flowforge(tmp.path(), &["dev", "init", "alice"])
        .output()
        .expect("flowforge runs");
    assert!(out.status.success(), "{out:?}");
    tmp
}

/// Reading and writing commands that print something on success.
const COMMANDS: &[&[&str]] = &[
    &["status", "--porcelain"],
    &["status"],
    &["who", "task-1"],
    &["active", "--json"],
    &["tasks"],
    &["report", "daily", "--timezone", "UTC"],
    &["sync"],
    &["session", "show"],
    &["time", "show", "--json"],
    &["claim", "list"],
    &["dev", "list"],
    &["monitor", "--once"],
    &["--help"],
    &["--version"],
];

#[test]
fn a_closed_pipe_ends_the_output_quietly_with_the_commands_exit_code() {
    let tmp = repo();
    for args in COMMANDS {
        let out = closed_pipe(tmp.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
    // A failing command keeps its exit code and its error on stderr.
    let out = closed_pipe(tmp.path(), &["who", "bad/task"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid task id"));
}

#[test]
fn a_full_disk_is_one_error_line_and_exit_1() {
    let tmp = repo();
    for args in COMMANDS {
        let out = full_disk(tmp.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "flowforge: error: cannot write the output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

#[test]
fn a_writing_command_writes_its_files_even_when_its_output_cannot_be() {
    let tmp = repo();
    let out = full_disk(tmp.path(), &["session", "start", "task-1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = closed_pipe(tmp.path(), &["time", "add", "--minutes", "5"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = flowforge(tmp.path(), &["who", "task-1"])
        .output()
        .expect("flowforge runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("task-1: held by alice"),
        "{out:?}"
    );
    let out = flowforge(tmp.path(), &["time", "show"])
        .output()
        .expect("flowforge runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("alice: 5 min"),
        "{out:?}"
    );
}
