//! Integration tests of the flowforge CLI: real processes of the built binary.

mod compat;
mod daemon;
mod dev;
mod edges;
mod index;
mod install;
mod json_schemas;
mod migrate;
mod namespace_tools;
mod output;
mod remote;
mod session;
mod status;
mod symlinks;
mod sync;
mod totals;

/// The `flowforge` binary answering in-process: `FLOWFORGE_DAEMON=off`, so no test but the
/// daemon's own starts a daemon.
fn flowforge_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"));
    command.env("FLOWFORGE_DAEMON", "off");
    command
}

/// [`flowforge_command`] in `dir` without the developer or root variables the tests'
/// environment may hold: the command sees only what the test gives it.
fn isolated_command(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = flowforge_command();
    cmd.current_dir(dir);
    for var in [
        "FLOWFORGE_DEVELOPER",
        "FLOWFORGE_DEVELOPER_ID",
        "FLOWFORGE_DEV_ID",
        "FLOWFORGE_ROOT",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `out`, after asserting that its command succeeded.
fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{out:?}");
    out
}

/// [`flowforge_command`] in `dir` as developer `dev` (`FLOWFORGE_DEVELOPER`), or with no
/// developer variable when `dev` is `None`.
fn dev_command(dir: &std::path::Path, dev: Option<&str>) -> std::process::Command {
    let mut cmd = flowforge_command();
    cmd.current_dir(dir).env_remove("FLOWFORGE_DEVELOPER");
    if let Some(dev) = dev {
        cmd.env("FLOWFORGE_DEVELOPER", dev);
    }
    cmd
}
