//! A daemon and its client in one program: the server answers how many times each word was
//! asked about, a few clients ask, then one stops it.
//!
//! `cargo run -p flowforge-daemon --example count_daemon`

use std::{collections::BTreeMap, sync::Mutex};

use anyhow::{Context as _, bail};
use flowforge_daemon::{
    Client, ClientOptions, Done, Handler, Location, Reply, RunRequest, Server, ServerOptions,
};

/// Warm state the daemon keeps between requests: a count per word.
#[derive(Default)]
struct Counter {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Handler for Counter {
    fn run(&self, request: RunRequest) -> Reply {
        let Some(word) = request.args.get(1) else {
            return Reply::Done(Done {
                stderr: b"usage: count WORD\n".to_vec(),
                exit_code: 2,
                ..Done::default()
            });
        };
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(word.clone()).or_default();
        *count += 1;
        Reply::Done(Done {
            stdout: format!("{word}: {count}\n").into_bytes(),
            ..Done::default()
        })
    }

    fn status(&self) -> serde_json::Value {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::json!({ "words": counts.len() })
    }
}

fn main() -> anyhow::Result<()> {
    // A daemon is per repository (its git common directory); any directory will do here.
    let repo = tempfile::tempdir()?;
    let runtime = tempfile::tempdir()?;
    let location = Location::under(repo.path(), Some(runtime.path().join("rt")))?;
    let server = Server::bind(&location, ServerOptions::new("example"))?;
    let daemon = std::thread::spawn(move || server.serve(Counter::default()));

    let options = ClientOptions::new("example");
    for word in ["apple", "pear", "apple"] {
        let request = RunRequest {
            args: vec!["count".into(), word.into()],
            cwd: std::env::current_dir()?.display().to_string(),
            env: Default::default(),
        };
        match Client::connect(&location, &options)?.run(&request)? {
            Reply::Done(done) => print!("{}", String::from_utf8_lossy(&done.stdout)),
            other => bail!("unexpected answer {other:?}"),
        }
    }
    let status = Client::connect(&location, &options)?.status()?;
    println!(
        "daemon {} served {} requests, knows {} words",
        status.pid, status.requests, status.handler["words"]
    );
    Client::connect(&location, &options)?.stop()?;
    let shutdown = daemon.join().ok().context("daemon thread panicked")??;
    println!("daemon exited: {shutdown:?}");
    Ok(())
}
