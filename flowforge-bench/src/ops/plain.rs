//! Plain file access, as the bash tools do it: read whole files, write them in place (truncate
//! and write, no temporary file, no rename, no fsync). Files are created 0600 all the same.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use flowforge_core::{DeveloperId, Layout, model::Session};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};

/// Reads of a file that was being rewritten by another thread (empty or cut short), which the
/// naive variants meet in Concurrent Ops and treat as the bash tools do (`jq … || echo '{}'`).
static TORN_READS: AtomicU64 = AtomicU64::new(0);

/// How many torn reads the naive variants have met in this process.
pub fn torn_reads() -> u64 {
    TORN_READS.load(Ordering::Relaxed)
}

/// Writes `bytes` to `path` in place.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("cannot open", path))?;
    file.write_all(bytes)
        .map_err(Error::io("cannot write", path))
}

/// Serialises `value` as pretty JSON and writes it in place.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        what: path.display().to_string(),
        source,
    })?;
    write(path, &bytes)
}

/// Reads and parses `path`; `None` when it does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json {
                what: path.display().to_string(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path)(e)),
    }
}

/// As [`read_json`], but a file another thread is rewriting reads as absent (and is counted
/// in [`torn_reads`]).
pub(crate) fn read_json_tolerant<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match read_json(path) {
        Err(Error::Json { .. }) => {
            TORN_READS.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
        other => other,
    }
}

/// Every `dev-<id>` directory under the root, by listing it (as `ls -d .flowforge/dev-*`).
pub(crate) fn namespaces(layout: &Layout) -> Result<Vec<DeveloperId>> {
    let root = layout.root();
    let mut ids = Vec::new();
    for entry in fs::read_dir(root).map_err(Error::io("cannot list", root))? {
        let entry = entry.map_err(Error::io("cannot list", root))?;
        if let Some(Ok(id)) = Layout::parse_dev_dir_name(&entry.file_name()) {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Every developer's `current.json`, by scanning the namespaces (a torn or missing file is
/// skipped).
pub(crate) fn current_sessions(layout: &Layout) -> Result<Vec<Session>> {
    let mut sessions = Vec::new();
    for dev in namespaces(layout)? {
        if let Some(session) = read_json_tolerant::<Session>(&layout.current_session(&dev))? {
            sessions.push(session);
        }
    }
    Ok(sessions)
}

/// A session id unique in this process.
pub(crate) fn next_session_id(dev: &DeveloperId) -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    format!(
        "session-{dev}-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// `sessions/session.lock`, the bash tools' lock file.
pub(crate) fn lock_file(layout: &Layout, dev: &DeveloperId) -> PathBuf {
    layout.sessions_dir(dev).join("session.lock")
}
