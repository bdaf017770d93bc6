//! Loading namespaces from disk: with [`crate::team`] (the team's registrations and claims),
//! the only module that knows where the index's data lives.
//!
//! It reads through flowforge-session and never writes. A developer's session, time tracking
//! and history come from the session store ([`flowforge_session::load_namespace`]); where the
//! store has no document yet (a namespace written only by the bash tools), the shared JSON view
//! (`sessions/current.json`, `time-tracking.json`) stands in. `cache/git-status.json` gives
//! the paths a developer's work touches.
//!
//! Each namespace has a *stamp*, a 64-bit mix of [`flowforge_session::namespace_version`] (the
//! store's generations and the `stat` data of their latest version files), the `stat` data of
//! the views the store does not cover and the names and `stat` data of the files in
//! `sessions/history/` (inode, size, mtime and ctime to the nanosecond: a file edited in place
//! changes its ctime, whatever its mtime is set back to; racy stamps are verified by content,
//! see [`Stamp`]). A refresh reloads only
//! namespaces whose stamp moved. Files are replaced by an atomic rename, which gives the new
//! file an inode other than the one the index saw (that one still exists when the new file is
//! created), so a replaced file always moves the stamp, whatever the timestamps' granularity.

use std::{
    collections::{BTreeSet, HashMap},
    ffi::OsString,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    time::SystemTime,
};

use flowforge_core::{
    DeveloperId, Layout, escape_bytes,
    model::{GitStatusCache, Session, TimeEntry},
};
use flowforge_session::fs::{FileKind, FileStat, read_json};

use crate::{
    error::{Error, Result},
    record::{DevRecord, Problem},
};

/// The valid namespace directories under the root, and the entries that were ignored.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub devs: Vec<DeveloperId>,
    pub problems: Vec<Problem>,
}

/// Lists `dev-*` entries of the root. Names that are not valid ids, symbolic links and files
/// are reported and never followed. A missing root is an empty team.
///
/// # Errors
/// [`Error::ListRoot`] when the root exists but cannot be listed.
pub(crate) fn list(layout: &Layout) -> Result<Listing> {
    let root = layout.root();
    let list_err = |source| Error::ListRoot {
        path: root.to_owned(),
        source,
    };
    let entries = match flowforge_session::fs::list_dir(root, root) {
        Ok(Some(entries)) => entries,
        Ok(None) => return Ok(Listing::default()),
        Err(flowforge_session::Error::Io { source, .. }) => return Err(list_err(source)),
        Err(e) => return Err(list_err(std::io::Error::other(e))),
    };
    let mut listing = Listing::default();
    for entry in entries {
        let name = entry.name;
        let Some(parsed) = Layout::parse_dev_dir_name(&name) else {
            continue;
        };
        let path = root.join(&name);
        let problem = |message: String| Problem {
            path: path.clone(),
            developer: None,
            message,
        };
        match (parsed, entry.kind) {
            (Err(e), _) => listing.problems.push(problem(format!(
                "ignored directory \"{}\": {e}",
                escape_bytes(name.as_encoded_bytes())
            ))),
            (Ok(_), FileKind::Symlink) => listing
                .problems
                .push(problem("ignored: a symbolic link is never followed".into())),
            (Ok(id), FileKind::Dir) => listing.devs.push(id),
            (Ok(_), _) => listing
                .problems
                .push(problem("ignored: not a directory".into())),
        }
    }
    listing.devs.sort();
    listing.problems.sort();
    Ok(listing)
}

/// FNV-1a over 64-bit words: stable across processes and Rust versions, so stamps can be
/// persisted in the snapshot.
struct Mixer(u64);

impl Mixer {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn word(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }
}

impl Hasher for Mixer {
    fn write(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A stamp: a 64-bit mix of the `stat` data (inode, size, modification and status-change
/// times to the nanosecond) of every file a load reads, plus the store's generations.
///
/// A file changed twice within one tick of the kernel's file clock (a few milliseconds) with
/// the same size keeps its inode and times, so a stamp taken between the two changes would
/// vouch for the second. Such a stamp is *racy* (git's "racily clean" entries): some file it
/// covers changed less than [`RACY_WINDOW`] before the stamp was taken. The index reloads a
/// racy namespace at its next check even when the stamp did not move, and compares: the
/// content is the judge until the file is old enough for its times to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub value: u64,
    pub racy: bool,
}

/// How recent a file's status change makes a stamp racy: well above the kernel's coarse
/// clock tick (1–10 ms), which file times are taken from.
pub(crate) const RACY_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// File times (seconds, nanoseconds) at or after which a file is racy: [`RACY_WINDOW`] ago.
fn racy_threshold() -> (i64, u32) {
    let threshold = std::time::SystemTime::now()
        .checked_sub(RACY_WINDOW)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    (threshold.as_secs() as i64, threshold.subsec_nanos())
}

/// Mixes `stat` data into a stamp and notes racy files.
pub(crate) struct StampBuilder {
    mixer: Mixer,
    /// Files whose status changed at or after this (seconds, nanoseconds) are racy.
    racy_after: (i64, u32),
    racy: bool,
}

impl StampBuilder {
    pub(crate) fn new() -> Self {
        Self {
            mixer: Mixer::new(),
            racy_after: racy_threshold(),
            racy: false,
        }
    }

    pub(crate) fn word(&mut self, value: u64) {
        self.mixer.word(value);
    }

    pub(crate) fn file(&mut self, stat: Option<&FileStat>) {
        let Some(m) = stat else {
            self.word(0);
            return;
        };
        self.word(1);
        self.word(m.kind as u64);
        self.word(m.ino);
        self.word(m.size);
        self.word(m.mtime.0 as u64);
        self.word(u64::from(m.mtime.1));
        self.word(m.ctime.0 as u64);
        self.word(u64::from(m.ctime.1));
        self.racy |= m.ctime >= self.racy_after || m.mtime >= self.racy_after;
    }

    pub(crate) fn paths(&mut self, root: &Path, paths: &[PathBuf]) {
        for path in paths {
            match flowforge_session::fs::stat(root, path) {
                Ok(stat) => self.file(stat.as_ref()),
                Err(_) => self.word(2),
            }
        }
    }

    /// Mixes a value's `Hash` in.
    pub(crate) fn hash(&mut self, value: &impl Hash) {
        value.hash(&mut self.mixer);
    }

    pub(crate) fn finish(self) -> Stamp {
        Stamp {
            value: self.mixer.0,
            racy: self.racy,
        }
    }
}

/// The namespace's stamp: changes whenever what [`load`] returns may have changed.
pub(crate) fn stamp(layout: &Layout, dev: &DeveloperId) -> Stamp {
    let mut stamp = StampBuilder::new();
    // The namespace directory itself first: its inode and change time make the stamp of this
    // namespace on this file system, never a value a snapshot made elsewhere can hold (the
    // stamp of a namespace whose files are all absent would otherwise be the same everywhere).
    let mut views = vec![layout.dev_dir(dev), layout.git_status_cache(dev)];
    match flowforge_session::namespace_version(layout, dev) {
        Ok(version) => {
            stamp.word(1);
            stamp.word(version.session);
            stamp.file(version.session_file.as_ref());
            stamp.word(version.time);
            stamp.file(version.time_file.as_ref());
            let modified = (version.history_modified)
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            stamp.word(modified);
            // The views count only where the store has no document of its own.
            if version.session == 0 {
                views.push(layout.current_session(dev));
            }
            if version.time == 0 {
                views.push(layout.time_tracking(dev));
                views.push(flowforge_session::compat::cache_time_tracking(layout, dev));
            }
        }
        Err(_) => stamp.word(2),
    }
    stamp.paths(layout.root(), &views);
    // The history directory: every entry's name and `stat` data, so a file edited in place
    // moves the stamp too.
    match flowforge_session::fs::list_dir_stat(layout.root(), &layout.session_history_dir(dev)) {
        Ok(Some(mut entries)) => {
            entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
            stamp.word(entries.len() as u64 + 1);
            for (entry, stat) in &entries {
                stamp.mixer.bytes(entry.name.as_encoded_bytes());
                stamp.file(Some(stat));
            }
        }
        Ok(None) => stamp.word(0),
        Err(_) => stamp.word(u64::MAX),
    }
    stamp.finish()
}

/// The file an error of flowforge-session names, if any.
pub(crate) fn error_path(error: &flowforge_session::Error) -> Option<&Path> {
    match error {
        flowforge_session::Error::Io { path, .. }
        | flowforge_session::Error::Json { path, .. }
        | flowforge_session::Error::Corrupt { path, .. }
        | flowforge_session::Error::Symlink { path } => Some(path),
        _ => None,
    }
}

/// What a load of a namespace keeps so that the next load of the same namespace reads only
/// what changed: each history file's name, `lstat` data and where its session sits in the
/// record's history. Never persisted: a snapshot's first reload reads everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Reuse {
    history: HashMap<OsString, HistoryRef>,
    /// The time tracking's sealed segments the record holds, when their entries are the
    /// first of its time entries, in the segments' order (the record's entries needed no
    /// sorting).
    time: Option<KeptTime>,
}

/// The record's first `entries` time entries are those of the time tracking's sealed segments
/// `0..sealed`, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct KeptTime {
    sealed: u64,
    entries: usize,
}

/// One history file a load read.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HistoryRef {
    stat: FileStat,
    /// Its session's position in the record's history.
    at: usize,
    /// Its `lstat` data were not taken within [`RACY_WINDOW`] of its last change: if they are
    /// the same later, so is the content.
    trusted: bool,
}

/// Loads one namespace. Any corrupt or unreadable file makes the whole namespace a problem:
/// answers never mix a namespace's good files with a bad one. `previous` is what the last
/// load of this namespace returned: history files it read whose `lstat` data have not moved
/// are taken from it instead of being read again.
pub(crate) fn load(
    layout: &Layout,
    dev: &DeveloperId,
    previous: Option<(&DevRecord, &Reuse)>,
) -> Result<(DevRecord, Reuse), Problem> {
    let files = flowforge_session::session_history_reusing(layout, dev, |name, stat| {
        let (record, reuse) = previous?;
        let kept = reuse.history.get(name)?;
        (kept.trusted && kept.stat == *stat).then(|| record.history.get(kept.at).cloned())?
    })
    .map_err(|e| session_problem(layout, dev, &e))?;
    let history = files.into_iter().map(|f| (f.name, f.stat, f.session));
    load_with_history(layout, dev, history.collect(), None)
}

/// Reloads one namespace after changes a file watcher reported: everything but the history
/// and the time tracking's sealed segments is read again, and of the history only the files
/// named `changed` (the others are taken from `previous`, the last load, as no event said
/// they changed). Sealed segments are never changed once written, and an event naming one
/// makes the watcher check the namespace whole instead: those the last load read are taken
/// from it.
pub(crate) fn reload(
    layout: &Layout,
    dev: &DeveloperId,
    (record, reuse): (&DevRecord, &Reuse),
    changed: &BTreeSet<OsString>,
) -> Result<(DevRecord, Reuse), Problem> {
    let mut history: Vec<(OsString, FileStat, Session)> = (reuse.history.iter())
        .filter(|(name, _)| !changed.contains(*name))
        .filter_map(|(name, kept)| {
            let session = record.history.get(kept.at)?.clone();
            Some((name.clone(), kept.stat, session))
        })
        .collect();
    let read = flowforge_session::read_history_files(layout, dev, changed.iter().cloned())
        .map_err(|e| session_problem(layout, dev, &e))?;
    history.extend(read.into_iter().map(|f| (f.name, f.stat, f.session)));
    let kept = (reuse.time).and_then(|kept| Some((kept.sealed, record.time.get(..kept.entries)?)));
    load_with_history(layout, dev, history, kept)
}

/// A read error of flowforge-session as the namespace's problem.
fn session_problem(layout: &Layout, dev: &DeveloperId, e: &flowforge_session::Error) -> Problem {
    let store = layout.dev_store_dir(dev);
    Problem::from_error(error_path(e).unwrap_or(&store), Some(dev.clone()), e)
}

/// Loads everything of a namespace but its history, which is given (name, `lstat` data and
/// session of each file, in any order), and the entries of the time tracking's first sealed
/// segments when `kept` holds them (their count and entries, in order).
fn load_with_history(
    layout: &Layout,
    dev: &DeveloperId,
    mut files: Vec<(OsString, FileStat, Session)>,
    kept: Option<(u64, &[TimeEntry])>,
) -> Result<(DevRecord, Reuse), Problem> {
    let problem = |path: &Path, error: &(dyn std::error::Error + 'static)| {
        Problem::from_error(path, Some(dev.clone()), error)
    };
    // The caller took the stamp (the store's version among it) before this.
    let (documents, segments) =
        flowforge_session::read_documents_after(layout, dev, kept.map_or(0, |(n, _)| n))
            .map_err(|e| session_problem(layout, dev, &e))?;
    // Oldest first; the file name breaks ties, so the order never depends on the order the
    // files were read in.
    files.sort_by(|(x, _, a), (y, _, b)| {
        (a.start_time, &a.session_id, x).cmp(&(b.start_time, &b.session_id, y))
    });
    let racy_after = racy_threshold();
    let mut reuse = Reuse::default();
    let mut history = Vec::with_capacity(files.len());
    for (at, (name, stat, session)) in files.into_iter().enumerate() {
        let trusted = stat.ctime < racy_after && stat.mtime < racy_after;
        reuse.history.insert(name, HistoryRef { stat, at, trusted });
        history.push(session);
    }
    let history_dir = layout.session_history_dir(dev);

    let current_path = layout.current_session(dev);
    let session: Option<Session> = match documents.session {
        Some(versioned) => Some(versioned.value),
        None => flowforge_session::compat::read_session_view(layout, dev)
            .map_err(|e| problem(&current_path, &e))?,
    };
    if let Some(s) = &session {
        check_owner(s, dev, &current_path)?;
    }
    for s in &history {
        check_owner(s, dev, &history_dir)?;
    }

    let time_path = layout.time_tracking(dev);
    let (mut time, mut kept_time) = match documents.time {
        Some(versioned) => {
            let mut time = Vec::new();
            if let Some((_, entries)) = kept.filter(|_| segments.first > 0) {
                time.reserve(entries.len() + versioned.value.sessions.len());
                time.extend_from_slice(entries);
            }
            time.extend(versioned.value.sessions);
            let entries = time.len().saturating_sub(segments.latest);
            let sealed = segments.sealed;
            (time, Some(KeptTime { sealed, entries }))
        }
        None => {
            let time = (flowforge_session::compat::read_time_view(layout, dev)
                .map_err(|e| problem(error_path(&e).unwrap_or(&time_path), &e))?)
            .unwrap_or_default()
            .sessions;
            (time, None)
        }
    };
    if !time.is_sorted_by_key(|entry| entry.recorded_at) {
        // Stable: ties keep the file's order. The sealed entries may have moved.
        time.sort_by_key(|entry| entry.recorded_at);
        kept_time = None;
    }

    let cache_path = layout.git_status_cache(dev);
    let cache: Option<GitStatusCache> =
        read_json(layout.root(), &cache_path).map_err(|e| problem(&cache_path, &e))?;
    let mut paths: Vec<String> = cache
        .map(|c| porcelain_paths(&c.status))
        .unwrap_or_default();
    if let Some(listed) = session
        .as_ref()
        .and_then(|s| s.metadata.get("paths"))
        .and_then(|v| v.as_array())
    {
        paths.extend(listed.iter().filter_map(|p| p.as_str()).map(str::to_owned));
    }
    paths.sort();
    paths.dedup();
    let record = DevRecord {
        developer: dev.clone(),
        session,
        history,
        time,
        paths,
    };
    reuse.time = kept_time;
    Ok((record, reuse))
}

fn check_owner(session: &Session, dev: &DeveloperId, path: &Path) -> Result<(), Problem> {
    if session.developer_id == *dev {
        return Ok(());
    }
    Err(Problem {
        path: path.to_owned(),
        developer: Some(dev.clone()),
        message: format!(
            "session {} belongs to developer {}, not to {dev}",
            session.session_id, session.developer_id
        ),
    })
}

/// Paths named by `git status --porcelain` output; for renames, both sides.
pub(crate) fn porcelain_paths(status: &str) -> Vec<String> {
    let unquote = |p: &str| p.trim().trim_matches('"').to_owned();
    let mut paths = Vec::new();
    for line in status.lines() {
        let Some(rest) = line.get(3..) else { continue };
        match rest.split_once(" -> ") {
            Some((from, to)) => {
                paths.push(unquote(from));
                paths.push(unquote(to));
            }
            None => paths.push(unquote(rest)),
        }
    }
    paths.retain(|p| !p.is_empty());
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_become_paths() {
        let status = " M src/a.rs\n?? new/\nR  old.rs -> src/new.rs\nA  \"with space.rs\"\n";
        assert_eq!(
            porcelain_paths(status),
            ["src/a.rs", "new/", "old.rs", "src/new.rs", "with space.rs"]
        );
    }
}
