//! Private, atomic filesystem primitives: directories 0700, files 0600, whole-file replaces,
//! all beneath the namespace root and never through a symbolic link.
//!
//! Readers (the index, the CLI, flowforge-remote) use the public reading functions here; the
//! writing ones are flowforge-session's own, since nobody else writes namespace files (the
//! index's files go through [`index_files`](crate::index_files), a pulled view through
//! [`pulled`](crate::pulled), a report through [`export`](crate::export)).
//!
//! Every function takes the namespace root (`.flowforge/`) and a path beneath it; see
//! `beneath.rs` for how a path is opened without following links: a link where a namespace
//! file or directory should be is [`Error::Symlink`], and nothing outside the root is ever
//! created, read or changed.

mod beneath;
mod lease;
mod publish;

use std::{
    fs,
    io::{Read, Write},
    os::unix::fs::PermissionsExt,
    path::Path,
    sync::atomic::{AtomicU8, Ordering},
};

#[cfg(test)]
pub(crate) use self::beneath::DIR_SYNCS;
pub use self::beneath::{DirEntry, DirScope, FileKind, FileStat};
pub(crate) use self::{
    beneath::Dir,
    publish::{
        Mode, POOL, Prior, Publish, Spare, padded_len, parse_pooled, parse_temp, pool_name,
        publish, publish_over, publish_reusing, writer_alive,
    },
};
use crate::error::{Error, Result};

/// Whether views are published with their length reserved by `posix_fallocate` first: no,
/// it measured slower here (see `publish.rs` and the figures in `ARCHITECTURE.md`).
pub(crate) const ALLOCATE: bool = false;

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

/// Creates the directory `path` (the namespace root `root` or beneath it) and every missing
/// directory from the root down, mode 0700. No link below the root is followed.
///
/// # Errors
/// [`Error::Symlink`] naming a link on the way, [`Error::Outside`] when `path` is not beneath
/// `root`, [`Error::Io`] naming the directory.
pub(crate) fn create_private_dir_all(root: &Path, path: &Path) -> Result<()> {
    Dir::create(root, path).map(drop)
}

/// Replaces the file `path` (beneath the namespace root `root`) with `bytes` atomically:
/// readers see the old or the new content, never a part. The file gets mode 0600. Its
/// directory must exist; no link below the root is followed, and a link at `path` is refused,
/// never replaced. A file that is replaced again and again (a view) recycles: the replaced
/// file is kept beside it as a pooled spare, which a later write rewrites once no reader has
/// it open, so in steady state no inode is created or deleted (see `publish.rs`).
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], or [`Error::Io`] naming the file; the temporary file
/// is removed on failure.
pub(crate) fn write_atomic(
    root: &Path,
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<()> {
    write_replacing(root, path, bytes, durability, true, None, |_| true).map(drop)
}

/// [`write_atomic`], showing `written` the file once it holds `bytes`, just before it takes
/// its name (each file about to take it: when a pooled spare's exchange fails, the next file
/// is shown in turn); `written` returns whether it does (`false`: nothing is published, and
/// `false` is returned). The file is this writer's alone then: a temporary file it created,
/// or a pooled spare it rewrote under a write lease (the kernel's proof that nobody else had
/// it open) and keeps open until the exchange, so that no other writer can take that lease
/// meanwhile. `written` may keep a duplicate of the descriptor past the publication. A pooled
/// spare that is the file `prior` describes has only its bytes that differ rewritten.
///
/// # Errors
/// As [`write_atomic`].
pub(crate) fn write_atomic_then(
    root: &Path,
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    prior: Option<Prior<'_>>,
    written: impl FnMut(&fs::File) -> bool,
) -> Result<bool> {
    write_replacing(root, path, bytes, durability, true, prior, written)
}

/// [`write_atomic`] for a file in a directory of the user's (an exported report): the
/// replaced file is unlinked, never kept beside it as a pooled spare.
///
/// # Errors
/// As [`write_atomic`].
pub(crate) fn write_atomic_unpooled(
    root: &Path,
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<()> {
    write_replacing(root, path, bytes, durability, false, None, |_| true).map(drop)
}

fn write_replacing(
    root: &Path,
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    pooled: bool,
    prior: Option<Prior<'_>>,
    mut written: impl FnMut(&fs::File) -> bool,
) -> Result<bool> {
    let (parent, name) = beneath::split(root, path)?;
    let dir = Dir::open(root, parent)?
        .ok_or_else(|| Error::io("cannot create", path)(std::io::ErrorKind::NotFound.into()))?;
    let existing = dir.stat(name)?.map(|st| st.kind);
    if existing == Some(FileKind::Symlink) {
        return Err(Error::Symlink {
            path: path.to_owned(),
        });
    }
    // A file replaced again and again (a view) recycles: no inode created or deleted. So
    // does the first write of one whose spares were provisioned ([`provision_pool`]).
    let recycle = pooled
        && match existing {
            Some(kind) => kind == FileKind::File,
            None => dir.stat(pool_name(&name.to_string_lossy(), 0))?.is_some(),
        };
    let how = Publish {
        mode: if recycle {
            Mode::Recycle
        } else {
            Mode::Replace
        },
        durability,
        allocate: ALLOCATE,
        pad_within: 0,
    };
    publish_over(&dir, name, bytes, how, prior, |file| Ok(written(file)))
}

/// Gives the view `path` (beneath the namespace root `root`, in a directory that exists) its
/// pooled spares up front, so that not even its first writes create a file: for the views a
/// session cycle rewrites, provisioned when the namespace is created. See `publish.rs`.
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], or [`Error::Io`] naming the directory or a slot.
pub(crate) fn provision_pool(root: &Path, path: &Path) -> Result<()> {
    let (parent, name) = beneath::split(root, path)?;
    let dir = Dir::open(root, parent)?
        .ok_or_else(|| Error::io("cannot create", path)(std::io::ErrorKind::NotFound.into()))?;
    match name.to_str() {
        Some(target) => publish::provision_pool(&dir, target),
        None => Ok(()),
    }
}

/// This process's id, asked of the kernel once: it names temporary files and session ids on
/// every write. (FlowForge never forks without `exec`, so a process keeps its id.)
pub(crate) fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
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

/// Reads the file `path` (beneath the namespace root `root`) whole; `Ok(None)` when it does
/// not exist. No link below the root is followed.
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], or [`Error::Io`] naming the file.
pub fn read_bytes(root: &Path, path: &Path) -> Result<Option<Vec<u8>>> {
    let Some(mut file) = open_file(root, path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(Error::io("cannot read", path))?;
    Ok(Some(bytes))
}

/// Opens the file `path` (beneath the namespace root `root`) for reading; `Ok(None)` when it
/// does not exist. No link below the root is followed.
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], or [`Error::Io`] naming the file.
pub(crate) fn open_file(root: &Path, path: &Path) -> Result<Option<fs::File>> {
    let (parent, name) = beneath::split(root, path)?;
    let Some(dir) = Dir::open(root, parent)? else {
        return Ok(None);
    };
    dir.open_file(name)
}

/// Reads and parses the JSON file `path` (beneath the namespace root `root`); `Ok(None)` when
/// it does not exist. No link below the root is followed.
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], [`Error::Io`] when it cannot be read,
/// [`Error::Json`] when it is not the expected JSON.
pub fn read_json<T: serde::de::DeserializeOwned>(root: &Path, path: &Path) -> Result<Option<T>> {
    match read_bytes(root, path)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json {
                path: path.to_owned(),
                source,
            }),
        None => Ok(None),
    }
}

/// Serialises `value` as pretty JSON with a trailing newline and writes it with
/// [`write_atomic`].
///
/// # Errors
/// As [`write_atomic`].
pub(crate) fn write_json<T: serde::Serialize>(
    root: &Path,
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    with_pretty_json(path, value, |bytes| {
        write_atomic(root, path, bytes, durability)
    })
}

/// The bytes a document's serialization starts with room for: a session, a time tracking
/// document or view, a claims shard fits at once, not grown from `serde_json`'s 128 bytes by
/// doubling (each growth a copy).
pub(crate) const SERIALIZE_CAPACITY: usize = 4096;

/// The largest serialization buffer a thread keeps ([`with_scratch`]).
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// The buffer this thread's serializations write into, kept from one to the next: a
    /// session cycle serializes a dozen documents of a few KiB, and buffers that size are
    /// allocated past the allocator's per-thread cache, each from its shared heap.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's serialization buffer, empty and with room for
/// [`SERIALIZE_CAPACITY`] bytes; the buffer is kept for the next call unless it grew past
/// [`SCRATCH_KEPT`]. A call made inside `f` gets a buffer of its own.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut bytes = SCRATCH.with(std::cell::Cell::take);
    bytes.clear();
    bytes.reserve(SERIALIZE_CAPACITY);
    let out = f(&mut bytes);
    if bytes.capacity() <= SCRATCH_KEPT {
        SCRATCH.with(|kept| kept.set(bytes));
    }
    out
}

/// `value` as pretty JSON with a trailing newline, as the bash tools' `jq` prints it, handed
/// to `then` in this thread's serialization buffer ([`with_scratch`]).
fn with_pretty_json<T: serde::Serialize, R>(
    path: &Path,
    value: &T,
    then: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    with_scratch(|bytes| {
        serde_json::to_writer_pretty(&mut *bytes, value).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        bytes.push(b'\n');
        then(bytes)
    })
}

/// [`write_json`] for a file that is normally new (an archived session): published with a
/// put-if-absent rename, which fails only if the name is taken — then (a retry after a crash
/// rewrites the same file) it is replaced as [`write_atomic`] does. Readers never see it
/// partly written either way. The new file is not pooled: nothing rewrites it.
///
/// # Errors
/// As [`write_atomic`].
pub(crate) fn write_json_new<T: serde::Serialize>(
    root: &Path,
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    with_pretty_json(path, value, |bytes| {
        write_new(root, path, bytes, durability)
    })
}

/// [`write_json_new`] of bytes.
fn write_new(root: &Path, path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let (parent, name) = beneath::split(root, path)?;
    let dir = Dir::open(root, parent)?
        .ok_or_else(|| Error::io("cannot create", path)(std::io::ErrorKind::NotFound.into()))?;
    let how = Publish {
        mode: Mode::IfAbsent,
        durability,
        allocate: ALLOCATE,
        pad_within: 0,
    };
    if publish(&dir, name, bytes, how, |_| Ok(true))? {
        return Ok(());
    }
    write_replacing(root, path, bytes, durability, false, None, |_| true).map(drop)
}

/// Creates the file `path` (beneath the namespace root `root`, mode 0600) holding `bytes`;
/// `false` when anything, a link included, already exists under its name (left as it is).
///
/// # Errors
/// [`Error::Symlink`] for a link on the way, [`Error::Outside`], or [`Error::Io`] naming it.
pub(crate) fn create_new(root: &Path, path: &Path, bytes: &[u8]) -> Result<bool> {
    let (parent, name) = beneath::split(root, path)?;
    let dir = Dir::open(root, parent)?
        .ok_or_else(|| Error::io("cannot create", path)(std::io::ErrorKind::NotFound.into()))?;
    let name = name
        .to_str()
        .ok_or_else(|| Error::io("cannot create", path)(std::io::ErrorKind::InvalidInput.into()))?;
    let mut file = match dir.create_new(name, FILE_MODE) {
        Ok(file) => file,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    ensure_private(&file, path)?;
    file.write_all(bytes)
        .map_err(Error::io("cannot write", path))?;
    Ok(true)
}

/// Removes the file `path` (beneath the namespace root `root`); `false` when it did not exist.
///
/// # Errors
/// [`Error::Symlink`] for a link on the way, [`Error::Outside`], or [`Error::Io`] naming it.
pub(crate) fn remove_file(root: &Path, path: &Path) -> Result<bool> {
    let (parent, name) = beneath::split(root, path)?;
    match Dir::open(root, parent)? {
        Some(dir) => dir.remove(name),
        None => Ok(false),
    }
}

/// The entries of the directory `path` (the namespace root `root` or beneath it), not
/// following any link; `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::Symlink`] when `path` or a directory above it is a link, [`Error::Outside`], or
/// [`Error::Io`] naming the directory.
pub fn list_dir(root: &Path, path: &Path) -> Result<Option<Vec<DirEntry>>> {
    match Dir::open(root, path)? {
        Some(dir) => dir.entries().map(Some),
        None => Ok(None),
    }
}

/// The entries of the directory `path` (the namespace root `root` or beneath it) with their
/// `lstat` data, not following any link; `Ok(None)` when it does not exist. One `stat` per
/// entry, relative to the directory's descriptor.
///
/// # Errors
/// As [`list_dir`], or [`Error::Io`] naming an entry that cannot be `stat`ed.
pub fn list_dir_stat(root: &Path, path: &Path) -> Result<Option<Vec<(DirEntry, FileStat)>>> {
    let Some(dir) = Dir::open(root, path)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for entry in dir.entries()? {
        // Removed meanwhile: as if listed a moment later.
        if let Some(stat) = dir.stat(&entry.name)? {
            out.push((entry, stat));
        }
    }
    Ok(Some(out))
}

/// The `lstat` data of `path` (beneath the namespace root `root`), not following it or any
/// link above it; `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::Symlink`] when a directory above it is a link, [`Error::Outside`], or
/// [`Error::Io`].
pub fn stat(root: &Path, path: &Path) -> Result<Option<FileStat>> {
    let (parent, name) = beneath::split(root, path)?;
    match Dir::open(root, parent)? {
        Some(dir) => dir.stat(name),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_file_holds_exactly_the_bytes_written_whatever_it_held_before() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("v.json");
        let store = crate::store::Store::new(tmp.path().join("store"), Default::default());
        let key = crate::store::Key::new("doc").unwrap();
        let mut version = None;
        // Longer, shorter, the same length, longer again: the pooled spares and the store's
        // spares are rewritten over older, longer and shorter contents.
        for len in [10, 400, 3, 3, 90, 1, 250, 7, 7, 600, 2]
            .into_iter()
            .cycle()
            .take(60)
        {
            let bytes = vec![b'a' + (len % 26) as u8; len];
            write_atomic(tmp.path(), &file, &bytes, Durability::Relaxed).unwrap();
            assert_eq!(fs::read(&file).unwrap(), bytes);
            let text = String::from_utf8(bytes).unwrap();
            let cas = store.compare_and_swap(&key, version, &text).unwrap();
            version = cas.swapped();
            assert!(version.is_some());
            assert_eq!(store.get::<String>(&key).unwrap().unwrap().value, text);
            // Read from the files (`get` answers from memory).
            let kept = store.history::<String>(&key).unwrap();
            assert_eq!(kept.last().unwrap().value.as_deref(), Some(text.as_str()));
        }
    }

    #[test]
    fn files_are_0600_dirs_0700_and_replaced_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir_all(tmp.path(), &dir).unwrap();
        for d in [tmp.path().join("a"), dir.clone()] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        let file = dir.join("x.json");
        write_atomic(tmp.path(), &file, b"one", Durability::Sync).unwrap();
        write_atomic(tmp.path(), &file, b"two", Durability::Relaxed).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names = |dir: &Path| {
            let mut names: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        // No temporary file is left; the replaced file is kept as the view's pooled spare.
        assert_eq!(names(&dir), [".tmp-spare-0-x.json", "x.json"]);
        // From now on the two inodes take turns: nothing is created or deleted.
        let inodes = |dir: &Path| {
            let mut inodes: Vec<u64> = fs::read_dir(dir)
                .unwrap()
                .map(|e| std::os::unix::fs::DirEntryExt::ino(&e.unwrap()))
                .collect();
            inodes.sort();
            inodes
        };
        let before = inodes(&dir);
        for n in 0..5 {
            let bytes = format!("version {n}");
            write_atomic(tmp.path(), &file, bytes.as_bytes(), Durability::Relaxed).unwrap();
            assert_eq!(fs::read(&file).unwrap(), bytes.as_bytes());
        }
        assert_eq!(inodes(&dir), before);
        assert_eq!(names(&dir), [".tmp-spare-0-x.json", "x.json"]);
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_and_stays_put() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x.json");
        create_private_dir_all(tmp.path(), &dir.join("inner")).unwrap();
        assert!(write_atomic(tmp.path(), &dir, b"data", Durability::Relaxed).is_err());
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
        let err = read_json::<serde_json::Value>(tmp.path(), &file).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
        assert!(
            read_json::<serde_json::Value>(tmp.path(), &tmp.path().join("none"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn links_are_refused_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("victim"), "precious").unwrap();
        create_private_dir_all(&root, &root.join("d")).unwrap();
        std::os::unix::fs::symlink(outside.join("victim"), root.join("d/file")).unwrap();
        std::os::unix::fs::symlink(outside.join("nothing"), root.join("d/dangling")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        for path in [
            root.join("d/file"),
            root.join("d/dangling"),
            root.join("linked/new"),
        ] {
            let err = write_atomic(&root, &path, b"evil", Durability::Relaxed).unwrap_err();
            assert!(matches!(err, Error::Symlink { .. }), "{err}");
            let err = read_bytes(&root, &path).unwrap_err();
            assert!(matches!(err, Error::Symlink { .. }), "{err}");
        }
        let err = create_private_dir_all(&root, &root.join("linked/sub")).unwrap_err();
        assert!(err.to_string().contains("linked"), "{err}");
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"precious");
        assert!(!outside.join("nothing").exists() && !outside.join("new").exists());
        assert!(!outside.join("sub").exists());
        // The root itself is never followed either.
        let link_root = tmp.path().join("link-root");
        std::os::unix::fs::symlink(&outside, &link_root).unwrap();
        let err =
            write_atomic(&link_root, &link_root.join("x"), b"", Durability::Relaxed).unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{err}");
        // Paths outside the root are refused.
        let err = read_bytes(&root, &outside.join("victim")).unwrap_err();
        assert!(matches!(err, Error::Outside { .. }), "{err}");
        let err = read_bytes(&root, &root.join("../outside/victim")).unwrap_err();
        assert!(matches!(err, Error::Outside { .. }), "{err}");
    }
}
