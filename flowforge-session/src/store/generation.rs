//! One key's directory: version files named by generation, the best-effort `HEAD` hint,
//! finding the latest generation without listing, and put-if-absent publication.
//!
//! ```text
//! <store>/<key>/
//! ├── HEAD                         a recent generation, best-effort (may lag or be missing)
//! ├── 00000000000000000041.json    {"generation":41,"value":{…}}
//! ├── 00000000000000000042.json    {"generation":42,"deleted":true,"value":null}
//! └── .tmp-<pid>-<n>               a version being written
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
//! one `stat` when the hint is fresh; and compaction cannot be aggressive (see `compact.rs`:
//! a removed generation must never be re-creatable by a slow writer).

use std::{
    ffi::OsStr,
    io::{Read, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU8, AtomicU64, Ordering},
};

use crate::{
    error::{Error, Result},
    fs::{Dir, Durability, FILE_MODE},
};

/// The name of the hint file in a key directory.
pub(crate) const HINT: &str = "HEAD";
/// The name of the file recording compaction's floor: the oldest generation kept (best-effort).
pub(crate) const FLOOR: &str = "FLOOR";
/// The prefix of temporary files.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// The file name of a generation: 20 digits, so names sort like numbers.
pub(crate) fn file_name(generation: u64) -> String {
    format!("{generation:020}.json")
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
    let _ = file.write_all_at(format!("{generation:020}\n").as_bytes(), 0);
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
    // The hint, else compaction's floor, else generation 1; all must still exist.
    let valid = |g: Option<u64>| g.filter(|&g| exists(dir, g));
    let known = match valid(read_hint(dir, HINT)?) {
        Some(g) => Some(g),
        None => valid(read_hint(dir, FLOOR)?).or_else(|| valid(Some(1))),
    };
    let start = match known {
        Some(g) => g,
        // Every hint points below compaction, or the key is empty: list the directory once.
        None => match list_generations(dir)?.last() {
            Some(&g) => g,
            None => return Ok(0),
        },
    };
    Ok(probe_up(dir, start))
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

/// Whether `renameat2(RENAME_NOREPLACE)` works here: 0 unknown, 1 yes, 2 no.
static NOREPLACE: AtomicU8 = AtomicU8::new(0);

/// Writes `bytes` to a temporary file in `dir` and publishes it as `generation` only if that
/// generation does not exist yet. Returns `false` when another writer published it first.
/// With [`Durability::Sync`] the file is flushed before publication and the directory after:
/// two flushes.
///
/// # Errors
/// [`Error::Io`] naming the file or directory; the temporary file is removed on failure.
pub(crate) fn publish(
    dir: &Dir,
    generation: u64,
    bytes: &[u8],
    durability: Durability,
    still_fresh: impl FnOnce() -> bool,
) -> Result<bool> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = format!(
        "{TMP_PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp_path = dir.join(&tmp);
    let mut file = dir.create_new(&tmp, FILE_MODE)?;
    let target = file_name(generation);
    let result = (|| {
        crate::fs::ensure_private(&file, &tmp_path)?;
        file.write_all(bytes)
            .map_err(Error::io("cannot write", &tmp_path))?;
        if durability == Durability::Sync {
            file.sync_data()
                .map_err(Error::io("cannot sync", &tmp_path))?;
        }
        drop(file);
        // Checked right before publication: see the write window in `compact.rs`.
        if !still_fresh() {
            return Ok(false);
        }
        put_if_absent(dir, tmp.as_ref(), target.as_ref())
    })();
    if !matches!(result, Ok(true)) {
        let _ = dir.remove(&tmp);
    }
    if result.as_ref().is_ok_and(|won| *won) && durability == Durability::Sync {
        dir.sync()?;
    }
    result
}

/// Moves `tmp` to `target` in `dir` unless `target` exists: `renameat2(RENAME_NOREPLACE)`, or
/// where the filesystem refuses that flag, a hard link (which fails if the target exists) and
/// an unlink. Never a plain rename, which would overwrite.
fn put_if_absent(dir: &Dir, tmp: &OsStr, target: &OsStr) -> Result<bool> {
    use rustix::{fs::RenameFlags, io::Errno};
    let err = |e: Errno| {
        Error::io("cannot publish", dir.join(target))(std::io::Error::from_raw_os_error(
            e.raw_os_error(),
        ))
    };
    if NOREPLACE.load(Ordering::Relaxed) != 2 {
        match dir.rename(tmp, target, RenameFlags::NOREPLACE) {
            Ok(()) => {
                NOREPLACE.store(1, Ordering::Relaxed);
                return Ok(true);
            }
            Err(Errno::EXIST) => return Ok(false),
            // Our temporary file was swept as a stray by a compaction: a lost race.
            Err(Errno::NOENT) if !dir.exists(tmp) => return Ok(false),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::PERM)
                if NOREPLACE.load(Ordering::Relaxed) == 0 =>
            {
                NOREPLACE.store(2, Ordering::Relaxed);
            }
            Err(e) => return Err(err(e)),
        }
    }
    match dir.link(tmp, target) {
        Ok(()) => {
            let _ = dir.remove(tmp);
            Ok(true)
        }
        Err(Errno::EXIST) => Ok(false),
        Err(Errno::NOENT) if !dir.exists(tmp) => Ok(false),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn names_round_trip_and_sort_numerically() {
        assert_eq!(parse_file_name(file_name(42).as_ref()), Some(42));
        assert!(file_name(9) < file_name(10));
        assert_eq!(parse_file_name("HEAD".as_ref()), None);
        assert_eq!(parse_file_name("42.json".as_ref()), None);
    }

    #[test]
    fn latest_is_found_from_any_hint_and_without_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        let dir = Dir::create(tmp.path(), &path).unwrap();
        assert_eq!(latest(None).unwrap(), 0);
        assert_eq!(latest(Some(&dir)).unwrap(), 0);
        for g in 1..=37 {
            assert!(publish(&dir, g, b"{}", Durability::Relaxed, || true).unwrap());
            assert!(!publish(&dir, g, b"{}", Durability::Relaxed, || true).unwrap());
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
            .filter(|n| n.starts_with(TMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
