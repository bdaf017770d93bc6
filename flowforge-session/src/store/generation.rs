//! One key's directory: version files named by generation, the best-effort `HEAD` hint,
//! finding the latest generation without listing, and put-if-absent publication.
//!
//! ```text
//! <store>/<key>/
//! ├── HEAD                         a recent generation, best-effort (may lag or be missing)
//! ├── 00000000000000000041.json    {"generation":41,"value":{…}}
//! ├── 00000000000000000042.json    {"generation":42,"deleted":true,"value":null}
//! ├── FLOOR                        > 1 once compaction removed anything (written atomically)
//! ├── .spare-<slot>                a removed version kept for a writer to rewrite (see below)
//! ├── .dspare-<slot>               the same, known to have no version's name on disk
//! └── .tmp-<pid>-<n>-<target>      a version being written (see `fs/publish.rs`)
//! ```
//!
//! Invariant: the version files that exist always form one contiguous range of generations
//! `[oldest, latest]` — writers only add `latest + 1`, compaction only removes from the bottom,
//! lowest first. So the latest generation is found by probing upward from any generation
//! known to exist (the hint), doubling the step and then bisecting: a handful of `stat`s
//! whatever the length of the history, and one when the hint is exact.
//!
//! Why not list the directory and keep it small by compaction instead: a listing costs a
//! `getdents` per call and grows with every version not yet compacted, while the probe costs
//! one `stat` when the hint is fresh.
//!
//! Spares: creating a file is what a publication costs on ext4 (an inode and its blocks to
//! allocate, ~200 µs against ~12 µs for rewriting an allocated file). So automatic compaction
//! does not unlink the versions it drops: it moves version `v` to the spare slot
//! `.spare-<v mod SPARES>` (if free), and the writer of generation `h` first tries to take
//! the slots of `h` and `h + 1`, rewriting the file in place under its temporary name. With
//! `keep + every = SPARES` the version dropped is exactly the one the writer `SPARES`
//! generations later looks for, so in steady state no publication creates a file. A reader
//! that opened a version just before compaction recycled it could see it rewritten: it
//! checks, after reading, that the version's name still holds the file it read (a version
//! name, once left, never comes back: generations only grow) and reads again otherwise.
//!
//! Durable spares (`.dspare-<slot>`): a spare known to have no version's name on disk — made
//! as a spare, or renamed so by a durable compaction after the directory flush that put its
//! move on disk. A durable writer rewrites one with no flush first; a plain spare may still
//! have its version's name on disk after a power loss, so a durable writer flushes the
//! directory before rewriting it (`fs::publish::take_spare`).

use std::{
    io::Read,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use super::{PausePoint, memo::DirMemo};
use crate::{
    error::{Error, Result},
    fs::{Dir, FILE_MODE, FileStat, Mode, Publish, Spare},
};

/// How many spare slots a key directory has (`.spare-0` …).
pub(crate) const SPARES: u64 = 8;
/// The prefix of a spare's name.
pub(crate) const SPARE_PREFIX: &str = ".spare-";
/// The prefix of a durable spare's name: a spare known to have no version's name on disk.
pub(crate) const DURABLE_SPARE_PREFIX: &str = ".dspare-";

/// The spare slots' names, by slot.
const SPARE_NAMES: [&str; SPARES as usize] = [
    ".spare-0", ".spare-1", ".spare-2", ".spare-3", ".spare-4", ".spare-5", ".spare-6", ".spare-7",
];
/// The durable spare slots' names, by slot.
const DURABLE_SPARE_NAMES: [&str; SPARES as usize] = [
    ".dspare-0",
    ".dspare-1",
    ".dspare-2",
    ".dspare-3",
    ".dspare-4",
    ".dspare-5",
    ".dspare-6",
    ".dspare-7",
];

/// The name of the spare slot of `generation`.
pub(crate) fn spare_name(generation: u64) -> &'static str {
    SPARE_NAMES[(generation % SPARES) as usize]
}

/// The name of the durable spare slot of `generation`.
pub(crate) fn durable_spare_name(generation: u64) -> &'static str {
    DURABLE_SPARE_NAMES[(generation % SPARES) as usize]
}

/// Whether a directory entry is a spare, durable or not.
pub(crate) fn is_spare(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(SPARE_PREFIX) || n.starts_with(DURABLE_SPARE_PREFIX))
}

/// The spares the writer of `generation` tries, in order: the slots of `generation` and the
/// next one, the durable ones first for a durable writer (it rewrites those without flushing
/// the directory first), the others first for a relaxed one (what its compactions make).
fn spares_for(generation: u64, durability: crate::fs::Durability) -> [Spare; 4] {
    let plain = |g| Spare {
        name: spare_name(g),
        gone_on_disk: false,
    };
    let durable = |g| Spare {
        name: durable_spare_name(g),
        gone_on_disk: true,
    };
    let next = generation + 1;
    match durability {
        crate::fs::Durability::Sync => [
            durable(generation),
            durable(next),
            plain(generation),
            plain(next),
        ],
        crate::fs::Durability::Relaxed => [
            plain(generation),
            plain(next),
            durable(generation),
            durable(next),
        ],
    }
}

/// The name of the hint file in a key directory.
pub(crate) const HINT: &str = "HEAD";
/// The name of the file recording compaction's floor: the oldest generation kept. Written
/// atomically before anything below it is removed, so a writer of generation 1 can trust it.
pub(crate) const FLOOR: &str = "FLOOR";

/// The file name of a generation: 20 digits, so names sort like numbers.
pub(crate) fn file_name(generation: u64) -> String {
    let mut name = String::with_capacity(GENERATION_DIGITS + ".json".len());
    crate::digits::push_padded(&mut name, generation, GENERATION_DIGITS);
    name.push_str(".json");
    name
}

/// The digits of a generation in names and hints (`u64::MAX` has 20).
const GENERATION_DIGITS: usize = 20;

/// A hint's text: the generation's digits and a newline.
pub(crate) fn hint_text(generation: u64) -> String {
    let mut text = String::with_capacity(GENERATION_DIGITS + 1);
    crate::digits::push_padded(&mut text, generation, GENERATION_DIGITS);
    text.push('\n');
    text
}

/// The generation a directory entry names, if it is a version file.
pub(crate) fn parse_file_name(name: &std::ffi::OsStr) -> Option<u64> {
    let name = name.to_str()?;
    let digits = name.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of a generation's version file, for messages and tests.
pub(crate) fn version_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(file_name(generation))
}

/// Whether anything (a link included: reading it then names it) is there under the name of
/// `generation`.
pub(crate) fn exists(dir: &Dir, generation: u64) -> bool {
    generation > 0 && dir.exists(file_name(generation))
}

/// Reads a hint file (`HEAD` or `FLOOR`); a missing, unreadable or garbled hint is `None`.
/// Hints are only ever used after checking that the generation they name exists, and the
/// probe only looks upward from there, so a wrong hint costs probes, never correctness.
///
/// # Errors
/// [`Error::Symlink`] when the hint is a symbolic link: never followed, and reported.
pub(crate) fn read_hint(dir: &Dir, name: &str) -> Result<Option<u64>> {
    let mut buf = [0u8; 24];
    let file = match dir.open_file(name) {
        Ok(Some(file)) => file,
        Err(e @ Error::Symlink { .. }) => return Err(e),
        Ok(None) | Err(_) => return Ok(None),
    };
    let Ok(n) = (&file).read(&mut buf) else {
        return Ok(None);
    };
    Ok(std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse().ok()))
}

/// Records `generation` in a hint file, best-effort: one fixed-width write at offset 0 of
/// the file (created 0600 if missing, never through a link), never flushed and never a
/// rename, so it costs three syscalls and no ext4 replace-via-rename flush. A lost, stale or
/// torn hint only costs readers a few more probes.
pub(crate) fn write_hint(dir: &Dir, name: &str, generation: u64) {
    let Ok(file) = dir.open_write(name, FILE_MODE) else {
        return;
    };
    let _ = file.write_all_at(hint_text(generation).as_bytes(), 0);
}

/// The latest generation of the key in `dir` (tombstones included), `0` when it has none
/// (or no directory).
///
/// # Errors
/// [`Error::Symlink`] for a linked hint, [`Error::Io`] when the directory cannot be listed in
/// the fallback path.
pub(crate) fn latest(dir: Option<&Dir>) -> Result<u64> {
    let Some(dir) = dir else {
        return Ok(0);
    };
    // What this process last saw, else the hint, else compaction's floor, else generation 1;
    // all must still exist.
    let valid = |g: Option<u64>| g.filter(|&g| exists(dir, g));
    let known = match valid(recall(dir)) {
        Some(g) => Some(g),
        None => match valid(read_hint(dir, HINT)?) {
            Some(g) => Some(g),
            None => valid(read_hint(dir, FLOOR)?).or_else(|| valid(Some(1))),
        },
    };
    let start = match known {
        Some(g) => g,
        // Every hint points below compaction, or the key is empty: list the directory once.
        None => match list_generations(dir)?.last() {
            Some(&g) => g,
            None => return Ok(0),
        },
    };
    let latest = probe_up(dir, start);
    remember(dir, latest);
    Ok(latest)
}

/// [`latest`] and the `lstat` data of that generation's version file (`None` when there is
/// none). When the generation this process saw last is still the latest (its file is there,
/// its successor is not: the common case of a change detector), the data come from that
/// very `stat`: two `stat`s in all.
///
/// # Errors
/// As [`latest`], or [`Error::Io`] when the version file cannot be `stat`ed.
pub(crate) fn latest_stat(dir: &Dir) -> Result<(u64, Option<FileStat>)> {
    if let Some(known) = recall(dir).filter(|&g| g > 0) {
        if let Some(st) = dir.stat(file_name(known))? {
            if !exists(dir, known + 1) {
                return Ok((known, Some(st)));
            }
        }
    }
    let latest = latest(Some(dir))?;
    if latest == 0 {
        return Ok((0, None));
    }
    Ok((latest, dir.stat(file_name(latest))?))
}

/// The latest generation this process saw or wrote, per key directory: the in-memory `HEAD`.
/// Like the file it is only a place to start probing from (see [`latest`]), so a stale entry
/// (another process wrote since, the key was recreated) costs probes, never correctness; and
/// it spares a session operation the open, read and close of `HEAD` at every look at a key.
static MEMO: DirMemo<u64> = DirMemo::new();

/// What [`MEMO`] holds for `dir`.
fn recall(dir: &Dir) -> Option<u64> {
    MEMO.get(dir)
}

/// Forgets what [`MEMO`] holds for the key directory `path`: as a process that never looked.
#[cfg(test)]
pub(crate) fn forget(path: &Path) {
    MEMO.forget(path);
}

/// Records `generation` as the latest of `dir` seen or written by this process.
pub(crate) fn remember(dir: &Dir, generation: u64) {
    MEMO.set(dir, generation);
}

/// The largest existing generation at or above `known`, which exists (or is 0).
fn probe_up(dir: &Dir, known: u64) -> u64 {
    let mut low = known;
    let mut step = 1;
    let mut high = loop {
        let candidate = low.saturating_add(step);
        if !exists(dir, candidate) {
            break candidate;
        }
        low = candidate;
        step = step.saturating_mul(2);
    };
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if exists(dir, mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

/// Every generation with a version file in `dir`, ascending.
///
/// # Errors
/// [`Error::Io`] when the directory cannot be listed.
pub(crate) fn list_generations(dir: &Dir) -> Result<Vec<u64>> {
    let mut generations: Vec<u64> = dir
        .entries()?
        .iter()
        .filter_map(|entry| parse_file_name(&entry.name))
        .collect();
    generations.sort_unstable();
    Ok(generations)
}

/// Writes `bytes` to a temporary file in `dir` and publishes it as `generation` only if that
/// generation does not exist yet and its predecessor still does (see [`base_stands`]).
/// Returns `false` when another writer published it first (or compaction moved past it).
/// `how` says how the file is written (its mode is [`Mode::IfAbsent`]); `reuse` first tries
/// the spare slots of `generation` and the next one instead of creating a file; with
/// [`Durability::Sync`](crate::fs::Durability::Sync) the file is flushed before publication
/// and the directory after: two flushes.
///
/// # Errors
/// [`Error::Io`] naming the file or directory; the temporary file is removed on failure.
pub(crate) fn publish(
    dir: &Dir,
    generation: u64,
    bytes: &[u8],
    how: Publish,
    reuse: bool,
    pause: impl Fn(PausePoint),
) -> Result<bool> {
    debug_assert_eq!(how.mode, Mode::IfAbsent);
    let tried;
    let spares: &[Spare] = if reuse {
        tried = spares_for(generation, how.durability);
        &tried
    } else {
        &[]
    };
    let target = file_name(generation);
    crate::fs::publish_reusing(dir, target.as_ref(), bytes, how, spares, |_| {
        pause(PausePoint::Written);
        let stands = base_stands(dir, generation)?;
        pause(PausePoint::Checked);
        Ok(stands)
    })
}

/// Whether a writer whose temporary file for `generation` is in `dir` may publish it: the
/// predecessor exists and `generation` does not (for generation 1: it does not, and
/// compaction never removed anything, its `FLOOR` being at most 1). Checked after the
/// temporary file exists: see `compact.rs` for why this makes a stalled writer safe.
///
/// # Errors
/// [`Error::Symlink`] when `FLOOR` is a link.
pub(crate) fn base_stands(dir: &Dir, generation: u64) -> Result<bool> {
    if exists(dir, generation) {
        return Ok(false);
    }
    if generation <= 1 {
        return Ok(read_hint(dir, FLOOR)?.unwrap_or(0) <= 1);
    }
    Ok(exists(dir, generation - 1))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::fs::Durability;

    const HOW: Publish = Publish {
        mode: Mode::IfAbsent,
        durability: Durability::Relaxed,
        allocate: true,
        pad_within: u64::MAX,
    };

    #[test]
    fn each_generation_names_its_slot_by_prefix_and_number() {
        for generation in 0..3 * SPARES {
            let slot = generation % SPARES;
            assert_eq!(spare_name(generation), format!("{SPARE_PREFIX}{slot}"));
            assert_eq!(
                durable_spare_name(generation),
                format!("{DURABLE_SPARE_PREFIX}{slot}")
            );
            assert!(is_spare(spare_name(generation).as_ref()));
            assert!(is_spare(durable_spare_name(generation).as_ref()));
        }
    }

    #[test]
    fn names_round_trip_and_sort_numerically() {
        assert_eq!(parse_file_name(file_name(42).as_ref()), Some(42));
        assert!(file_name(9) < file_name(10));
        assert_eq!(parse_file_name("HEAD".as_ref()), None);
        assert_eq!(parse_file_name("42.json".as_ref()), None);
    }

    #[test]
    fn a_remembered_generation_is_where_probing_starts_and_a_wrong_one_only_costs_probes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        let dir = Dir::create(tmp.path(), &path).unwrap();
        for g in 1..=10 {
            assert!(publish(&dir, g, b"{}", HOW, false, |_| ()).unwrap());
        }
        // No `HEAD` was ever written: the memory is the start, and follows what is found.
        remember(&dir, 4);
        assert_eq!(latest(Some(&dir)).unwrap(), 10);
        assert_eq!(recall(&dir), Some(10));
        // A memory naming a generation that does not exist (another process recreated the
        // key) is passed over.
        remember(&dir, 99);
        assert_eq!(latest(Some(&dir)).unwrap(), 10);
        assert_eq!(recall(&dir), Some(10));
        // One naming a generation compacted away since: the directory is listed.
        remember(&dir, 5);
        for g in 1..=9 {
            fs::remove_file(version_path(&path, g)).unwrap();
        }
        assert_eq!(latest(Some(&dir)).unwrap(), 10);
        forget(&path);
        assert_eq!(recall(&dir), None);
        assert_eq!(latest(Some(&dir)).unwrap(), 10);
    }

    #[test]
    fn latest_is_found_from_any_hint_and_without_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        let dir = Dir::create(tmp.path(), &path).unwrap();
        assert_eq!(latest(None).unwrap(), 0);
        assert_eq!(latest(Some(&dir)).unwrap(), 0);
        for g in 1..=37 {
            assert!(publish(&dir, g, b"{}", HOW, false, |_| ()).unwrap());
            assert!(!publish(&dir, g, b"{}", HOW, false, |_| ()).unwrap());
        }
        assert_eq!(latest(Some(&dir)).unwrap(), 37);
        for hint in [1, 5, 36, 37, 99] {
            write_hint(&dir, HINT, hint);
            assert_eq!(latest(Some(&dir)).unwrap(), 37, "hint {hint}");
        }
        // Compacted below a stale hint: the small directory is listed once.
        write_hint(&dir, HINT, 3);
        for g in 1..=30 {
            fs::remove_file(version_path(&path, g)).unwrap();
        }
        assert_eq!(latest(Some(&dir)).unwrap(), 37);
        fs::remove_file(path.join(HINT)).unwrap();
        assert_eq!(latest(Some(&dir)).unwrap(), 37);
        let leftovers: Vec<_> = fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
