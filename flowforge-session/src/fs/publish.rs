//! The one atomic publisher: every file FlowForge writes under `.flowforge/` — a store version,
//! a view, an archived session — is written whole to a temporary file in its directory and
//! then moved to its name in one step, so a reader sees the old file or the new one, never a
//! part, and a writer killed at any point leaves at most a stray temporary file.
//!
//! Three ways to move it ([`Mode`]):
//! - [`Mode::Replace`]: `renameat2(RENAME_EXCHANGE)` with the live file, then the old one (now
//!   at the temporary name) is unlinked; a plain `rename` where the name does not exist yet or
//!   the filesystem refuses the flag. On ext4 a plain rename over an existing file makes the
//!   kernel allocate the new file's blocks on the spot (`auto_da_alloc`); the exchange does not.
//! - [`Mode::Recycle`] (views, and every namespace file replaced again): the same exchange, but
//!   the file written is a pooled spare beside the live one, rewritten in place under a write
//!   lease that proves nobody has it open (see [`publish_reusing`] and `lease.rs`), and the
//!   exchange leaves the replaced file in that spare's slot: one rename per write, and no
//!   inode is created or deleted in steady state.
//! - [`Mode::IfAbsent`] (store versions): `renameat2(RENAME_NOREPLACE)`, or where the
//!   filesystem refuses that flag a hard link (which fails if the name exists) and an unlink —
//!   never a plain rename, which overwrites. Exactly one of any number of writers wins a name.
//!
//! [`Publish::allocate`] reserves the length with `posix_fallocate` before the bytes are
//! written (skipped where the filesystem does not support it). It is off by default: on this
//! project's ext4 (mounted with `discard`) it measured slower, not faster, than letting the
//! rename allocate (figures in `ARCHITECTURE.md`, bench `publish`).
//!
//! The temporary file is named `.tmp-<pid>-<n>-<target>`: the process that writes it (so
//! [`gc`](crate::gc) can tell a stray of a dead writer from a file being written) and the name
//! it will take (so compaction can see which store generation a writer is about to publish,
//! see `store/compact.rs`).

use std::{
    ffi::OsStr,
    io::Write,
    os::unix::fs::FileExt,
    sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering},
};

use rustix::{
    fs::{FallocateFlags, RenameFlags},
    io::Errno,
};

use super::{Dir, Durability, FILE_MODE, ensure_private, lease};
use crate::error::{Error, Result};

/// How the temporary file takes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Replace whatever file has the name.
    Replace,
    /// Replace the file that has the name, which exists, and keep it as a pooled spare; the
    /// temporary file is a pooled spare rewritten under a lease when one can be (see
    /// [`publish_reusing`]).
    Recycle,
    /// Take the name only if nothing has it.
    IfAbsent,
}

/// How a file is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Publish {
    pub(crate) mode: Mode,
    /// `Sync`: the file is flushed before it takes its name, the directory after.
    pub(crate) durability: Durability,
    /// Reserve the length with `posix_fallocate` before writing.
    pub(crate) allocate: bool,
    /// For a JSON document rewritten into a spare one block longer (store versions): keep
    /// that block with trailing spaces when the padded length is at most this; 0: never
    /// ([`rewrite_keeping_blocks`]).
    pub(crate) pad_within: u64,
}

/// The prefix of every temporary file.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// How much of the target's name a temporary name carries.
const MAX_TARGET_IN_NAME: usize = 200;

/// How many pooled spares a recycled file keeps beside it: one for the file a reader still
/// holds, one to rewrite, one more for a second reader.
pub(crate) const POOL: u32 = 3;

/// The prefix of a pooled spare's name, `.tmp-spare-<slot>-<target>`: a dot file (the bash
/// tools' globs never see it) that carries its target where a temporary file does, so a
/// watcher files its events under the file it spares; not a temporary file to
/// [`parse_temp`] (no writer process owns it).
pub(crate) const POOL_PREFIX: &str = ".tmp-spare-";

/// The name of the pooled spare `slot` of `target`.
pub(crate) fn pool_name(target: &str, slot: u32) -> String {
    let mut name = String::with_capacity(POOL_PREFIX.len() + 11 + target.len());
    name.push_str(POOL_PREFIX);
    crate::digits::push_decimal(&mut name, u64::from(slot));
    name.push('-');
    name.push_str(target);
    name
}

/// Gives `target` in `dir` its pooled spares up front, each an empty private file, so that
/// its first writes rewrite a spare as every later one does instead of creating a file (the
/// [`POOL`] + 1 files a view would otherwise create over its first writes, created once). A
/// slot already there is left alone. Creating a spare is harmless to readers: nobody reads a
/// slot, and a writer rewrites one only under a lease.
///
/// # Errors
/// [`Error::Io`] naming the slot that could not be created.
pub(crate) fn provision_pool(dir: &Dir, target: &str) -> Result<()> {
    for slot in 0..POOL {
        let name = pool_name(target, slot);
        match dir.create_new(&name, FILE_MODE) {
            Ok(file) => ensure_private(&file, &dir.join(&name))?,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Parses `name` as a pooled spare's name: its slot and its target; `None` for anything else.
pub(crate) fn parse_pooled(name: &OsStr) -> Option<(u32, &str)> {
    let (slot, target) = name.to_str()?.strip_prefix(POOL_PREFIX)?.split_once('-')?;
    if slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) || target.is_empty() {
        return None;
    }
    Some((slot.parse().ok()?, target))
}

/// Writes `bytes` to a new temporary file in `dir` and moves it to `target` as `how` says.
/// `ready` runs after the bytes are written and before the move, and is given the written
/// file (each file about to be moved: a pooled spare whose exchange failed is followed by
/// another, asked about in turn); `false` (or an error) abandons the publication. Returns
/// whether the file took its name: `false` when `ready` said so, when [`Mode::IfAbsent`]
/// found the name taken, or when the temporary file was removed meanwhile (a sweep that took
/// this process for dead). Nothing is left behind but the published file.
///
/// # Errors
/// [`Error::Io`] naming the file or directory; the temporary file is removed.
pub(crate) fn publish(
    dir: &Dir,
    target: &OsStr,
    bytes: &[u8],
    how: Publish,
    ready: impl FnMut(&std::fs::File) -> Result<bool>,
) -> Result<bool> {
    publish_with(dir, target, bytes, how, &[], None, ready)
}

/// What a pooled spare may be known to hold: the bytes to publish except within `differs`
/// (offsets into those bytes, in any order, overlapping or past their end allowed) and past
/// its own `size`, by its inode, size and modification time, which the caller vouches for —
/// *a file with these three holds the bytes its writer wrote* (see `claim/assignments.rs`: a
/// sentinel modification time set before the file was published, which any later write
/// replaces with the kernel's clock), and the caller knows where those differ from the bytes
/// it publishes now. A [`Mode::Recycle`] publication that takes a spare showing all three
/// under its lease writes only those ranges ([`rewrite_changed`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prior<'a> {
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime: (i64, u32),
    pub(crate) differs: &'a [std::ops::Range<usize>],
}

/// [`publish`] of a [`Mode::Recycle`] file whose spares may hold `prior`.
///
/// # Errors
/// As [`publish`].
pub(crate) fn publish_over(
    dir: &Dir,
    target: &OsStr,
    bytes: &[u8],
    how: Publish,
    prior: Option<Prior<'_>>,
    ready: impl FnMut(&std::fs::File) -> Result<bool>,
) -> Result<bool> {
    publish_with(dir, target, bytes, how, &[], prior, ready)
}

/// [`publish`], first trying to take one of the `spares` of `dir` (files a compaction set
/// aside, see `store/compact.rs`) as the temporary file: it is moved to the temporary name
/// and rewritten in place, so no inode is created and its blocks are already allocated —
/// on ext4 that is the difference between ~12 µs and ~200 µs per publication. A spare that
/// cannot be taken (another writer took it, none is there) costs one failed `rename`; then a
/// new file is created as [`publish`] does. A temporary file that does not take its name
/// (a lost race) is put back as a spare rather than removed.
///
/// `spares` only for [`Mode::IfAbsent`]: the published name is new, so nobody can be reading
/// the file being rewritten through it. Readers of a version that a compaction turned into a
/// spare must check that the name still holds the file they read (`store/mod.rs`).
///
/// [`Mode::Recycle`] keeps its own spares, the pool of the target (`.tmp-spare-<slot>-<name>`,
/// [`POOL`] slots): a slot is rewritten in place, only under a write lease (`lease.rs`), the
/// kernel's proof that nobody has the file open — a reader that opened the file while it was
/// the live one may still be reading it — and then exchanged with the live file, which takes
/// the slot (see [`rewrite_pooled`]). A refused lease tries the next slot, then a new file,
/// whose exchange sends the replaced file to a free slot (it is unlinked only when every
/// slot is full). So in steady state a recycled publication is one rename and creates and
/// deletes no inode. See `ARCHITECTURE.md`.
///
/// # Errors
/// As [`publish`].
pub(crate) fn publish_reusing(
    dir: &Dir,
    target: &OsStr,
    bytes: &[u8],
    how: Publish,
    spares: &[Spare],
    ready: impl FnMut(&std::fs::File) -> Result<bool>,
) -> Result<bool> {
    publish_with(dir, target, bytes, how, spares, None, ready)
}

/// A spare a [`publish_reusing`] writer may take (see `store/generation.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spare {
    /// Its name in the directory.
    pub(crate) name: &'static str,
    /// Whether the file is known to have no version's name on disk: it was made as a spare,
    /// or the directory was flushed after it left its version's name. A durable writer
    /// rewrites such a spare without flushing the directory first.
    pub(crate) gone_on_disk: bool,
}

fn publish_with(
    dir: &Dir,
    target: &OsStr,
    bytes: &[u8],
    how: Publish,
    spares: &[Spare],
    prior: Option<Prior<'_>>,
    mut ready: impl FnMut(&std::fs::File) -> Result<bool>,
) -> Result<bool> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    debug_assert!(spares.is_empty() || how.mode == Mode::IfAbsent);
    let lossy = target.to_string_lossy();
    let mut shown: &str = &lossy;
    if shown.len() > MAX_TARGET_IN_NAME {
        let mut end = MAX_TARGET_IN_NAME;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown = &shown[..end];
    }
    // `{TMP_PREFIX}{pid}-{counter}-{shown}`.
    let mut tmp = String::with_capacity(TMP_PREFIX.len() + 2 * 20 + 2 + shown.len());
    tmp.push_str(TMP_PREFIX);
    crate::digits::push_decimal(&mut tmp, u64::from(super::pid()));
    tmp.push('-');
    crate::digits::push_decimal(&mut tmp, COUNTER.fetch_add(1, Ordering::Relaxed));
    tmp.push('-');
    tmp.push_str(shown);
    // The temporary file's path, only for messages: made when one is.
    let tmp_path = || dir.join(&tmp);
    // The pool of a recycled file: only where leases can prove a spare unread, and for a
    // name a spare's name can carry whole.
    let pool = (how.mode == Mode::Recycle && lease::available())
        .then(|| target.to_str())
        .flatten()
        .filter(|t| t.len() <= MAX_TARGET_IN_NAME);
    if let Some(target) = pool {
        if let Some(published) =
            rewrite_pooled(dir, target, bytes, how.durability, prior, &mut ready)?
        {
            if published && how.durability == Durability::Sync {
                dir.sync()?;
            }
            return Ok(published);
        }
    }
    let taken = match pool {
        Some(_) => None,
        None => take_spare(dir, &tmp, spares, bytes, how),
    };
    let (file, spare) = match taken {
        Some((file, spare)) => (file, Some(spare)),
        None => (dir.create_new(&tmp, FILE_MODE)?, None),
    };
    let result = (|| {
        if spare.is_none() {
            let mut file = &file;
            ensure_private(file, &tmp_path())?;
            if how.allocate {
                allocate(file, bytes.len() as u64);
            }
            file.write_all(bytes)
                .map_err(|e| Error::io("cannot write", tmp_path())(e))?;
        }
        if how.durability == Durability::Sync {
            file.sync_data()
                .map_err(|e| Error::io("cannot sync", tmp_path())(e))?;
        }
        if !ready(&file)? {
            return Ok(false);
        }
        drop(file);
        match how.mode {
            Mode::Replace => replace(dir, tmp.as_ref(), target, None).map(|()| true),
            Mode::Recycle => replace(dir, tmp.as_ref(), target, pool).map(|()| true),
            Mode::IfAbsent => put_if_absent(dir, tmp.as_ref(), target),
        }
    })();
    if !matches!(result, Ok(true)) {
        // A spare that lost the race goes back to its slot for the next writer.
        let back = spare.as_ref().is_some_and(|spare| {
            dir.rename(tmp.as_ref(), spare.as_ref(), RenameFlags::NOREPLACE)
                .is_ok()
        });
        if !back {
            let _ = dir.remove(&tmp);
        }
    }
    if matches!(result, Ok(true)) && how.durability == Durability::Sync {
        dir.sync()?;
    }
    result
}

/// Moves the first of `spares` that is there to the temporary name `tmp` and rewrites it
/// with `bytes` (written at offset 0, then cut to their length); `None` when none could be
/// taken or rewritten (a rewrite that fails removes the file: it is only a spare). Returns
/// the file and the slot it came from.
///
/// With [`Durability::Sync`] the directory is flushed after the move and before the rewrite,
/// unless the spare is [`Spare::gone_on_disk`]: the spare may have been a version, and its
/// old name must be gone on disk before its bytes change, or a power loss could bring that
/// name back holding another version's bytes.
fn take_spare(
    dir: &Dir,
    tmp: &str,
    spares: &[Spare],
    bytes: &[u8],
    how: Publish,
) -> Option<(std::fs::File, &'static str)> {
    for spare in spares {
        let name = spare.name;
        match dir.rename(name.as_ref(), tmp.as_ref(), RenameFlags::empty()) {
            Ok(()) => {}
            Err(_) => continue,
        }
        if how.durability == Durability::Sync && !spare.gone_on_disk && dir.sync().is_err() {
            let _ = dir.remove(tmp);
            return None;
        }
        // Opened without following a link and without creating: the spare was moved here,
        // under a name of this writer's, so its size is what the open saw.
        let rewritten = dir.open_own_write(tmp).and_then(|(file, _, size)| {
            rewrite_keeping_blocks(&file, bytes, size, how.pad_within)
                .map_err(|e| Error::io("cannot write", dir.join(tmp))(e))?;
            Ok(file)
        });
        match rewritten {
            Ok(file) => return Some((file, name)),
            Err(_) => {
                let _ = dir.remove(tmp);
                return None;
            }
        }
    }
    None
}

/// Rewrites the first pooled spare of `target` that nobody has open, in place, and exchanges
/// it with the live file, which becomes that slot's spare: one rename, no inode created or
/// deleted. `Ok(None)` when no slot could be used (every slot empty, held open, or taken by
/// another writer): the caller publishes a new file instead, and asks `ready` about that file.
/// `ready` is asked about each slot just before its exchange, so a slot tried after another
/// one's exchange failed is asked about in turn.
///
/// A slot is rewritten only under a write lease (`lease.rs`), taken on a descriptor opened
/// without waiting: the kernel's proof that no other open file description of it exists — no
/// reader that opened it while it was the live file, no other writer — and a fence that makes
/// every later opener fail (non-blocking) or wait while it is rewritten. Under the lease the
/// slot's name must still hold the file: a writer that opened the slot just before another
/// one exchanged it into place would otherwise be holding the live file. Nobody can move the
/// slot's name while the lease stands: only a writer holding the slot's lease exchanges it,
/// the fallback of [`dispose_replaced`] only fills free slots, and [`gc`](crate::gc) only
/// removes the spares of views that are gone (the exchange then fails and nothing is lost).
/// The lease is released before the exchange (an opener of the new live file must not wait),
/// the descriptor closed after it, so no other writer can take the lease meanwhile.
///
/// With [`Durability::Sync`] the directory is flushed before the rewrite: the slot's name may
/// not be on disk yet, and a power loss must not bring the file back under the live name
/// holding half-written bytes.
///
/// # Errors
/// [`Error::Io`] naming the live file when the exchange fails for another reason than a
/// missing name, or what `ready` returns.
fn rewrite_pooled(
    dir: &Dir,
    target: &str,
    bytes: &[u8],
    durability: Durability,
    prior: Option<Prior<'_>>,
    ready: &mut impl FnMut(&std::fs::File) -> Result<bool>,
) -> Result<Option<bool>> {
    if EXCHANGE.load(Ordering::Relaxed) == 2 {
        return Ok(None);
    }
    // The slot that served last (in any pool) is tried first: the pools of a namespace are
    // provisioned alike and used alike, so it saves looking into a slot left empty. A
    // publication that knows what a spare holds starts where this thread's last exchange of
    // the target left the file it replaced: the spare the prior most likely describes.
    static LAST: AtomicU32 = AtomicU32::new(0);
    let first = prior
        .and_then(|_| spared_slot(target))
        .unwrap_or_else(|| LAST.load(Ordering::Relaxed));
    let name: &OsStr = target.as_ref();
    for slot in (0..POOL).map(|k| (first + k) % POOL) {
        let spare = pool_name(target, slot);
        let (file, ino, _) = match dir.open_own_write(&spare) {
            Ok(opened) => opened,
            // An empty slot, or one under another writer's lease.
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
                    || source.raw_os_error() == Some(Errno::WOULDBLOCK.raw_os_error()) =>
            {
                continue;
            }
            // Not a private regular file of this user with one name (a link, a file linked
            // elsewhere): never rewritten; its name is freed for a spare.
            Err(Error::Symlink { .. }) => {
                let _ = dir.remove(&spare);
                continue;
            }
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::InvalidData => {
                let _ = dir.remove(&spare);
                continue;
            }
            Err(_) => continue,
        };
        let Some(lease) = lease::try_write_lease(&file) else {
            // Someone has it open: a reader of the file it was, or another writer.
            continue;
        };
        // Under the lease: its size as it is rewritten (a writer before may have rewritten it
        // and left it here), and whether it is the file `prior` describes.
        let Some(st) = dir.stat(&spare)?.filter(|st| st.ino == ino) else {
            // Exchanged into place (or away) since it was opened: not a spare any more.
            continue;
        };
        let known = prior
            .filter(|p| (p.ino, p.size, p.mtime) == (st.ino, st.size, st.mtime))
            .map(|p| p.differs);
        let rewritten = (durability == Durability::Relaxed || dir.sync().is_ok())
            && match known {
                Some(differs) => rewrite_changed(&file, bytes, st.size, differs),
                None => rewrite(&file, bytes, st.size),
            }
            .is_ok();
        drop(lease);
        if !rewritten {
            // The slot keeps whatever was written: it is only a spare, rewritten whole by
            // its next writer.
            return Ok(None);
        }
        if durability == Durability::Sync && file.sync_data().is_err() {
            return Ok(None);
        }
        if !ready(&file)? {
            return Ok(Some(false));
        }
        LAST.store(slot, Ordering::Relaxed);
        match dir.rename(spare.as_ref(), name, RenameFlags::EXCHANGE) {
            Ok(()) => {
                note_spared(target, slot);
                return Ok(Some(true));
            }
            Err(Errno::NOENT) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                EXCHANGE.store(2, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) => return Err(io_error("cannot replace", dir, name)(e)),
        }
        // The live file is gone (removed meanwhile): the slot takes its name. Or the slot is
        // gone: its bytes with it, and the next slot is tried.
        match dir.rename(spare.as_ref(), name, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(Some(true)),
            Err(Errno::NOENT | Errno::EXIST) => {}
            Err(e) => return Err(io_error("cannot replace", dir, name)(e)),
        }
        drop(file);
    }
    Ok(None)
}

/// How many targets [`note_spared`] remembers per thread: more than a namespace pools.
const SPARED_TARGETS: usize = 8;

thread_local! {
    /// The targets this thread published through their pools, each with the slot the file
    /// its last publication replaced went to; the oldest forgotten first.
    static SPARED_SLOTS: std::cell::RefCell<Vec<(String, u32)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes that this thread's publication of `target` left the file it replaced in `slot`.
fn note_spared(target: &str, slot: u32) {
    SPARED_SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(known) = s.iter_mut().find(|(t, _)| t == target) {
            known.1 = slot;
            return;
        }
        if s.len() == SPARED_TARGETS {
            s.remove(0);
        }
        s.push((target.to_owned(), slot));
    });
}

/// The slot this thread's last publication of `target` left the replaced file in. Only a
/// hint (another thread or process may have taken it since, a target of the same name in
/// another directory may have set it): what a slot holds is checked under its lease.
fn spared_slot(target: &str) -> Option<u32> {
    SPARED_SLOTS.with(|s| {
        s.borrow()
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, slot)| *slot)
    })
}

/// The unit the kernel caches file data in. A write that covers only part of a page whose
/// data are on disk but no longer cached makes the kernel read that page from disk first, a
/// synchronous read inside the write. Page caches do not last long where the kernel reclaims
/// idle memory proactively (on the machines this project is measured on, DAMON pages out file
/// pages left untouched for about a minute), so a command run minutes after the last meets
/// that read on every spare it rewrites. Spares are therefore rewritten by whole pages where
/// they held data.
const PAGE: u64 = 4096;

/// Zeros to fill a page with.
static ZEROS: [u8; PAGE as usize] = [0; PAGE as usize];
/// Spaces to pad a version with ([`rewrite_keeping_blocks`]): never more than a page.
static SPACES: [u8; PAGE as usize] = [b' '; PAGE as usize];

/// Rewrites `file`, of `size` bytes and nobody else's to write, to hold `bytes`: written at
/// offset 0 by whole pages where the file held data ([`write_by_pages`]), then cut to their
/// length when the file was longer or the write was. A file that grows past its old pages
/// and is not cut saves the `ftruncate`, a system call that changes the inode even to the
/// size a file already has.
fn rewrite(file: &std::fs::File, bytes: &[u8], size: u64) -> std::io::Result<()> {
    rewrite_spaced(file, bytes, 0, size)
}

/// [`rewrite`] of `bytes` followed by `spaces` spaces (at most a page of them).
fn rewrite_spaced(
    file: &std::fs::File,
    bytes: &[u8],
    spaces: usize,
    size: u64,
) -> std::io::Result<()> {
    let len = bytes.len() + spaces;
    let size = if shrinks_far(size, len) {
        file.set_len(0)?;
        0
    } else {
        size
    };
    let padded = write_by_pages(file, bytes, spaces, 0, size)?;
    if padded || size > len as u64 {
        file.set_len(len as u64)?;
    }
    Ok(())
}

/// [`rewrite`] of a spare of the store, whose bytes are one JSON document: where cutting the
/// file to the bytes would give back its last block, the bytes are followed by spaces into
/// that block instead (JSON allows trailing whitespace; readers of versions parse it away).
/// Giving back a block is the costly part of a shrinking rewrite: on ext4 mounted with
/// `discard` the kernel discards a freed block synchronously, inside the `ftruncate`, and
/// the process sleeps until the device is done; a document that grows and shrinks
/// across a block boundary (the time tracking document, cut back at every seal) would pay it
/// at every version that shrinks. A spare more than one block longer is cut as [`rewrite`]
/// cuts it (the spaces would grow with the gap).
///
/// Padding is left out when the padded length would pass `within` (the store's document
/// limit, which a reader applies to the file). The file's length afterwards is the bytes'
/// length or, padded, [`padded_len`]:
/// `Store::publish` tells the two apart by the length of the file it published and keeps
/// the padded bytes in its cache.
fn rewrite_keeping_blocks(
    file: &std::fs::File,
    bytes: &[u8],
    size: u64,
    within: u64,
) -> std::io::Result<()> {
    let len = bytes.len() as u64;
    let padded = padded_len(bytes.len());
    let keeps_block =
        len > 0 && size.div_ceil(PAGE) == len.div_ceil(PAGE) + 1 && padded as u64 <= within;
    let spaces = if keeps_block { padded - bytes.len() } else { 0 };
    rewrite_spaced(file, bytes, spaces, size)
}

/// The length of a version of `len` bytes that [`rewrite_keeping_blocks`] padded: one byte
/// into the block after the bytes' last.
pub(crate) fn padded_len(len: usize) -> usize {
    len.div_ceil(PAGE as usize) * PAGE as usize + 1
}

/// A file at least this long ([`shrinks_far`]) can sit in the page cache in large folios.
const LARGE: u64 = 64 * 1024;

/// Whether a file of `size` bytes rewritten to `len` bytes is emptied first. The kernel
/// caches a file that was written large in large folios (up to 2 MiB each on ext4), and
/// cutting a file to a length inside one zeros the folio from there to its end and walks
/// its blocks, on every cut, long after the file became small: a spare that once held a
/// 1.5 MB `time-tracking.json` from the bash tools made every later rewrite of that view
/// ~30 µs slower. Emptying the file drops its folios; it costs a block allocation once.
fn shrinks_far(size: u64, len: usize) -> bool {
    size >= LARGE && size / 4 >= len as u64
}

/// Writes `bytes` and `spaces` spaces after them (at most a page of them) at `offset` (a
/// page boundary) of `file`, whose data end at `size`. When they end inside a page that held
/// data, the write goes on with zeros to that page's end, so the kernel has no page to read
/// from disk first ([`PAGE`]); returns whether it did, and then the caller cuts the file to
/// the end of the spaces.
fn write_by_pages(
    file: &std::fs::File,
    bytes: &[u8],
    spaces: usize,
    offset: u64,
    size: u64,
) -> std::io::Result<bool> {
    debug_assert_eq!(offset % PAGE, 0);
    let spaces = &SPACES[..spaces.min(SPACES.len())];
    let end = offset + (bytes.len() + spaces.len()) as u64;
    let into_last = end % PAGE;
    let zeros = match into_last == 0 || size <= end - into_last {
        true => &[][..],
        false => &ZEROS[..(PAGE - into_last) as usize],
    };
    write_parts_at(file, [bytes, spaces, zeros], offset)?;
    Ok(!zeros.is_empty())
}

/// Writes `parts` one after the other at `offset` of `file`: one `pwritev`, and plain writes
/// of the rest when a signal or a full disk cut it short.
fn write_parts_at(file: &std::fs::File, parts: [&[u8]; 3], offset: u64) -> std::io::Result<()> {
    let slices = parts.map(std::io::IoSlice::new);
    let mut skip = loop {
        match rustix::io::pwritev(file, &slices, offset) {
            Err(Errno::INTR) => continue,
            other => break other.map_err(std::io::Error::from)?,
        }
    };
    let mut at = offset + skip as u64;
    for part in parts {
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        file.write_all_at(&part[skip..], at)?;
        at += (part.len() - skip) as u64;
        skip = 0;
    }
    Ok(())
}

/// Rewrites `file`, of `size` bytes and nobody else's to write, which holds `bytes` except
/// within the ranges `differs` names and past `size`, to hold `bytes`: only those ranges are
/// written (and what `bytes` hold past `size`), then the file is cut when it was longer. The
/// file was written by this process moments ago, so its pages are most likely still cached
/// ([`PAGE`]); only when the file is cut anyway is its last page filled out. At least one byte
/// is written, so the kernel gives the file a new modification time as a whole rewrite would.
fn rewrite_changed(
    file: &std::fs::File,
    bytes: &[u8],
    size: u64,
    differs: &[std::ops::Range<usize>],
) -> std::io::Result<()> {
    if shrinks_far(size, bytes.len()) {
        return rewrite(file, bytes, size);
    }
    let len = bytes.len();
    let old = usize::try_from(size).unwrap_or(usize::MAX);
    let mut ranges: Vec<std::ops::Range<usize>> = (differs.iter())
        .map(|r| r.start.min(len)..r.end.min(len))
        .filter(|r| !r.is_empty())
        .collect();
    if old < len {
        ranges.push(old..len);
    }
    let cut = old > len;
    if cut || ranges.is_empty() {
        // The last page written whole when the file is cut after; a byte at least anyway.
        let page = if cut { len - len % PAGE as usize } else { len };
        ranges.push(page.min(len.saturating_sub(1))..len);
    }
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let last = merged.pop().unwrap_or(0..0);
    for r in merged {
        file.write_all_at(&bytes[r.clone()], r.start as u64)?;
    }
    if cut {
        // Written from its page's start (the bytes there are the same in both) and to the
        // end of the last page: the cut follows anyway.
        let from = last.start - last.start % PAGE as usize;
        write_by_pages(file, &bytes[from..], 0, from as u64, size)?;
        file.set_len(len as u64)?;
    } else {
        file.write_all_at(&bytes[last.clone()], last.start as u64)?;
    }
    Ok(())
}

/// Whether `fallocate` works here: 0 unknown or yes, 2 no.
static FALLOCATE: AtomicU8 = AtomicU8::new(0);

/// Reserves `len` bytes of `file`; best-effort (a filesystem without `fallocate` just writes).
fn allocate(file: &std::fs::File, len: u64) {
    if len == 0 || FALLOCATE.load(Ordering::Relaxed) == 2 {
        return;
    }
    if let Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) =
        rustix::fs::fallocate(file, FallocateFlags::empty(), 0, len)
    {
        FALLOCATE.store(2, Ordering::Relaxed);
    }
}

/// Whether `renameat2(RENAME_EXCHANGE)` works here: 0 unknown or yes, 2 no.
static EXCHANGE: AtomicU8 = AtomicU8::new(0);
/// Whether `renameat2(RENAME_NOREPLACE)` works here: 0 unknown, 1 yes, 2 no.
static NOREPLACE: AtomicU8 = AtomicU8::new(0);

fn io_error(verb: &'static str, dir: &Dir, name: &OsStr) -> impl FnOnce(Errno) -> Error {
    let path = dir.join(name);
    move |e| Error::io(verb, path)(std::io::Error::from_raw_os_error(e.raw_os_error()))
}

/// Moves `tmp` over `name`: exchanged with an existing file, or renamed. The replaced file
/// (now at `tmp`) goes to a free slot of `pool` (the target's name, for [`Mode::Recycle`]),
/// else is unlinked.
fn replace(dir: &Dir, tmp: &OsStr, name: &OsStr, pool: Option<&str>) -> Result<()> {
    if EXCHANGE.load(Ordering::Relaxed) != 2 {
        match dir.rename(tmp, name, RenameFlags::EXCHANGE) {
            Ok(()) => return dispose_replaced(dir, tmp, name, pool),
            Err(Errno::NOENT) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                EXCHANGE.store(2, Ordering::Relaxed);
            }
            Err(e) => return Err(io_error("cannot replace", dir, name)(e)),
        }
    }
    dir.rename(tmp, name, RenameFlags::empty())
        .map_err(io_error("cannot replace", dir, name))
}

/// The file an exchange took from `name`, now at `tmp`: pooled in a free slot of `pool`, or
/// unlinked. Anything but a regular file (a directory in the way) is put back where it was.
fn dispose_replaced(dir: &Dir, tmp: &OsStr, name: &OsStr, pool: Option<&str>) -> Result<()> {
    let put_back = |e: Error| {
        let _ = dir.rename(tmp, name, RenameFlags::EXCHANGE);
        match e {
            Error::Io { source, .. } => Error::io("cannot replace", dir.join(name))(source),
            other => other,
        }
    };
    if let Some(target) = pool {
        match dir.stat(tmp) {
            Ok(Some(st)) if st.kind == super::FileKind::File => {
                for slot in 0..POOL {
                    let spare = pool_name(target, slot);
                    if dir
                        .rename(tmp, spare.as_ref(), RenameFlags::NOREPLACE)
                        .is_ok()
                    {
                        note_spared(target, slot);
                        return Ok(());
                    }
                }
            }
            Ok(_) => {
                return Err(put_back(Error::io("cannot replace", dir.join(name))(
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
                )));
            }
            Err(e) => return Err(put_back(e)),
        }
    }
    // `name` was not a file (a directory): the unlink fails and it goes back.
    dir.remove(tmp).map(drop).map_err(put_back)
}

/// Moves `tmp` to `target` unless `target` exists; `false` when it does.
fn put_if_absent(dir: &Dir, tmp: &OsStr, target: &OsStr) -> Result<bool> {
    if NOREPLACE.load(Ordering::Relaxed) != 2 {
        match dir.rename(tmp, target, RenameFlags::NOREPLACE) {
            Ok(()) => {
                NOREPLACE.store(1, Ordering::Relaxed);
                return Ok(true);
            }
            Err(Errno::EXIST) => return Ok(false),
            // Our temporary file was swept meanwhile: a lost race.
            Err(Errno::NOENT) if !dir.exists(tmp) => return Ok(false),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::PERM)
                if NOREPLACE.load(Ordering::Relaxed) == 0 =>
            {
                NOREPLACE.store(2, Ordering::Relaxed);
            }
            Err(e) => return Err(io_error("cannot publish", dir, target)(e)),
        }
    }
    match dir.link(tmp, target) {
        Ok(()) => {
            let _ = dir.remove(tmp);
            Ok(true)
        }
        Err(Errno::EXIST) => Ok(false),
        Err(Errno::NOENT) if !dir.exists(tmp) => Ok(false),
        Err(e) => Err(io_error("cannot publish", dir, target)(e)),
    }
}

/// A temporary file's name, parsed: the writing process and the name it will take. Names of
/// older FlowForge versions (`.tmp-<pid>-<n>`, `.<name>.tmp-<pid>-<n>`) parse without a
/// target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TempName<'a> {
    pub(crate) pid: u32,
    pub(crate) target: Option<&'a str>,
}

/// Parses `name` as a temporary file's name; `None` for anything else.
pub(crate) fn parse_temp(name: &OsStr) -> Option<TempName<'_>> {
    let name = name.to_str()?;
    let rest = match name.strip_prefix(TMP_PREFIX) {
        Some(rest) => rest,
        // `.<name>.tmp-<pid>-<n>`
        None => &name[name.strip_prefix('.')?.find(".tmp-")? + 1 + TMP_PREFIX.len()..],
    };
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let n = parts.next()?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(TempName {
        pid,
        target: parts.next().filter(|t| !t.is_empty()),
    })
}

/// Whether the process `pid` may still be running: `false` only when the kernel says no
/// such process exists. (All writers of a namespace run on one machine, in one PID
/// namespace; a reused pid only keeps a stray a little longer.)
pub(crate) fn writer_alive(pid: u32) -> bool {
    if pid == super::pid() {
        return true;
    }
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_parse_in_every_generation_of_the_format() {
        fn t(s: &str) -> Option<TempName<'_>> {
            parse_temp(s.as_ref())
        }
        assert_eq!(
            t(".tmp-42-7-00000000000000000003.json"),
            Some(TempName {
                pid: 42,
                target: Some("00000000000000000003.json")
            })
        );
        assert_eq!(
            t(".tmp-42-7-current.json").and_then(|t| t.target),
            Some("current.json")
        );
        assert_eq!(
            t(".tmp-42-7"),
            Some(TempName {
                pid: 42,
                target: None
            })
        );
        assert_eq!(
            t(".current.json.tmp-9-0"),
            Some(TempName {
                pid: 9,
                target: None
            })
        );
        for other in [
            "HEAD",
            "00000000000000000003.json",
            ".tmp-x-1",
            ".tmp-1-",
            ".gitignore",
        ] {
            assert_eq!(t(other), None, "{other}");
        }
    }

    /// A file whose modification time is set to the epoch's first second, as a sealed view
    /// has a sentinel in the past.
    fn backdate(file: &std::fs::File) {
        use rustix::fs::{Timespec, Timestamps, UTIME_OMIT};
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            last_modification: Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
        };
        rustix::fs::futimens(file, &times).unwrap();
    }

    /// `old` with `len` bytes at `at` replaced by `with` (positions and lengths wrapped into
    /// range): the shapes of a view's change — an entry rewritten, inserted, dropped.
    fn edited(old: &[u8], at: usize, len: usize, with: &[u8]) -> Vec<u8> {
        let at = if old.is_empty() {
            0
        } else {
            at % (old.len() + 1)
        };
        let end = (at + len).min(old.len());
        [&old[..at], with, &old[end..]].concat()
    }

    /// Where `old` and `new` differ, as ranges of `new`'s offsets (past `old`'s end
    /// included).
    fn differing(old: &[u8], new: &[u8]) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for i in (0..new.len()).filter(|&i| old.get(i) != Some(&new[i])) {
            match ranges.last_mut() {
                Some(r) if r.end == i => r.end += 1,
                _ => ranges.push(i..i + 1),
            }
        }
        ranges
    }

    proptest::proptest! {
        /// Whatever the old and new bytes, a rewrite told where they differ (and anywhere
        /// else besides) leaves the new ones, and its modification time is the kernel's again
        /// (at least one byte was written).
        #[test]
        fn a_rewrite_of_what_changed_leaves_the_new_bytes(
            old in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..9000),
            at in 0usize..10_000,
            len in 0usize..300,
            with in proptest::collection::vec(b'a'..=b'c', 0..300),
            same_length in proptest::prelude::any::<bool>(),
            also in proptest::collection::vec((0usize..10_000, 0usize..5000), 0..3),
        ) {
            let with = if same_length { &with[..with.len().min(len)] } else { &with[..] };
            let new = edited(&old, at, if same_length { with.len() } else { len }, with);
            let mut differs = differing(&old, &new);
            differs.extend(also.iter().map(|&(at, len)| at..at + len));
            differs.reverse();
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("spare");
            std::fs::write(&path, &old).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            backdate(&file);
            rewrite_changed(&file, &new, old.len() as u64, &differs).unwrap();
            proptest::prop_assert_eq!(std::fs::read(&path).unwrap(), new.clone());
            let mtime = std::os::unix::fs::MetadataExt::mtime(&file.metadata().unwrap());
            if !new.is_empty() || !old.is_empty() {
                proptest::prop_assert_ne!(mtime, 1, "nothing written");
            }
        }
    }

    proptest::proptest! {
        /// Whatever a spare held, a whole rewrite leaves exactly the new bytes: no zeros of
        /// the page filled out past them, nothing of the old bytes past their end.
        #[test]
        fn a_whole_rewrite_leaves_the_new_bytes(
            // Some spares far longer than the rewrite, which are emptied first.
            old_len in proptest::prop_oneof![3 => 0usize..13_000, 1 => 60_000usize..200_000],
            new_len in 0usize..13_000,
            near_a_page in proptest::prelude::any::<bool>(),
        ) {
            // Half the cases put both lengths within a few bytes of a page boundary.
            let snap = |n: usize| if near_a_page { (n / 4096) * 4096 + n % 5 } else { n };
            let old: Vec<u8> = (0..snap(old_len)).map(|i| (i % 251) as u8 | 1).collect();
            let new: Vec<u8> = (0..snap(new_len)).map(|i| b'a' + (i % 26) as u8).collect();
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("spare");
            std::fs::write(&path, &old).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            rewrite(&file, &new, old.len() as u64).unwrap();
            proptest::prop_assert_eq!(std::fs::read(&path).unwrap(), new);
        }
    }

    proptest::proptest! {
        /// A spare of the store rewritten with shorter bytes keeps its blocks: the new bytes
        /// followed by spaces one byte into the block after theirs when that block would
        /// otherwise be given back (its last) and the limit allows, else exactly the new
        /// bytes.
        #[test]
        fn a_spare_rewrite_ends_in_its_last_block_or_at_the_new_bytes(
            old_len in 0usize..20_000,
            new_len in 1usize..13_000,
            // Most cases with room; some with a limit the padding would pass.
            within in proptest::prop_oneof![3 => proptest::strategy::Just(u64::MAX), 1 => 0u64..20_000],
        ) {
            let old = vec![b'o'; old_len];
            let new: Vec<u8> = (0..new_len).map(|i| b'a' + (i % 26) as u8).collect();
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("spare");
            std::fs::write(&path, &old).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            rewrite_keeping_blocks(&file, &new, old_len as u64, within).unwrap();
            let read = std::fs::read(&path).unwrap();
            let blocks = |n: usize| n.div_ceil(4096);
            if blocks(old_len) == blocks(new_len) + 1 && padded_len(new_len) as u64 <= within {
                proptest::prop_assert_eq!(read.len(), padded_len(new_len));
                proptest::prop_assert_eq!(blocks(read.len()), blocks(old_len));
                proptest::prop_assert_eq!(&read[..new_len], &new[..]);
                proptest::prop_assert!(read[new_len..].iter().all(|&b| b == b' '));
            } else {
                proptest::prop_assert_eq!(read, new);
            }
        }
    }

    /// Bytes this thread made the kernel read from storage so far; `None` where the kernel
    /// does not count them.
    fn storage_reads() -> Option<u64> {
        std::fs::read_to_string("/proc/thread-self/io")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("read_bytes: "))?
            .trim()
            .parse()
            .ok()
    }

    /// A file of `len` bytes whose pages are on disk and out of the page cache.
    fn evicted_file(dir: &std::path::Path, name: &str, len: usize) -> std::fs::File {
        let path = dir.join(name);
        std::fs::write(&path, vec![b'x'; len]).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        file
    }

    /// A spare whose pages left the cache is rewritten without reading them back from disk
    /// first, growing, shrinking or keeping its length; the same write by a partial page
    /// does read (the control, without which the test proves nothing here: on a filesystem
    /// without a disk it says so and stops).
    #[test]
    fn a_rewrite_reads_nothing_back_from_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let control = evicted_file(tmp.path(), "control", 3000);
        let before = storage_reads();
        control.write_all_at(&[b'y'; 1000], 0).unwrap();
        if before.is_none() || storage_reads() == before {
            eprintln!("no storage reads measurable in {}", tmp.path().display());
            return;
        }
        for (old, new) in [
            (3000, 1000),
            (3000, 3000),
            (3000, 3500),
            (9000, 5000),
            (5000, 4500),
            (300_000, 5000),
        ] {
            let file = evicted_file(tmp.path(), &format!("spare-{old}-{new}"), old);
            let bytes = vec![b'z'; new];
            let before = storage_reads();
            rewrite(&file, &bytes, old as u64).unwrap();
            assert_eq!(
                storage_reads(),
                before,
                "{old} -> {new} bytes read from disk"
            );
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut back).unwrap();
            assert_eq!(back, bytes);
        }
        // A rewrite of what changed that cuts the file: from its first difference's page to
        // the end of the last page; and one cut to a small part of the file: emptied, then
        // written whole.
        for (old_len, name, what) in [
            (9000, "changed", "a cut rewrite read from disk"),
            (300_000, "shrunk", "a far cut read from disk"),
        ] {
            let old = vec![b'x'; old_len];
            let file = evicted_file(tmp.path(), name, old.len());
            let new = [&old[..5000], &[b'z'; 100][..]].concat();
            let before = storage_reads();
            rewrite_changed(
                &file,
                &new,
                old.len() as u64,
                std::slice::from_ref(&(5000..5100)),
            )
            .unwrap();
            assert_eq!(storage_reads(), before, "{what}");
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut back).unwrap();
            assert_eq!(back, new);
        }
    }

    /// Where a lying prior claims a spare differs from `new`: in its last byte only. A
    /// publication trusting it writes only that last byte ([`last_written`]).
    fn claimed_but_last(new: &[u8]) -> Vec<std::ops::Range<usize>> {
        std::iter::once(new.len() - 1..new.len()).collect()
    }

    /// A prior of the spare whose `stat` data are `st`, claiming it differs from the bytes
    /// published only within `differs`.
    fn prior_of<'a>(st: &crate::fs::FileStat, differs: &'a [std::ops::Range<usize>]) -> Prior<'a> {
        Prior {
            ino: st.ino,
            size: st.size,
            mtime: st.mtime,
            differs,
        }
    }

    /// What a spare holding `held` holds once a publication of `new` that trusted
    /// [`claimed_but_last`] wrote into it: `held` with `new`'s last byte.
    fn last_written(held: &[u8], new: &[u8]) -> Vec<u8> {
        [&held[..held.len() - 1], &new[new.len() - 1..]].concat()
    }

    /// A pooled spare is trusted to hold the bytes of a [`Prior`] only while its inode, size
    /// and modification time are the prior's: then only what differs is written (shown here
    /// by a prior that claims bytes the spare does not hold), and after any write to the
    /// spare it is rewritten whole.
    #[test]
    fn a_spare_is_taken_for_its_prior_only_while_it_shows_the_priors_stat() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::create(tmp.path(), &tmp.path().join("d")).unwrap();
        let target = "view.json";
        let how = Publish {
            mode: Mode::Recycle,
            durability: Durability::Relaxed,
            allocate: false,
            pad_within: 0,
        };
        let spare = pool_name(target, 1);
        let (held, new) = (
            b"held by the spare!".as_slice(),
            b"the new view bytes".as_slice(),
        );
        assert_eq!(held.len(), new.len());
        for tampered in [false, true] {
            std::fs::write(dir.path().join(target), b"live").unwrap();
            let path = dir.path().join(&spare);
            std::fs::write(&path, held).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(FILE_MODE)).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            backdate(&file);
            let st = dir.stat(&spare).unwrap().unwrap();
            if tampered {
                file.write_all_at(held, 0).unwrap();
            }
            drop(file);
            let claimed = claimed_but_last(new);
            let prior = prior_of(&st, &claimed);
            let published =
                publish_over(&dir, target.as_ref(), new, how, Some(prior), |_| Ok(true));
            if !lease::available() {
                eprintln!("leases are not available here: the pool is not used");
                return;
            }
            assert!(published.unwrap());
            let live = std::fs::read(dir.path().join(target)).unwrap();
            assert_eq!(dir.stat(target).unwrap().unwrap().ino, st.ino);
            if tampered {
                assert_eq!(live, new, "a spare written to since is rewritten whole");
            } else {
                assert_eq!(
                    live,
                    last_written(held, new),
                    "only the byte the prior says differs is written"
                );
            }
        }
    }

    /// A publication with a prior starts at the slot where this thread's last publication of
    /// that target left the file it replaced, whatever slot other targets' publications
    /// used since: there the prior's bytes are (shown by a prior that claims bytes the spare
    /// does not hold, as above).
    #[test]
    fn a_prior_is_looked_for_where_the_last_publication_of_its_target_left_it() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::create(tmp.path(), &tmp.path().join("d")).unwrap();
        let (target, other) = ("view.json", "other.json");
        let how = Publish {
            mode: Mode::Recycle,
            durability: Durability::Relaxed,
            allocate: false,
            pad_within: 0,
        };
        if !lease::available() {
            eprintln!("leases are not available here: the pool is not used");
            return;
        }
        let held = b"the view replaced".as_slice();
        for (name, bytes) in [(target, held), (other, b"other".as_slice())] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(FILE_MODE)).unwrap();
        }
        provision_pool(&dir, target).unwrap();
        provision_pool(&dir, other).unwrap();
        let replaced = dir.stat(target).unwrap().unwrap().ino;
        assert!(
            publish_over(
                &dir,
                target.as_ref(),
                b"the view now live",
                how,
                None,
                |_| Ok(true)
            )
            .unwrap()
        );
        let slot = (0..POOL)
            .find(|&k| dir.stat(pool_name(target, k)).unwrap().unwrap().ino == replaced)
            .expect("the replaced file is pooled");
        // Another target's publications, using another slot than the one just used.
        dir.remove(pool_name(other, slot)).unwrap();
        for bytes in [b"other 1".as_slice(), b"other 2"] {
            assert!(publish_over(&dir, other.as_ref(), bytes, how, None, |_| Ok(true)).unwrap());
        }
        let st = dir.stat(pool_name(target, slot)).unwrap().unwrap();
        let new = b"the view made new".as_slice();
        assert_eq!(held.len(), new.len());
        let claimed = claimed_but_last(new);
        let prior = prior_of(&st, &claimed);
        assert!(publish_over(&dir, target.as_ref(), new, how, Some(prior), |_| Ok(true)).unwrap());
        assert_eq!(dir.stat(target).unwrap().unwrap().ino, st.ino);
        let live = std::fs::read(dir.path().join(target)).unwrap();
        assert_eq!(
            live,
            last_written(held, new),
            "the spare holding the prior was taken"
        );
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(writer_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!writer_alive(pid));
    }
}
