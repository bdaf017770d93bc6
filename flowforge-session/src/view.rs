//! Compatibility views: plain JSON files (`sessions/current.json`, `time-tracking.json`) that
//! mirror a store key for the bash tools and `jq`.
//!
//! A view is never the source of truth. It is written only by the writer that won a version,
//! always with an atomic replace, and never flushed (it can be rebuilt from the store). View
//! writers take turns through an `flock` on `.lock-view` in the key's store directory, taken
//! without waiting; the holder
//! writes its version (or the latest, if a newer one exists), unlocks, and checks the key's
//! latest generation again; a writer finding the lock taken leaves it to the holder's check
//! (see `converge`). So the view converges to the latest version, concurrent writers
//! cannot leave an older one in it, and under contention it is rewritten once per turn
//! rather than once per writer and newer version. A writer that dies between its version
//! and its view leaves the view one version behind until the next write.

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::Result,
    fs::{Dir, Durability, write_json},
    store::{Key, Revision, Store, Versioned},
};

/// How many times a writer goes round (write, unlock, look for a newer version) before
/// leaving the view to the writers of the newer versions.
const CHASE: usize = 16;

/// The lock file of a key's view, in the key's directory of the store (beside its
/// versions, where compaction ignores it and no watcher of the views' directories sees it).
const LOCK: &str = ".lock-view";

/// Brings the view of `key` to its latest version, of which this writer has just
/// published generation `written`. `write(Some(g))` writes the version this writer holds
/// (`g`); `write(None)` reads the latest and writes it; both return the generation shown
/// (`0`: nothing to show).
///
/// View writers take turns through an `flock` on the key's `.lock-view`, taken without
/// waiting: a writer that finds it taken leaves, because the holder looks for a newer
/// version after unlocking and writes it (the newer version was published before the
/// holder unlocked, since the lock was found taken after it was published). So under
/// contention a view is rewritten about once per lock turn, not once per writer per newer
/// version. The holder writes its own version only if it is still the latest, else the
/// latest. A holder killed at any point releases the lock and leaves the view one version
/// behind until the next write; a stopped holder delays the view (never the store) until
/// it resumes.
///
/// # Errors
/// What `write` returns, or [`Error::Io`](crate::Error::Io) naming the lock file.
pub(crate) fn converge(
    store: &Store,
    key: &Key,
    written: u64,
    mut write: impl FnMut(Option<u64>) -> Result<u64>,
) -> Result<()> {
    let Some(dir) = Dir::open(store.root(), &store.key_dir(key))? else {
        return write(Some(written)).map(drop);
    };
    let mut mine = Some(written);
    for _ in 0..CHASE {
        let Some(held) = dir.try_lock_file(LOCK)? else {
            return Ok(());
        };
        let shown = match mine.take() {
            Some(g) if !store.has_newer(key, g) => write(Some(g))?,
            _ => write(None)?,
        };
        drop(held);
        if shown == 0 || !store.has_newer(key, shown) {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes `written` (just published as the latest version of `key`) to the view at `path`,
/// or a newer version if one appeared (see [`converge`]).
pub(crate) fn publish<T: Serialize + DeserializeOwned>(
    store: &Store,
    key: &Key,
    path: &Path,
    written: &Versioned<T>,
) -> Result<()> {
    publish_value::<T>(store, key, path, written.version, &written.value)
}

/// [`publish`] of `value`, published as version `version` of `key` (which prints as the `T`
/// it is: a newer version is read as a `T` and written instead).
pub(crate) fn publish_value<T: Serialize + DeserializeOwned>(
    store: &Store,
    key: &Key,
    path: &Path,
    version: crate::store::Version,
    value: &impl Serialize,
) -> Result<()> {
    let root = store.root();
    converge(store, key, version.get(), |mine| {
        if let Some(g) = mine {
            write_json(root, path, value, Durability::Relaxed)?;
            return Ok(g);
        }
        match store.head::<T>(key)? {
            Some(Revision {
                generation,
                value: Some(value),
            }) => {
                write_json(root, path, &value, Durability::Relaxed)?;
                Ok(generation)
            }
            Some(Revision {
                generation,
                value: None,
            }) => {
                crate::fs::remove_file(root, path)?;
                Ok(generation)
            }
            None => Ok(0),
        }
    })
}
