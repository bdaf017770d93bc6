//! Files FlowForge writes for people outside the namespace root, such as a report saved with
//! `--output`: private and atomic like every namespace file.

use std::path::Path;

use crate::{
    error::{Error, Result},
    fs::{Durability, write_atomic_unpooled},
};

/// Writes `bytes` to `path` atomically (readers see the old content or the new, never a
/// part), mode 0600, flushed to disk. The directory is the caller's choice and a link on the
/// way to it is resolved; the file itself is never written through a symbolic link.
///
/// # Errors
/// [`Error::Symlink`] when `path` is a link, [`Error::Outside`] when it names no file,
/// [`Error::Io`] naming the directory or the file.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent).map_err(Error::io("cannot open directory", parent))?;
    let Some(name) = path.file_name() else {
        return Err(Error::Outside {
            path: path.to_owned(),
            root: dir,
        });
    };
    write_atomic_unpooled(&dir, &dir.join(name), bytes, Durability::Sync)
}
