//! The latest version this process wrote or read of each key, kept in memory with the
//! `lstat` data its file had, so that the next read of the key checks the file instead of
//! reading it: two `stat`s (the version's name still holds that file, and no newer
//! generation exists) instead of opening, reading and closing the file and checking its name
//! again — a session cycle reads each key it writes right after writing it.
//!
//! Why a match proves the bytes: a version's name is taken once (put-if-absent) and never
//! again (generations only grow), and no writer changes a published version in place;
//! compaction moves it away from its name before a writer rewrites it as a spare. So the
//! name holding the same inode means the same file, and anything that changed the file since
//! (a write, a truncation, a rename, a new link: any edit by hand) changed its status-change
//! time, which the match includes with the size and modification time. The entry is taken
//! right after the writer published the file (a `stat` of its name: the file, or nothing if
//! compaction already moved it), or from a read whose file's `fstat` before the read equals
//! its name's `lstat` after (a version written into a spare one block longer holds its bytes
//! and the spaces that keep the block, `fs::padded_len`: the entry keeps both). A key removed
//! and made again has new files (other inodes or times), so a stale entry never matches.
//! Like the generation memo (`generation.rs`), the entry is only a shortcut: a miss reads the
//! file as before.
//!
//! A reader that asks for it ([`Store::get_shared`](super::Store::get_shared)) also keeps the
//! entry's parsed value, so the next such read of the same version does not parse the bytes
//! again (the claims shards: a claim change reads its shard, and the view's writer reads it
//! again right after; the session and the time tracking, which the next operation of a
//! session cycle reads: [`Store::get_cloned`](super::Store::get_cloned)). It is the value
//! those very bytes parse to, or the value a writer published as them, dropped with the
//! bytes.
//!
//! A reader about to change the value and publish it takes the parsed value instead of
//! sharing it ([`Store::take_shared`](super::Store::take_shared)): the entry keeps the bytes,
//! the reader changes the value in place rather than a copy, and its publication attaches the
//! new value. A claims shard holds a claim per ~64th of the team, so copying it (and dropping
//! the copy) was the part of a claim change that grew with the team.

use std::{
    any::Any,
    collections::HashMap,
    ffi::OsString,
    sync::{Arc, Mutex, OnceLock},
};

use crate::fs::{Dir, FileStat};

/// A document larger than this is not kept (it is read from its file).
const MAX_BYTES: usize = 64 * 1024;
/// The most bytes kept in all; past it the cache starts afresh.
const BUDGET: usize = 8 << 20;
/// The most keys kept; past it the cache starts afresh.
const MAX_KEYS: usize = 4096;

/// One key's latest version as this process last saw it.
#[derive(Clone)]
pub(crate) struct Cached {
    /// Its generation.
    pub(crate) generation: u64,
    /// Its file's `lstat` data when it was kept.
    pub(crate) stat: FileStat,
    /// The file's bytes.
    pub(crate) bytes: Arc<[u8]>,
    /// What the bytes parse to, once a reader asked for it.
    pub(crate) parsed: Option<Arc<dyn Any + Send + Sync>>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<OsString, Cached>,
    bytes: usize,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// What is kept for the key directory `dir`. With `take`, the parsed value is handed over
/// rather than shared: the entry keeps only the bytes, so a caller that changes the value
/// owns it without a copy (when nobody else in the process holds it).
pub(crate) fn lookup(dir: &Dir, take: bool) -> Option<Cached> {
    let mut cache = cache().lock().ok()?;
    let entry = cache.keys.get_mut(dir.path().as_os_str())?;
    let parsed = match take {
        true => entry.parsed.take(),
        false => entry.parsed.clone(),
    };
    Some(Cached {
        generation: entry.generation,
        stat: entry.stat,
        bytes: Arc::clone(&entry.bytes),
        parsed,
    })
}

/// Keeps `bytes`, the file of generation `generation` of the key in `dir` whose `lstat` data
/// are `stat`, replacing what was kept for the key. A regular file only, and not too large.
pub(crate) fn keep(dir: &Dir, generation: u64, stat: FileStat, bytes: &[u8]) {
    if stat.kind != crate::fs::FileKind::File
        || bytes.len() > MAX_BYTES
        || stat.size != bytes.len() as u64
    {
        forget(dir);
        return;
    }
    let Ok(mut cache) = cache().lock() else {
        return;
    };
    let entry = Cached {
        generation,
        stat,
        bytes: Arc::from(bytes),
        parsed: None,
    };
    if cache.keys.len() >= MAX_KEYS || cache.bytes + bytes.len() > BUDGET {
        *cache = Cache::default();
    }
    cache.bytes += bytes.len();
    if let Some(old) = cache.keys.insert(dir.path().as_os_str().to_owned(), entry) {
        cache.bytes -= old.bytes.len();
    }
}

/// Keeps `parsed`, what the bytes kept for generation `generation` of the key in `dir` parse
/// to, with them; nothing when the entry is not that generation's any more, or (given
/// `bytes`, the bytes parsed) holds other bytes.
pub(crate) fn attach(
    dir: &Dir,
    generation: u64,
    bytes: Option<&Arc<[u8]>>,
    parsed: Arc<dyn Any + Send + Sync>,
) {
    let Ok(mut cache) = cache().lock() else {
        return;
    };
    if let Some(entry) = cache.keys.get_mut(dir.path().as_os_str()) {
        if entry.generation == generation && bytes.is_none_or(|b| Arc::ptr_eq(b, &entry.bytes)) {
            entry.parsed = Some(parsed);
        }
    }
}

/// Drops what is kept for the key in `dir`.
pub(crate) fn forget(dir: &Dir) {
    if let Ok(mut cache) = cache().lock() {
        if let Some(old) = cache.keys.remove(dir.path().as_os_str()) {
            cache.bytes -= old.bytes.len();
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Reads this thread answered from the cache (for tests).
    pub(crate) static HITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts a read answered from the cache (for tests).
pub(crate) fn hit() {
    #[cfg(test)]
    HITS.with(|h| h.set(h.get() + 1));
}
