//! The namespace index's own files under `index/`: its snapshot and the cookie files its
//! watcher writes to prove it has caught up.
//!
//! The index persists nothing else and writes no namespace file; these are the only writes it
//! makes, and they go through here so that they follow every rule of the root: directories
//! 0700, files 0600, atomic replaces, no symbolic link followed.

use std::path::{Component, Path, PathBuf};

use flowforge_core::Layout;

use crate::{
    error::{Error, Result},
    fs::{Durability, create_new, create_private_dir_all, remove_file, write_atomic},
};

/// Creates `index/` (and the root above it) if missing, mode 0700.
///
/// # Errors
/// [`Error::Symlink`] for a link on the way, [`Error::Io`] naming the directory.
pub fn create_dir(layout: &Layout) -> Result<()> {
    create_private_dir_all(layout.root(), &layout.index_dir())
}

/// Replaces `index/snapshot.json` with `bytes` atomically (mode 0600), creating `index/`
/// first. Not flushed: the snapshot is a cache, and losing it to a power cut costs one
/// rebuild.
///
/// # Errors
/// [`Error::Symlink`] for a link on the way or at the file, [`Error::Io`] naming it.
pub fn write_snapshot(layout: &Layout, bytes: &[u8]) -> Result<()> {
    create_dir(layout)?;
    write_atomic(
        layout.root(),
        &layout.index_snapshot(),
        bytes,
        Durability::Relaxed,
    )
}

/// Creates the empty cookie file `index/<name>` (mode 0600) and returns its path; `None`
/// when something already stands under that name (left as it is). `index/` must exist (see
/// [`create_dir`]).
///
/// # Errors
/// [`Error::Outside`] when `name` is not a plain file name, [`Error::Symlink`] for a link on
/// the way, [`Error::Io`] naming the file.
pub fn create_cookie(layout: &Layout, name: &str) -> Result<Option<PathBuf>> {
    let path = cookie_path(layout, name)?;
    Ok(create_new(layout.root(), &path, b"")?.then_some(path))
}

/// Removes the cookie file `index/<name>`; `false` when it did not exist.
///
/// # Errors
/// As [`create_cookie`].
pub fn remove_cookie(layout: &Layout, name: &str) -> Result<bool> {
    remove_file(layout.root(), &cookie_path(layout, name)?)
}

fn cookie_path(layout: &Layout, name: &str) -> Result<PathBuf> {
    let path = layout.index_dir().join(name);
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if path != layout.index_snapshot() => Ok(path),
        _ => Err(Error::Outside {
            path,
            root: layout.index_dir(),
        }),
    }
}
