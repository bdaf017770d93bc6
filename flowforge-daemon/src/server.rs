//! The daemon's side: one listener, threads that take turns accepting and answering (see
//! [`Workers`]), a handler that answers.
//!
//! [`Server::bind`] takes the repository's lock (`flock`, non-blocking: a second daemon gets
//! [`Error::AlreadyRunning`] and two racing starts leave exactly one), replaces a socket file
//! left behind by a dead daemon, binds, and writes the record. [`Server::serve`] then answers
//! until asked to stop, idle for its idle timeout, or its repository is gone. A connection of
//! another user is refused (`SO_PEERCRED`), a request is bounded in size and time, and a
//! malformed one gets an error answer while the daemon keeps serving; a handler that panics
//! costs that one request.

use std::{
    fs,
    io::{BufReader, Write},
    os::unix::{
        fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
        net::{UnixListener, UnixStream},
    },
    panic::AssertUnwindSafe,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use crate::{
    error::{Error, Result, io},
    location::Location,
    protocol::{
        Envelope, Header, Hello, Line, MAX_REQUEST, Reply, Request, RunRequest, ServerStatus,
        read_line, to_line,
    },
};

/// Answers the requests a [`Server`] receives; called from many threads at once.
pub trait Handler: Send + Sync + 'static {
    /// Runs one command.
    fn run(&self, request: RunRequest) -> Reply;

    /// What the handler reports in the daemon's status (caches, watchers, warnings).
    fn status(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// How a [`Server`] behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The application's version: requests of another version are declined.
    pub version: String,
    /// Exit after this long without a request.
    pub idle_timeout: Duration,
    /// The longest a client may take to send its request.
    pub request_timeout: Duration,
}

impl ServerOptions {
    /// Options with the given version, a 30-minute idle timeout and a 10-second request timeout.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            idle_timeout: Duration::from_secs(30 * 60),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Why [`Server::serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown {
    /// A client asked it to stop.
    Stopped,
    /// No request came for the idle timeout.
    Idle,
    /// The repository's common directory is gone.
    RepositoryGone,
    /// The socket file was removed or replaced.
    SocketLost,
}

/// A bound daemon; see the [crate documentation](crate).
#[derive(Debug)]
pub struct Server {
    location: Location,
    listener: UnixListener,
    socket_inode: u64,
    _lock: fs::File,
    options: ServerOptions,
    started: Instant,
}

/// The record written into the repository for people and `daemon status`.
#[derive(Serialize)]
struct Record<'a> {
    pid: u32,
    socket: &'a std::path::Path,
    version: &'a str,
    started_unix: u64,
}

struct Shared<H> {
    handler: H,
    location: Location,
    options: ServerOptions,
    started: Instant,
    uid: u32,
    last_request: Mutex<Instant>,
    in_flight: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
    malformed: AtomicU64,
    stop: AtomicBool,
    shutdown: Mutex<Option<Shutdown>>,
    listener: Arc<UnixListener>,
}

impl Server {
    /// Takes the repository's lock and binds its socket.
    ///
    /// # Errors
    /// [`Error::AlreadyRunning`] when another daemon holds the lock; [`Error::Io`] when the
    /// lock, socket or record cannot be made.
    pub fn bind(location: &Location, options: ServerOptions) -> Result<Self> {
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(location.lock())
            .map_err(io("cannot open the lock", location.lock()))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(Error::AlreadyRunning {
                    lock: location.lock().to_owned(),
                });
            }
            Err(e) => return Err(io("cannot lock", location.lock())(e.into())),
        }
        // Holding the lock, any socket file is a dead daemon's.
        match fs::remove_file(location.socket()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove the stale socket", location.socket())(e)),
        }
        let listener =
            UnixListener::bind(location.socket()).map_err(io("cannot bind", location.socket()))?;
        fs::set_permissions(location.socket(), fs::Permissions::from_mode(0o600))
            .map_err(io("cannot restrict", location.socket()))?;
        let socket_inode = fs::metadata(location.socket())
            .map_err(io("cannot stat", location.socket()))?
            .ino();
        let record = Record {
            pid: std::process::id(),
            socket: location.socket(),
            version: &options.version,
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        write_private(location.record(), &to_line(&record))
            .map_err(io("cannot write the record", location.record()))?;
        Ok(Self {
            location: location.clone(),
            listener,
            socket_inode,
            _lock: lock,
            options,
            started: Instant::now(),
        })
    }

    /// Where this server listens.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Answers requests with `handler` until stopped, idle or orphaned; then removes its socket
    /// and record and releases the lock.
    ///
    /// # Errors
    /// [`Error::Io`] when accepting connections fails for good.
    pub fn serve<H: Handler>(self, handler: H) -> Result<Shutdown> {
        let shared = Arc::new(Shared {
            handler,
            location: self.location.clone(),
            options: self.options.clone(),
            started: self.started,
            uid: rustix::process::getuid().as_raw(),
            last_request: Mutex::new(Instant::now()),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            shutdown: Mutex::new(None),
            listener: Arc::new(self.listener),
        });
        let watchdog = {
            let shared = Arc::clone(&shared);
            let inode = self.socket_inode;
            std::thread::spawn(move || watchdog(&shared, inode))
        };
        let listener = Arc::clone(&shared.listener);
        let workers = Arc::new(Workers::default());
        // This thread is the first worker; it returns once the daemon stops.
        work(&shared, &listener, &workers);
        let failure = lock(&workers.state).failure.take();
        let result = match failure {
            Some(e) => Err(io("cannot accept on", self.location.socket())(e)),
            None => Ok(()),
        };
        let _ = watchdog.join();
        // Remove only what is still ours: a successor may already have replaced them.
        if fs::metadata(self.location.socket()).is_ok_and(|m| m.ino() == self.socket_inode) {
            let _ = fs::remove_file(self.location.socket());
        }
        if fs::read(self.location.record()).is_ok_and(|bytes| {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .is_ok_and(|v| v["pid"] == std::process::id())
        }) {
            let _ = fs::remove_file(self.location.record());
        }
        result?;
        let reason = *shared.shutdown.lock().unwrap_or_else(|p| p.into_inner());
        Ok(reason.unwrap_or(Shutdown::Stopped))
    }
}

/// The threads that answer connections, leader and followers: the leader waits in `accept`;
/// once it has a connection it hands its place to a waiting follower (or starts a new thread
/// when none waits) and answers the connection itself. The thread that answers is thus the one
/// the kernel woke from `accept`: no thread is created or woken between a connection and its
/// answer, and a thread woken from sleep runs sooner than a new one on a busy machine (which
/// delayed answers by milliseconds when each connection had a thread of its own). Threads are
/// as many as connections answered at the same time lately, plus one: a thread that waited a
/// minute for its turn while another waited too ends.
#[derive(Default)]
struct Workers {
    state: Mutex<WorkerState>,
    turn: Condvar,
}

#[derive(Default)]
struct WorkerState {
    /// A thread waits in `accept`.
    leading: bool,
    /// Threads waiting for their turn to lead.
    waiting: usize,
    /// Why accepting failed for good.
    failure: Option<std::io::Error>,
}

/// How long a worker waits for its turn before it ends, when another worker waits too.
const IDLE_WORKER: Duration = Duration::from_secs(60);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One worker's life: lead (accept a connection), hand the lead over, answer; until the
/// daemon stops.
fn work<H: Handler>(shared: &Arc<Shared<H>>, listener: &Arc<UnixListener>, workers: &Arc<Workers>) {
    loop {
        {
            let mut state = lock(&workers.state);
            while state.leading && !shared.stop.load(Ordering::SeqCst) {
                state.waiting += 1;
                let (next, waited) = workers
                    .turn
                    .wait_timeout(state, IDLE_WORKER)
                    .unwrap_or_else(|p| p.into_inner());
                state = next;
                // Long unneeded, and another thread waits too: one fewer.
                if waited.timed_out() && state.leading && state.waiting > 1 {
                    state.waiting -= 1;
                    return;
                }
                state.waiting -= 1;
            }
            if shared.stop.load(Ordering::SeqCst) {
                // Whoever sees the stop first wakes the waiting ones, which then see it too.
                workers.turn.notify_all();
                return;
            }
            state.leading = true;
        }
        let accepted = loop {
            match listener.accept() {
                Ok((stream, _)) => break Ok(stream),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Out of file descriptors or memory for a moment: keep serving.
                Err(e) if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) => {
                    if shared.stop.load(Ordering::SeqCst) {
                        break Err(None);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => break Err(Some(e)),
            }
        };
        let mut state = lock(&workers.state);
        state.leading = false;
        let stream = match accepted {
            Ok(stream) if !shared.stop.load(Ordering::SeqCst) => stream,
            // Stopping: `accept` fails once the listener is shut down.
            Ok(_) | Err(None) => {
                workers.turn.notify_all();
                return;
            }
            Err(Some(_)) if shared.stop.load(Ordering::SeqCst) => {
                workers.turn.notify_all();
                return;
            }
            Err(Some(e)) => {
                state.failure = Some(e);
                shared.stop.store(true, Ordering::SeqCst);
                workers.turn.notify_all();
                return;
            }
        };
        if state.waiting > 0 {
            workers.turn.notify_one();
        } else {
            let (shared, listener, workers) = (
                Arc::clone(shared),
                Arc::clone(listener),
                Arc::clone(workers),
            );
            std::thread::spawn(move || work(&shared, &listener, &workers));
        }
        drop(state);
        serve_connection(shared, stream);
    }
}

/// Wakes the thread waiting in `accept` once the daemon is stopping: shutting the listening
/// socket down makes its `accept` fail (and every later connect), even when the socket file
/// is gone and nobody could connect to wake it.
fn wake<H>(shared: &Shared<H>) {
    let _ = rustix::net::shutdown(&*shared.listener, rustix::net::Shutdown::Read);
}

/// Checks a few times a second whether the daemon should exit, and wakes the accept loop.
fn watchdog<H: Handler>(shared: &Shared<H>, inode: u64) {
    let idle = shared.options.idle_timeout;
    let tick = (idle / 4).clamp(Duration::from_millis(10), Duration::from_millis(500));
    loop {
        std::thread::sleep(tick);
        let reason = if shared.stop.load(Ordering::SeqCst) {
            Some(Shutdown::Stopped)
        } else if !shared.location.repository().exists() {
            Some(Shutdown::RepositoryGone)
        } else if !fs::metadata(shared.location.socket()).is_ok_and(|m| m.ino() == inode) {
            Some(Shutdown::SocketLost)
        } else {
            let last = *shared
                .last_request
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            (shared.in_flight.load(Ordering::SeqCst) == 0 && last.elapsed() >= idle)
                .then_some(Shutdown::Idle)
        };
        if let Some(reason) = reason {
            shared
                .shutdown
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(reason);
            shared.stop.store(true, Ordering::SeqCst);
            wake(shared);
            return;
        }
    }
}

fn serve_connection<H: Handler>(shared: &Shared<H>, mut stream: UnixStream) {
    let uid = rustix::net::sockopt::socket_peercred(&stream).map(|c| c.uid.as_raw());
    if uid != Ok(shared.uid) {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        let reason = match uid {
            Ok(uid) => format!("uid {uid} may not use the daemon of uid {}", shared.uid),
            Err(e) => format!("cannot tell who is calling: {e}"),
        };
        let _ = stream.write_all(&to_line(&Hello::Refused { reason }));
        return;
    }
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let hello = Hello::Welcome {
        version: shared.options.version.clone(),
        pid: std::process::id(),
    };
    if stream.write_all(&to_line(&hello)).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(shared.options.request_timeout));
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let (header, payload) = answer(shared, &mut stream);
    shared.requests.fetch_add(1, Ordering::Relaxed);
    *shared
        .last_request
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Instant::now();
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut bytes = to_line(&header);
    bytes.extend_from_slice(&payload);
    let _ = stream.write_all(&bytes);
    if header == Header::Stopping {
        shared.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread now rather than at the watchdog's next tick.
        wake(shared);
    }
}

/// Reads one request and makes its answer: a header and the bytes that follow it.
fn answer<H: Handler>(shared: &Shared<H>, stream: &mut UnixStream) -> (Header, Vec<u8>) {
    let malformed = |message: String| {
        shared.malformed.fetch_add(1, Ordering::Relaxed);
        (Header::Error { message }, Vec::new())
    };
    let line = match read_line(&mut BufReader::new(&*stream), MAX_REQUEST) {
        Ok(Line::Whole(line)) => line,
        Ok(Line::TooLong) => return malformed(format!("request longer than {MAX_REQUEST} bytes")),
        Ok(Line::Truncated) => return malformed("truncated request".to_owned()),
        Err(e) => return malformed(format!("cannot read the request: {e}")),
    };
    let envelope: Envelope = match serde_json::from_slice(&line) {
        Ok(envelope) => envelope,
        Err(e) => return malformed(format!("malformed request: {e}")),
    };
    match envelope.request {
        Request::Stop => {
            shared
                .shutdown
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(Shutdown::Stopped);
            (Header::Stopping, Vec::new())
        }
        Request::Status => (
            Header::Status {
                status: Box::new(status(shared)),
            },
            Vec::new(),
        ),
        Request::Run(_) if envelope.version != shared.options.version => (
            Header::Declined {
                reason: format!(
                    "daemon runs version {}, the request is of {}",
                    shared.options.version, envelope.version
                ),
            },
            Vec::new(),
        ),
        Request::Run(run) => {
            let handler = &shared.handler;
            match std::panic::catch_unwind(AssertUnwindSafe(|| handler.run(run))) {
                Ok(Reply::Done(done)) => {
                    let header = Header::Done {
                        exit_code: done.exit_code,
                        stdout: done.stdout.len(),
                        stderr: done.stderr.len(),
                    };
                    let mut payload = done.stdout;
                    payload.extend_from_slice(&done.stderr);
                    (header, payload)
                }
                Ok(Reply::Declined { reason }) => (Header::Declined { reason }, Vec::new()),
                Err(_) => (
                    Header::Error {
                        message: "the daemon failed on this request".to_owned(),
                    },
                    Vec::new(),
                ),
            }
        }
    }
}

fn status<H: Handler>(shared: &Shared<H>) -> ServerStatus {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ServerStatus {
        pid: std::process::id(),
        version: shared.options.version.clone(),
        socket: shared.location.socket().display().to_string(),
        repository: shared.location.repository().display().to_string(),
        uptime_ms: ms(shared.started.elapsed()),
        requests: shared.requests.load(Ordering::Relaxed),
        refused: shared.refused.load(Ordering::Relaxed),
        malformed: shared.malformed.load(Ordering::Relaxed),
        idle_timeout_ms: ms(shared.options.idle_timeout),
        memory_rss_bytes: rss_bytes(),
        handler: shared.handler.status(),
    }
}

/// This process's resident set size, from `/proc/self/status`.
fn rss_bytes() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Writes `bytes` to `path` 0600 through a temporary file and a rename.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}
