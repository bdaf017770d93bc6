//! A daemon's life: one per repository, stale sockets replaced, idle and orphaned exits,
//! versions, panicking handlers.

use std::{fs, os::unix::net::UnixListener, time::Duration};

use flowforge_daemon::{
    Client, ClientOptions, Error, Location, Reply, Server, ServerOptions, Shutdown,
};

use crate::support::{Daemon, Echo, VERSION, echo, options, request};

const LONG: Duration = Duration::from_secs(600);

#[test]
fn answers_with_the_handlers_bytes_and_exit_code() {
    let daemon = Daemon::start(LONG);
    let done = echo(&daemon, &["who", "task-1"]);
    assert_eq!(done.stdout, b"who task-1");
    assert_eq!(done.stderr, b"/somewhere");
    assert_eq!(done.exit_code, 2);
    let status = daemon.client().status().expect("status");
    assert_eq!(status.pid, std::process::id());
    assert_eq!(status.handler["calls"], 1);
    assert_eq!(status.requests, 1);
}

#[test]
fn a_second_server_on_the_same_repository_is_refused() {
    let daemon = Daemon::start(LONG);
    let err = Server::bind(&daemon.location, ServerOptions::new(VERSION)).expect_err("locked");
    assert!(matches!(err, Error::AlreadyRunning { .. }), "{err}");
    assert!(daemon.location.is_locked());
    // The first one still answers.
    assert_eq!(echo(&daemon, &["x"]).stdout, b"x");
}

#[test]
fn a_daemon_that_does_not_greet_in_time_is_slow() {
    // Bound but not serving yet (as while it warms up): connections wait in the backlog.
    let repo = tempfile::tempdir().expect("temp dir");
    let runtime = tempfile::tempdir().expect("temp dir");
    let location = Location::under(repo.path(), Some(runtime.path().join("rt"))).expect("location");
    let _server = Server::bind(&location, ServerOptions::new(VERSION)).expect("bind");
    let quick = ClientOptions {
        connect_timeout: Duration::from_millis(150),
        ..options()
    };
    let err = Client::connect(&location, &quick).expect_err("no greeting");
    assert!(
        matches!(
            err,
            Error::Slow {
                timeout_ms: 150,
                ..
            }
        ),
        "{err}"
    );
    let err = Client::run_once(&location, &quick, &request(&["x"])).expect_err("no greeting");
    assert!(matches!(err, Error::Slow { .. }), "{err}");
}

#[test]
fn a_stale_socket_is_reported_and_replaced() {
    let repo = tempfile::tempdir().expect("temp dir");
    let runtime = tempfile::tempdir().expect("temp dir");
    let location = Location::under(repo.path(), Some(runtime.path().join("rt"))).expect("location");
    // A dead daemon's socket file: bound, then nobody listens.
    drop(UnixListener::bind(location.socket()).expect("bind"));
    assert!(location.socket().exists());
    let err = Client::connect(&location, &options()).expect_err("stale");
    assert!(matches!(err, Error::Stale { .. }), "{err}");
    assert!(!location.is_locked());
    let server = Server::bind(&location, ServerOptions::new(VERSION)).expect("bind over it");
    let thread = std::thread::spawn(move || server.serve(Echo::default()));
    let client = Client::connect(&location, &options()).expect("connect");
    match client.run(&request(&["a"])) {
        Ok(Reply::Done(done)) => assert_eq!(done.stdout, b"a"),
        other => panic!("{other:?}"),
    }
    let client = Client::connect(&location, &options()).expect("connect");
    client.stop().expect("stop");
    let shutdown = thread.join().expect("thread").expect("serve");
    assert_eq!(shutdown, Shutdown::Stopped);
    assert!(!location.socket().exists(), "the socket is removed on exit");
    assert!(!location.record().exists(), "the record is removed on exit");
    let err = Client::connect(&location, &options()).expect_err("gone");
    assert!(matches!(err, Error::NotRunning { .. }), "{err}");
}

#[test]
fn the_record_names_the_daemon() {
    let daemon = Daemon::start(LONG);
    let bytes = fs::read(daemon.location.record()).expect("record");
    let record: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(record["pid"], std::process::id());
    assert_eq!(record["version"], VERSION);
    let socket = daemon.location.socket().display().to_string();
    assert_eq!(record["socket"], socket);
}

#[test]
fn exits_when_idle() {
    let mut daemon = Daemon::start(Duration::from_millis(200));
    assert_eq!(echo(&daemon, &["x"]).exit_code, 1);
    assert_eq!(daemon.join(), Shutdown::Idle);
    assert!(!daemon.location.socket().exists());
}

#[test]
fn exits_when_the_repository_is_gone() {
    let mut daemon = Daemon::start(LONG);
    fs::remove_dir_all(daemon.repo.path()).expect("rm");
    assert_eq!(daemon.join(), Shutdown::RepositoryGone);
}

#[test]
fn another_version_is_declined_but_may_ask_status_and_stop() {
    let mut daemon = Daemon::start(LONG);
    let other = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        ..ClientOptions::new("other")
    };
    let client = Client::connect(&daemon.location, &other).expect("connect");
    assert_eq!(client.daemon_version(), VERSION);
    let err = client.run(&request(&["x"])).expect_err("other version");
    assert!(matches!(err, Error::OtherVersion { .. }), "{err}");
    let client = Client::connect(&daemon.location, &other).expect("connect");
    assert_eq!(client.status().expect("status").version, VERSION);
    let client = Client::connect(&daemon.location, &other).expect("connect");
    client.stop().expect("stop");
    assert_eq!(daemon.join(), Shutdown::Stopped);
}

#[test]
fn a_request_sent_with_the_connect_runs_once_and_never_on_another_version() {
    let mut daemon = Daemon::start(LONG);
    let (pid, reply) =
        Client::run_once(&daemon.location, &options(), &request(&["who", "t"])).expect("run");
    assert_eq!(pid, std::process::id());
    match reply {
        Reply::Done(done) => assert_eq!(done.stdout, b"who t"),
        other => panic!("{other:?}"),
    }
    let other = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        ..ClientOptions::new("other")
    };
    let err = Client::run_once(&daemon.location, &other, &request(&["x"])).expect_err("version");
    assert!(matches!(err, Error::OtherVersion { .. }), "{err}");
    let status = daemon.client().status().expect("status");
    assert_eq!(
        status.handler["calls"], 1,
        "the other version's request never ran"
    );
    daemon.client().stop().expect("stop");
    assert_eq!(daemon.join(), Shutdown::Stopped);
    let gone = Client::run_once(&daemon.location, &options(), &request(&["x"]));
    assert!(
        matches!(gone, Err(Error::NotRunning { .. } | Error::Stale { .. })),
        "{gone:?}"
    );
}

#[test]
fn a_panicking_or_declining_handler_costs_one_request() {
    let daemon = Daemon::start(LONG);
    let err = daemon
        .client()
        .run(&request(&["panic"]))
        .expect_err("failed");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    match daemon.client().run(&request(&["decline"])).expect("run") {
        Reply::Declined { reason } => assert_eq!(reason, "declined on request"),
        other => panic!("{other:?}"),
    }
    assert_eq!(echo(&daemon, &["still", "here"]).stdout, b"still here");
}

#[test]
fn exits_when_its_socket_is_removed() {
    let mut daemon = Daemon::start(LONG);
    assert_eq!(echo(&daemon, &["x"]).stdout, b"x");
    fs::remove_file(daemon.location.socket()).expect("rm");
    assert_eq!(daemon.join(), Shutdown::SocketLost);
}

#[test]
fn a_request_still_being_answered_holds_up_no_other() {
    let daemon = Daemon::start(LONG);
    std::thread::scope(|s| {
        let held = s.spawn(|| echo(&daemon, &["hold"]).stdout);
        // Once `hold` is being answered (the handler counted it), ask something else: it is
        // answered while `hold` waits, and releases it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while daemon.client().status().expect("status").handler["calls"] != 1 {
            assert!(std::time::Instant::now() < deadline, "hold never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(echo(&daemon, &["release"]).stdout, b"release");
        assert_eq!(held.join().expect("join"), b"released");
    });
    // The thread that answered `hold` takes its turn again.
    for i in 0..5 {
        let arg = i.to_string();
        assert_eq!(echo(&daemon, &[&arg]).stdout, arg.as_bytes());
    }
}

#[test]
fn many_clients_at_once() {
    let daemon = Daemon::start(LONG);
    std::thread::scope(|s| {
        for t in 0..8 {
            let daemon = &daemon;
            s.spawn(move || {
                for i in 0..20 {
                    let arg = format!("{t}-{i}");
                    assert_eq!(echo(daemon, &[&arg]).stdout, arg.as_bytes());
                }
            });
        }
    });
    let status = daemon.client().status().expect("status");
    assert_eq!(status.handler["calls"], 160);
}
