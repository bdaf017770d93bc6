//! The one error type of flowforge-daemon.

use std::{io, path::PathBuf};

/// What can go wrong finding, starting or asking a daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The runtime directory cannot be created or is not private to this user.
    #[error("runtime directory {path} is unusable: {reason}")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Even the fallback socket path is longer than a unix socket path may be.
    #[error("socket path {path} is longer than 107 bytes")]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
    },
    /// No daemon listens on the socket (no socket file).
    #[error("no daemon at {socket}")]
    NotRunning {
        /// The socket path.
        socket: PathBuf,
    },
    /// A socket file is left behind by a daemon that is gone.
    #[error("stale socket {socket}: no daemon listens on it")]
    Stale {
        /// The socket path.
        socket: PathBuf,
    },
    /// The daemon did not greet within the connect timeout.
    #[error("daemon at {socket} did not answer within {timeout_ms} ms")]
    Slow {
        /// The socket path.
        socket: PathBuf,
        /// The timeout.
        timeout_ms: u128,
    },
    /// The daemon greeted but its process is stopped (`SIGSTOP`, `SIGTSTP`, a debugger), so
    /// it cannot answer until someone continues it.
    #[error("daemon {pid} at {socket} is stopped and cannot answer")]
    Stopped {
        /// The socket path.
        socket: PathBuf,
        /// The daemon's process id.
        pid: u32,
    },
    /// The daemon runs another version than the client.
    #[error("daemon runs version {daemon}, this client is {client}")]
    OtherVersion {
        /// The daemon's version.
        daemon: String,
        /// The client's version.
        client: String,
    },
    /// The daemon refused the request (another user, too large, malformed).
    #[error("daemon refused the request: {reason}")]
    Refused {
        /// What the daemon said.
        reason: String,
    },
    /// The connection broke or the daemon sent something that is not the protocol.
    #[error("protocol error with the daemon at {socket}: {reason}")]
    Protocol {
        /// The socket path.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another daemon already serves this repository.
    #[error("a daemon already serves this repository (lock {lock} is held)")]
    AlreadyRunning {
        /// The lock file.
        lock: PathBuf,
    },
    /// An I/O error on a path.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// flowforge-daemon's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { what, path, source }
}
