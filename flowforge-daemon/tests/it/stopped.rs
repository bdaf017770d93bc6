//! A daemon whose process is stopped (`SIGSTOP`) after it greeted: the client gives it up with
//! [`Error::Stopped`] instead of waiting for an answer that cannot come. The daemon runs in a
//! process of its own (this test binary run again), since a process cannot stop itself and go
//! on asking.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use flowforge_daemon::{
    Client, ClientOptions, Done, Error, Handler, Location, Reply, RunRequest, Server, ServerOptions,
};

use crate::support::{VERSION, options, request};

const DIR_VAR: &str = "FLOWFORGE_DAEMON_TEST_STOPPED_DIR";

/// Stops its own process when asked to run anything, then answers (once continued).
struct StopsItself;

impl Handler for StopsItself {
    #[allow(unsafe_code)]
    fn run(&self, _: RunRequest) -> Reply {
        // Raised on this very thread, the stop takes this thread before `raise` returns (sent
        // to the process, it could take another thread first and let this one answer).
        // SAFETY: `raise` has no preconditions.
        unsafe { libc::raise(libc::SIGSTOP) };
        Reply::Done(Done::default())
    }
}

/// The daemon's process, killed when the test ends however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn location(dir: &std::path::Path) -> Location {
    Location::under(&dir.join("repo"), Some(dir.join("rt"))).expect("location")
}

/// `ask` on a thread, failing the test rather than hanging it when no answer comes.
fn within<T: Send + 'static>(ask: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ask());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the client still waits for a stopped daemon")
}

#[test]
fn a_daemon_stopped_before_it_answers_is_given_up() {
    if let Some(dir) = std::env::var_os(DIR_VAR) {
        // This is the test binary run again: the daemon.
        let server = Server::bind(&location(&PathBuf::from(dir)), ServerOptions::new(VERSION))
            .expect("bind");
        let _ = server.serve(StopsItself);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("repo")).expect("mkdir");
    let daemon = Killed(
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "stopped::a_daemon_stopped_before_it_answers_is_given_up",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("the daemon process starts"),
    );
    let location = location(dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        match Client::connect(&location, &options()).and_then(Client::status) {
            Ok(status) => break status.pid,
            Err(e) if Instant::now() > deadline => panic!("the daemon never answered: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    assert_eq!(pid, daemon.0.id());

    // Greeted, then stopped while answering.
    let at = location.clone();
    let err = within(move || {
        Client::run_once(&at, &options(), &request(&["anything"])).expect_err("no answer")
    });
    assert!(
        matches!(err, Error::Stopped { pid: p, .. } if p == pid),
        "{err}"
    );
    assert!(err.to_string().contains("is stopped"), "{err}");

    // Asked while stopped, with a greeting timeout long enough to matter: given up as stopped,
    // whether or not the thread that accepts had stopped before it greeted.
    let patient = ClientOptions {
        connect_timeout: Duration::from_secs(600),
        ..options()
    };
    let err = within(move || {
        Client::connect(&location, &patient)
            .and_then(|client| client.run(&request(&["anything"])))
            .expect_err("no answer")
    });
    assert!(
        matches!(err, Error::Stopped { pid: p, .. } if p == pid),
        "{err}"
    );
}
