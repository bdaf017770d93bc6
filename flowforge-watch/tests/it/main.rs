//! Integration tests of flowforge-watch: one binary, one module per concept.

mod cookies;
#[cfg(target_os = "linux")]
mod inotify;
mod trees;

use std::{collections::BTreeSet, path::PathBuf, sync::Mutex};

/// Records every path an event named, and whether events were lost or the watcher failed.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) paths: Mutex<BTreeSet<PathBuf>>,
    pub(crate) errors: Mutex<usize>,
}

impl flowforge_watch::Events for Recorded {
    fn changed(&self, event: &notify::Event) {
        self.paths
            .lock()
            .unwrap()
            .extend(event.paths.iter().cloned());
    }

    fn lost(&self) {}

    fn error(&self, _: &notify::Error) -> bool {
        *self.errors.lock().unwrap() += 1;
        true
    }
}
