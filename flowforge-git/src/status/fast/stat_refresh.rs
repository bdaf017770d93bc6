//! Writing refreshed stat data back into the index, as `git status` does, so that a checkout
//! or build that touched every file costs one re-hash instead of one per call.
//!
//! git's status refreshes the index in memory and, when it can take `index.lock`, writes it
//! back ("optional lock"). FlowForge does the same without rewriting anything else: the index
//! it read is copied byte for byte, only the stat fields of the entries whose content it
//! verified are replaced (and the size of racily clean entries is zeroed, as git's
//! `ce_smudge_racily_clean_entry` does), and the trailing checksum is recomputed. Every other
//! byte — entries, flags, extensions in whatever version — stays as git wrote it.
//!
//! It never waits and never fails a status: when `index.lock` exists (git or another writer
//! holds it), the index changed since it was read, the repository is read-only, or
//! `GIT_OPTIONAL_LOCKS=0` is set, nothing is written.
//!
//! Never wrong: an entry is refreshed only with the stat data taken *before* its content was
//! found equal to the index, and only when that stat data is older than the second the status
//! started, so that any later write to the file shows in its stat data (even on a filesystem
//! with one-second timestamps). Entries written in the same second as the index read become
//! "racy" for git; those not refreshed get their size zeroed, which makes every reader, git
//! included, check their content again.

use std::{
    collections::HashSet,
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use sha1::{Digest, Sha1};

use super::worktree::StatData;
use crate::status::index_file::IndexEntry;

const CHECKSUM_LEN: usize = 20;

/// What a refresh starts from: the index as read, and when.
pub(crate) struct Read<'a> {
    /// The index file's path.
    pub path: &'a Path,
    /// Its bytes as parsed.
    pub data: &'a [u8],
    /// Its parsed entries.
    pub entries: &'a [IndexEntry<'a>],
    /// Its modification time's seconds, for git's racy rule.
    pub mtime_sec: i64,
    /// The second the status started.
    pub started_sec: i64,
}

/// False when `GIT_OPTIONAL_LOCKS=0` asks git (and FlowForge) not to take optional locks.
pub(crate) fn optional_locks_allowed() -> bool {
    std::env::var_os("GIT_OPTIONAL_LOCKS").is_none_or(|v| v != "0")
}

/// Writes the index again with the stat data of `refreshed` (positions in `read.entries`).
/// Returns whether it wrote; every failure leaves the index as it was.
pub(crate) fn write(read: &Read<'_>, refreshed: &[(usize, &StatData)]) -> bool {
    let settled: Vec<(usize, &StatData)> = refreshed
        .iter()
        .copied()
        .filter(|(_, st)| st.mtime.0 < read.started_sec && st.ctime.0 < read.started_sec)
        .collect();
    if settled.is_empty() || !optional_locks_allowed() {
        return false;
    }
    let Some(data) = patched(read, &settled) else {
        return false;
    };
    let mut lock_name = read.path.as_os_str().to_owned();
    lock_name.push(".lock");
    let lock_path = PathBuf::from(lock_name);
    let Ok(mut file) = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&lock_path)
    else {
        return false; // someone holds the lock, or the directory is read-only
    };
    // Ours from here on: removed on every path that does not rename it over the index.
    let mut lock = Lock {
        path: lock_path,
        committed: false,
    };
    let unchanged = fs::read(read.path).is_ok_and(|now| now == read.data);
    let permissions = fs::metadata(read.path).map(|m| m.permissions().mode() & 0o7777);
    let written = unchanged
        && permissions.is_ok_and(|mode| {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .is_ok()
        })
        && file.write_all(&data).is_ok()
        && file.flush().is_ok();
    drop(file);
    written && lock.commit(read.path)
}

/// The index bytes with the new stat data, smudged racy entries and a new checksum.
fn patched(read: &Read<'_>, settled: &[(usize, &StatData)]) -> Option<Vec<u8>> {
    let mut data = read.data.to_vec();
    let body_len = data.len().checked_sub(CHECKSUM_LEN)?;
    let mut done = HashSet::with_capacity(settled.len());
    for &(position, st) in settled {
        let entry = read.entries.get(position)?;
        let fields = [
            st.ctime.0 as u32,
            st.ctime.1 as u32,
            st.mtime.0 as u32,
            st.mtime.1 as u32,
            st.dev as u32,
            st.ino as u32,
        ];
        for (i, value) in fields.into_iter().enumerate() {
            put(&mut data, entry.offset + 4 * i, value)?;
        }
        // Field 6 is the mode, which a refresh keeps.
        for (i, value) in [st.uid, st.gid, st.size as u32].into_iter().enumerate() {
            put(&mut data, entry.offset + 28 + 4 * i, value)?;
        }
        done.insert(position);
    }
    for (position, entry) in read.entries.iter().enumerate() {
        let plain = entry.stage == 0
            && !entry.assume_valid
            && !entry.skip_worktree
            && !entry.intent_to_add
            && entry.mode & 0o170000 != 0o160000;
        if plain && !done.contains(&position) && i64::from(entry.mtime.0) >= read.mtime_sec {
            put(&mut data, entry.offset + 36, 0)?;
        }
    }
    // An index written with `index.skipHash` has no checksum, and keeps none.
    if data[body_len..].iter().any(|&b| b != 0) {
        let digest = Sha1::digest(&data[..body_len]);
        data[body_len..].copy_from_slice(&digest);
    }
    Some(data)
}

fn put(data: &mut [u8], at: usize, value: u32) -> Option<()> {
    data.get_mut(at..at + 4)?
        .copy_from_slice(&value.to_be_bytes());
    Some(())
}

/// `index.lock`, removed unless committed.
struct Lock {
    path: PathBuf,
    committed: bool,
}

impl Lock {
    /// Renames the lock over `to`.
    fn commit(&mut self, to: &Path) -> bool {
        self.committed = fs::rename(&self.path, to).is_ok();
        self.committed
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}
