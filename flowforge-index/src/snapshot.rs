//! The persisted snapshot of the index (`.flowforge/index/snapshot.json`), for fast cold starts.
//!
//! The file is two lines: a header `{"format":2,"checksum":"<fnv-1a-64 hex>","length":N}` and
//! the body, the index's namespaces with their stamps. A snapshot is only a starting point:
//! after loading it, [`Index::open`] refreshes, which reloads every namespace whose stamp moved
//! since the snapshot was written. A missing snapshot, another format, a wrong checksum or
//! length, a body that does not parse or a snapshot of another root all mean a full build.
//!
//! The snapshot is a cache that may be wrong, even forged, without an answer being wrong: the
//! claims (the team files) are always verified by content after a load, and a namespace's
//! stamp covers its directory's and its files' inode and change time to the nanosecond, which
//! nobody chooses, so a snapshot made elsewhere never matches and is reloaded.

use std::{collections::BTreeMap, fs, path::PathBuf};

use flowforge_core::{DeveloperId, Layout};
use flowforge_session::fs::read_bytes;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    index::{Entry, Index, RefreshStats},
    team::TeamState,
};

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 3;

/// Where an opened index came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartedFrom {
    /// The snapshot was loaded, then refreshed.
    Snapshot,
    /// There was no snapshot: a full build.
    NoSnapshot,
    /// The snapshot was unusable (the reason says why): a full build.
    BadSnapshot(String),
}

/// An index opened by [`Index::open`].
#[derive(Debug, Clone)]
pub struct Opened {
    /// The index, up to date.
    pub index: Index,
    /// Where it came from.
    pub started_from: StartedFrom,
    /// What the refresh after loading did: with a good snapshot, only changed namespaces were
    /// reloaded.
    pub refresh: RefreshStats,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    checksum: String,
    length: usize,
}

#[derive(Debug, Serialize)]
struct BodyRef<'a> {
    root: &'a std::path::Path,
    team: &'a TeamState,
    namespaces: &'a BTreeMap<DeveloperId, Entry>,
}

#[derive(Debug, Deserialize)]
struct Body {
    root: PathBuf,
    team: TeamState,
    namespaces: BTreeMap<DeveloperId, Entry>,
}

/// FNV-1a, 64 bits: enough to catch a torn or damaged file, not meant against tampering.
fn checksum(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Index {
    /// Opens the index of `layout`: from its snapshot when there is a usable one, by a full
    /// build otherwise, refreshed either way, so the answers are those of a fresh scan.
    ///
    /// # Errors
    /// [`Error::ListRoot`] when the root cannot be listed.
    pub fn open(layout: &Layout) -> Result<Opened> {
        let (mut index, started_from) = match Self::load_snapshot(layout) {
            Ok(index) => (index, StartedFrom::Snapshot),
            Err(None) => (Self::empty(layout), StartedFrom::NoSnapshot),
            Err(Some(reason)) => (Self::empty(layout), StartedFrom::BadSnapshot(reason)),
        };
        let refresh = index.refresh()?;
        Ok(Opened {
            index,
            started_from,
            refresh,
        })
    }

    /// `Err(None)`: no snapshot; `Err(Some(reason))`: an unusable one.
    fn load_snapshot(layout: &Layout) -> Result<Self, Option<String>> {
        let path = layout.index_snapshot();
        let bytes = match read_bytes(layout.root(), &path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(None),
            Err(e) => return Err(Some(e.to_string())),
        };
        let newline = (bytes.iter().position(|&b| b == b'\n'))
            .ok_or_else(|| Some("no header line".to_owned()))?;
        let (head, body) = (&bytes[..newline], &bytes[newline + 1..]);
        let header: Header =
            serde_json::from_slice(head).map_err(|e| Some(format!("corrupt header: {e}")))?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(Some(format!(
                "format {}, this version reads {SNAPSHOT_FORMAT}",
                header.format
            )));
        }
        if header.length != body.len() || header.checksum != checksum(body) {
            return Err(Some("checksum or length mismatch".to_owned()));
        }
        let body: Body =
            serde_json::from_slice(body).map_err(|e| Some(format!("corrupt body: {e}")))?;
        if body.root != layout.root() {
            return Err(Some(format!(
                "written for another root ({})",
                body.root.display()
            )));
        }
        let mut index = Self::empty(layout);
        for (dev, entry) in body.namespaces {
            index.replace(&dev, Some(entry));
        }
        // The team files are the claim source: whatever the snapshot says of them is verified
        // by content at the refresh that follows (they are a few files), so a snapshot that
        // lies about claims cannot name a holder. A stamp alone would not do: the stamp of
        // absent team files is the same everywhere.
        index.set_team(body.team);
        Ok(index)
    }

    /// Writes the snapshot (mode 0600, atomically, under `index/`), so the next
    /// [`Index::open`] starts from it. Does nothing when the namespace root does not exist: an
    /// index never creates the root.
    ///
    /// # Errors
    /// [`Error::SaveSnapshot`] naming the file.
    pub fn save_snapshot(&self) -> Result<()> {
        // A root that is missing or a symbolic link is not the index's to write into.
        if !fs::symlink_metadata(self.layout.root()).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        let path = self.layout.index_snapshot();
        let err = |source| Error::SaveSnapshot {
            path: path.clone(),
            source,
        };
        let body = BodyRef {
            root: self.layout.root(),
            team: &self.team,
            namespaces: &self.namespaces,
        };
        let body = serde_json::to_vec(&body).map_err(|source| {
            err(flowforge_session::Error::Json {
                path: path.clone(),
                source,
            })
        })?;
        let header = Header {
            format: SNAPSHOT_FORMAT,
            checksum: checksum(&body),
            length: body.len(),
        };
        let mut bytes = serde_json::to_vec(&header).expect("a header always serialises");
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        flowforge_session::index_files::write_snapshot(&self.layout, &bytes).map_err(err)
    }
}
