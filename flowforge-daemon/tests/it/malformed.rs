//! Whatever a client sends, the daemon answers an error or nothing, and keeps serving.

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    time::Duration,
};

use proptest::prelude::*;

use crate::support::{Daemon, echo};

/// Sends `bytes` (then closes the writing side) and returns everything the daemon sent back.
fn send_raw(daemon: &Daemon, bytes: &[u8]) -> Vec<u8> {
    let mut stream = UnixStream::connect(daemon.location.socket()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The daemon may answer and close before reading everything: a broken pipe is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The header line after the greeting.
fn header(answer: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(answer);
    let mut lines = text.lines();
    let hello: serde_json::Value =
        serde_json::from_str(lines.next().expect("greeting")).expect("json");
    assert_eq!(hello["hello"], "welcome");
    serde_json::from_str(lines.next().expect("header")).expect("json")
}

const VALID: &str = r#"{"version":"test-1","kind":"run","args":["a","b"],"cwd":"/x","env":{}}"#;

#[test]
fn truncated_and_oversized_requests_get_an_error() {
    let daemon = Daemon::start(Duration::from_secs(600));
    for cut in [0, 1, 10, VALID.len() - 1] {
        let h = header(&send_raw(&daemon, &VALID.as_bytes()[..cut]));
        assert_eq!(h["reply"], "error", "{cut}: {h}");
    }
    let broken = format!("{}\n", &VALID[..VALID.len() - 1]);
    let h = header(&send_raw(&daemon, broken.as_bytes()));
    assert_eq!(h["reply"], "error");
    assert!(
        h["message"].as_str().unwrap_or("").contains("malformed"),
        "{h}"
    );
    let huge = vec![b'x'; flowforge_daemon::protocol::MAX_REQUEST + 10];
    let h = header(&send_raw(&daemon, &huge));
    assert_eq!(h["reply"], "error");
    assert!(
        h["message"].as_str().unwrap_or("").contains("longer than"),
        "{h}"
    );
    // A valid request on the raw socket: the header, then the bytes it announces.
    let answer = send_raw(&daemon, format!("{VALID}\n").as_bytes());
    assert_eq!(header(&answer)["reply"], "done");
    assert!(answer.ends_with(b"a b/x"));
    let status = daemon.client().status().expect("status");
    assert_eq!(status.malformed, 6);
}

thread_local! {
    /// One daemon for all cases of the property (each test thread its own).
    static DAEMON: Daemon = Daemon::start(Duration::from_secs(600));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_stop_the_daemon(
        junk in prop::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..VALID.len(),
        newline in any::<bool>(),
    ) {
        DAEMON.with(|d| {
            let _ = send_raw(d, &junk);
            let mut truncated = VALID.as_bytes()[..cut].to_vec();
            if newline {
                truncated.push(b'\n');
            }
            let h = header(&send_raw(d, &truncated));
            prop_assert_eq!(&h["reply"], "error");
            prop_assert_eq!(echo(d, &["still", "serving"]).stdout, b"still serving".to_vec());
            Ok(())
        })?;
    }
}
