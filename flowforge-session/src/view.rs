//! Compatibility views: plain JSON files (`sessions/current.json`, `time-tracking.json`) that
//! mirror a store key for the bash tools and `jq`.
//!
//! A view is never the source of truth. It is written only by the writer that won a version,
//! always with an atomic replace, and never flushed (it can be rebuilt from the store). After
//! writing, the writer checks the key's latest generation; if a newer version exists it
//! rewrites the view from it and checks again. So whichever writer's replace lands last
//! has seen no newer version after writing: the view converges to the latest version, and
//! concurrent writers cannot leave an older one in it. A writer that dies between its
//! version and its view leaves the view one version behind until the next write.

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::Result,
    fs::{Durability, write_json},
    store::{Head, Key, Store, Versioned},
};

/// How many newer versions a writer chases before leaving the view to their writers.
const CHASE: usize = 16;

/// Writes `written` (just published as the latest version of `key`) to the view at `path`,
/// then makes sure no newer version was overtaken.
pub(crate) fn publish<T: Serialize + DeserializeOwned>(
    store: &Store,
    key: &Key,
    path: &Path,
    written: &Versioned<T>,
) -> Result<()> {
    write_json(store.root(), path, &written.value, Durability::Relaxed)?;
    settle::<T>(store, key, path, written.version.get())
}

fn settle<T: Serialize + DeserializeOwned>(
    store: &Store,
    key: &Key,
    path: &Path,
    mut shown: u64,
) -> Result<()> {
    for _ in 0..CHASE {
        if shown > 0 && !store.has_newer(key, shown) {
            return Ok(());
        }
        match store.head::<T>(key)? {
            Some(Head {
                generation,
                value: Some(value),
            }) => {
                write_json(store.root(), path, &value, Durability::Relaxed)?;
                shown = generation;
            }
            Some(Head {
                generation,
                value: None,
            }) => {
                crate::fs::remove_file(store.root(), path)?;
                shown = generation;
            }
            None => return Ok(()),
        }
    }
    Ok(())
}
