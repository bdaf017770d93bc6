//! The read API of a namespace for indexers: [`load_namespace`] and the cheap change
//! detector [`namespace_version`].

use std::{
    io::Read,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{Session, TimeTracking},
};

use crate::time::SegmentsRead;
use crate::{
    error::{Error, Result},
    fs::{Dir, FileKind, FileStat},
    namespace::{dev_store, session_key, time_key},
    store::{StoreOptions, Versioned},
};

/// A cheap, comparable summary of a namespace's store: it changes whenever the session or
/// the time tracking [`load_namespace`] returns changes, a version file edited in place
/// included (its inode, size, modification and status-change times to the nanosecond).
/// Computing it costs two hint reads, a few `stat`s, and one `stat` of the history directory —
/// no listing that grows with history; history files edited in place are seen only by a
/// `stat` of each (see [`flowforge_session::fs::list_dir_stat`](crate::fs::list_dir_stat)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NamespaceVersion {
    /// The latest generation of the session (0: never written).
    pub session: u64,
    /// The latest generation of the time tracking (0: never written).
    pub time: u64,
    /// The `lstat` data of the session's latest version file.
    pub session_file: Option<FileStat>,
    /// The `lstat` data of the time tracking's latest version file.
    pub time_file: Option<FileStat>,
    /// The modification time of `sessions/history/` (`None`: missing). Every session ended
    /// through FlowForge also changes `session`; this catches files the bash tools add.
    pub history_modified: Option<SystemTime>,
}

/// Everything a developer's namespace holds, as read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceState {
    /// The developer.
    pub developer: DeveloperId,
    /// The version read before the documents: if [`namespace_version`] still returns it
    /// later, nothing below changed.
    pub version: NamespaceVersion,
    /// The latest session (active, or the last ended) with its version.
    pub session: Option<Versioned<Session>>,
    /// The time tracking with its version (`None`: never written through the store).
    pub time: Option<Versioned<TimeTracking>>,
    /// The ended sessions of `sessions/history/`, oldest first.
    pub history: Vec<Session>,
}

/// The [`NamespaceVersion`] of `dev`'s namespace.
///
/// # Errors
/// [`Error::Io`] when a store directory cannot be read.
pub fn namespace_version(layout: &Layout, dev: &DeveloperId) -> Result<NamespaceVersion> {
    let store = dev_store(layout, dev, StoreOptions::default());
    let history = layout.session_history_dir(dev);
    let history_modified = match crate::fs::stat(layout.root(), &history)? {
        Some(st) if st.kind == FileKind::Symlink => {
            return Err(Error::Symlink { path: history });
        }
        Some(st) => Some(UNIX_EPOCH + Duration::new(st.mtime.0.max(0) as u64, st.mtime.1)),
        None => None,
    };
    let (session, session_file) = store.generation_stat(&session_key())?;
    let (time, time_file) = store.generation_stat(&time_key())?;
    Ok(NamespaceVersion {
        session,
        time,
        session_file,
        time_file,
        history_modified,
    })
}

/// Reads `dev`'s session, time tracking and session history. The version is taken first, so
/// a change racing the read shows up as a version change at the next check.
///
/// # Errors
/// The store's read errors, or [`Error::Io`] / [`Error::Json`] naming a history file.
pub fn load_namespace(layout: &Layout, dev: &DeveloperId) -> Result<NamespaceState> {
    let version = namespace_version(layout, dev)?;
    let store = dev_store(layout, dev, StoreOptions::default());
    Ok(NamespaceState {
        developer: dev.clone(),
        version,
        session: store.get(&session_key())?,
        time: crate::time::read_all(&store)?,
        history: session_history(layout, dev)?,
    })
}

/// A namespace's documents in the store: what [`NamespaceState`] holds besides the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Documents {
    /// The latest session (active, or the last ended) with its version.
    pub session: Option<Versioned<Session>>,
    /// The time tracking with its version (`None`: never written through the store).
    pub time: Option<Versioned<TimeTracking>>,
}

/// The session and the time tracking of `dev`'s namespace, without its history: for a
/// reader that took the [`NamespaceVersion`] itself (an indexer's change detector) and reads
/// the history with [`session_history_reusing`].
///
/// # Errors
/// As [`load_namespace`].
pub fn read_documents(layout: &Layout, dev: &DeveloperId) -> Result<Documents> {
    let store = dev_store(layout, dev, StoreOptions::default());
    Ok(Documents {
        session: store.get(&session_key())?,
        time: crate::time::read_all(&store)?,
    })
}

/// [`read_documents`] for a reader that kept the time entries of the first `kept` sealed
/// segments of the time tracking from an earlier read and was told of no change to them (a
/// watcher's events name every file written): the time tracking then holds the entries of
/// the segments from [`SegmentsRead::first`] on, then the latest. That is `kept`, or 0 when
/// the document now has fewer sealed segments (every entry is read then). Segments are never
/// changed once written.
///
/// # Errors
/// As [`load_namespace`].
pub fn read_documents_after(
    layout: &Layout,
    dev: &DeveloperId,
    kept: u64,
) -> Result<(Documents, SegmentsRead)> {
    let store = dev_store(layout, dev, StoreOptions::default());
    let session = store.get(&session_key())?;
    let (time, read) = match crate::time::read_from(&store, kept)? {
        Some((time, read)) => (Some(time), read),
        None => (None, SegmentsRead::default()),
    };
    Ok((Documents { session, time }, read))
}

/// The ended sessions of `dev`'s `sessions/history/`, oldest first (by start time, then id).
/// Lists and parses the whole directory; files not named `*.json` are skipped.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file that could not be read.
pub fn session_history(layout: &Layout, dev: &DeveloperId) -> Result<Vec<Session>> {
    let mut files = session_history_reusing(layout, dev, |_, _| None)?;
    files.sort_by(|a, b| {
        let (a, b) = (&a.session, &b.session);
        (a.start_time, &a.session_id).cmp(&(b.start_time, &b.session_id))
    });
    Ok(files.into_iter().map(|file| file.session).collect())
}

/// One file of `sessions/history/` as [`session_history_reusing`] read it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryFile {
    /// Its name in `sessions/history/`.
    pub name: std::ffi::OsString,
    /// Its `lstat` data, taken before it was read: if they are the same later (and were not
    /// taken within a clock tick of its last change), so is the content.
    pub stat: FileStat,
    /// The ended session it holds.
    pub session: Session,
}

/// The files of `dev`'s `sessions/history/` (named `*.json`, not hidden), in directory order,
/// reading only those `reuse` has no session for: `reuse(name, stat)` returns the session a
/// caller read earlier from the file with that name and `lstat` data, or `None`. A reader
/// that keeps what it read (an index) pays one `stat` per unchanged file instead of an open,
/// a read and a parse.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file that could not be read.
pub fn session_history_reusing(
    layout: &Layout,
    dev: &DeveloperId,
    mut reuse: impl FnMut(&std::ffi::OsStr, &FileStat) -> Option<Session>,
) -> Result<Vec<HistoryFile>> {
    let Some(dir) = Dir::open(layout.root(), &layout.session_history_dir(dev))? else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in dir.entries()? {
        if let Some(file) = read_history_file(&dir, entry.name, &mut reuse)? {
            files.push(file);
        }
    }
    Ok(files)
}

/// The files of `dev`'s `sessions/history/` named `names`, as [`session_history_reusing`]
/// reads them, for a reader told which files changed (a file watcher): each name is read if
/// it is a history file (named `*.json`, not hidden) that exists, and left out otherwise.
///
/// # Errors
/// As [`session_history_reusing`].
pub fn read_history_files(
    layout: &Layout,
    dev: &DeveloperId,
    names: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Vec<HistoryFile>> {
    let Some(dir) = Dir::open(layout.root(), &layout.session_history_dir(dev))? else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for name in names {
        if let Some(file) = read_history_file(&dir, name, &mut |_, _| None)? {
            files.push(file);
        }
    }
    Ok(files)
}

/// One history file, or `None` for a name the history does not hold (hidden, not `*.json`,
/// removed meanwhile: as if listed a moment later).
fn read_history_file(
    dir: &Dir,
    name: std::ffi::OsString,
    reuse: &mut impl FnMut(&std::ffi::OsStr, &FileStat) -> Option<Session>,
) -> Result<Option<HistoryFile>> {
    if !is_history_name(&name) {
        return Ok(None);
    }
    let Some(stat) = dir.stat(&name)? else {
        return Ok(None);
    };
    let session = match reuse(&name, &stat) {
        Some(session) => session,
        None => {
            let path = dir.join(&name);
            let Some(mut file) = dir.open_file(&name)? else {
                return Ok(None);
            };
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(Error::io("cannot read", &path))?;
            serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })?
        }
    };
    Ok(Some(HistoryFile {
        name,
        stat,
        session,
    }))
}

/// Whether a file of `sessions/history/` holds an ended session: named `*.json`, not hidden
/// (temporary files of atomic writes are hidden).
pub fn is_history_name(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    !name.starts_with('.') && name.ends_with(".json")
}

/// `sessions/history/<session_id>.json`; the id must be a valid file name (the rules of
/// task ids).
pub(crate) fn history_path(
    layout: &Layout,
    dev: &DeveloperId,
    session_id: &str,
) -> Result<PathBuf> {
    TaskId::new(session_id).map_err(|_| Error::InvalidSessionId {
        id: flowforge_core::escape_bytes(session_id.as_bytes()),
    })?;
    Ok(layout
        .session_history_dir(dev)
        .join(format!("{session_id}.json")))
}
