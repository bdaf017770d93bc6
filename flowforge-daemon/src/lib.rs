//! A warm per-repository daemon for FlowForge, in the watchman model: where it listens, how it
//! is asked, and both ends of the conversation.
//!
//! Many short processes ask FlowForge one question each (shell prompts, the bash tools, coding
//! agents). A daemon keeps the expensive state of one repository warm and answers them over a
//! unix socket; every caller can also answer by itself, so the daemon is only ever a shortcut.
//!
//! - [`Location`]: the socket in a private runtime directory, named by the repository's git
//!   common directory (linked worktrees share one daemon), its lock and its record.
//! - [`Server`]: takes the lock (two racing starts leave one), binds, and answers through a
//!   [`Handler`] on threads that take turns waiting in `accept` (the one the kernel wakes
//!   answers); refuses other users (`SO_PEERCRED`), bounds requests, survives malformed ones,
//!   exits when idle, when the repository is gone or when its socket file is removed.
//! - [`Client`]: connects with a short timeout and asks: [`Client::run`], [`Client::status`],
//!   [`Client::stop`].
//!
//! The protocol is JSON lines with raw output bytes; see [`protocol`]. This crate knows nothing
//! about git, sessions or FlowForge's commands: the handler does.
//!
//! ```
//! use flowforge_daemon::{
//!     Reply, Client, ClientOptions, Done, Handler, Location, RunRequest, Server, ServerOptions,
//! };
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn run(&self, request: RunRequest) -> Reply {
//!         Reply::Done(Done {
//!             stdout: request.args.join(" ").into_bytes(),
//!             ..Done::default()
//!         })
//!     }
//! }
//!
//! let repo = tempfile::tempdir()?;
//! let runtime = tempfile::tempdir()?;
//! let location = Location::under(repo.path(), Some(runtime.path().join("rt")))?;
//! let server = Server::bind(&location, ServerOptions::new("1.0"))?;
//! let daemon = std::thread::spawn(move || server.serve(Echo));
//!
//! let client = Client::connect(&location, &ClientOptions::new("1.0"))?;
//! let request = RunRequest {
//!     args: vec!["echo".into(), "hi".into()],
//!     cwd: "/".into(),
//!     env: Default::default(),
//! };
//! match client.run(&request)? {
//!     Reply::Done(done) => assert_eq!(done.stdout, b"echo hi"),
//!     other => panic!("{other:?}"),
//! }
//! Client::connect(&location, &ClientOptions::new("1.0"))?.stop()?;
//! daemon.join().expect("daemon thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "flowforge-daemon needs Unix: it listens on a Unix socket and checks the caller's credentials"
);

mod client;
mod error;
mod location;
pub mod protocol;
mod server;

pub use client::{Client, ClientOptions};
pub use error::{Error, Result};
pub use location::Location;
pub use protocol::{Done, Reply, RunRequest, ServerStatus};
pub use server::{Handler, Server, ServerOptions, Shutdown};
