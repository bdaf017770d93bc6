//! Compaction: keep the last K generations of a key, remove stray temporary files.
//!
//! Removing a version frees its name, and put-if-absent alone cannot tell a generation that
//! was never written from one that was removed: a writer that read generation `g`, stalled,
//! and published `g + 1` after compaction removed it would "win" a version below the latest
//! and its update would be lost. So compaction removes a version only once its successor is
//! older than `min_age`, and writers abandon a publish whose read is older than
//! [`StoreOptions::write_window`](super::StoreOptions::write_window) (smaller than `min_age`):
//! a writer that read `g` when `g + 1` did not exist yet cannot publish `g + 1` after
//! `g + 2` has aged past `min_age`. (Delta Lake bounds log retention by time in the same way.)
//! This relies on file modification times and the monotonic clock of one machine agreeing
//! to within `min_age - write_window`.
//!
//! Compaction raises the `FLOOR` hint and removes old versions lowest first, stopping at the
//! first one too young to remove, so the version files left always form one contiguous range —
//! the invariant the upward probe of `generation.rs` relies on. A reader that found a version
//! compaction then removed sees it vanish and looks again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::generation::{self, FLOOR, HINT, TMP_PREFIX};
use crate::{error::Result, fs::Dir};

/// Automatic compaction of a [`Store`](super::Store)'s keys after writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// How many of the latest versions to keep (at least 1).
    pub keep: u64,
    /// Compact a key each time its generation reaches a multiple of this.
    pub every: u64,
    /// A version is removed only once its successor is this old; temporary files this old
    /// are strays of a dead writer. Must exceed the store's write window.
    pub min_age: Duration,
}

impl Default for Compaction {
    fn default() -> Self {
        Self {
            keep: 16,
            every: 64,
            min_age: Duration::from_secs(60),
        }
    }
}

/// What a compaction removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The latest generation when compaction ran.
    pub latest: u64,
    /// Old versions removed.
    pub removed_versions: usize,
    /// Stray temporary files removed.
    pub removed_temp_files: usize,
}

/// Removes old versions from the floor upward without listing the directory (the automatic
/// compaction after writes).
pub(crate) fn compact_versions(dir: &Dir, keep: u64, min_age: Duration) -> Result<CompactReport> {
    let latest = generation::latest(Some(dir))?;
    let mut report = CompactReport {
        latest,
        ..CompactReport::default()
    };
    let cutoff = latest.saturating_sub(keep.max(1) - 1);
    let mut g = generation::read_hint(dir, FLOOR)?.unwrap_or(1).max(1);
    // A stale floor (a compaction died before raising it): skip what is gone already.
    while g < cutoff && !generation::exists(dir, g) {
        g += 1;
    }
    if g >= cutoff {
        return Ok(report);
    }
    // Readers arriving after this never start below what is removed.
    generation::write_hint(dir, HINT, latest);
    let now = SystemTime::now();
    while g < cutoff && old_enough(dir, generation::file_name(g + 1), now, min_age) {
        if dir.remove(generation::file_name(g))? {
            report.removed_versions += 1;
        }
        g += 1;
    }
    generation::write_hint(dir, FLOOR, g);
    Ok(report)
}

/// [`compact_versions`], then removes stray temporary files and any version below the floor
/// (listing the directory once).
pub(crate) fn compact(dir: Option<&Dir>, keep: u64, min_age: Duration) -> Result<CompactReport> {
    let Some(dir) = dir else {
        return Ok(CompactReport::default());
    };
    let mut report = compact_versions(dir, keep, min_age)?;
    let floor = generation::read_hint(dir, FLOOR)?.unwrap_or(1);
    let now = SystemTime::now();
    let mut below = Vec::new();
    for entry in dir.entries()? {
        if let Some(g) = generation::parse_file_name(&entry.name) {
            // Left behind by a compaction that stopped before raising the floor.
            if g < floor {
                below.push(g);
            }
        } else if entry
            .name
            .as_encoded_bytes()
            .starts_with(TMP_PREFIX.as_bytes())
            && old_enough(dir, &entry.name, now, min_age)
            && dir.remove(&entry.name)?
        {
            report.removed_temp_files += 1;
        }
    }
    below.sort_unstable();
    for g in below {
        if dir.remove(generation::file_name(g))? {
            report.removed_versions += 1;
        }
    }
    Ok(report)
}

fn old_enough(
    dir: &Dir,
    name: impl AsRef<std::ffi::OsStr>,
    now: SystemTime,
    min_age: Duration,
) -> bool {
    dir.stat(name).ok().flatten().is_some_and(|st| {
        let modified = UNIX_EPOCH + Duration::new(st.mtime.0.max(0) as u64, st.mtime.1);
        now.duration_since(modified).unwrap_or_default() >= min_age
    })
}
