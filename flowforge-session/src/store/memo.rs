//! What a process remembers per key directory, keyed by the directory's path as spelled
//! (hashing its bytes, not its components), and bounded: past [`MEMO_KEYS`] directories it
//! starts afresh. An entry is only ever a hint its user checks against the files, so a stale
//! one costs a read, never correctness.

use std::{
    collections::HashMap,
    ffi::OsString,
    sync::{Mutex, OnceLock},
};

use crate::fs::Dir;

/// The most key directories a [`DirMemo`] holds; past it, it starts afresh (a process
/// touching more keys reads their files again).
const MEMO_KEYS: usize = 4096;

/// A value per key directory, shared by the process's threads.
pub(super) struct DirMemo<T>(OnceLock<Mutex<HashMap<OsString, T>>>);

impl<T: Copy> DirMemo<T> {
    pub(super) const fn new() -> Self {
        Self(OnceLock::new())
    }

    fn map(&self) -> &Mutex<HashMap<OsString, T>> {
        self.0.get_or_init(Default::default)
    }

    /// What is held for `dir`.
    pub(super) fn get(&self, dir: &Dir) -> Option<T> {
        let map = self.map().lock().ok()?;
        map.get(dir.path().as_os_str()).copied()
    }

    /// Holds `value` for `dir`, replacing what was held.
    pub(super) fn set(&self, dir: &Dir, value: T) {
        let Ok(mut map) = self.map().lock() else {
            return;
        };
        if let Some(known) = map.get_mut(dir.path().as_os_str()) {
            *known = value;
            return;
        }
        if map.len() >= MEMO_KEYS {
            map.clear();
        }
        map.insert(dir.path().as_os_str().to_owned(), value);
    }

    /// Forgets what is held for the key directory `path`.
    #[cfg(test)]
    pub(super) fn forget(&self, path: &std::path::Path) {
        if let Ok(mut map) = self.map().lock() {
            map.remove(path.as_os_str());
        }
    }
}
