//! The client's side: what the `flowforge` CLI, and any Rust tool, uses to ask a daemon.
//!
//! [`Client::connect`] connects and reads the daemon's greeting within a short timeout (50 ms by
//! default), so a missing, dead or hung daemon costs the caller little: it answers in-process.
//! One connection carries one request.
//!
//! A daemon that greeted may still be stopped before it answers (`SIGSTOP`, `SIGTSTP`, a
//! debugger): every read waits in slices of [`STALL_CHECK`] and, between slices, looks at the
//! daemon's process state (`/proc/<pid>/stat`, the pid from `SO_PEERCRED`), so a stopped daemon
//! is given up with [`Error::Stopped`] instead of waited for. The kernel makes a stop take
//! effect lazily, thread by thread as each next runs, so a daemon sent `SIGSTOP` may still greet,
//! or even answer, for some milliseconds on a busy machine.

use std::{
    io::{self, BufReader, Read, Write},
    os::unix::net::UnixStream,
    path::PathBuf,
    time::{Duration, Instant},
};

use crate::{
    error::{Error, Result},
    location::Location,
    protocol::{
        Done, Envelope, Header, Hello, Line, MAX_HEADER, Reply, Request, RunRequest, ServerStatus,
        read_line, to_line,
    },
};

/// How a [`Client`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The application's version: a daemon of another version is not asked to run commands.
    pub version: String,
    /// How long the daemon may take to greet after the connect.
    pub connect_timeout: Duration,
    /// How long the daemon may take to answer (`None`: as long as it takes). A daemon whose
    /// process is stopped is given up whatever this says: [`Error::Stopped`].
    pub reply_timeout: Option<Duration>,
}

impl ClientOptions {
    /// Options with the given version, a 50 ms connect timeout and no reply timeout.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            connect_timeout: Duration::from_millis(50),
            reply_timeout: None,
        }
    }
}

/// How long a read waits before it checks again that the daemon is not stopped.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// A connection to a daemon that greeted us; see the [crate documentation](crate).
#[derive(Debug)]
pub struct Client {
    reader: BufReader<Watched>,
    socket: PathBuf,
    options: ClientOptions,
    daemon_version: String,
    daemon_pid: u32,
}

impl Client {
    /// Connects to the daemon of `location` and reads its greeting.
    ///
    /// # Errors
    /// [`Error::NotRunning`] (no socket), [`Error::Stale`] (a socket nobody listens on),
    /// [`Error::Slow`] (no greeting in time), [`Error::Refused`] (the daemon refuses this
    /// user), [`Error::Protocol`] or [`Error::Io`].
    pub fn connect(location: &Location, options: &ClientOptions) -> Result<Self> {
        let stream = open(location)?;
        Self::greet(stream, location, options)
    }

    /// Connects to the daemon of `location` and sends `request` at once, without waiting for
    /// the greeting first: one round trip less for a one-shot caller. Nothing can run that
    /// should not: a daemon of another version declines the request (it checks the version
    /// each request carries), and one that refuses the user closes without reading it.
    /// Returns the daemon's process id with its reply.
    ///
    /// # Errors
    /// As [`Client::connect`] and [`Client::run`].
    pub fn run_once(
        location: &Location,
        options: &ClientOptions,
        request: &RunRequest,
    ) -> Result<(u32, Reply)> {
        let mut stream = open(location)?;
        let sent = stream.write_all(&to_line(&Envelope {
            version: options.version.clone(),
            request: Request::Run(request.clone()),
        }));
        // The greeting says why a refused request could not be sent.
        let mut client = Self::greet(stream, location, options)?;
        if let Err(e) = sent {
            return Err(client.protocol(format!("cannot send the request: {e}")));
        }
        if client.daemon_version != client.options.version {
            return Err(Error::OtherVersion {
                daemon: client.daemon_version,
                client: client.options.version,
            });
        }
        let header = client.receive()?;
        let pid = client.daemon_pid;
        Ok((pid, client.reply(header)?))
    }

    /// Reads the greeting of the daemon at the other end of `stream`.
    fn greet(stream: UnixStream, location: &Location, options: &ClientOptions) -> Result<Self> {
        let socket = location.socket().to_owned();
        let protocol = |reason: String| Error::Protocol {
            socket: socket.clone(),
            reason,
        };
        let watched = Watched::new(stream, Some(options.connect_timeout))
            .map_err(|e| protocol(e.to_string()))?;
        let mut reader = BufReader::new(watched);
        let hello: Hello = match read_line(&mut reader, MAX_HEADER) {
            Ok(Line::Whole(line)) => {
                serde_json::from_slice(&line).map_err(|e| protocol(format!("bad greeting: {e}")))?
            }
            Ok(_) => return Err(protocol("no greeting".to_owned())),
            Err(e) => {
                return Err(match reader.get_ref().gave_up {
                    Some(GaveUp::Stopped(pid)) => Error::Stopped { socket, pid },
                    Some(GaveUp::Deadline) => Error::Slow {
                        socket,
                        timeout_ms: options.connect_timeout.as_millis(),
                    },
                    None => protocol(format!("cannot read the greeting: {e}")),
                });
            }
        };
        let (daemon_version, daemon_pid) = match hello {
            Hello::Welcome { version, pid } => (version, pid),
            Hello::Refused { reason } => return Err(Error::Refused { reason }),
        };
        reader.get_mut().deadline = options.reply_timeout.map(|t| Instant::now() + t);
        Ok(Self {
            reader,
            socket,
            options: options.clone(),
            daemon_version,
            daemon_pid,
        })
    }

    /// The daemon's process id, from its greeting.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon_pid
    }

    /// The daemon's version, from its greeting.
    pub fn daemon_version(&self) -> &str {
        &self.daemon_version
    }

    /// Asks the daemon to run a command.
    ///
    /// # Errors
    /// [`Error::OtherVersion`] before sending anything when the daemon's version is not the
    /// client's; [`Error::Refused`] when it calls the request malformed; [`Error::Protocol`]
    /// when the connection breaks (a daemon killed mid-request).
    pub fn run(mut self, request: &RunRequest) -> Result<Reply> {
        if self.daemon_version != self.options.version {
            return Err(Error::OtherVersion {
                daemon: self.daemon_version,
                client: self.options.version,
            });
        }
        let header = self.ask(Request::Run(request.clone()))?;
        self.reply(header)
    }

    /// The reply a run's answer `header` begins.
    fn reply(&mut self, header: Header) -> Result<Reply> {
        match header {
            Header::Done {
                exit_code,
                stdout,
                stderr,
            } => {
                let mut payload = vec![0; stdout.saturating_add(stderr)];
                self.reader
                    .read_exact(&mut payload)
                    .map_err(|e| self.read_error("output cut short", &e))?;
                let stderr = payload.split_off(stdout);
                Ok(Reply::Done(Done {
                    stdout: payload,
                    stderr,
                    exit_code,
                }))
            }
            Header::Declined { reason } => Ok(Reply::Declined { reason }),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Asks the daemon about itself (any version answers).
    ///
    /// # Errors
    /// As [`Client::run`].
    pub fn status(mut self) -> Result<ServerStatus> {
        match self.ask(Request::Status)? {
            Header::Status { status } => Ok(*status),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Asks the daemon to exit (any version obeys). It stops accepting at once and exits
    /// after removing its socket and record.
    ///
    /// # Errors
    /// As [`Client::run`].
    pub fn stop(mut self) -> Result<()> {
        match self.ask(Request::Stop)? {
            Header::Stopping => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    fn ask(&mut self, request: Request) -> Result<Header> {
        let envelope = Envelope {
            version: self.options.version.clone(),
            request,
        };
        (self.reader.get_mut().stream)
            .write_all(&to_line(&envelope))
            .map_err(|e| self.protocol(format!("cannot send the request: {e}")))?;
        self.receive()
    }

    /// Reads the header of the daemon's answer.
    fn receive(&mut self) -> Result<Header> {
        let line = match read_line(&mut self.reader, MAX_HEADER) {
            Ok(Line::Whole(line)) => line,
            Ok(_) => return Err(self.protocol("the connection closed before the answer".into())),
            Err(e) => return Err(self.read_error("cannot read the answer", &e)),
        };
        let header: Header =
            serde_json::from_slice(&line).map_err(|e| self.protocol(format!("bad answer: {e}")))?;
        match header {
            Header::Error { message } => Err(Error::Refused { reason: message }),
            other => Ok(other),
        }
    }

    /// The error for a read that failed: the daemon stopped, the reply timeout, or `e`.
    fn read_error(&self, what: &str, e: &io::Error) -> Error {
        match self.reader.get_ref().gave_up {
            Some(GaveUp::Stopped(pid)) => Error::Stopped {
                socket: self.socket.clone(),
                pid,
            },
            Some(GaveUp::Deadline) => self.protocol(format!(
                "{what}: no answer within {} ms",
                self.options.reply_timeout.unwrap_or_default().as_millis()
            )),
            None => self.protocol(format!("{what}: {e}")),
        }
    }

    fn protocol(&self, reason: String) -> Error {
        Error::Protocol {
            socket: self.socket.clone(),
            reason,
        }
    }

    fn unexpected(&self, header: &Header) -> Error {
        self.protocol(format!("unexpected answer {header:?}"))
    }
}

/// Why a [`Watched`] read gave up.
#[derive(Debug, Clone, Copy)]
enum GaveUp {
    /// The daemon process (this pid) is stopped.
    Stopped(u32),
    /// The deadline passed.
    Deadline,
}

/// The client's end of a connection, read in slices of [`STALL_CHECK`]: between slices it
/// gives up when the daemon is stopped or the deadline has passed. A slice that ends without
/// data has consumed nothing, so waiting on is exact.
#[derive(Debug)]
struct Watched {
    stream: UnixStream,
    /// The daemon's process id, from the kernel (`SO_PEERCRED`): `None` when it cannot say.
    peer: Option<u32>,
    deadline: Option<Instant>,
    gave_up: Option<GaveUp>,
    /// The read timeout the socket has now.
    slice: Duration,
}

impl Watched {
    fn new(stream: UnixStream, wait: Option<Duration>) -> io::Result<Self> {
        let peer = rustix::net::sockopt::socket_peercred(&stream)
            .ok()
            .and_then(|cred| u32::try_from(cred.pid.as_raw_nonzero().get()).ok());
        stream.set_read_timeout(Some(STALL_CHECK))?;
        Ok(Self {
            stream,
            peer,
            deadline: wait.map(|t| Instant::now() + t),
            gave_up: None,
            slice: STALL_CHECK,
        })
    }

    /// Records why the read gives up, and the error it returns for it.
    fn give_up(&mut self, why: GaveUp) -> io::Error {
        self.gave_up = Some(why);
        io::Error::new(io::ErrorKind::TimedOut, "gave up waiting for the daemon")
    }
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let slice = match self.deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(STALL_CHECK),
                    // Out of time: a stopped daemon is named as such.
                    _ => {
                        let why = match self.peer.filter(|&pid| is_stopped(pid)) {
                            Some(pid) => GaveUp::Stopped(pid),
                            None => GaveUp::Deadline,
                        };
                        return Err(self.give_up(why));
                    }
                },
                None => STALL_CHECK,
            };
            if slice != self.slice {
                self.stream.set_read_timeout(Some(slice))?;
                self.slice = slice;
            }
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Some(pid) = self.peer.filter(|&pid| is_stopped(pid)) {
                        return Err(self.give_up(GaveUp::Stopped(pid)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// Whether process `pid` is stopped (by a signal or a tracer), from `/proc/<pid>/stat`;
/// `false` when the system cannot say.
fn is_stopped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold any byte.
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    matches!(stat.get(close + 2), Some(b'T' | b't'))
}

/// Connects to the daemon's socket.
fn open(location: &Location) -> Result<UnixStream> {
    let socket = location.socket().to_owned();
    match UnixStream::connect(&socket) {
        Ok(stream) => Ok(stream),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotRunning { socket }),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Error::Stale { socket }),
        Err(source) => Err(Error::Io {
            what: "cannot connect to",
            path: socket,
            source,
        }),
    }
}
