//! The wire protocol: JSON lines, then raw output bytes.
//!
//! On each connection the daemon first sends a `Hello` line: `{"hello":"welcome","version",
//! "pid"}`, or `{"hello":"refused","reason"}` to a caller of another user. The client then sends
//! one request line (at most [`MAX_REQUEST`] bytes): `{"version", "kind": "run" | "status" |
//! "stop", …}`. The daemon answers with one header line; a `done` header names the lengths of
//! the stdout and stderr bytes that follow it, raw (they need not be UTF-8). One request per
//! connection.

use std::{
    collections::BTreeMap,
    io::{self, BufRead, Read},
};

use serde::{Deserialize, Serialize};

/// The largest request line the daemon reads; a longer one is refused.
pub const MAX_REQUEST: usize = 1 << 20;

/// The longest line the client reads from the daemon (hello and headers).
pub(crate) const MAX_HEADER: usize = 1 << 20;

/// A command to run: what the client's process would have run itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The command line, program name first.
    pub args: Vec<String>,
    /// The client's working directory.
    pub cwd: String,
    /// The client's environment variables that bear on the answer.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What a handler makes of a [`RunRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The command ran: its output and exit code.
    Done(Done),
    /// The daemon will not answer this one (the client answers it itself).
    Declined {
        /// Why.
        reason: String,
    },
}

/// A command's output and exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    /// The bytes for stdout.
    pub stdout: Vec<u8>,
    /// The bytes for stderr.
    pub stderr: Vec<u8>,
    /// The exit code.
    pub exit_code: u8,
}

/// What a daemon reports about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// The daemon's process id.
    pub pid: u32,
    /// The daemon's version.
    pub version: String,
    /// The socket it listens on.
    pub socket: String,
    /// The repository's git common directory.
    pub repository: String,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// Requests answered (run, status and stop).
    pub requests: u64,
    /// Connections refused because the caller is another user.
    pub refused: u64,
    /// Requests that were malformed, truncated or too large.
    pub malformed: u64,
    /// The idle time after which it exits, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Its resident memory in bytes, when the system says.
    pub memory_rss_bytes: Option<u64>,
    /// What the handler reports (its caches, watchers and warnings).
    pub handler: serde_json::Value,
}

/// The daemon's first line on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "hello", rename_all = "snake_case")]
pub(crate) enum Hello {
    Welcome { version: String, pid: u32 },
    Refused { reason: String },
}

/// A request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub version: String,
    #[serde(flatten)]
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Request {
    Run(RunRequest),
    Status,
    Stop,
}

/// The daemon's header line in answer to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub(crate) enum Header {
    Done {
        exit_code: u8,
        stdout: usize,
        stderr: usize,
    },
    Declined {
        reason: String,
    },
    Error {
        message: String,
    },
    Status {
        status: Box<ServerStatus>,
    },
    Stopping,
}

/// What [`read_line`] found.
pub(crate) enum Line {
    /// A whole line, without its newline.
    Whole(Vec<u8>),
    /// More than `limit` bytes without a newline.
    TooLong,
    /// The peer closed the connection before the newline.
    Truncated,
}

/// Reads one line of at most `limit` bytes.
pub(crate) fn read_line(reader: &mut impl BufRead, limit: usize) -> io::Result<Line> {
    let mut buf = Vec::new();
    (&mut *reader)
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        Ok(Line::Whole(buf))
    } else if buf.len() > limit {
        Ok(Line::TooLong)
    } else {
        Ok(Line::Truncated)
    }
}

/// One JSON value and a newline.
pub(crate) fn to_line(value: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_else(|e| {
        // Our own types always serialize; say so on the wire rather than panic.
        format!(r#"{{"reply":"error","message":"cannot encode: {e}"}}"#).into_bytes()
    });
    line.push(b'\n');
    line
}
