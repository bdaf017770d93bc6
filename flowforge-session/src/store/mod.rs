//! A versioned document store over a directory, with compare-and-swap by generation.
//!
//! Every key is a directory; every version of its document is a file named by its
//! generation (1, 2, 3, …), written fully to a temporary file and published with an atomic
//! put-if-absent (`renameat2(RENAME_NOREPLACE)`, or a hard link where the filesystem refuses
//! that flag — never a plain rename, which overwrites). Exactly one writer wins each
//! generation, so the generation is the compare-and-swap token: nobody waits on a lock, and
//! a writer that dies holds nothing. Readers never block and never see a torn document.
//!
//! The latest generation is found from a best-effort `HEAD` hint by probing upward (see
//! `generation.rs`): a few `stat`s, never a listing that grows with the history. Compaction
//! ([`Store::compact`], or automatically with [`Compaction`]) keeps the last K generations,
//! safely against writers stalled at any step (see `compact.rs`).
//!
//! ```
//! use flowforge_session::store::{Cas, Key, Store, StoreOptions};
//! let dir = tempfile::tempdir()?;
//! let store = Store::new(dir.path(), StoreOptions::relaxed());
//! let key = Key::new("counter")?;
//! let v1 = store.create(&key, &1u64)?.swapped().expect("the key was absent");
//! // A writer holding an old version loses:
//! let v2 = store.compare_and_swap(&key, Some(v1), &2u64)?.swapped().expect("v1 is current");
//! match store.compare_and_swap(&key, Some(v1), &3u64)? {
//!     Cas::Conflict(current) => assert_eq!(current.map(|c| c.value), Some(2)),
//!     Cas::Swapped(_) => unreachable!("v1 is stale"),
//! }
//! // `update` retries for you:
//! let v3 = store.update(&key, |n: Option<&u64>| Ok(n.copied().unwrap_or(0) + 10))?;
//! assert_eq!((v3.value, v3.version.get()), (12, v2.get() + 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backoff;
mod cache;
mod compact;
mod generation;
mod key;
mod memo;

use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub(crate) use self::backoff::Backoff;
pub use self::{
    compact::{CompactReport, Compaction},
    key::{Key, MAX_KEY_LEN},
};
use crate::{
    error::{Error, Result},
    fs::{Dir, Durability, FileKind, FileStat, Mode, Publish},
};

/// The default limit on a document's size: 1 MiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 1 << 20;

/// A version of a key's document: the generation that published it. Versions of one key are
/// ordered; a version is only obtained from the store, never made up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    pub(crate) fn new(generation: u64) -> Self {
        Self(generation)
    }

    /// The generation number (1 for the first version of a key).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A value with the version it was read or written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The document.
    pub value: T,
    /// Its version.
    pub version: Version,
}

/// The outcome of a compare-and-swap.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Cas<T> {
    /// The new document was published as this version.
    Swapped(Version),
    /// The key was not at the expected version; this is what it holds now (`None`: absent or
    /// deleted).
    Conflict(Option<Versioned<T>>),
}

impl<T> Cas<T> {
    /// The new version, `None` on a conflict.
    pub fn swapped(self) -> Option<Version> {
        match self {
            Cas::Swapped(v) => Some(v),
            Cas::Conflict(_) => None,
        }
    }
}

/// How an [`Store::update`] retries after losing a race: exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts before giving up with [`Error::Contended`].
    pub max_attempts: u32,
    /// The first pause.
    pub initial_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 1000,
            initial_backoff: Duration::from_micros(20),
            max_backoff: Duration::from_millis(5),
        }
    }
}

/// How a [`Store`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Whether writes wait for the disk (`Sync`, the default: two flushes per write).
    pub durability: Durability,
    /// Documents larger than this are refused.
    pub max_document_bytes: u64,
    /// The retry policy of [`Store::update`].
    pub retry: Retry,
    /// Automatic compaction after writes; `None` keeps every version.
    pub compaction: Option<Compaction>,
    /// Reserve each version's length with `posix_fallocate` before writing it. Off by
    /// default: on the project's ext4 it measured slower than letting the rename allocate
    /// (figures in `ARCHITECTURE.md`); a filesystem where allocation at rename is the cost
    /// may turn it on.
    pub preallocate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Sync,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            retry: Retry::default(),
            compaction: Some(Compaction::default()),
            preallocate: false,
        }
    }
}

impl StoreOptions {
    /// The defaults with [`Durability::Relaxed`].
    pub fn relaxed() -> Self {
        Self {
            durability: Durability::Relaxed,
            ..Self::default()
        }
    }

    /// The defaults with the given durability.
    pub fn with_durability(durability: Durability) -> Self {
        Self {
            durability,
            ..Self::default()
        }
    }
}

/// One generation of a key as read (the latest, or one of its history): the document, or a
/// tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision<T> {
    /// The generation (tombstones count).
    pub generation: u64,
    /// The document, `None` for a tombstone.
    pub value: Option<T>,
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    generation: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    value: Option<&'a T>,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    generation: u64,
    #[serde(default)]
    deleted: bool,
    value: Option<T>,
}

/// The steps of a write and of a compaction, where a hook set with [`Store::with_pause`]
/// runs: the points at which a process can stall for any time (descheduled, stopped, swapped
/// out) without breaking the store's guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PausePoint {
    /// A writer has read the version it builds on and is about to write its temporary file.
    Read,
    /// A writer's temporary file is written; the check that its base is still the latest is
    /// next.
    Written,
    /// A writer's check passed; the put-if-absent publication is next.
    Checked,
    /// A compaction has read the latest generation and listed the key's directory; removing
    /// is next.
    Listed,
    /// A writer of `team/task-assignments.json` (holding the view's lock) has looked at the
    /// view and its mark; making the new view from them and publishing it is next. Called on
    /// the team store with the key `claims`.
    ViewRead,
    /// A durable compaction has moved versions to spares and flushed the directory; naming
    /// them durable spares is next.
    SparesFlushed,
}

/// The hook of [`Store::with_pause`].
type PauseHook = dyn Fn(PausePoint, &Key) + Send + Sync;

/// A hook called at each [`PausePoint`] (see [`Store::with_pause`]).
#[derive(Clone)]
struct Pause(Arc<PauseHook>);

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pause(..)")
    }
}

/// A versioned document store over one directory. Cheap to create and to clone; holds no
/// file handles or locks. Safe to share between threads and processes.
///
/// Nothing is reached through a symbolic link: the store's files and directories are opened
/// beneath its root (the store directory itself, or the namespace root it lives under, see
/// [`Store::beneath`]) without following links, and a link where one should be is
/// [`Error::Symlink`].
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    dir: PathBuf,
    options: StoreOptions,
    pause: Option<Pause>,
}

/// How many times a read retries when compaction removes the version it found.
const READ_ATTEMPTS: u32 = 16;

impl Store {
    /// A store over `dir`. Nothing is touched until the first write, which creates the
    /// directories 0700.
    pub fn new(dir: impl Into<PathBuf>, options: StoreOptions) -> Self {
        let dir = dir.into();
        Self {
            root: dir.clone(),
            dir,
            options,
            pause: None,
        }
    }

    /// A store over `dir`, a directory beneath the namespace root `root`: no directory between
    /// `root` and `dir` is followed if it is a symbolic link. A `dir` not beneath `root` makes
    /// every operation fail with [`Error::Outside`].
    pub fn beneath(
        root: impl Into<PathBuf>,
        dir: impl Into<PathBuf>,
        options: StoreOptions,
    ) -> Self {
        Self {
            root: root.into(),
            dir: dir.into(),
            options,
            pause: None,
        }
    }

    /// This store calling `hook` at each [`PausePoint`] of its writes and compactions, with the key
    /// concerned. The hook may block: that is how a test stalls a writer or a compaction at a
    /// chosen point, deterministically, while other writers and compactions go on.
    #[must_use]
    pub fn with_pause(mut self, hook: impl Fn(PausePoint, &Key) + Send + Sync + 'static) -> Self {
        self.pause = Some(Pause(Arc::new(hook)));
        self
    }

    pub(crate) fn pause(&self, step: PausePoint, key: &Key) {
        if let Some(Pause(hook)) = &self.pause {
            hook(step, key);
        }
    }

    /// Opens `key`'s directory; `None` when it does not exist.
    fn open_key(&self, key: &Key) -> Result<Option<Dir>> {
        Dir::open(&self.root, &self.key_dir(key))
    }

    /// Opens `key`'s directory, creating it (and the store directory) 0700 if missing; a
    /// directory created is flushed into its parent under [`Durability::Sync`].
    fn create_key(&self, key: &Key) -> Result<Dir> {
        if let Some(dir) = self.open_key(key)? {
            return Ok(dir);
        }
        let store = Dir::create(&self.root, &self.dir)?;
        let dir = store.create_subdir(key.as_str())?;
        if self.options.durability == Durability::Sync {
            store.sync()?;
        }
        Ok(dir)
    }

    /// Gives the never-written `key` its spare slots up front, each an empty private file, so
    /// that its first generations are written by rewriting a spare, as every later one is,
    /// rather than by creating a file: the `keep + every` files a key would otherwise create
    /// over its first generations, created once. Nothing without automatic compaction (no
    /// writer looks for spares then), nothing for a key already written, and a slot already
    /// there is left alone.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Symlink`] naming the directory or a slot.
    pub(crate) fn provision_spares(&self, key: &Key) -> Result<()> {
        let Some(compaction) = self.options.compaction else {
            return Ok(());
        };
        let dir = self.create_key(key)?;
        if generation::latest(Some(&dir))? > 0 {
            return Ok(());
        }
        let slots = (compaction.keep + compaction.every).min(generation::SPARES);
        // And an empty `FLOOR`, which the first compaction writes in place (see
        // `compact::raise_floor`); empty, it says what no `FLOOR` says: nothing removed.
        // Made as spares, never versions: durable spares from the start.
        let names = (0..slots)
            .map(generation::durable_spare_name)
            .chain([generation::FLOOR]);
        for name in names {
            match dir.create_new(name, crate::fs::FILE_MODE) {
                Ok(file) => crate::fs::ensure_private(&file, &dir.join(name))?,
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        if self.options.durability == Durability::Sync {
            dir.sync()?;
        }
        Ok(())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The root nothing above which is followed: the namespace root of a store made by
    /// [`Store::beneath`], the store directory itself for [`Store::new`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's options.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The directory of `key`.
    pub fn key_dir(&self, key: &Key) -> PathBuf {
        self.dir.join(key.as_str())
    }

    /// The latest generation of `key`, tombstones included; `0` when it was never written.
    /// Cheap: a read of the hint and a few `stat`s. It changes whenever the key changes, so
    /// it serves as a change detector.
    ///
    /// # Errors
    /// [`Error::Io`] when the key's directory cannot be read, [`Error::Symlink`] when it, a
    /// directory above it or its hint is a symbolic link.
    pub fn generation(&self, key: &Key) -> Result<u64> {
        generation::latest(self.open_key(key)?.as_ref())
    }

    /// [`Store::generation`] and the `lstat` data of that generation's version file (`None`
    /// when the key was never written), from one opening of the key's directory: a change
    /// detector that also notices a version file edited in place.
    ///
    /// # Errors
    /// As [`Store::generation`].
    pub fn generation_stat(&self, key: &Key) -> Result<(u64, Option<FileStat>)> {
        let Some(dir) = self.open_key(key)? else {
            return Ok((0, None));
        };
        generation::latest_stat(&dir)
    }

    /// Whether a generation newer than `generation` (one read or written) exists for `key`:
    /// one `stat`, two when the answer is no. Versions are contiguous and compaction never
    /// removes the latest, so this is "is `generation` still the latest": its successor
    /// exists, or it is gone itself. A key directory that cannot be opened counts as changed:
    /// reading it then reports why.
    pub fn has_newer(&self, key: &Key, generation: u64) -> bool {
        match self.open_key(key) {
            Ok(Some(dir)) => {
                generation::exists(&dir, generation + 1) || !generation::exists(&dir, generation)
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The latest document of `key` with its version; `None` when absent or deleted.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Json`] or [`Error::Corrupt`] naming the version file,
    /// [`Error::TooLarge`], or [`Error::Unstable`] when compaction kept removing the version
    /// being read.
    pub fn get<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<Versioned<T>>> {
        Ok(self.head(key)?.and_then(|head| {
            head.value.map(|value| Versioned {
                value,
                version: Version(head.generation),
            })
        }))
    }

    /// The latest generation of `key` as read, tombstones included; `None` when never
    /// written.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub fn head<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<Revision<T>>> {
        let Some(dir) = self.open_key(key)? else {
            return Ok(None);
        };
        if let Some(cached) = self.cached_latest(&dir, false)? {
            let generation = cached.generation;
            let path = || generation::version_path(dir.path(), generation);
            let value = parse_version(&cached.bytes, generation, path)?;
            return Ok(Some(Revision { generation, value }));
        }
        self.read_latest(key, &dir)
    }

    /// [`Store::get`] of a value shared with this process's next reads of the same version:
    /// a read answered from the cache (see `cache.rs`) whose bytes were parsed once already
    /// is not parsed again. For the claims shards, read twice per claim change.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub(crate) fn get_shared<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &Key,
    ) -> Result<Option<(Version, Arc<T>)>> {
        self.shared(key, false)
    }

    /// [`Store::get_shared`] for a caller about to change the value and publish it
    /// ([`Store::share_published`]): the cache hands its parsed value over instead of sharing
    /// it, so `Arc::unwrap_or_clone` of what this returns copies nothing unless another reader
    /// of this process holds it too. The cache keeps the version's bytes; a read before the
    /// next publication parses them again. For a claim change, whose shard holds a claim per
    /// ~64th of the team: copying it, and dropping the copy, grew with the team.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub(crate) fn take_shared<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &Key,
    ) -> Result<Option<(Version, Arc<T>)>> {
        self.shared(key, true)
    }

    fn shared<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &Key,
        take: bool,
    ) -> Result<Option<(Version, Arc<T>)>> {
        let Some(dir) = self.open_key(key)? else {
            return Ok(None);
        };
        if let Some(cached) = self.cached_latest(&dir, take)? {
            let generation = cached.generation;
            if let Some(value) = cached.parsed.and_then(|p| p.downcast::<T>().ok()) {
                return Ok(Some((Version(generation), value)));
            }
            let path = || generation::version_path(dir.path(), generation);
            return Ok(
                parse_version::<T>(&cached.bytes, generation, path)?.map(|value| {
                    let value = Arc::new(value);
                    if !take {
                        cache::attach(&dir, generation, Some(&cached.bytes), value.clone());
                    }
                    (Version(generation), value)
                }),
            );
        }
        // Read from the file (its bytes kept): the next read shares what it parses.
        Ok(self
            .read_latest::<T>(key, &dir)?
            .and_then(|head| Some((Version(head.generation), Arc::new(head.value?)))))
    }

    /// [`Store::get`] of a value this process may have parsed or published already: a
    /// version whose value the cache holds ([`Store::get_shared`],
    /// [`Store::compare_and_swap_shared`]) is cloned, not parsed again. For the documents a
    /// session cycle reads right after writing them (the session, the time tracking).
    ///
    /// # Errors
    /// As [`Store::get`].
    pub(crate) fn get_cloned<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        key: &Key,
    ) -> Result<Option<Versioned<T>>> {
        self.owned(key, false)
    }

    /// [`Store::get_cloned`] for a caller about to change the value and publish it: taken from
    /// the cache ([`Store::take_shared`]), so not copied unless another reader of this process
    /// holds it too.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub(crate) fn get_to_change<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        key: &Key,
    ) -> Result<Option<Versioned<T>>> {
        self.owned(key, true)
    }

    /// [`Store::get_cloned`] (`take` false) or [`Store::get_to_change`] (`take` true).
    fn owned<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        key: &Key,
        take: bool,
    ) -> Result<Option<Versioned<T>>> {
        Ok(self
            .shared::<T>(key, take)?
            .map(|(version, value)| Versioned {
                value: Arc::unwrap_or_clone(value),
                version,
            }))
    }

    /// [`Store::compare_and_swap`] that, when it publishes, tells this process's next
    /// [`Store::get_cloned`] or [`Store::get_shared`] of `key` that the version's bytes parse
    /// to `new` ([`Store::share_published`]).
    ///
    /// # Errors
    /// As [`Store::compare_and_swap`].
    pub(crate) fn compare_and_swap_shared<T>(
        &self,
        key: &Key,
        expected: Option<Version>,
        new: &T,
    ) -> Result<Cas<T>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let cas = self.compare_and_swap(key, expected, new)?;
        if let Cas::Swapped(version) = cas {
            self.share_published(key, version, Arc::new(new.clone()));
        }
        Ok(cas)
    }

    /// [`Store::compare_and_swap_shared`] of a value already shared: the cache keeps `new`
    /// itself, not a copy (a caller done with the value drops its handle, nothing cloned).
    ///
    /// # Errors
    /// As [`Store::compare_and_swap`].
    pub(crate) fn compare_and_swap_arc<T>(
        &self,
        key: &Key,
        expected: Option<Version>,
        new: &Arc<T>,
    ) -> Result<Cas<T>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let cas = self.compare_and_swap(key, expected, &**new)?;
        if let Cas::Swapped(version) = cas {
            self.share_published(key, version, Arc::clone(new));
        }
        Ok(cas)
    }

    /// Tells this process's next [`Store::get_shared`] of `key` at `version`, which it has
    /// just published, that its bytes parse to `value` (the value it serialized). Kept with
    /// the bytes the publication kept for that generation (a version's name never holds other
    /// bytes, unless the key is removed and made again to the same generation meanwhile).
    pub(crate) fn share_published<T: Send + Sync + 'static>(
        &self,
        key: &Key,
        version: Version,
        value: Arc<T>,
    ) {
        if let Ok(Some(dir)) = self.open_key(key) {
            cache::attach(&dir, version.get(), None, value);
        }
    }

    /// The version this process last wrote or read of the key in `dir`, if its file is still
    /// the latest and unchanged: two `stat`s, nothing opened or read (see `cache.rs`). With
    /// `take`, its parsed value is handed over ([`cache::lookup`]).
    fn cached_latest(&self, dir: &Dir, take: bool) -> Result<Option<cache::Cached>> {
        let Some(cached) = cache::lookup(dir, take) else {
            return Ok(None);
        };
        let generation = cached.generation;
        if cached.bytes.len() as u64 <= self.options.max_document_bytes
            && dir.stat(generation::file_name(generation))? == Some(cached.stat)
            && !generation::exists(dir, generation + 1)
        {
            generation::remember(dir, generation);
            cache::hit();
            return Ok(Some(cached));
        }
        Ok(None)
    }

    /// The latest version of the key in `dir`, read from its file.
    fn read_latest<T: DeserializeOwned>(
        &self,
        key: &Key,
        dir: &Dir,
    ) -> Result<Option<Revision<T>>> {
        for _ in 0..READ_ATTEMPTS {
            let generation = generation::latest(Some(dir))?;
            if generation == 0 {
                return Ok(None);
            }
            match self.read_version(dir, generation, true)? {
                Some(value) => return Ok(Some(Revision { generation, value })),
                // Compaction removed it between finding and reading: look again.
                None => continue,
            }
        }
        Err(Error::Unstable {
            key: key.to_string(),
            attempts: READ_ATTEMPTS,
        })
    }

    /// Every version of `key` still kept, oldest first (`None` values are tombstones). Lists
    /// the key's directory: meant for audits and tests, not for hot paths.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub fn history<T: DeserializeOwned>(&self, key: &Key) -> Result<Vec<Revision<T>>> {
        let Some(dir) = self.open_key(key)? else {
            return Ok(Vec::new());
        };
        // A listing taken while writers publish is no snapshot: a hashed directory can return
        // a version made during the listing and miss older ones made during it too. The
        // versions on disk always form one range, so the range listed is read whole.
        let listed = generation::list_generations(&dir)?;
        let (Some(&oldest), Some(&latest)) = (listed.first(), listed.last()) else {
            return Ok(Vec::new());
        };
        // Unless the listing is far from one range (a file named like a version that no
        // writer made, e.g. generation 2^64 - 1): then what was listed.
        let generations = if latest - oldest <= 2 * listed.len() as u64 + 64 {
            (oldest..=latest).collect()
        } else {
            listed
        };
        let mut out = Vec::new();
        for generation in generations {
            match self.read_version(&dir, generation, false)? {
                Some(value) => out.push(Revision { generation, value }),
                // Compacted away meanwhile: no longer kept, and neither is any older version
                // (compaction removes lowest first), those already read included.
                None => out.clear(),
            }
        }
        Ok(out)
    }

    /// Every key with a directory in the store, sorted. Lists the store directory (one entry
    /// per key, not per version).
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be listed, [`Error::Symlink`] when it, a
    /// directory above it, or an entry named like a key is a symbolic link.
    pub fn keys(&self) -> Result<Vec<Key>> {
        let Some(dir) = Dir::open(&self.root, &self.dir)? else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        for entry in dir.entries()? {
            let Some(Ok(key)) = entry.name.to_str().map(Key::new) else {
                continue;
            };
            match entry.kind {
                FileKind::Dir => keys.push(key),
                FileKind::Symlink => {
                    return Err(Error::Symlink {
                        path: dir.join(&entry.name),
                    });
                }
                _ => {}
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Publishes `value` as the first version of `key`, or the first after a deletion.
    ///
    /// # Errors
    /// As [`Store::compare_and_swap`].
    pub fn create<T: Serialize + DeserializeOwned>(&self, key: &Key, value: &T) -> Result<Cas<T>> {
        self.compare_and_swap(key, None, value)
    }

    /// Publishes `new` as the next version of `key` if `key` is at version `expected`
    /// (`None`: absent or deleted). Otherwise nothing is written and the conflict carries the
    /// current document — also when another writer published the same generation first.
    ///
    /// # Errors
    /// [`Error::TooLarge`] (nothing written), [`Error::Io`] naming the file, or the errors of
    /// [`Store::get`] while reading the current version.
    pub fn compare_and_swap<T: Serialize + DeserializeOwned>(
        &self,
        key: &Key,
        expected: Option<Version>,
        new: &T,
    ) -> Result<Cas<T>> {
        self.swap(key, expected, Some(new))
    }

    /// [`Store::compare_and_swap`] publishing `new`, which serializes as a `T` does (a
    /// document some of whose parts were printed before); a lost race reads the winner as a
    /// `T`.
    ///
    /// # Errors
    /// As [`Store::compare_and_swap`].
    pub(crate) fn compare_and_swap_as<T: DeserializeOwned, W: Serialize>(
        &self,
        key: &Key,
        expected: Option<Version>,
        new: &W,
    ) -> Result<Cas<T>> {
        self.swap(key, expected, Some(new))
    }

    /// Deletes `key` if it is at version `expected` by publishing a tombstone; the key can be
    /// created again afterwards.
    ///
    /// # Errors
    /// As [`Store::compare_and_swap`].
    pub fn delete<T: Serialize + DeserializeOwned>(
        &self,
        key: &Key,
        expected: Version,
    ) -> Result<Cas<T>> {
        self.swap::<T, T>(key, Some(expected), None)
    }

    /// Reads `key`, computes its next document with `f` and publishes it; on a lost race
    /// reads again and retries with backoff (see [`Retry`]). `f` may run several times and
    /// should have no side effects; an error from `f` stops the update with nothing
    /// written.
    ///
    /// # Errors
    /// The error of `f`, [`Error::Contended`] when the retry budget is spent, or the errors
    /// of [`Store::compare_and_swap`].
    pub fn update<T, F>(&self, key: &Key, mut f: F) -> Result<Versioned<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<&T>) -> Result<T>,
    {
        let mut backoff = backoff::Backoff::new(self.options.retry);
        for _ in 0..self.options.retry.max_attempts {
            let head = self.head::<T>(key)?;
            let generation = head.as_ref().map_or(0, |h| h.generation);
            let value = f(head.as_ref().and_then(|h| h.value.as_ref()))?;
            let next = generation + 1;
            if self.publish(key, next, Some(&value))? {
                return Ok(Versioned {
                    value,
                    version: Version(next),
                });
            }
            backoff.pause();
        }
        Err(Error::Contended {
            key: key.to_string(),
            attempts: self.options.retry.max_attempts,
        })
    }

    /// Removes versions of `key` older than the last `keep` (at least one is always kept) and
    /// the temporary files of writers that are gone. Lists the key's directory once. Safe
    /// while any number of writers and compactions run, stalled or not (see `compact.rs`);
    /// a compaction of the key already running makes this one a no-op.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory or file that could not be listed, written or
    /// removed.
    pub fn compact(&self, key: &Key, keep: u64) -> Result<CompactReport> {
        self.compact_key(key, keep, false)
    }

    /// [`Store::compact`], or with `dry_run` only what it would remove.
    pub(crate) fn compact_key(&self, key: &Key, keep: u64, dry_run: bool) -> Result<CompactReport> {
        match self.open_key(key)? {
            Some(dir) => compact::compact(
                &dir,
                keep,
                self.options.durability,
                compact::Dispose::Remove { dry_run },
                |step| self.pause(step, key),
            ),
            None => Ok(CompactReport::default()),
        }
    }

    fn swap<T: DeserializeOwned, W: Serialize>(
        &self,
        key: &Key,
        expected: Option<Version>,
        new: Option<&W>,
    ) -> Result<Cas<T>> {
        let generation = match expected {
            // The expected version is a live document only the store handed out: the
            // publication of its successor checks, after writing, that it is still the latest
            // (it exists and its successor does not, see `generation::base_stands`), so nothing
            // needs looking up or parsing before.
            Some(version) => Some(version.0),
            // "Absent" matches a key never written or whose head is a tombstone.
            None => match self.head::<T>(key)? {
                None => Some(0),
                Some(Revision {
                    generation,
                    value: None,
                }) => Some(generation),
                Some(_) => None,
            },
        };
        if let Some(generation) = generation {
            if self.publish(key, generation + 1, new)? {
                return Ok(Cas::Swapped(Version(generation + 1)));
            }
        }
        Ok(Cas::Conflict(self.get(key)?))
    }

    /// Serialises and publishes one version; `false` when the generation was taken (or
    /// compaction moved past the version it builds on).
    fn publish<T: Serialize>(&self, key: &Key, generation: u64, value: Option<&T>) -> Result<bool> {
        self.pause(PausePoint::Read, key);
        let envelope = EnvelopeOut {
            generation,
            deleted: value.is_none(),
            value,
        };
        crate::fs::with_scratch(|bytes| self.publish_envelope(key, &envelope, bytes))
    }

    /// [`Store::publish`] of `envelope`, serialized into `bytes` (empty).
    fn publish_envelope<T: Serialize>(
        &self,
        key: &Key,
        envelope: &EnvelopeOut<'_, T>,
        bytes: &mut Vec<u8>,
    ) -> Result<bool> {
        let generation = envelope.generation;
        serde_json::to_writer(&mut *bytes, envelope).map_err(|source| Error::Json {
            path: generation::version_path(&self.key_dir(key), generation),
            source,
        })?;
        bytes.push(b'\n');
        if bytes.len() as u64 > self.options.max_document_bytes {
            return Err(Error::TooLarge {
                what: key.to_string(),
                size: bytes.len() as u64,
                limit: self.options.max_document_bytes,
            });
        }
        let dir = self.create_key(key)?;
        let how = Publish {
            mode: Mode::IfAbsent,
            durability: self.options.durability,
            allocate: self.options.preallocate,
            // A reader refuses a file past the limit, spaces included.
            pad_within: self.options.max_document_bytes,
        };
        // Spares only appear through automatic compaction: without it, nothing to look for.
        let reuse = self.options.compaction.is_some();
        let won = generation::publish(&dir, generation, bytes, how, reuse, |step| {
            self.pause(step, key)
        })?;
        if won {
            generation::remember(&dir, generation);
            // What the next read of the key finds: the file just published, unless a
            // compaction moved it away already (see `cache.rs`).
            match dir.stat(generation::file_name(generation)) {
                // The file holds the bytes, or the bytes and the spaces a spare kept its last
                // block with (`fs::padded_len`): the only two lengths this write gives it.
                Ok(Some(stat)) => {
                    let padded = crate::fs::padded_len(bytes.len());
                    if stat.size == padded as u64 {
                        bytes.resize(padded, b' ');
                    }
                    cache::keep(&dir, generation, stat, bytes);
                }
                _ => cache::forget(&dir),
            }
            // The `HEAD` file, for other processes: created at the key's first write, then
            // rewritten at each compaction (before it, so it never names a version compaction
            // removes), or at every write without compaction. In between it lags by fewer than
            // `every` generations, which costs another process a few more probes; this one
            // starts from its own memory.
            let every = self.options.compaction.map_or(1, |c| c.every.max(1));
            if generation % every == 0 || generation == 1 {
                generation::write_hint(&dir, generation::HINT, generation);
            }
            if let Some(compaction) = self.options.compaction {
                if generation % compaction.every.max(1) == 0 {
                    // The version is published: a failed compaction is left to the next one.
                    let _ = compact::compact(
                        &dir,
                        compaction.keep,
                        self.options.durability,
                        compact::Dispose::Recycle,
                        |step| self.pause(step, key),
                    );
                }
            }
        }
        Ok(won)
    }

    /// Reads and parses one version file; `Ok(None)` when it does not exist (any more).
    /// With `keep`, a file that did not change while it was read is kept in the cache as the
    /// key's latest version (see `cache.rs`).
    fn read_version<T: DeserializeOwned>(
        &self,
        dir: &Dir,
        generation: u64,
        keep: bool,
    ) -> Result<Option<Option<T>>> {
        let name = generation::file_name(generation);
        let path = dir.join(&name);
        let Some(mut file) = dir.open_file(&name)? else {
            return Ok(None);
        };
        let limit = self.options.max_document_bytes;
        let meta = file.metadata().map_err(Error::io("cannot stat", &path))?;
        let read_ino = std::os::unix::fs::MetadataExt::ino(&meta);
        // One read of the whole file (a version is written once; one byte more is asked for
        // to see its end), then more only if it grew. At most one byte past the limit is
        // read: a huge file is refused without reading it.
        let want = meta.len().min(limit) + 1;
        let mut bytes = vec![0; usize::try_from(want).unwrap_or(usize::MAX)];
        let got = file
            .read(&mut bytes)
            .map_err(Error::io("cannot read", &path))?;
        bytes.truncate(got);
        if got as u64 == want && want <= limit {
            (&mut file)
                .take(limit + 1 - want)
                .read_to_end(&mut bytes)
                .map_err(Error::io("cannot read", &path))?;
        }
        // Compaction may have made the file a spare and a writer rewritten it while it was
        // read: trust the bytes only if the version's name still holds this file (a version
        // name never comes back once left). Otherwise it is gone, as if removed.
        let Some(after) = dir.stat(&name)?.filter(|st| st.ino == read_ino) else {
            return Ok(None);
        };
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: path.display().to_string(),
                size: file.metadata().map_or(limit + 1, |m| m.len()),
                limit,
            });
        }
        let value = parse_version(&bytes, generation, || path.clone())?;
        // Kept only if nothing changed the file from before the read to after it.
        if keep && unchanged(&meta, &after) {
            cache::keep(dir, generation, after, &bytes);
        }
        Ok(Some(value))
    }
}

/// Whether the `fstat` data of a file taken before reading it equal the `lstat` data of its
/// name after.
fn unchanged(before: &std::fs::Metadata, after: &FileStat) -> bool {
    use std::os::unix::fs::MetadataExt;
    let times = |s: i64, ns: i64| (s, u32::try_from(ns).unwrap_or(u32::MAX));
    before.ino() == after.ino
        && before.size() == after.size
        && times(before.mtime(), before.mtime_nsec()) == after.mtime
        && times(before.ctime(), before.ctime_nsec()) == after.ctime
}

/// Parses the bytes of generation `generation`'s version file (named by `path` in errors):
/// the document, or `None` for a tombstone.
fn parse_version<T: DeserializeOwned>(
    bytes: &[u8],
    generation: u64,
    path: impl Fn() -> PathBuf,
) -> Result<Option<T>> {
    let envelope: EnvelopeIn<T> = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        path: path(),
        source,
    })?;
    if envelope.generation != generation {
        return Err(Error::Corrupt {
            path: path(),
            reason: format!("it says generation {}", envelope.generation),
        });
    }
    match (envelope.deleted, envelope.value) {
        (true, _) => Ok(None),
        (false, Some(value)) => Ok(Some(value)),
        (false, None) => Err(Error::Corrupt {
            path: path(),
            reason: "no value and not a tombstone".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests;
