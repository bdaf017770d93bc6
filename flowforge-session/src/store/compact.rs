//! Compaction: keep the last K generations of a key, remove stray temporary files of dead
//! writers.
//!
//! Removing a version frees its name, and put-if-absent alone cannot tell a generation that
//! was never written from one that was removed: a writer that read generation `g`, stalled,
//! and published `g + 1` after compaction removed it would "win" a version below the latest,
//! and its update would be lost. What prevents it, with no clock and no lock between writers
//! and compaction:
//!
//! - A writer first creates its temporary file, named after the generation it will publish
//!   (`.tmp-<pid>-<n>-<g+1>`), then checks that `g` still exists and `g + 1` does not
//!   (`generation::base_stands`), then publishes with put-if-absent.
//! - Compaction reads the latest generation `L` first, then lists the directory, and removes
//!   only versions below both `L - keep + 1` and the lowest generation a temporary file of a
//!   live writer names; it removes them lowest first, after raising `FLOOR` above them.
//!
//! Suppose the writer's publication of `g + 1` lands after compaction removed a `g + 1`. The
//! check saw `g` present and `g + 1` absent; removal goes lowest first, so `g + 1` had never
//! existed then, and the latest was `g`. If compaction listed the directory after the
//! temporary file existed, it saw the writer's `g + 1` and removed nothing from `g + 1` up. If
//! it listed before, it read `L` even earlier, when the latest was at most `g`, and removed
//! nothing from `g` up. Either way `g + 1` was not removed: contradiction. So a stalled
//! writer — however long, at any step — either publishes the true next version or loses the
//! race and reads again; it never resurrects a removed version nor loses an update. (For
//! generation 1 the check is that `FLOOR` is at most 1: nothing was ever removed.)
//!
//! Automatic compaction does not unlink the versions it drops but moves them to spare slots
//! (`.spare-<n>`, see `generation.rs`) for writers to rewrite instead of creating files; to
//! the argument above a move is a removal (the version's name is gone, lowest first). A
//! durable compaction then flushes the directory once and renames what it moved to durable
//! spares (`.dspare-<n>`), which durable writers rewrite with no flush before: their moves
//! are on disk. `FLOOR` is written once, before the first removal (in place into the empty
//! `FLOOR` provisioned with a key's spares, else published atomically), and only says "more
//! than 1": all the generation-1 check needs (later removals leave it as it is, so they write
//! no file).
//! [`gc`](crate::gc) removes the spares.
//!
//! A temporary file whose process is gone is a stray ([`writer_alive`]): it is removed and
//! holds nothing back. Compactions of one key take turns through an `flock` on its directory
//! (released if the process dies), so their removals never interleave; the version files left
//! always form one contiguous range — the invariant the upward probe of `generation.rs`
//! relies on. A reader that found a version compaction then removed sees it vanish and looks
//! again.

use super::{
    PausePoint,
    generation::{self, FLOOR},
    memo::DirMemo,
};
use crate::{
    error::Result,
    fs::{Dir, Durability, FileStat, Mode, Publish, parse_temp, writer_alive},
};

/// Automatic compaction of a [`Store`](super::Store)'s keys after writes: writers keep every
/// key at most `keep + every` versions long on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// How many of the latest versions to keep (at least 1).
    pub keep: u64,
    /// Compact a key each time its generation reaches a multiple of this.
    pub every: u64,
}

impl Default for Compaction {
    /// Keep 4, compact every 4: `keep + every` is the number of spare slots, so each
    /// version dropped is the spare the writer 8 generations later takes.
    fn default() -> Self {
        Self { keep: 4, every: 4 }
    }
}

/// What a compaction removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The latest generation when compaction ran.
    pub latest: u64,
    /// Old versions removed.
    pub removed_versions: usize,
    /// Stray temporary files of dead writers removed.
    pub removed_temp_files: usize,
    /// Spares (versions set aside for writers to rewrite) removed.
    pub removed_spares: usize,
    /// The bytes of the files removed.
    pub removed_bytes: u64,
}

impl CompactReport {
    /// Adds `other`'s counts to this report (`latest` is left alone).
    pub fn add(&mut self, other: &CompactReport) {
        self.removed_versions += other.removed_versions;
        self.removed_temp_files += other.removed_temp_files;
        self.removed_spares += other.removed_spares;
        self.removed_bytes += other.removed_bytes;
    }
}

/// How a compaction disposes of what it drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dispose {
    /// Unlink versions and spares; nothing is changed with `dry_run`, only counted.
    Remove { dry_run: bool },
    /// Move versions to free spare slots (unlink when the slot is taken); spares stay.
    Recycle,
}

/// Compacts the key in `dir`: see the module documentation. Lists the directory once. Skips
/// (an empty report) when another compaction of the key is running. With
/// [`Dispose::Remove`] the spares go too, and with its `dry_run` nothing is removed and the
/// report says what would be.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the directory or file that could not be listed,
/// written or removed.
pub(crate) fn compact(
    dir: &Dir,
    keep: u64,
    durability: Durability,
    dispose: Dispose,
    pause: impl Fn(PausePoint),
) -> Result<CompactReport> {
    let dry_run = dispose == Dispose::Remove { dry_run: true };
    // A descriptor of its own for the lock: `dir` may be shared within the operation's scope
    // (see `fs/beneath.rs`), and a shared descriptor would share its `flock`.
    let lock = dir.reopen()?;
    if !lock.try_lock()? {
        return Ok(CompactReport::default());
    }
    // The latest first, then the listing: the order the safety argument needs.
    let latest = generation::latest(Some(dir))?;
    let mut report = CompactReport {
        latest,
        ..CompactReport::default()
    };
    let mut versions = Vec::new();
    let mut strays = Vec::new();
    let mut spares = std::collections::BTreeSet::new();
    let mut unwanted_spares = Vec::new();
    let mut spare_from = latest.saturating_sub(keep.max(1) - 1);
    // Listed through the lock's own descriptor, which `_lock` keeps open (and locked) to the
    // end.
    let (entries, _lock) = lock.into_entries()?;
    for entry in entries {
        if let Some(g) = generation::parse_file_name(&entry.name) {
            versions.push(g);
        } else if generation::is_spare(&entry.name) {
            if dispose == Dispose::Recycle {
                spares.insert(entry.name);
            } else {
                unwanted_spares.push(entry.name);
            }
        } else if let Some(temp) = parse_temp(&entry.name) {
            if !writer_alive(temp.pid) {
                strays.push(entry.name);
                continue;
            }
            match temp.target {
                Some(target) => {
                    if let Some(g) = generation::parse_file_name(target.as_ref()) {
                        spare_from = spare_from.min(g);
                    }
                }
                // A live writer of an older format: its target is unknown, remove nothing.
                None => spare_from = 0,
            }
        }
    }
    pause(PausePoint::Listed);
    versions.retain(|&g| g < spare_from);
    versions.sort_unstable();
    let size = |name: &std::ffi::OsStr| dir.stat(name).ok().flatten().map_or(0, |st| st.size);
    if !versions.is_empty() && !dry_run {
        raise_floor(dir, spare_from, durability)?;
    }
    let mut moved = Vec::new();
    for g in versions {
        let name = generation::file_name(g);
        if dispose == Dispose::Recycle {
            // One spare per slot, durable or not.
            let spare = std::ffi::OsString::from(generation::spare_name(g));
            let durable = std::ffi::OsString::from(generation::durable_spare_name(g));
            if !spares.contains(&spare)
                && !spares.contains(&durable)
                && dir
                    .rename(name.as_ref(), &spare, rustix::fs::RenameFlags::NOREPLACE)
                    .is_ok()
            {
                spares.insert(spare.clone());
                moved.push((spare, durable));
                report.removed_versions += 1;
                continue;
            }
        }
        // Sized only when removed: a version moved to a spare frees nothing.
        let bytes = size(name.as_ref());
        if dry_run || dir.remove(&name)? {
            report.removed_versions += 1;
            report.removed_bytes += bytes;
        }
    }
    // A durable store's spares become durable ones once their moves are on disk: its writers
    // rewrite those without flushing the directory first (see `fs::publish::take_spare`).
    // Only after the flush: until then a power loss could bring the version's name back.
    // Whatever holds a moved spare's name by the rename left its version's name before the
    // flush: in this compaction, or in an earlier one (compactions of a key take turns) and
    // put back there by a writer that lost its race.
    if durability == Durability::Sync && !moved.is_empty() && dir.sync().is_ok() {
        pause(PausePoint::SparesFlushed);
        for (spare, durable) in moved {
            let _ = dir.rename(&spare, &durable, rustix::fs::RenameFlags::NOREPLACE);
        }
    }
    for name in strays {
        let bytes = size(&name);
        if dry_run || dir.remove(&name)? {
            report.removed_temp_files += 1;
            report.removed_bytes += bytes;
        }
    }
    for name in unwanted_spares {
        let bytes = size(&name);
        if dry_run || dir.remove(&name)? {
            report.removed_spares += 1;
            report.removed_bytes += bytes;
        }
    }
    Ok(report)
}

/// Records `floor` in `FLOOR`, atomically, unless it already says more than 1: it must be in
/// place before anything is removed, and the only reader that relies on it asks whether
/// anything was ever removed (`generation::base_stands`; `latest` uses it as a hint it
/// checks). So it is written once per key, not at every compaction.
///
/// A `FLOOR` provisioned empty with the key's spares (`Store::provision_spares`) is written in
/// place instead, one `pwrite` of the fixed-width number into the empty file (flushed under
/// [`Durability::Sync`]), so not even this once-per-key write creates a file. That is as
/// atomic as the check needs: the file only ever goes from empty to this number, a reader
/// racing the write sees a prefix of it, and a prefix parses to at most 1 ("nothing removed
/// yet", true until the write returns) or to more than 1 (which only makes a generation-1
/// writer give way, the safe side).
fn raise_floor(dir: &Dir, floor: u64, durability: Durability) -> Result<()> {
    // Once more than 1, `FLOOR` is never written again: while its name holds the very file
    // this process read so, it still says so (see [`floor_known_raised`]).
    let before = dir.stat(FLOOR)?;
    if before.is_some_and(|st| floor_known_raised(dir, &st)) {
        return Ok(());
    }
    count_floor_read();
    let read = generation::read_hint(dir, FLOOR)?;
    if read.is_some_and(|f| f > 1 || f >= floor) {
        if let (Some(before), true) = (before, read.is_some_and(|f| f > 1)) {
            // Taken before the read: if the file changed in between, its data now differ
            // from `before` for good (the status-change time only grows), so the entry
            // never matches and the next compaction reads it again.
            remember_floor(dir, before);
        }
        return Ok(());
    }
    let bytes = super::generation::hint_text(floor);
    if let Ok(file) = dir.open_existing_write(FLOOR) {
        use std::os::unix::fs::FileExt;
        let empty = file.metadata().is_ok_and(|m| m.len() == 0);
        if empty
            && file.write_all_at(bytes.as_bytes(), 0).is_ok()
            && (durability == Durability::Relaxed || file.sync_data().is_ok())
        {
            return Ok(());
        }
    }
    let how = Publish {
        mode: Mode::Replace,
        durability,
        allocate: false,
        pad_within: 0,
    };
    crate::fs::publish(dir, FLOOR.as_ref(), bytes.as_bytes(), how, |_| Ok(true)).map(drop)
}

/// The `lstat` data `FLOOR` had, per key directory, just before this process read it saying
/// more than 1. A compaction that finds the name holding a file with the same data skips
/// opening and reading it: one `stat` instead of an open, a read (of a block that is rarely in
/// memory for a large team) and a close. Why a match proves the value: no writer changes a
/// `FLOOR` that says more than 1 (`raise_floor` writes only one that does not), and anything
/// else that touched the file — a write, a truncation, a replacement by rename, the key's
/// directory removed and made again — changed its inode or its status-change time. A miss
/// only reads the file.
static FLOORS: DirMemo<FileStat> = DirMemo::new();

/// Whether `now`, the `lstat` data of `FLOOR` in `dir`, are those it had when this process
/// read it saying more than 1.
fn floor_known_raised(dir: &Dir, now: &FileStat) -> bool {
    now.kind == crate::fs::FileKind::File && FLOORS.get(dir).as_ref() == Some(now)
}

/// Records that `FLOOR` in `dir`, whose `lstat` data are `stat`, says more than 1.
fn remember_floor(dir: &Dir, stat: FileStat) {
    FLOORS.set(dir, stat);
}

#[cfg(test)]
thread_local! {
    /// Reads of `FLOOR` by compactions of this thread (for tests).
    pub(crate) static FLOOR_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts a read of `FLOOR` by a compaction (for tests).
fn count_floor_read() {
    #[cfg(test)]
    FLOOR_READS.with(|r| r.set(r.get() + 1));
}
