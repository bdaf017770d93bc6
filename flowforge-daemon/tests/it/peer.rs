//! A caller of another user is refused (`SO_PEERCRED`), even when the socket's directory and
//! file would let it in. Needs root to run a client as `nobody` (through `setpriv`); otherwise
//! the test says so and checks nothing.

use std::{
    fs,
    io::Read,
    os::unix::{fs::PermissionsExt, net::UnixStream},
    process::Command,
    time::Duration,
};

use crate::support::Daemon;

const SOCKET_VAR: &str = "FLOWFORGE_DAEMON_TEST_PEER_SOCKET";
const NOBODY: u32 = 65534;

#[test]
fn another_user_is_refused() {
    if let Ok(socket) = std::env::var(SOCKET_VAR) {
        // This is the test binary run again as the other user: connect and print the greeting.
        let mut stream = UnixStream::connect(&socket).expect("connect as the other user");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        println!("ANSWER {answer}");
        return;
    }
    if rustix::process::getuid().as_raw() != 0 {
        eprintln!("skipped: running a client as another user needs root");
        return;
    }
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("skipped: no setpriv to run a client as nobody");
        return;
    };
    let daemon = Daemon::start(Duration::from_secs(600));
    // Open the way to the socket, so only the daemon's uid check can refuse.
    let runtime = daemon.location.runtime_dir();
    for dir in [
        runtime,
        runtime.parent().expect("a temporary directory holds it"),
    ] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o711)).expect("chmod");
    }
    fs::set_permissions(daemon.location.socket(), fs::Permissions::from_mode(0o666))
        .expect("chmod");
    let out = Command::new(setpriv)
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "peer::another_user_is_refused",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SOCKET_VAR, daemon.location.socket())
        .output()
        .expect("setpriv runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = stdout
        .lines()
        .find_map(|l| l.split_once("ANSWER ").map(|(_, answer)| answer))
        .unwrap_or_else(|| panic!("no answer line: {stdout}"));
    let hello: serde_json::Value = serde_json::from_str(answer).expect("json");
    assert_eq!(hello["hello"], "refused", "{answer}");
    assert!(
        hello["reason"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("uid {NOBODY}")),
        "{answer}"
    );
    let status = daemon.client().status().expect("status");
    assert_eq!(status.refused, 1);
    assert_eq!(status.requests, 0);
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
