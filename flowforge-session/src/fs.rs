//! Private, atomic filesystem primitives: directories 0700, files 0600, whole-file replaces.

use std::{
    fs::{self, DirBuilder, OpenOptions},
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
    sync::atomic::{AtomicU8, AtomicU64, Ordering},
};

use crate::error::{Error, Result};

/// Mode of every namespace directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every namespace file.
pub const FILE_MODE: u32 = 0o600;

/// Whether a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync the file and its directory: the write survives a power loss once it returns.
    #[default]
    Sync,
    /// No fsync: atomic against other processes and crashes of this one, not power loss.
    Relaxed,
}

/// Creates `path` and its missing parents with mode 0700.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn create_private_dir_all(path: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(Error::io("cannot create directory", path))
}

/// Replaces `path` with `bytes` atomically: readers see the old or the new content, never a
/// part. The file gets mode 0600.
///
/// # Errors
/// [`Error::Io`] naming the file; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(Error::io("cannot create", &tmp))?;
        ensure_private(&file, &tmp)?;
        file.write_all(bytes)
            .map_err(Error::io("cannot write", &tmp))?;
        if durability == Durability::Sync {
            file.sync_all().map_err(Error::io("cannot sync", &tmp))?;
        }
        drop(file);
        replace(&tmp, path)?;
        if durability == Durability::Sync {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(Error::io("cannot sync directory", dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether files created 0600 come out 0600 under this process's umask: 0 unknown, 1 yes.
static UMASK_CLEAN: AtomicU8 = AtomicU8::new(0);

/// Makes sure a file just created with mode 0600 is exactly 0600: the mode given to `open` is
/// filtered by the umask. The first file of the process tells whether the umask touches 0600
/// at all; if not, later files cost no syscall here.
pub(crate) fn ensure_private(file: &fs::File, path: &Path) -> Result<()> {
    if UMASK_CLEAN.load(Ordering::Relaxed) == 1 {
        return Ok(());
    }
    let mode = file
        .metadata()
        .map_err(Error::io("cannot stat", path))?
        .permissions()
        .mode();
    if mode & 0o777 == FILE_MODE {
        UMASK_CLEAN.store(1, Ordering::Relaxed);
        return Ok(());
    }
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .map_err(Error::io("cannot set permissions of", path))
}

/// Whether `renameat2(RENAME_EXCHANGE)` works here: 0 unknown or yes, 2 no.
static EXCHANGE: AtomicU8 = AtomicU8::new(0);

/// Moves `tmp` over `path`. An existing `path` is swapped with `tmp` by
/// `renameat2(RENAME_EXCHANGE)` and the old file, now at `tmp`, unlinked: on ext4 a plain
/// rename over an existing file forces the new file's blocks to be allocated first
/// (`auto_da_alloc`), which costs several times the whole write; the exchange does not.
/// Readers see the old or the new file at `path`, never neither. Falls back to a plain rename
/// when `path` does not exist or the filesystem refuses the flag.
fn replace(tmp: &Path, path: &Path) -> Result<()> {
    use rustix::{
        fs::{CWD, RenameFlags, renameat_with},
        io::Errno,
    };
    if EXCHANGE.load(Ordering::Relaxed) != 2 {
        match renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE) {
            Ok(()) => {
                return fs::remove_file(tmp).map_err(|e| {
                    // `path` was not a file (a directory): put it back where it was.
                    let _ = renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE);
                    Error::io("cannot replace", path)(e)
                });
            }
            Err(Errno::NOENT) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                EXCHANGE.store(2, Ordering::Relaxed);
            }
            Err(e) => {
                return Err(Error::io("cannot replace", path)(
                    std::io::Error::from_raw_os_error(e.raw_os_error()),
                ));
            }
        }
    }
    fs::rename(tmp, path).map_err(Error::io("cannot replace", path))
}

/// Reads and parses a JSON file; `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::Json`] when it is not the expected JSON.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path)(e)),
    }
}

/// Serialises `value` as pretty JSON with a trailing newline and writes it with
/// [`write_atomic`].
///
/// # Errors
/// As [`write_atomic`].
pub fn write_json<T: serde::Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, durability)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_0600_dirs_0700_and_replaced_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir_all(&dir).unwrap();
        for d in [tmp.path().join("a"), dir.clone()] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        let file = dir.join("x.json");
        write_atomic(&file, b"one", Durability::Sync).unwrap();
        write_atomic(&file, b"two", Durability::Relaxed).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_and_stays_put() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x.json");
        create_private_dir_all(&dir.join("inner")).unwrap();
        assert!(write_atomic(&dir, b"data", Durability::Relaxed).is_err());
        assert!(dir.join("inner").is_dir());
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }

    #[test]
    fn corrupt_json_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("bad.json");
        fs::write(&file, "{not json").unwrap();
        let err = read_json::<serde_json::Value>(&file).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
        assert!(
            read_json::<serde_json::Value>(&tmp.path().join("none"))
                .unwrap()
                .is_none()
        );
    }
}
