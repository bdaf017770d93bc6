//! A daemon on a thread, in its own temporary repository and runtime directory, stopped on drop.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    thread::JoinHandle,
    time::Duration,
};

use flowforge_daemon::{
    Client, ClientOptions, Done, Handler, Location, Reply, RunRequest, Server, ServerOptions,
    Shutdown,
};

pub(crate) const VERSION: &str = "test-1";

/// Answers `args` joined by spaces; counts its calls; panics on `panic`; `hold` waits until
/// a later `release` (at most 10 s) and answers whether it was released.
#[derive(Default)]
pub(crate) struct Echo {
    pub calls: AtomicU64,
    released: (std::sync::Mutex<bool>, std::sync::Condvar),
}

impl Handler for Echo {
    fn run(&self, request: RunRequest) -> Reply {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (released, turn) = &self.released;
        match request.args.first().map(String::as_str) {
            Some("hold") => {
                let guard = released.lock().expect("lock");
                let (guard, _) = turn
                    .wait_timeout_while(guard, std::time::Duration::from_secs(10), |r| !*r)
                    .expect("lock");
                let answer = if *guard { "released" } else { "timed out" };
                return Reply::Done(Done {
                    stdout: answer.as_bytes().to_vec(),
                    stderr: Vec::new(),
                    exit_code: 0,
                });
            }
            Some("release") => {
                *released.lock().expect("lock") = true;
                turn.notify_all();
            }
            _ => {}
        }
        if request.args.first().map(String::as_str) == Some("panic") {
            panic!("asked to");
        }
        if request.args.first().map(String::as_str) == Some("decline") {
            return Reply::Declined {
                reason: "declined on request".into(),
            };
        }
        Reply::Done(Done {
            stdout: request.args.join(" ").into_bytes(),
            stderr: request.cwd.into_bytes(),
            exit_code: u8::try_from(request.args.len()).unwrap_or(255),
        })
    }

    fn status(&self) -> serde_json::Value {
        serde_json::json!({ "calls": self.calls.load(Ordering::SeqCst) })
    }
}

pub(crate) struct Daemon {
    pub repo: tempfile::TempDir,
    pub _runtime: tempfile::TempDir,
    pub location: Location,
    pub thread: Option<JoinHandle<flowforge_daemon::Result<Shutdown>>>,
}

impl Daemon {
    pub(crate) fn start(idle: Duration) -> Self {
        let repo = tempfile::tempdir().expect("temp dir");
        let runtime = tempfile::tempdir().expect("temp dir");
        let location =
            Location::under(repo.path(), Some(runtime.path().join("rt"))).expect("location");
        let options = ServerOptions {
            idle_timeout: idle,
            ..ServerOptions::new(VERSION)
        };
        let server = Server::bind(&location, options).expect("bind");
        let thread = Some(std::thread::spawn(move || server.serve(Echo::default())));
        Self {
            repo,
            _runtime: runtime,
            location,
            thread,
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(&self.location, &options()).expect("connect")
    }

    /// Waits for the daemon thread to end by itself.
    pub(crate) fn join(&mut self) -> Shutdown {
        let thread = self.thread.take().expect("running");
        thread.join().expect("daemon thread").expect("serve")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            if let Ok(client) = Client::connect(&self.location, &options()) {
                let _ = client.stop();
            }
            let _ = thread.join();
        }
    }
}

pub(crate) fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(5),
        ..ClientOptions::new(VERSION)
    }
}

pub(crate) fn request(args: &[&str]) -> RunRequest {
    RunRequest {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        cwd: "/somewhere".into(),
        env: Default::default(),
    }
}

pub(crate) fn echo(daemon: &Daemon, args: &[&str]) -> Done {
    match daemon.client().run(&request(args)).expect("run") {
        Reply::Done(done) => done,
        other => panic!("{other:?}"),
    }
}
