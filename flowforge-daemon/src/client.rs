//! The client's side: what the `flowforge` CLI, and any Rust tool, uses to ask a daemon.
//!
//! [`Client::connect`] connects and reads the daemon's greeting within a short timeout (50 ms by
//! default), so a missing, dead or hung daemon costs the caller little: it answers in-process.
//! One connection carries one request.

use std::{
    io::{BufReader, Read, Write},
    os::unix::net::UnixStream,
    path::PathBuf,
    time::Duration,
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
    /// How long the daemon may take to answer (`None`: as long as it takes).
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

/// A connection to a daemon that greeted us; see the [crate documentation](crate).
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
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
        stream
            .set_read_timeout(Some(options.connect_timeout))
            .map_err(|e| protocol(e.to_string()))?;
        let mut reader = BufReader::new(stream);
        let hello: Hello = match read_line(&mut reader, MAX_HEADER) {
            Ok(Line::Whole(line)) => {
                serde_json::from_slice(&line).map_err(|e| protocol(format!("bad greeting: {e}")))?
            }
            Ok(_) => return Err(protocol("no greeting".to_owned())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Error::Slow {
                    socket,
                    timeout_ms: options.connect_timeout.as_millis(),
                });
            }
            Err(e) => return Err(protocol(format!("cannot read the greeting: {e}"))),
        };
        let (daemon_version, daemon_pid) = match hello {
            Hello::Welcome { version, pid } => (version, pid),
            Hello::Refused { reason } => return Err(Error::Refused { reason }),
        };
        reader
            .get_ref()
            .set_read_timeout(options.reply_timeout)
            .map_err(|e| protocol(e.to_string()))?;
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
                    .map_err(|e| self.protocol(format!("output cut short: {e}")))?;
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
        (self.reader.get_mut())
            .write_all(&to_line(&envelope))
            .map_err(|e| self.protocol(format!("cannot send the request: {e}")))?;
        self.receive()
    }

    /// Reads the header of the daemon's answer.
    fn receive(&mut self) -> Result<Header> {
        let line = match read_line(&mut self.reader, MAX_HEADER) {
            Ok(Line::Whole(line)) => line,
            Ok(_) => return Err(self.protocol("the connection closed before the answer".into())),
            Err(e) => return Err(self.protocol(format!("cannot read the answer: {e}"))),
        };
        let header: Header =
            serde_json::from_slice(&line).map_err(|e| self.protocol(format!("bad answer: {e}")))?;
        match header {
            Header::Error { message } => Err(Error::Refused { reason: message }),
            other => Ok(other),
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
