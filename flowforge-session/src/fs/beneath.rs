//! Opening namespace files beneath the namespace root, never through a symbolic link.
//!
//! `.flowforge/` is an ordinary directory of the work tree: a teammate can commit symbolic
//! links into it, and a clone checks them out. So no namespace file or directory is ever
//! reached through a link. The root itself is opened with `O_NOFOLLOW` (the path above it is
//! the user's), every directory below it with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` relative to the root's descriptor — or, where the kernel has no
//! `openat2`, one `openat(O_NOFOLLOW | O_DIRECTORY)` per component relative to its parent —
//! and every file with `O_NOFOLLOW` relative to its directory's descriptor. A link where a
//! namespace file or directory should be is [`Error::Symlink`] naming it: never followed, never
//! replaced, and nothing outside the root is created or changed.
//!
//! [`Dir`] is such an opened directory; every operation on it (open, create, stat, list,
//! rename, link, unlink) takes one plain file name relative to its descriptor.
//!
//! **Opened once per operation.** A session operation (a start, an end, an update) goes
//! through the same few directories again and again: the session key's directory is looked
//! up to read the latest version, to publish the next one, to take the view's lock, to check
//! for a newer version; the team store's directories by every claim step. Inside a
//! [`DirScope`] (a [`Namespace`](crate::Namespace) operation enters one on its thread), the
//! first [`Dir::open`] or [`Dir::create`] of a directory resolves its path as above, and later
//! ones of the same root and path in the same scope share that descriptor instead of walking
//! the path again (two path walks and two `close`s each). What is checked is unchanged: the
//! path was opened beneath the root without following a link, once per operation, as a
//! single step of the operation holds its directory open today. A directory removed
//! meanwhile is noticed by [`Dir::create`] (its link count is 0) and made again; the scope's
//! descriptors are closed when the operation's scope ends, so none outlives the operation.

use std::{
    cell::RefCell,
    ffi::{OsStr, OsString},
    fs::File,
    io,
    os::{fd::OwnedFd, unix::ffi::OsStrExt},
    path::{Component, Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

use rustix::{
    fs::{
        AtFlags, CWD, FileType, Mode, OFlags, RenameFlags, ResolveFlags, Stat, fsync, linkat,
        mkdirat, openat, openat2, renameat_with, statat, unlinkat,
    },
    io::Errno,
};

use crate::error::{Error, Result};

/// Whether `openat2` works here: 0 unknown or yes, 2 no (old kernel, or a sandbox refusing it).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// How many times a read tries again to open a file under a writer's lease (100 µs apart).
const LEASED_RETRIES: u32 = 1000;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What a directory entry is, as seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: a fifo, a socket, a device.
    Other,
}

impl FileKind {
    fn of(file_type: FileType) -> Self {
        match file_type {
            FileType::RegularFile => Self::File,
            FileType::Directory => Self::Dir,
            FileType::Symlink => Self::Symlink,
            _ => Self::Other,
        }
    }
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Its file name.
    pub name: OsString,
    /// What it is, not following links.
    pub kind: FileKind,
    /// Its inode number.
    pub ino: u64,
}

/// The `lstat` data of a namespace file: what change detectors compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStat {
    /// What it is (a link is reported, not followed).
    pub kind: FileKind,
    /// Its inode number.
    pub ino: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time: seconds since the epoch and nanoseconds.
    pub mtime: (i64, u32),
    /// Status change time: seconds since the epoch and nanoseconds.
    pub ctime: (i64, u32),
}

impl FileStat {
    /// The data of `st`.
    pub(crate) fn of(st: &Stat) -> Self {
        Self {
            kind: FileKind::of(FileType::from_raw_mode(st.st_mode)),
            ino: st.st_ino,
            size: st.st_size.max(0) as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime, st.st_ctime_nsec as u32),
        }
    }
}

/// A directory at or beneath the namespace root, opened without following any link below
/// the root. Clones share the descriptor (see [`DirScope`]).
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    fd: Arc<OwnedFd>,
    /// Shared by the clones, as the descriptor is: a scope hands out a clone at each look-up.
    path: Arc<Path>,
}

/// A directory descriptor kept open (and any `flock` on it held) until this is dropped; see
/// [`Dir::into_entries`].
pub(crate) struct Held {
    _listing: Option<rustix::fs::Dir>,
    _shared: Option<Arc<OwnedFd>>,
}

/// The most directories a scope keeps open (an operation goes through about a dozen).
const SCOPE_DIRS: usize = 32;

/// The directories opened in this thread's current scope: root, path and the opened
/// directory, plus how many scopes are entered.
#[derive(Default)]
struct Scope {
    depth: usize,
    dirs: Vec<(Arc<Path>, Dir)>,
}

thread_local! {
    static SCOPE: RefCell<Scope> = RefCell::default();
}

/// While alive, every namespace directory this thread opens (to read, write or list in it)
/// is resolved from the root once, and the same descriptor is used afterwards; the
/// descriptors are closed when the outermost scope ends. Scopes nest (an inner one shares
/// the outer one's directories). Meant for the span of one operation: a directory removed
/// meanwhile is noticed by the writers and made again (see the module's documentation in
/// the source). A reader enters one
/// for what must be read together anyway (an indexer's check and load of one namespace):
/// every read in it resolves each directory once, as if it had opened it at its first read.
#[must_use = "the scope ends when dropped"]
pub struct DirScope(());

impl DirScope {
    /// Enters a scope on this thread.
    pub fn enter() -> Self {
        SCOPE.with(|scope| scope.borrow_mut().depth += 1);
        Self(())
    }
}

impl Drop for DirScope {
    fn drop(&mut self) {
        let closed = SCOPE.with(|scope| {
            let mut scope = scope.borrow_mut();
            scope.depth = scope.depth.saturating_sub(1);
            if scope.depth == 0 {
                std::mem::take(&mut scope.dirs)
            } else {
                Vec::new()
            }
        });
        drop(closed);
    }
}

/// The directory `path` beneath `root` opened earlier in this thread's scope.
fn scoped(root: &Path, path: &Path) -> Option<Dir> {
    SCOPE.with(|scope| {
        let scope = scope.borrow();
        if scope.depth == 0 {
            return None;
        }
        scope
            .dirs
            .iter()
            .find(|(r, d)| same(&d.path, path) && same(r, root))
            .map(|(_, d)| d.clone())
    })
}

/// Keeps `dir` (opened beneath `root`) for the rest of this thread's scope, if one is
/// entered.
fn keep(root: &Path, dir: &Dir) {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        if scope.depth == 0 {
            return;
        }
        scope
            .dirs
            .retain(|(r, d)| !(same(&d.path, &dir.path) && same(r, root)));
        if scope.dirs.len() >= SCOPE_DIRS {
            scope.dirs.remove(0);
        }
        // The scope's directories share a root or two: its name is kept once.
        let root = match scope.dirs.iter().find(|(r, _)| same(r, root)) {
            Some((r, _)) => Arc::clone(r),
            None => Arc::from(root),
        };
        scope.dirs.push((root, dir.clone()));
    });
}

/// Whether two paths are spelled the same: a byte comparison, where `Path`'s `==` parses
/// both into components when they differ. The scope's paths are all made by joining names
/// to the same roots, so one spelled differently is only a miss (opened again).
fn same(a: &Path, b: &Path) -> bool {
    a.as_os_str() == b.as_os_str()
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// The components of `path` below `root`, each a plain name.
fn components<'a>(root: &Path, path: &'a Path) -> Result<Vec<&'a OsStr>> {
    let outside = || Error::Outside {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let names = |rest: &'a Path| -> Option<Vec<&'a OsStr>> {
        rest.components()
            .map(|c| match c {
                Component::Normal(name) => Some(name),
                _ => None,
            })
            .collect()
    };
    // Every path a namespace opens is spelled as its root and a slash, then names: compared
    // as bytes, without parsing the root's components twice (most of the cost of a look-up
    // before). Any other spelling takes the component-wise comparison; where both apply they
    // agree (`the_components_below_a_root_are_those_of_strip_prefix`).
    if let Some(names) = below_by_bytes(root, path).and_then(names) {
        return Ok(names);
    }
    names(path.strip_prefix(root).map_err(|_| outside())?).ok_or_else(outside)
}

/// What follows `root` and a slash in `path`'s bytes; `None` when `path` is not spelled so.
fn below_by_bytes<'a>(root: &Path, path: &'a Path) -> Option<&'a Path> {
    let root = root.as_os_str().as_bytes();
    let rest = path.as_os_str().as_bytes().strip_prefix(root)?;
    let rest = match root.last() {
        Some(b'/') => rest,
        Some(_) => rest.strip_prefix(b"/")?,
        None => return None,
    };
    Some(Path::new(OsStr::from_bytes(rest)))
}

/// Turns the failure of opening `name` in `parent` (without following it) into an error
/// naming it: a link is [`Error::Symlink`].
fn open_error(
    parent: &OwnedFd,
    name: &OsStr,
    path: &Path,
    e: Errno,
    action: &'static str,
) -> Error {
    if matches!(e, Errno::LOOP | Errno::NOTDIR | Errno::MLINK)
        && statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
    {
        return Error::Symlink {
            path: path.to_owned(),
        };
    }
    Error::io(action, path)(io_err(e))
}

/// Opens the root itself: its own last component is not followed.
fn open_root(root: &Path, create: bool) -> Result<Option<OwnedFd>> {
    let mut created = false;
    loop {
        match openat(CWD, root, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::NOENT) if create && !created => {
                if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(Error::io("cannot create directory", parent))?;
                }
                match mkdirat(CWD, root, Mode::from_raw_mode(super::DIR_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => created = true,
                    Err(e) => return Err(Error::io("cannot create directory", root)(io_err(e))),
                }
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e @ (Errno::LOOP | Errno::NOTDIR | Errno::MLINK)) => {
                let is_link = std::fs::symlink_metadata(root).is_ok_and(|m| m.is_symlink());
                return Err(if is_link {
                    Error::Symlink {
                        path: root.to_owned(),
                    }
                } else {
                    Error::io("cannot open directory", root)(io_err(e))
                });
            }
            Err(e) => return Err(Error::io("cannot open directory", root)(io_err(e))),
        }
    }
}

impl Dir {
    /// Opens the directory `path`, which is `root` or beneath it; `None` when it (or a
    /// directory above it) does not exist.
    ///
    /// # Errors
    /// [`Error::Symlink`] naming the first link on the way, [`Error::Outside`] when `path` is not
    /// beneath `root`, [`Error::Io`] naming the directory that could not be opened.
    pub(crate) fn open(root: &Path, path: &Path) -> Result<Option<Self>> {
        if let Some(dir) = scoped(root, path) {
            return Ok(Some(dir));
        }
        let opened = Self::open_path(root, path)?;
        if let Some(dir) = &opened {
            keep(root, dir);
        }
        Ok(opened)
    }

    /// [`Dir::open`] without the scope: the path walked from the root.
    fn open_path(root: &Path, path: &Path) -> Result<Option<Self>> {
        let names = components(root, path)?;
        if names.is_empty() || OPENAT2.load(Ordering::Relaxed) == 2 {
            let Some(root_fd) = open_root(root, false)? else {
                return Ok(None);
            };
            if names.is_empty() {
                return Ok(Some(Self {
                    fd: Arc::new(root_fd),
                    path: Arc::from(path),
                }));
            }
            return Self::walk(root_fd, root, &names, false);
        }
        {
            // The root as opened earlier in the scope, else opened now and kept for it: an
            // operation resolves every directory from one descriptor of the root.
            let root_dir = match scoped(root, root) {
                Some(dir) => dir,
                None => {
                    let Some(root_fd) = open_root(root, false)? else {
                        return Ok(None);
                    };
                    let dir = Self {
                        fd: Arc::new(root_fd),
                        path: Arc::from(root),
                    };
                    keep(root, &dir);
                    dir
                }
            };
            let rest = path.strip_prefix(root).expect("checked by components");
            match openat2(
                &root_dir.fd,
                rest,
                DIR_FLAGS,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            ) {
                Ok(fd) => {
                    return Ok(Some(Self {
                        fd: Arc::new(fd),
                        path: Arc::from(path),
                    }));
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG) => {
                    OPENAT2.store(2, Ordering::Relaxed);
                }
                // A link or a file on the way: the walk below names it.
                Err(_) => {}
            }
        }
        let Some(root_fd) = open_root(root, false)? else {
            return Ok(None);
        };
        Self::walk(root_fd, root, &names, false)
    }

    /// Opens the directory `path` (`root` or beneath it), creating it and every missing
    /// directory from the root down with mode 0700.
    ///
    /// # Errors
    /// As [`Dir::open`].
    pub(crate) fn create(root: &Path, path: &Path) -> Result<Self> {
        // One opened earlier in the scope counts only while it is still linked: a directory
        // removed meanwhile is made again, as without the scope.
        if let Some(dir) = scoped(root, path).filter(Dir::is_linked) {
            return Ok(dir);
        }
        if let Some(dir) = Self::open_path(root, path)? {
            keep(root, &dir);
            return Ok(dir);
        }
        let names = components(root, path)?;
        let root_fd = open_root(root, true)?.ok_or_else(|| {
            Error::io("cannot create directory", root)(io::ErrorKind::NotFound.into())
        })?;
        let dir = Self::walk(root_fd, root, &names, true)?.ok_or_else(|| {
            Error::io("cannot create directory", path)(io::ErrorKind::NotFound.into())
        })?;
        keep(root, &dir);
        Ok(dir)
    }

    /// Whether the directory still has a name (a removed one has a link count of 0).
    fn is_linked(&self) -> bool {
        rustix::fs::fstat(&self.fd).is_ok_and(|st| st.st_nlink > 0)
    }

    /// The same directory opened anew: a descriptor of its own, so an `flock` taken on it
    /// ([`Dir::try_lock`]) excludes every other holder, this process's included (a [`Dir`]
    /// shared through a [`DirScope`] would share its lock).
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory.
    pub(crate) fn reopen(&self) -> Result<Self> {
        openat(&self.fd, ".", DIR_FLAGS, Mode::empty())
            .map(|fd| Self {
                fd: Arc::new(fd),
                path: self.path.clone(),
            })
            .map_err(|e| Error::io("cannot open directory", &*self.path)(io_err(e)))
    }

    /// One `openat(O_NOFOLLOW | O_DIRECTORY)` per component, creating missing ones if asked.
    fn walk(root_fd: OwnedFd, root: &Path, names: &[&OsStr], create: bool) -> Result<Option<Self>> {
        let mut fd = root_fd;
        let mut path = root.to_owned();
        for name in names {
            path.push(name);
            let mut created = false;
            let next = loop {
                match openat(&fd, *name, DIR_FLAGS, Mode::empty()) {
                    Ok(next) => break next,
                    Err(Errno::NOENT) if create && !created => {
                        match mkdirat(&fd, *name, Mode::from_raw_mode(super::DIR_MODE)) {
                            Ok(()) | Err(Errno::EXIST) => created = true,
                            Err(e) => {
                                return Err(Error::io("cannot create directory", &path)(io_err(e)));
                            }
                        }
                    }
                    Err(Errno::NOENT) => return Ok(None),
                    Err(e) => return Err(open_error(&fd, name, &path, e, "cannot open directory")),
                }
            };
            fd = next;
        }
        Ok(Some(Self {
            fd: Arc::new(fd),
            path: path.into(),
        }))
    }

    /// The directory's path (beneath the namespace root).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory, for messages.
    pub(crate) fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Opens the subdirectory `name`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::Symlink`] when it is a link, [`Error::Io`] otherwise.
    pub(crate) fn subdir(&self, name: &str) -> Result<Option<Self>> {
        let path = self.join(name);
        match openat(&self.fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(Self {
                fd: Arc::new(fd),
                path: path.into(),
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(open_error(
                &self.fd,
                name.as_ref(),
                &path,
                e,
                "cannot open directory",
            )),
        }
    }

    /// Opens the subdirectory `name`, creating it 0700 if missing.
    ///
    /// # Errors
    /// As [`Dir::subdir`].
    pub(crate) fn create_subdir(&self, name: &str) -> Result<Self> {
        if let Some(dir) = self.subdir(name)? {
            return Ok(dir);
        }
        match mkdirat(&self.fd, name, Mode::from_raw_mode(super::DIR_MODE)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => {
                return Err(Error::io("cannot create directory", self.join(name))(
                    io_err(e),
                ));
            }
        }
        self.subdir(name)?.ok_or_else(|| {
            Error::io("cannot create directory", self.join(name))(io::ErrorKind::NotFound.into())
        })
    }

    /// Opens the file `name` for reading; `None` when it does not exist.
    ///
    /// Opened non-blocking, so a fifo planted under the name cannot stall the reader. A
    /// file under a writer's lease (a pooled spare being rewritten, which this reader looked
    /// up when it was still the live file, see `publish.rs`) refuses such an open for the
    /// microseconds of the rewrite: the open is tried again, and finds the live file.
    ///
    /// # Errors
    /// [`Error::Symlink`] when it is a link, [`Error::Io`] otherwise.
    pub(crate) fn open_file(&self, name: impl AsRef<OsStr>) -> Result<Option<File>> {
        let name = name.as_ref();
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let mut retries = 0;
        let opened = loop {
            match openat(&self.fd, name, flags, Mode::empty()) {
                Err(Errno::AGAIN) if retries < LEASED_RETRIES => {
                    retries += 1;
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
                other => break other,
            }
        };
        match opened {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(open_error(
                &self.fd,
                name,
                &self.join(name),
                e,
                "cannot read",
            )),
        }
    }

    /// Opens the file `name` for writing, creating it with `mode` if missing (never through
    /// a link, dangling or not).
    ///
    /// # Errors
    /// As [`Dir::open_file`].
    pub(crate) fn open_write(&self, name: &str, mode: u32) -> Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(File::from)
            .map_err(|e| open_error(&self.fd, name.as_ref(), &self.join(name), e, "cannot open"))
    }

    /// Opens the file `name` for reading and writing, creating it with `mode` if missing
    /// (never through a link, dangling or not).
    ///
    /// # Errors
    /// As [`Dir::open_file`].
    pub(crate) fn open_read_write(&self, name: &str, mode: u32) -> Result<File> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(File::from)
            .map_err(|e| open_error(&self.fd, name.as_ref(), &self.join(name), e, "cannot open"))
    }

    /// Opens the file `name` for appending, creating it with `mode` if missing (never through
    /// a link): every `write` lands whole at the end, whatever other appenders do.
    ///
    /// # Errors
    /// As [`Dir::open_file`].
    pub(crate) fn open_append(&self, name: &str, mode: u32) -> Result<File> {
        let flags = OFlags::WRONLY
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(File::from)
            .map_err(|e| open_error(&self.fd, name.as_ref(), &self.join(name), e, "cannot open"))
    }

    /// Opens the existing file `name` for writing, never through a link and never creating
    /// it.
    ///
    /// # Errors
    /// As [`Dir::open_file`] (`NotFound` when it does not exist).
    pub(crate) fn open_existing_write(&self, name: &str) -> Result<File> {
        self.open_own_write(name).map(|(file, _, _)| file)
    }

    /// [`Dir::open_existing_write`], also returning the file's inode number and size.
    ///
    /// # Errors
    /// As [`Dir::open_existing_write`].
    pub(crate) fn open_own_write(&self, name: &str) -> Result<(File, u64, u64)> {
        // Non-blocking, so a fifo planted under the name cannot stall the writer in `open`
        // (and a file under another writer's lease fails at once instead of waiting).
        let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = openat(&self.fd, name, flags, Mode::empty())
            .map(File::from)
            .map_err(|e| open_error(&self.fd, name.as_ref(), &self.join(name), e, "cannot open"))?;
        let stat = rustix::fs::fstat(&file)
            .map_err(|e| Error::io("cannot stat", self.join(name))(io_err(e)))?;
        let own = FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
            && stat.st_nlink == 1
            && stat.st_uid == euid()
            && stat.st_mode & 0o777 == super::FILE_MODE;
        if !own {
            return Err(Error::io("refusing to rewrite", self.join(name))(
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a private regular file of this user with one name",
                ),
            ));
        }
        Ok((
            file,
            stat.st_ino,
            u64::try_from(stat.st_size).unwrap_or(u64::MAX),
        ))
    }

    /// Creates the new file `name` with `mode`; fails if anything exists under that name.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file (kind `AlreadyExists` when it exists, `NotFound` when the
    /// directory was removed).
    pub(crate) fn create_new(&self, name: &str, mode: u32) -> Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(File::from)
            .map_err(|e| Error::io("cannot create", self.join(name))(io_err(e)))
    }

    /// The `lstat` data of `name`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`] naming it.
    pub(crate) fn stat(&self, name: impl AsRef<OsStr>) -> Result<Option<FileStat>> {
        let name = name.as_ref();
        match statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileStat::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(Error::io("cannot stat", self.join(name))(io_err(e))),
        }
    }

    /// Whether anything (a link included) exists under `name`.
    pub(crate) fn exists(&self, name: impl AsRef<OsStr>) -> bool {
        statat(&self.fd, name.as_ref(), AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// Every entry but `.` and `..`, in no particular order.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory.
    pub(crate) fn entries(&self) -> Result<Vec<DirEntry>> {
        let err = |e: Errno| Error::io("cannot list", &*self.path)(io_err(e));
        let mut listing = rustix::fs::Dir::read_from(&self.fd).map_err(err)?;
        self.list(&mut listing)
    }

    /// [`Dir::entries`] read through this descriptor itself instead of a new one (an `openat`
    /// of `.`, a `fcntl` and a `close` fewer), which the returned [`Held`] then keeps open:
    /// for a descriptor opened for this alone ([`Dir::reopen`]), such as a compaction's lock,
    /// which lasts as long as the [`Held`]. A descriptor shared with clones is listed as
    /// [`Dir::entries`] does, and kept all the same.
    ///
    /// # Errors
    /// As [`Dir::entries`].
    pub(crate) fn into_entries(self) -> Result<(Vec<DirEntry>, Held)> {
        let err = |e: Errno| Error::io("cannot list", &*self.path)(io_err(e));
        match Arc::try_unwrap(self.fd) {
            Ok(fd) => {
                let mut listing = rustix::fs::Dir::new(fd).map_err(err)?;
                let entries = Self::list_from(&self.path, &mut listing)?;
                Ok((
                    entries,
                    Held {
                        _listing: Some(listing),
                        _shared: None,
                    },
                ))
            }
            Err(fd) => {
                let this = Self {
                    fd,
                    path: self.path,
                };
                let entries = this.entries()?;
                Ok((
                    entries,
                    Held {
                        _listing: None,
                        _shared: Some(this.fd),
                    },
                ))
            }
        }
    }

    /// Reads the entries of `listing`, a listing of this directory.
    fn list(&self, listing: &mut rustix::fs::Dir) -> Result<Vec<DirEntry>> {
        Self::list_from(&self.path, listing)
    }

    /// Reads the entries of `listing`, a listing of the directory `path`.
    fn list_from(path: &Path, listing: &mut rustix::fs::Dir) -> Result<Vec<DirEntry>> {
        let err = |e: Errno| Error::io("cannot list", path)(io_err(e));
        let mut out = Vec::new();
        while let Some(entry) = listing.read() {
            let entry = entry.map_err(err)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsStr::from_bytes(name).to_owned();
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    match statat(listing.fd().map_err(err)?, &name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => FileKind::of(FileType::from_raw_mode(st.st_mode)),
                        // Removed meanwhile.
                        Err(Errno::NOENT) => continue,
                        Err(e) => {
                            return Err(Error::io("cannot stat", path.join(&name))(io_err(e)));
                        }
                    }
                }
                known => FileKind::of(known),
            };
            out.push(DirEntry {
                name,
                kind,
                ino: entry.ino(),
            });
        }
        Ok(out)
    }

    /// Renames `from` to `to` within this directory with `flags` (links are moved, never
    /// followed).
    pub(crate) fn rename(&self, from: &OsStr, to: &OsStr, flags: RenameFlags) -> Result<(), Errno> {
        renameat_with(&self.fd, from, &self.fd, to, flags)
    }

    /// Hard-links `from` to `to` within this directory (fails if `to` exists).
    pub(crate) fn link(&self, from: &OsStr, to: &OsStr) -> Result<(), Errno> {
        linkat(&self.fd, from, &self.fd, to, AtFlags::empty())
    }

    /// Removes the file `name`; `false` when it did not exist.
    ///
    /// # Errors
    /// [`Error::Io`] naming it.
    pub(crate) fn remove(&self, name: impl AsRef<OsStr>) -> Result<bool> {
        let name = name.as_ref();
        match unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(Error::io("cannot remove", self.join(name))(io_err(e))),
        }
    }

    /// Takes an exclusive `flock` on the directory without waiting; `false` when another
    /// holder has it. The lock lasts as long as this `Dir` and its clones (and dies with its
    /// process); a clone holds the same lock, so take it on a [`Dir::reopen`]ed one.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory.
    pub(crate) fn try_lock(&self) -> Result<bool> {
        match rustix::fs::flock(
            &self.fd,
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        ) {
            Ok(()) => Ok(true),
            Err(Errno::WOULDBLOCK) => Ok(false),
            Err(e) => Err(Error::io("cannot lock", &*self.path)(io_err(e))),
        }
    }

    /// Opens (creating it 0600 if missing, never through a link) the lock file `name` and
    /// takes an exclusive `flock` on it without waiting; `None` when another holder has it.
    /// The lock lasts as long as the returned file (and dies with its process).
    ///
    /// # Errors
    /// As [`Dir::open_write`], or [`Error::Io`] naming the file.
    pub(crate) fn try_lock_file(&self, name: &str) -> Result<Option<File>> {
        let file = self.open_write(name, super::FILE_MODE)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(file)),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(Error::io("cannot lock", self.join(name))(io_err(e))),
        }
    }

    /// Removes the empty subdirectory `name`; `false` when it did not exist.
    ///
    /// # Errors
    /// [`Error::Io`] naming it (not empty included).
    pub(crate) fn remove_dir(&self, name: impl AsRef<OsStr>) -> Result<bool> {
        let name = name.as_ref();
        match unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(Error::io("cannot remove", self.join(name))(io_err(e))),
        }
    }

    /// Removes the subdirectory `name` and everything in it; a link inside is removed as a
    /// link, never followed. `false` when it did not exist.
    ///
    /// # Errors
    /// [`Error::Symlink`] when `name` is a link, [`Error::Io`] naming what cannot be removed.
    pub(crate) fn remove_tree(&self, name: &str) -> Result<bool> {
        let Some(dir) = self.subdir(name)? else {
            return Ok(false);
        };
        for entry in dir.entries()? {
            match (entry.kind, entry.name.to_str()) {
                (FileKind::Dir, Some(sub)) => dir.remove_tree(sub).map(drop)?,
                _ => dir.remove(&entry.name).map(drop)?,
            }
        }
        self.remove_dir(name)
    }

    /// Flushes the directory (its entries) to disk.
    ///
    /// # Errors
    /// [`Error::Io`] naming it.
    pub(crate) fn sync(&self) -> Result<()> {
        #[cfg(test)]
        DIR_SYNCS.with(|n| n.set(n.get() + 1));
        fsync(&self.fd).map_err(|e| Error::io("cannot sync directory", &*self.path)(io_err(e)))
    }
}

#[cfg(test)]
thread_local! {
    /// Directory flushes made by this thread (for tests).
    pub(crate) static DIR_SYNCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// This process's effective user id, asked of the kernel once (a process of FlowForge never
/// changes it).
fn euid() -> u32 {
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *EUID.get_or_init(|| rustix::process::geteuid().as_raw())
}

/// Splits `path` (beneath `root`) into its directory and file name.
pub(crate) fn split<'a>(root: &Path, path: &'a Path) -> Result<(&'a Path, &'a OsStr)> {
    let outside = || Error::Outside {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    // At least one name below the root: the parent is the root or below it.
    if components(root, path)?.is_empty() {
        return Err(outside());
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(outside()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use proptest::prelude::*;

    use super::*;

    /// A path of a few parts, each a name, `.`, `..`, or empty (a doubled slash).
    fn spelled() -> impl Strategy<Value = String> {
        let part = prop::sample::select(vec!["a", "b", "bc", ".", "..", ""]);
        (any::<bool>(), prop::collection::vec(part, 0..5)).prop_map(|(absolute, parts)| {
            let joined = parts.join("/");
            if absolute {
                format!("/{joined}")
            } else {
                joined
            }
        })
    }

    proptest! {
        /// Below a root however spelled, the names found by comparing bytes are those found
        /// by comparing components, and a path that is not below it is refused.
        #[test]
        fn the_components_below_a_root_are_those_of_strip_prefix(
            root in spelled(),
            rest in spelled(),
            slash in any::<bool>(),
        ) {
            let (root, rest) = (Path::new(&root), rest.trim_start_matches('/'));
            let joined = match slash {
                true => format!("{}/{rest}", root.display()),
                false => format!("{}{rest}", root.display()),
            };
            let path = Path::new(&joined);
            let by_components = path.strip_prefix(root).ok().and_then(|rest| {
                rest.components()
                    .map(|c| match c {
                        Component::Normal(name) => Some(name),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            });
            prop_assert_eq!(components(root, path).ok(), by_components.clone());
            let by_split = match (path.parent(), path.file_name()) {
                (Some(parent), Some(name)) if path != root && parent.starts_with(root) => {
                    by_components.map(|_| (parent, name))
                }
                _ => None,
            };
            prop_assert_eq!(split(root, path).ok(), by_split);
        }
    }

    #[test]
    fn the_walk_without_openat2_refuses_links_as_openat2_does() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        Dir::create(&root, &root.join("a/b")).unwrap();
        symlink(&outside, root.join("a/link")).unwrap();
        for openat2 in [0, 2] {
            // Both paths are correct, so flipping the switch cannot harm other tests.
            OPENAT2.store(openat2, Ordering::Relaxed);
            assert!(Dir::open(&root, &root.join("a/b")).unwrap().is_some());
            assert!(Dir::open(&root, &root.join("a/none/x")).unwrap().is_none());
            for path in [root.join("a/link"), root.join("a/link/x")] {
                let err = Dir::open(&root, &path).unwrap_err();
                assert!(
                    matches!(&err, Error::Symlink { path } if path.ends_with("a/link")),
                    "{err}"
                );
                let err = Dir::create(&root, &path.join("new")).unwrap_err();
                assert!(matches!(err, Error::Symlink { .. }), "{err}");
            }
            let dir = Dir::create(&root, &root.join("a/c/d")).unwrap();
            assert!(dir.open_file("nothing").unwrap().is_none());
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    fn ino(dir: &Dir) -> u64 {
        rustix::fs::fstat(&dir.fd).unwrap().st_ino
    }

    #[test]
    fn a_scope_opens_each_directory_once_and_makes_a_removed_one_again() {
        use std::os::fd::AsRawFd;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let path = root.join("a/b");
        Dir::create(&root, &path).unwrap();
        // Without a scope every open walks the path: descriptors of their own.
        let (x, y) = (
            Dir::open(&root, &path).unwrap().unwrap(),
            Dir::open(&root, &path).unwrap().unwrap(),
        );
        assert_ne!(x.fd.as_raw_fd(), y.fd.as_raw_fd());
        drop((x, y));
        {
            let _scope = DirScope::enter();
            let first = Dir::open(&root, &path).unwrap().unwrap();
            let inner = DirScope::enter();
            let again = Dir::open(&root, &path).unwrap().unwrap();
            assert_eq!(first.fd.as_raw_fd(), again.fd.as_raw_fd());
            drop(inner);
            // The outer scope still holds it after the inner one ends.
            let third = Dir::create(&root, &path).unwrap();
            assert_eq!(first.fd.as_raw_fd(), third.fd.as_raw_fd());
            // Another root is another entry, even for the same path.
            let other = Dir::open(&root.join("a"), &path).unwrap().unwrap();
            assert_ne!(first.fd.as_raw_fd(), other.fd.as_raw_fd());

            // Removed and made again behind the scope's back: `create` notices and opens the
            // new directory, where a file then lands.
            let old = ino(&first);
            std::fs::remove_dir_all(root.join("a")).unwrap();
            std::fs::create_dir_all(&path).unwrap();
            let made = Dir::create(&root, &path).unwrap();
            assert_ne!(ino(&made), old);
            drop(made.create_new("f", 0o600).unwrap());
            assert!(path.join("f").is_file());
            // And later opens in the scope get the new one.
            assert_eq!(ino(&Dir::open(&root, &path).unwrap().unwrap()), ino(&made));
        }
        // The scope's directories are closed with it: a new open is a descriptor of its own.
        let _held = Dir::open(&root, &path).unwrap().unwrap();
        let _scope = DirScope::enter();
        let fresh = Dir::open(&root, &path).unwrap().unwrap();
        assert_ne!(fresh.fd.as_raw_fd(), _held.fd.as_raw_fd());
    }

    #[test]
    fn a_reopened_directory_locks_against_its_shared_clones() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let _scope = DirScope::enter();
        let dir = Dir::create(&root, &root.join("k")).unwrap();
        let shared = Dir::open(&root, &root.join("k")).unwrap().unwrap();
        let first = dir.reopen().unwrap();
        assert!(first.try_lock().unwrap());
        // A clone shares its descriptor's lock; a reopened one does not.
        assert!(shared.reopen().unwrap().try_lock().is_ok_and(|got| !got));
        drop(first);
        assert!(shared.reopen().unwrap().try_lock().unwrap());
    }

    #[test]
    fn a_listing_through_a_lock_s_own_descriptor_keeps_the_lock_until_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::create(tmp.path(), tmp.path()).unwrap();
        for name in ["a", "b"] {
            drop(dir.create_new(name, 0o600).unwrap());
        }
        let names = |entries: Vec<DirEntry>| {
            let mut names: Vec<_> = entries.into_iter().map(|e| e.name).collect();
            names.sort();
            names
        };
        let lock = dir.reopen().unwrap();
        assert!(lock.try_lock().unwrap());
        let (entries, held) = lock.into_entries().unwrap();
        assert_eq!(names(entries), names(dir.entries().unwrap()));
        assert_eq!(names(dir.entries().unwrap()), ["a", "b"]);
        // The listing's handle is the lock: held while it lives, free once it is dropped.
        assert!(!dir.reopen().unwrap().try_lock().unwrap());
        drop(held);
        assert!(dir.reopen().unwrap().try_lock().unwrap());
        // A descriptor shared with a clone is listed all the same.
        let shared = dir.reopen().unwrap();
        let clone = shared.clone();
        let (entries, _held) = shared.into_entries().unwrap();
        assert_eq!(names(entries), ["a", "b"]);
        drop(clone);
    }
}
