//! A developer's namespace (`dev-<id>/`): creating it and registering the developer
//! ([`init`], in `registry.rs`, with the team's registry: [`team_config`], [`members`]), and
//! opening it for sessions, time tracking and task claims ([`Namespace`]).

mod registry;

pub use registry::{
    IGNORE_FILE_CONTENT, InitOutcome, Member, TEAM_CONFIG_KEY, ensure_ignore_file, init, members,
    team_config,
};
pub(crate) use registry::{namespace_ids, pooled_views};

use flowforge_core::{DeveloperId, Layout};

use crate::{
    error::{Error, Result},
    fs::{Durability, FileKind},
    store::{Key, Store, StoreOptions},
};

/// How a [`Namespace`] writes: the store options of the developer's store and of the team
/// store holding the claims. The default is [`Durability::Sync`].
///
/// ```
/// use flowforge_session::{SessionOptions, fs::Durability};
/// let fast = SessionOptions::relaxed();
/// assert_eq!(fast.store.durability, Durability::Relaxed);
/// assert_eq!(SessionOptions::default().store.durability, Durability::Sync);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionOptions {
    /// Options of both stores.
    pub store: StoreOptions,
}

impl SessionOptions {
    /// The defaults with [`Durability::Relaxed`]: atomic against other processes and crashes
    /// of this one, but not flushed to disk.
    pub fn relaxed() -> Self {
        Self::with_durability(Durability::Relaxed)
    }

    /// The defaults with the given durability.
    pub fn with_durability(durability: Durability) -> Self {
        Self {
            store: StoreOptions::with_durability(durability),
        }
    }
}

/// One developer's namespace, opened for sessions, time tracking and claims. Cheap to open:
/// it checks the namespace exists and holds no file handles or locks, so any number of
/// threads and processes may each open their own.
///
/// The documents live in the store under `dev-<id>/store/` (keys [`SESSION_KEY`] and
/// [`TIME_KEY`]) and claims under `team/store/claims/`; `sessions/current.json` and
/// `time-tracking.json` are views rewritten after every change.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub(crate) layout: Layout,
    pub(crate) dev: DeveloperId,
    pub(crate) store: Store,
    pub(crate) team: Store,
}

/// The key of the current session in a developer's store.
pub const SESSION_KEY: &str = "session";
/// The key of the time tracking in a developer's store.
pub const TIME_KEY: &str = "time-tracking";

pub(crate) fn session_key() -> Key {
    Key::new(SESSION_KEY).expect("a valid constant key")
}

pub(crate) fn time_key() -> Key {
    Key::new(TIME_KEY).expect("a valid constant key")
}

/// The developer's store (`dev-<id>/store/`).
pub(crate) fn dev_store(layout: &Layout, dev: &DeveloperId, options: StoreOptions) -> Store {
    Store::beneath(layout.root(), layout.dev_store_dir(dev), options)
}

/// The team's store (`team/store/`), holding the claims.
pub(crate) fn team_store(layout: &Layout, options: StoreOptions) -> Store {
    Store::beneath(layout.root(), layout.team_store_dir(), options)
}

impl Namespace {
    /// Opens `dev`'s namespace.
    ///
    /// # Errors
    /// [`Error::NotInitialised`] when `dev-<id>/config.json` does not exist (run
    /// [`init`] first), [`Error::Symlink`] when it or a
    /// directory above it is a symbolic link, [`Error::Io`] when the namespace cannot be read
    /// (its permissions). Every file and directory a session or time write goes through is
    /// checked for links here, so a planted link stops the command before anything is written.
    pub fn open(layout: &Layout, dev: &DeveloperId, options: SessionOptions) -> Result<Self> {
        // The dozen checks below resolve each directory once (they opened the root and the
        // directory again for every path: a fresh process's command paid ~40 system calls).
        let _dirs = crate::fs::DirScope::enter();
        let config = layout.dev_config(dev);
        match crate::fs::stat(layout.root(), &config)? {
            Some(st) if st.kind == FileKind::File => {}
            Some(st) if st.kind == FileKind::Symlink => {
                return Err(Error::Symlink { path: config });
            }
            _ => {
                return Err(Error::NotInitialised {
                    developer: dev.clone(),
                });
            }
        }
        let store = layout.dev_store_dir(dev);
        let mut written = vec![
            layout.sessions_dir(dev),
            layout.current_session(dev),
            layout.session_history_dir(dev),
            layout.time_tracking(dev),
            layout.team_store_dir(),
            layout.task_assignments(),
        ];
        for key in [SESSION_KEY, TIME_KEY] {
            written.extend([store.join(key), store.join(key).join("HEAD")]);
            written.push(store.join(key).join("FLOOR"));
        }
        for path in written {
            if crate::fs::stat(layout.root(), &path)?.is_some_and(|st| st.kind == FileKind::Symlink)
            {
                return Err(Error::Symlink { path });
            }
        }
        Ok(Self {
            layout: layout.clone(),
            dev: dev.clone(),
            store: dev_store(layout, dev, options.store),
            team: team_store(layout, options.store),
        })
    }

    /// The developer.
    pub fn developer(&self) -> &DeveloperId {
        &self.dev
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The developer's store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
