//! `team/task-assignments.json`, the claims' view for the bash tools: its writers' turns,
//! the point of the journal it reflects (the *mark*), the rewrite of the changed shards'
//! entries, and what the mark vouches for to readers.
//!
//! # Writing
//! The writer holding the view's lock (`team/store/.claims/view.lock`, taken without
//! waiting) reads the journal from the mark (`.claims/view-mark`) and rewrites the entries of
//! the shards named there. When the view on disk is the file the mark describes (FlowForge
//! wrote it, nobody touched it since: see *Vouching*), its bytes are edited in place: the
//! entries are found by their lines (two `memmem` searches, see [`scan_lines`]), and only the
//! changed shards' entries are looked at. An entry its shard no longer holds as printed
//! becomes spaces, its line breaks kept (a *hole*; its comma too), and a claim not printed
//! yet goes after the last entry, before the map's closing brace; every other byte stays
//! where it is, neither parsed nor checked again. Holes are JSON whitespace and the order of
//! a map's keys is not part of what a JSON reader (the bash tools' `jq`) reads, so the file
//! is the document the full model would print; once its holes outweigh its entries it is
//! printed anew as the full model prints it ([`compact`]), so its size stays proportional to
//! the live claims. A file not printed that way is scanned as a map of borrowed raw JSON
//! values ([`RawValue`]) and printed anew. Any other view (replaced or edited by someone
//! else, not parseable, a lost mark, a replaced journal) takes the full path: parsed into the
//! model, entries of the named shards (or of every shard) replaced, serialized whole. Either
//! way the file is published through the pooled view writer ([`write_atomic_then`]), so a
//! reader sees a whole old or a whole new file. The exchange leaves the file replaced in a
//! spare slot; the writer keeps its stamp and where it differs from the bytes published
//! ([`keep_published`]: the ranges the splice edited), and its next publication that takes
//! that slot back unchanged writes only those ranges and its own ([`Prior`]), so a change
//! writes a few hundred bytes whatever the number of claims.
//!
//! # Vouching
//! The writer *vouches* for what it writes without reading it back. Once the view's
//! temporary file holds the new bytes, and before it takes the view's name, the writer sets
//! its modification time to a sentinel `S` (`futimens`) and keeps it open; after the
//! publication it `fstat`s that descriptor, and only if the size is still the length written
//! and the modification time still `S` does the mark record the file's `stat` data (inode,
//! size, modification and status-change times, the latter as the publication left it) with
//! the number of the bash tools' entries (entries without a
//! [`SESSION_FIELD`](super::SESSION_FIELD)) it holds. Otherwise the mark records an inode of
//! 0, which matches no file. The mark is rewritten in place, fixed-width, and ends with an
//! FNV-1a checksum of the rest: a torn or damaged mark decodes to nothing.
//!
//! `S` is one second before the modification time the kernel gave the write (as the writer
//! `fstat`s it before setting `S`) with the nanoseconds set to the mark's sequence number,
//! which grows by one with every write. The claim a reader relies on: *a file whose `stat`
//! data equal a decoded mark's holds the bytes that mark's writer wrote*. Why it holds, case
//! by case:
//! - Until `S` is set, and from then until the publication: the file is the writer's alone
//!   (see [`write_atomic_then`]): a temporary file it created, or a pooled spare it rewrote
//!   under a write lease (the kernel's proof that nobody else had it open) and keeps open
//!   until it is exchanged with the view, so no other writer can take that lease; both are
//!   dot files the bash tools never see. It holds the bytes written (and the writer holds
//!   the view's lock besides, so no other FlowForge writer is writing a view).
//! - Edited in place after `S` was set (any `write`, `truncate` or `mmap` store, by the bash
//!   tools or anyone, once the file has the view's name): the kernel sets the modification
//!   time to its clock, which is later than the write and so than `S` — the times differ, at
//!   the writer's `fstat` (no vouch) or at the reader's `stat` (no match). Only an explicit
//!   `touch -d` to `S` to the nanosecond could hide an edit (or the system clock stepped back
//!   by more than a second and then landing on `S` exactly).
//! - Replaced after the publication (`jq … > tmp && mv tmp …`, or FlowForge's next write),
//!   before or after the writer's `fstat`: the mark names the writer's inode (its descriptor
//!   is that file whatever the name holds), so the reader finds another inode at the name, or
//!   the same inode number reused by a new file, whose modification time is the kernel's clock
//!   (or, for a file copied with its times kept, a status-change time of its own), never the
//!   recorded pair. A FlowForge write that brings a pooled spare's inode back with the same
//!   size and in the same clock tick has another sequence number in its `S`.
//! - A mark read before or after the reader's `stat` of the view, with any number of writers
//!   in between: the claim is about the pair (mark, file) only, never about which is newer;
//!   an older mark describes a file that is no longer there (no match), a newer one a file
//!   the reader did not see (no match), and a match means the reader's file holds what the
//!   mark says. A torn mark fails its checksum.
//!
//! (Before, the writer set `S` after the publication and read the file back to compare it
//! with the bytes published, since an edit between the publication and `S` would have been
//! hidden; setting `S` while the file is still private closes that window without the
//! read-back, which was O(bytes of the view) per change.)
//!
//! So a reader that finds the view's `lstat` data equal to the mark's and a count of 0 knows
//! the file holds no entry of the bash tools without reading it ([`vouched_foreign_entries`]).
//! The writer uses the same check to trust the view's bytes for a splice, and reads them
//! through a descriptor whose `fstat` after the read must still match, so a file swapped
//! during its read takes the full path. A thread that published the view keeps the bytes it
//! published with the stamp it vouched for, and when the trusted mark names that stamp (the
//! view on disk is its own file, by the claim above) splices them without reading the file —
//! nor searching it: the splice that made them recorded where each entry lies and its shard
//! ([`LinesAt`]). After another writer's change, or any edit, the stamp differs and the file
//! is read and searched.
//!
//! # The bash tools' entries named
//! A team that still has claims of the bash tools has entries of theirs in every view, so a
//! count of 0 never answers. The mark therefore also names those entries by an *identity*:
//! the stamp of the vouched file of the write that last changed them. A write names them by
//! the stamp of its own file, except a splice from the file a mark vouches for (its bytes
//! checked as above) that kept each of the bash tools' entries of the changed shards as its
//! bytes and wrote none anew (a claim of an older store, without a session, counts as one of
//! theirs): it carries that mark's identity. The claim readers rely on: *two files vouched
//! for by marks naming the same identity hold the same entries of the bash tools, byte for
//! byte*. By induction on the writes naming an identity `I`: the write whose own file has
//! the stamp `I` is one write (two vouched writes never publish files with equal stamps:
//! the fact *Vouching* rests on, a pooled spare coming back in the same tick with the same
//! size carrying another sequence number), and every other write naming `I` spliced a file
//! vouched for with `I` — the bytes its writer wrote, by *Vouching* — and kept its entries of
//! the bash tools as they were, adding none. Any other write (the full path: a file edited
//! or replaced by the bash tools, in place or by rename, a lost or damaged mark, a rebuild)
//! names its own file, which no earlier mark names.
//!
//! A reader that keeps the bash tools' entries it parsed, with the identity the mark named
//! for the very bytes parsed ([`read_view`]: the vouch is taken for the descriptor's `fstat`
//! after the read, never for a `stat` of the name before it), may answer with them without
//! reading the file whenever the mark vouches for the view on disk ([`view_vouch`]) and names
//! the same identity: the file holds the same entries. A file edited since its write is not
//! vouched for (as above) and is read.
//!
//! The mark's first line (512 bytes) is the first format whole, the sequence number padded
//! with zeros to fill it: older FlowForge readers read at most 512 bytes and decode them
//! whole, so they read the count and ignore the rest. The identity follows on a second line,
//! whose checksum covers both lines: a second line left behind by a newer writer under an
//! older writer's mark (which is shorter, rewritten in place) or torn from another write
//! names nothing. A mark without it (an older writer's) names nothing: the file is read.

use std::{collections::BTreeMap, io::Read, path::Path, sync::Arc};

use flowforge_core::{
    Layout, TaskId,
    model::{MapEntries, TaskAssignment, TaskAssignments},
};
use serde::{Deserialize, Serialize, ser::SerializeMap};
use serde_json::value::RawValue;

use super::{
    BOOKKEEPING_DIR, CLAIM_SHARDS, Claims, ClaimsReader, JOURNAL, bookkeeping, claim_shard,
    claims_key, is_flowforge_entry,
};
use crate::{
    error::{Error, Result},
    fs::{Dir, Durability, FileKind, FileStat, Prior, read_json, write_atomic_then},
    store::{PausePoint, Store},
};

/// The lock of the view's writers, and the mark: the point of the journal the view reflects.
const VIEW_LOCK: &str = "view.lock";
const VIEW_MARK: &str = "view-mark";
/// A journal this long is replaced by an empty one by the next view writer (which then
/// rebuilds the view from every shard once).
const JOURNAL_ROTATE: u64 = 64 * 1024;
/// How many turns a view writer takes (write, unlock, look at the journal again) before
/// leaving the view to the writers of the newer changes.
const CHASE: usize = 16;
/// The indentation of an entry's lines inside the pretty-printed `tasks` map.
const ENTRY_INDENT: &str = "\n    ";

/// What the view's mark vouches for a file: FlowForge wrote it and nothing changed it since
/// (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewVouch {
    foreign: u64,
    foreign_id: ViewStamp,
}

impl ViewVouch {
    /// The number of the bash tools' entries in the file.
    pub fn foreign_entries(&self) -> u64 {
        self.foreign
    }

    /// The identity of the bash tools' entries in the file; `None` when the mark names none
    /// (a mark of an older writer): the file must be read to know them.
    pub fn foreign_id(&self) -> Option<ForeignId> {
        self.foreign_id
            .is_file()
            .then_some(ForeignId(self.foreign_id))
    }
}

/// The identity of the bash tools' entries in a view FlowForge wrote (see *The bash tools'
/// entries named* in the module documentation): two files vouched for with the same identity
/// hold the same entries of the bash tools, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignId(ViewStamp);

/// What the view's mark vouches for the file whose `lstat` data are `view`; `None` when it
/// vouches for nothing (the file must be read).
pub fn view_vouch(layout: &Layout, view: &FileStat) -> Option<ViewVouch> {
    let dir = Dir::open(
        layout.root(),
        &layout.team_store_dir().join(BOOKKEEPING_DIR),
    )
    .ok()??;
    let mark = read_mark(&dir)?;
    (mark.view.is_file() && mark.view == ViewStamp::of(Some(view))).then_some(ViewVouch {
        foreign: mark.foreign,
        foreign_id: mark.foreign_id,
    })
}

/// The number of the bash tools' entries in `team/task-assignments.json`, when the view's
/// mark vouches for the file whose `lstat` data are `view` ([`view_vouch`]); `None` when it
/// does not: the file must be read.
pub fn vouched_foreign_entries(layout: &Layout, view: &FileStat) -> Option<u64> {
    view_vouch(layout, view).map(|vouch| vouch.foreign)
}

/// `team/task-assignments.json` read whole, and what the mark vouches for the very bytes
/// read: the file's `fstat` data after the read, taken from the descriptor read (a file
/// edited during the read, or replaced between a `stat` of the name and its opening, is
/// never paired with a mark of another file). `Ok(None)` when the file does not exist.
///
/// # Errors
/// [`Error::Symlink`], [`Error::Outside`], or [`Error::Io`] naming the file.
pub fn read_view(layout: &Layout) -> Result<Option<(Vec<u8>, Option<ViewVouch>)>> {
    let path = layout.task_assignments();
    let Some(file) = crate::fs::open_file(layout.root(), &path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    (&file)
        .read_to_end(&mut bytes)
        .map_err(Error::io("cannot read", &path))?;
    let after = rustix::fs::fstat(&file)
        .ok()
        .map(|st| FileStat::of(&st))
        .filter(|st| st.size == bytes.len() as u64);
    let vouch = after.and_then(|st| view_vouch(layout, &st));
    Ok(Some((bytes, vouch)))
}

/// The point of the journal a view reflects, and the view as its writer vouched for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    journal_ino: u64,
    offset: u64,
    /// The view as written (an inode of 0: not vouched for).
    view: ViewStamp,
    /// The bash tools' entries in that view.
    foreign: u64,
    /// The sequence number of the write.
    seq: u64,
    /// The identity of those entries: the view as vouched for by the write that last changed
    /// them (an inode of 0: none named, as in a mark of an older writer).
    foreign_id: ViewStamp,
}

/// The `lstat` data of the view that say it is the file written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ViewStamp {
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl ViewStamp {
    fn of(stat: Option<&FileStat>) -> Self {
        stat.filter(|st| st.kind == FileKind::File)
            .map_or_else(Self::default, |st| Self {
                ino: st.ino,
                size: st.size,
                mtime: st.mtime,
                ctime: st.ctime,
            })
    }

    /// Whether it describes a file (not the stamp of an absent or unvouched view).
    fn is_file(&self) -> bool {
        self.ino != 0
    }
}

/// FNV-1a over `bytes`.
fn checksum(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The length of the mark's first line, the newline included: the first format's fields
/// (the sequence number padded with zeros to fill it), which is what readers of that format
/// read (at most 512 bytes, decoded whole); the identity of the bash tools' entries follows
/// on a line of its own, which they never read.
const MARK_LINE: usize = 512;
/// The longest mark a reader takes: a file this long or longer is not a mark.
const MARK_MAX: usize = 1024;

impl Mark {
    /// Whether [`Mark::decode`] reads back what [`Mark::encode`] prints: every number within
    /// what the reader parses (`i64`).
    fn decodes_back(&self) -> bool {
        let id = &self.foreign_id;
        [
            self.journal_ino,
            self.offset,
            self.view.ino,
            self.view.size,
            self.foreign,
            self.seq,
            id.ino,
            id.size,
        ]
        .into_iter()
        .all(|n| i64::try_from(n).is_ok())
    }

    /// Fixed width, so an in-place rewrite never leaves a longer old tail behind. The first
    /// line is the first format's, its last word the checksum of the rest of it; the second
    /// names the bash tools' entries, its last word the checksum of both lines but itself.
    fn encode(&self) -> String {
        use crate::digits::{push_hex, push_padded, push_padded_signed};
        // Numbers padded with zeros to 20 digits, times' nanoseconds to 10, as
        // `format!("{:020}")` and `format!("{:010}")` print them.
        let mut text = String::with_capacity(MARK_MAX);
        let times = |text: &mut String, (seconds, nanos): (i64, u32)| {
            push_padded_signed(text, seconds, 20);
            text.push(' ');
            push_padded(text, u64::from(nanos), 10);
        };
        for n in [self.journal_ino, self.offset, self.view.ino, self.view.size] {
            push_padded(&mut text, n, 20);
            text.push(' ');
        }
        times(&mut text, self.view.mtime);
        text.push(' ');
        times(&mut text, self.view.ctime);
        text.push(' ');
        push_padded(&mut text, self.foreign, 20);
        text.push(' ');
        // Then the sequence number (filling the line), a space, 16 digits of checksum, a
        // newline.
        let width = MARK_LINE.saturating_sub(text.len() + 18);
        push_padded(&mut text, self.seq, width);
        let sum = checksum(text.as_bytes());
        text.push(' ');
        push_hex(&mut text, sum, 16);
        text.push('\n');
        let id = &self.foreign_id;
        push_padded(&mut text, id.ino, 20);
        text.push(' ');
        push_padded(&mut text, id.size, 20);
        text.push(' ');
        times(&mut text, id.mtime);
        text.push(' ');
        times(&mut text, id.ctime);
        let sum = checksum(text.as_bytes());
        text.push(' ');
        push_hex(&mut text, sum, 16);
        text.push('\n');
        text
    }

    /// The mark in `bytes`: the first line decoded as the first format, and the identity
    /// of the bash tools' entries from the second when it is whole and belongs to that first
    /// line (an older writer's mark over a newer one's leaves a tail behind: no identity).
    fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let end = text.find('\n')? + 1;
        let mut mark = Self::decode_line(&text[..end])?;
        if end == MARK_LINE {
            if let Some(id) = Self::decode_named(text) {
                mark.foreign_id = id;
            }
        }
        Some(mark)
    }

    /// The first line: the first format whole (what its readers decode).
    fn decode_line(text: &str) -> Option<Self> {
        let text = text.strip_suffix('\n')?;
        let (body, sum) = text.rsplit_once(' ')?;
        if sum.len() != 16 || u64::from_str_radix(sum, 16).ok()? != checksum(body.as_bytes()) {
            return None;
        }
        let mut words = body.split(' ');
        let mut next = || words.next()?.parse::<i64>().ok();
        let mut unsigned = || u64::try_from(next()?).ok();
        let journal_ino = unsigned()?;
        let offset = unsigned()?;
        let ino = unsigned()?;
        let size = unsigned()?;
        let mark = Self {
            journal_ino,
            offset,
            view: ViewStamp {
                ino,
                size,
                mtime: (next()?, u32::try_from(next()?).ok()?),
                ctime: (next()?, u32::try_from(next()?).ok()?),
            },
            foreign: u64::try_from(next()?).ok()?,
            seq: u64::try_from(next()?).ok()?,
            foreign_id: ViewStamp::default(),
        };
        next().is_none().then_some(mark)
    }

    /// The identity named by the second line of `text` (both lines, the first `MARK_LINE`
    /// bytes long), checked against both.
    fn decode_named(text: &str) -> Option<ViewStamp> {
        let text = text.strip_suffix('\n')?;
        let (named, sum) = text.rsplit_once(' ')?;
        if sum.len() != 16 || u64::from_str_radix(sum, 16).ok()? != checksum(named.as_bytes()) {
            return None;
        }
        let mut words = named.get(MARK_LINE..)?.split(' ');
        let mut next = || words.next()?.parse::<i64>().ok();
        let mut unsigned = || u64::try_from(next()?).ok();
        let id = ViewStamp {
            ino: unsigned()?,
            size: unsigned()?,
            mtime: (next()?, u32::try_from(next()?).ok()?),
            ctime: (next()?, u32::try_from(next()?).ok()?),
        };
        next().is_none().then_some(id)
    }
}

/// The mark; `None` when there is none or it does not decode.
fn read_mark(dir: &Dir) -> Option<Mark> {
    read_mark_from(&dir.open_file(VIEW_MARK).ok()??)
}

/// The mark in `file`, read with one `pread` into a buffer on the stack.
fn read_mark_from(file: &std::fs::File) -> Option<Mark> {
    let mut buf = [0u8; MARK_MAX];
    let len = rustix::io::pread(file, &mut buf, 0).ok()?;
    (len < MARK_MAX).then(|| decode_remembered(&buf[..len]))?
}

/// How many marks [`decode_remembered`] keeps (one per team a process works in, a few).
const MARKS_REMEMBERED: usize = 4;

/// [`Mark::decode`] of `bytes`, answered from the marks this process decoded last when one
/// had these very bytes: a session cycle reads its team's mark three times, mostly unchanged,
/// and a decode (two checksums over the mark's ~1 KB, a dozen numbers, one of them padded to
/// ~300 digits) was ~17 K instructions. Equal bytes decode to the same mark.
fn decode_remembered(bytes: &[u8]) -> Option<Mark> {
    if let Ok(remembered) = REMEMBERED.lock() {
        if let Some((_, mark)) = remembered.iter().find(|(b, _)| **b == *bytes) {
            return *mark;
        }
    }
    let mark = Mark::decode(bytes);
    remember_mark(bytes.into(), mark);
    mark
}

/// Marks by their bytes, the latest first.
type Remembered = std::collections::VecDeque<(Box<[u8]>, Option<Mark>)>;

/// The marks [`decode_remembered`] answers from.
static REMEMBERED: std::sync::Mutex<Remembered> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

/// Keeps `mark` as what `bytes` decode to.
fn remember_mark(bytes: Box<[u8]>, mark: Option<Mark>) {
    if let Ok(mut remembered) = REMEMBERED.lock() {
        remembered.retain(|(b, _)| *b != bytes);
        remembered.truncate(MARKS_REMEMBERED - 1);
        remembered.push_front((bytes, mark));
    }
}

/// Writes `mark` over the mark in `file` (opened for reading and writing), in place.
fn write_mark(dir: &Dir, file: &std::fs::File, mark: &Mark) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let text = mark.encode();
    file.write_all_at(text.as_bytes(), 0)
        .map_err(Error::io("cannot write", dir.join(VIEW_MARK)))?;
    // The next read of the mark, here or by the next operation, finds these bytes.
    if mark.decodes_back() {
        debug_assert_eq!(Mark::decode(text.as_bytes()), Some(*mark));
        remember_mark(text.into_bytes().into(), Some(*mark));
    }
    Ok(())
}

/// The shards to apply to the view: those the journal names from `mark` on (`None`: every
/// shard), and the point reached.
fn pending(dir: &Dir, mark: Option<Mark>) -> Result<(Option<[bool; CLAIM_SHARDS]>, u64, u64)> {
    let Some(journal) = dir.open_file(JOURNAL)? else {
        return Ok((None, 0, 0));
    };
    let path = dir.join(JOURNAL);
    let io = |e: rustix::io::Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
    let st = rustix::fs::fstat(&journal).map_err(|e| Error::io("cannot stat", &path)(io(e)))?;
    let (ino, len) = (st.st_ino, u64::try_from(st.st_size).unwrap_or(0));
    let offset = match mark {
        Some(m) if m.journal_ino == ino && m.offset <= len => m.offset,
        _ => return Ok((None, ino, len)),
    };
    // What was appended up to the `fstat`, in one `pread` (later appends are the next turn's).
    let want = usize::try_from((len - offset).min(2 * JOURNAL_ROTATE)).unwrap_or(0);
    let mut bytes = vec![0u8; want];
    let read = rustix::io::pread(&journal, &mut bytes[..], offset)
        .map_err(|e| Error::io("cannot read", &path)(io(e)))?;
    bytes.truncate(read);
    let end = offset + bytes.len() as u64;
    let mut shards = [false; CLAIM_SHARDS];
    for byte in bytes {
        match shards.get_mut(usize::from(byte)) {
            Some(shard) => *shard = true,
            None => return Ok((None, ino, end)),
        }
    }
    Ok((Some(shards), ino, end))
}

/// Replaces the journal by an empty one; returns the new one's inode. Appends that still go
/// to the old one come from changes published before this returns: the full rebuild that
/// follows reads them from their shards.
fn rotate_journal(dir: &Dir) -> Result<u64> {
    let temp = format!("{JOURNAL}.{}", std::process::id());
    let _ = dir.remove(&temp);
    drop(dir.create_new(&temp, crate::fs::FILE_MODE)?);
    dir.rename(
        temp.as_ref(),
        JOURNAL.as_ref(),
        rustix::fs::RenameFlags::empty(),
    )
    .map_err(|e| {
        Error::io("cannot replace", dir.join(JOURNAL))(std::io::Error::from_raw_os_error(
            e.raw_os_error(),
        ))
    })?;
    Ok(dir.stat(JOURNAL)?.map_or(0, |st| st.ino))
}

/// The view's writers' turns (see [`publish_view`](super::publish_view)); `full` rebuilds it
/// from every shard.
pub(super) fn converge_view(team: &Store, layout: &Layout, mut full: bool) -> Result<()> {
    let dir = bookkeeping(team)?;
    let path = layout.task_assignments();
    let mut reader = ClaimsReader::over(team.clone());
    for _ in 0..CHASE {
        let Some(held) = dir.try_lock_file(VIEW_LOCK)? else {
            return Ok(());
        };
        // Read and rewritten in place through one descriptor.
        let mark_file = dir.open_read_write(VIEW_MARK, crate::fs::FILE_MODE)?;
        let mark = read_mark_from(&mark_file);
        let view_now = ViewStamp::of(crate::fs::stat(layout.root(), &path)?.as_ref());
        let trusted = mark.filter(|m| m.view.is_file() && m.view == view_now);
        let (mut shards, mut ino, mut end) = pending(&dir, mark)?;
        if full || trusted.is_none() {
            shards = None;
        }
        if shards.is_some_and(|s| !s.contains(&true)) {
            return Ok(());
        }
        if end >= JOURNAL_ROTATE {
            ino = rotate_journal(&dir)?;
            end = 0;
            shards = None;
        }
        let seq = mark.map_or_else(seq_seed, |m| m.seq.wrapping_add(1));
        let previous = trusted.filter(|_| shards.is_some());
        team.pause(PausePoint::ViewRead, &claims_key());
        let Some(written) = write_view(
            layout,
            &path,
            &mut reader,
            shards.as_ref(),
            previous,
            seq,
            view_now,
        )?
        else {
            // The view was replaced or edited while this writer made its bytes: rebuilt from
            // the file now there, in the next turn.
            drop(mark_file);
            drop(held);
            full = true;
            continue;
        };
        // The bash tools' entries keep their identity when the splice kept each of them as
        // its bytes and wrote none; any other write names them by the file it publishes.
        let foreign_id = match previous {
            Some(p) if written.foreign_kept && p.foreign_id.is_file() => p.foreign_id,
            _ => written.view,
        };
        write_mark(
            &dir,
            &mark_file,
            &Mark {
                journal_ino: ino,
                offset: end,
                view: written.view,
                foreign: written.foreign,
                seq,
                foreign_id,
            },
        )?;
        drop(mark_file);
        drop(held);
        full = false;
        let moved = dir
            .stat(JOURNAL)?
            .is_some_and(|st| st.ino != ino || st.size > end);
        if !moved {
            return Ok(());
        }
    }
    Ok(())
}

/// The first sequence number without a mark: the clock's nanoseconds.
fn seq_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}

/// A view written: the stamp of the file published when its writer vouches for it
/// ([`publish_vouched`]), its number of the bash tools' entries, and whether those are the
/// entries of the file it was spliced from, each kept as its bytes (none dropped, none written
/// anew).
struct Written {
    view: ViewStamp,
    foreign: u64,
    foreign_kept: bool,
}

/// Rewrites the view's entries of `shards` (`None`: every shard) from those shards, as write
/// `seq`. `previous` is the mark that vouches for the view on disk: its bytes are spliced when
/// they still match it. `base` is the view's stamp when it was looked at; `None`, with nothing
/// published, when the view is another file by the time the new one would take its name
/// ([`publish_vouched`]).
fn write_view(
    layout: &Layout,
    path: &Path,
    reader: &mut ClaimsReader,
    shards: Option<&[bool; CLAIM_SHARDS]>,
    previous: Option<Mark>,
    seq: u64,
    base: ViewStamp,
) -> Result<Option<Written>> {
    let mut read: Vec<Option<Arc<Claims>>> = vec![None; CLAIM_SHARDS];
    for (shard, slot) in read.iter_mut().enumerate() {
        if shards.is_none_or(|s| s[shard]) {
            *slot = Some(reader.read(shard)?.1);
        }
    }
    if let (Some(mark), Some(_)) = (previous, shards) {
        let found = take_published(path, &mark.view).or_else(|| {
            read_vouched(layout, path, &mark.view).map(|bytes| Published {
                path: path.to_owned(),
                stamp: mark.view,
                bytes,
                lines: None,
                spared: None,
            })
        });
        if let Some(Published {
            mut bytes,
            lines,
            spared,
            ..
        }) = found
        {
            let spliced = match splice(&mut bytes, lines, &read, mark.foreign, path) {
                Ok(Some(spliced)) => spliced,
                Ok(None) => {
                    recycle(bytes);
                    return write_whole(layout, path, reader, read, seq, base);
                }
                Err(e) => {
                    recycle(bytes);
                    return Err(e);
                }
            };
            // The spare holding the file this thread's last publication replaced differs
            // from the new bytes where it differed from the bytes spliced, and where the
            // splice changed those.
            let differs = match (spared, &spliced.changed) {
                (Some((stamp, mut was)), Some(now)) => {
                    was.extend_from_slice(now);
                    Some((stamp, was))
                }
                _ => None,
            };
            let prior = differs.as_ref().map(|(stamp, differs)| Prior {
                ino: stamp.ino,
                size: stamp.size,
                mtime: stamp.mtime,
                differs,
            });
            let Some(stamp) = publish_vouched(layout, path, &bytes, seq, base, prior)? else {
                recycle(bytes);
                return Ok(None);
            };
            // The replaced file, vouched for by `mark`, now waits in a spare slot: it differs
            // from the bytes published only where the splice changed them, and the next
            // write here that takes it rewrites only those.
            let spared = spliced.changed.map(|changed| (mark.view, changed));
            keep_published(path, stamp, bytes, spliced.lines, spared);
            return Ok(Some(Written {
                view: stamp,
                foreign: spliced.foreign,
                foreign_kept: spliced.foreign_kept,
            }));
        }
    }
    write_whole(layout, path, reader, read, seq, base)
}

/// [`write_view`]'s full path: the view parsed, the shards read in `read` applied, the whole
/// document serialized.
fn write_whole(
    layout: &Layout,
    path: &Path,
    reader: &mut ClaimsReader,
    mut read: Vec<Option<Arc<Claims>>>,
    seq: u64,
    base: ViewStamp,
) -> Result<Option<Written>> {
    // A view that is gone or cannot be read is rebuilt from every shard.
    let mut view = match read_json::<TaskAssignments>(layout.root(), path) {
        Ok(Some(view)) => view,
        _ => {
            for (shard, slot) in read.iter_mut().enumerate() {
                if slot.is_none() {
                    *slot = Some(reader.read(shard)?.1);
                }
            }
            TaskAssignments::default()
        }
    };
    let foreign = apply(&mut view, &read);
    let bytes = pretty(&view, path)?;
    let Some(stamp) = publish_vouched(layout, path, &bytes, seq, base, None)? else {
        return Ok(None);
    };
    keep_published(path, stamp, bytes, None, None);
    Ok(Some(Written {
        view: stamp,
        foreign,
        foreign_kept: false,
    }))
}

/// Rewrites the entries of `view` of the shards read in `read` from them (the full path);
/// returns the number of the bash tools' entries in the result.
fn apply(view: &mut TaskAssignments, read: &[Option<Arc<Claims>>]) -> u64 {
    view.tasks.retain(|task, a| match &read[claim_shard(task)] {
        Some(claims) => !is_flowforge_entry(a) && !claims.was_dropped(task, a),
        None => true,
    });
    for claims in read.iter().flatten() {
        for (task, held) in &claims.claims {
            view.tasks.insert(task.clone(), held.assignment.clone());
        }
    }
    view.tasks
        .values()
        .filter(|a| !is_flowforge_entry(a))
        .count() as u64
}

/// `value` as the views are written: pretty JSON and a newline.
fn pretty<T: Serialize + ?Sized>(value: &T, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

thread_local! {
    /// Buffers of a view's bytes (the file read, the file made), kept from one change to the
    /// next in a process: a fresh allocation of that size (~240 bytes per live claim) is
    /// fresh pages, faulted in again at every change.
    static BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty buffer of at least `capacity` bytes, one kept by [`recycle`] if there is one.
fn buffer(capacity: usize) -> Vec<u8> {
    let mut kept = BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    kept.clear();
    kept.reserve(capacity);
    kept
}

/// A view this thread published and vouched for: its path, its stamp, its bytes, where their
/// entries lie when the splice that made them recorded it, and, when that splice edited the
/// bytes of the file it replaced in place, that file's stamp and where its bytes differ from
/// these (offsets into these).
struct Published {
    path: std::path::PathBuf,
    stamp: ViewStamp,
    bytes: Vec<u8>,
    lines: Option<LinesAt>,
    spared: Option<(ViewStamp, Vec<std::ops::Range<usize>>)>,
}

thread_local! {
    /// The view this thread published last.
    static PUBLISHED: std::cell::RefCell<Option<Published>> =
        const { std::cell::RefCell::new(None) };
}

/// What this thread kept of the view at `path` when it published the file `stamp` describes
/// (then its bytes are the file's, by the claim of *Vouching*: a file whose `stat` data are
/// those recorded for a write holds that write's bytes), so the file need not be read.
fn take_published(path: &Path, stamp: &ViewStamp) -> Option<Published> {
    let kept = PUBLISHED.with(|p| p.borrow_mut().take())?;
    if kept.path == path && kept.stamp == *stamp {
        return Some(kept);
    }
    recycle(kept.bytes);
    None
}

/// Keeps `bytes` (with `lines`, where their entries lie, and `spared`, the file they replaced
/// and where it differs from them), published at `path` as the file `stamp` describes, for
/// the next change of this thread ([`take_published`]); a stamp of no file keeps nothing.
///
/// The file replaced waits in a spare slot after the exchange, and by the claim of
/// *Vouching* a slot whose inode, size and modification time are still `spared`'s stamp holds
/// the bytes its writer wrote: the next publication that takes it writes only the ranges
/// where they differ ([`Prior`]).
fn keep_published(
    path: &Path,
    stamp: ViewStamp,
    bytes: Vec<u8>,
    lines: Option<LinesAt>,
    spared: Option<(ViewStamp, Vec<std::ops::Range<usize>>)>,
) {
    if !stamp.is_file() {
        return recycle(bytes);
    }
    let kept = Published {
        path: path.to_owned(),
        stamp,
        bytes,
        lines,
        spared: spared.filter(|(stamp, _)| stamp.is_file()),
    };
    if let Some(old) = PUBLISHED.with(|p| p.borrow_mut().replace(kept)) {
        recycle(old.bytes);
    }
}

/// Keeps `buffer` for the next [`buffer`] of this thread (two at most).
fn recycle(buffer: Vec<u8>) {
    BUFFERS.with(|b| {
        let mut kept = b.borrow_mut();
        if kept.len() < 2 {
            kept.push(buffer);
        }
    });
}

/// The bytes of the view when the file read is the one `stamp` describes, checked by
/// `fstat` after the read (so a file replaced or edited meanwhile is not taken).
fn read_vouched(layout: &Layout, path: &Path, stamp: &ViewStamp) -> Option<Vec<u8>> {
    let file = crate::fs::open_file(layout.root(), path).ok()??;
    // One `pread` into a buffer of at least a byte more than the file should hold: a longer
    // file reads longer.
    let mut bytes = buffer(usize::try_from(stamp.size).ok()? + 1);
    rustix::io::pread(&file, rustix::buffer::spare_capacity(&mut bytes), 0).ok()?;
    let after = FileStat::of(&rustix::fs::fstat(&file).ok()?);
    (ViewStamp::of(Some(&after)) == *stamp && bytes.len() as u64 == stamp.size).then_some(bytes)
}

/// Publishes `bytes` as the view (write `seq`) and vouches for them (see the module
/// documentation): the stamp of the file published when it still holds the sentinel time set
/// before its publication and its length; the stamp of no file (an inode of 0) when it does
/// not, or when the sentinel could not be set.
///
/// The bytes were made from the view as it was when its `stat` gave `base`: with the new file
/// written, and just before it takes the view's name, the view is looked at again, and
/// nothing is published (`None`) when it is not that file any more — the bash tools replaced
/// or edited it meanwhile, and their change would be lost under bytes made without it.
///
/// # Errors
/// Those of the publication ([`write_atomic_then`]); nothing was published then.
fn publish_vouched(
    layout: &Layout,
    path: &Path,
    bytes: &[u8],
    seq: u64,
    base: ViewStamp,
    prior: Option<Prior<'_>>,
) -> Result<Option<ViewStamp>> {
    let len = bytes.len() as u64;
    let mut sealed = None;
    let root = layout.root();
    let published = write_atomic_then(root, path, bytes, Durability::Relaxed, prior, |file| {
        sealed = file.try_clone().ok().and_then(|file| seal(file, len, seq));
        let now = crate::fs::stat(root, path).ok().flatten();
        ViewStamp::of(now.as_ref()) == base
    })?;
    if !published {
        return Ok(None);
    }
    Ok(Some(
        sealed
            .and_then(|(file, sentinel)| sealed_stamp(&file, len, sentinel))
            .unwrap_or_default(),
    ))
}

/// Sets the sentinel of write `seq` as the modification time of `file`, the view's
/// temporary file holding the `len` bytes written, the writer's alone until it is published:
/// one second before the time the kernel gave the write, with the nanoseconds set to `seq`.
/// Returns the file, kept open to be checked once published, and the sentinel; `None` when
/// it cannot be set (nothing is vouched for then).
fn seal(file: std::fs::File, len: u64, seq: u64) -> Option<(std::fs::File, (i64, u32))> {
    use rustix::fs::{Timespec, Timestamps, UTIME_OMIT, fstat, futimens};
    let found = FileStat::of(&fstat(&file).ok()?);
    if found.kind != FileKind::File || found.size != len {
        return None;
    }
    let nanos = u32::try_from(seq % 1_000_000_000).ok()?;
    let sentinel = Timespec {
        tv_sec: found.mtime.0 - 1,
        tv_nsec: nanos.into(),
    };
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: sentinel,
    };
    futimens(&file, &times).ok()?;
    Some((file, (sentinel.tv_sec, nanos)))
}

/// The stamp of `file`, published, when its modification time is still the `sentinel` set
/// before its publication and it still holds `len` bytes: nothing wrote to it since (a write,
/// `truncate` or `mmap` store sets the kernel's clock, which is later than the sentinel).
fn sealed_stamp(file: &std::fs::File, len: u64, sentinel: (i64, u32)) -> Option<ViewStamp> {
    let now = FileStat::of(&rustix::fs::fstat(file).ok()?);
    (now.kind == FileKind::File && now.size == len && now.mtime == sentinel)
        .then(|| ViewStamp::of(Some(&now)))
}

/// The view's document as raw pieces: the `tasks` entries and the other fields, in order,
/// their values as the file's bytes.
struct RawView<'a> {
    tasks: Vec<(&'a str, &'a RawValue)>,
    extra: Vec<(&'a str, &'a RawValue)>,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawView<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> serde::de::Visitor<'de> for Top {
            type Value = RawView<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the view as FlowForge writes it")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut tasks = None;
                let mut extra = Vec::new();
                while let Some(key) = map.next_key::<&'de str>()? {
                    match key {
                        "tasks" if tasks.is_none() => {
                            tasks = Some(map.next_value::<Entries<'de>>()?.0)
                        }
                        // Not FlowForge's own shape: the full model decides.
                        "tasks" | "assignments" => {
                            return Err(serde::de::Error::custom("not the written shape"));
                        }
                        _ => extra.push((key, map.next_value()?)),
                    }
                }
                Ok(RawView {
                    tasks: tasks.unwrap_or_default(),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(Top)
    }
}

/// The `tasks` map's entries in the file's order.
type Entries<'a> = MapEntries<&'a str, &'a RawValue>;

/// One entry of the spliced `tasks` map: the file's bytes, or a claim serialized anew.
enum Entry<'a> {
    Kept(&'a RawValue),
    New(Box<RawValue>),
}

impl Serialize for Entry<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Entry::Kept(raw) => raw.serialize(serializer),
            Entry::New(raw) => raw.serialize(serializer),
        }
    }
}

/// The spliced document, printed as the full model is: `tasks` first, then the other fields.
struct Spliced<'a, 'b> {
    tasks: &'b BTreeMap<TaskId, Entry<'a>>,
    extra: &'b [(&'a str, &'a RawValue)],
}

impl Serialize for Spliced<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1 + self.extra.len()))?;
        map.serialize_entry("tasks", self.tasks)?;
        for (key, value) in self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `assignment` as the full model prints it inside the `tasks` map (JSON serde_json printed,
/// so the lines' splice copies it without checking it again).
fn entry_bytes(assignment: &TaskAssignment, path: &Path) -> Result<String> {
    let text = serde_json::to_string_pretty(assignment).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    Ok(text.replace('\n', ENTRY_INDENT))
}

/// A view spliced (its bytes are the buffer spliced): its number of the bash tools' entries,
/// whether those are the entries of the file spliced, each kept as its bytes (none of the
/// changed shards' was dropped and none was written anew: a claim of an older store, without
/// a session, is one), where its entries lie (when spliced over the lines), and where its
/// bytes differ from those spliced (`None`: anywhere, the bytes were made anew).
struct Splice {
    foreign: u64,
    foreign_kept: bool,
    lines: Option<LinesAt>,
    changed: Option<Vec<std::ops::Range<usize>>>,
}

/// The view `bytes` (the file a mark vouches for, holding `foreign` entries of the bash
/// tools) with the entries of the shards read in `read` rewritten from them, every other
/// entry kept as bytes. `None`, with `bytes` untouched, when they are not in a shape
/// FlowForge writes (the full model then decides).
///
/// The entries are found by their lines ([`splice_lines`]: edited in place; `lines` says
/// where they lie when the splice that made `bytes` recorded it) when the file is printed as
/// FlowForge prints it, which a file the mark vouches for is; otherwise it is scanned as
/// JSON ([`splice_parsed`]: printed anew).
///
/// # Errors
/// [`Error::Json`] when a claim cannot be serialized.
fn splice(
    bytes: &mut Vec<u8>,
    lines: Option<LinesAt>,
    read: &[Option<Arc<Claims>>],
    foreign: u64,
    path: &Path,
) -> Result<Option<Splice>> {
    if let Some(lines) = lines.or_else(|| scan_lines(bytes)) {
        if let Some(spliced) = splice_lines(bytes, lines, read, foreign, path)? {
            return Ok(Some(spliced));
        }
    }
    splice_parsed(bytes, read, foreign, path)
}

/// How the full model prints the start of the view: the `tasks` map first.
const VIEW_HEAD: &[u8] = b"{\n  \"tasks\": {";
/// What starts a line holding an entry's key in the printed `tasks` map.
const ENTRY_HEAD: &[u8] = b"\n    \"";
/// What closes a printed `tasks` map that has entries.
const TASKS_TAIL: &[u8] = b"\n  }";
/// The bytes of holes (entries dropped in place) a view may hold beyond the bytes of its
/// entries before a splice prints it anew without them ([`compact`]).
const HOLES_SLACK: usize = 4096;

/// Where the entries of a printed view lie, as [`scan_lines`] finds them, without borrowing
/// the bytes: a splice records it for the bytes it makes, and the writer keeps it with them
/// ([`keep_published`]), so its next splice of its own file neither searches nor hashes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinesAt {
    /// In file order: the task ids' order in a file printed by the full model, the order
    /// they were added in after its last entry otherwise.
    entries: Vec<EntryAt>,
    /// Each entry's claims shard, in the same order: a splice finds the changed shards'
    /// entries in these bytes rather than in every entry's span (the entries are the team's).
    shards: Vec<u8>,
    /// The bytes of the entries' spans, summed.
    live: usize,
    /// The offset just past the `tasks` map's closing brace.
    tasks_end: usize,
}

impl LinesAt {
    /// `entries` and what they give the other fields.
    fn new(entries: Vec<EntryAt>, tasks_end: usize) -> Self {
        Self {
            shards: entries.iter().map(|e| shard_byte(e.2)).collect(),
            live: entries.iter().map(|e| e.0.len()).sum(),
            entries,
            tasks_end,
        }
    }

    /// Adds an entry after the others.
    fn push(&mut self, entry: EntryAt) {
        self.shards.push(shard_byte(entry.2));
        self.live += entry.0.len();
        self.entries.push(entry);
    }

    /// Removes the entries at `dropped` (positions in order).
    fn remove(&mut self, dropped: &[usize]) {
        for &i in dropped {
            self.live -= self.entries[i].0.len();
        }
        match *dropped {
            [] => {}
            // A claim released: one entry out, the rest moved down by one copy, not looked
            // at one by one.
            [i] => {
                self.entries.remove(i);
                self.shards.remove(i);
            }
            _ => {
                let keep = |v: usize| dropped.binary_search(&v).is_err();
                let mut i = 0;
                self.entries.retain(|_| (keep(i), i += 1).0);
                let mut i = 0;
                self.shards.retain(|_| (keep(i), i += 1).0);
            }
        }
    }
}

/// A claims shard's number as a byte (there are [`CLAIM_SHARDS`], at most 64: a splice's set
/// of changed shards is a `u64`).
fn shard_byte(shard: usize) -> u8 {
    const _: () = assert!(CLAIM_SHARDS <= 64);
    (shard % CLAIM_SHARDS) as u8
}

/// Where an entry of the printed `tasks` map lies: its span, from its line's start (the
/// newline before its key) to the end of its value (its comma excluded), the length of its
/// key (which starts after [`ENTRY_HEAD`]), and its key's claims shard.
type EntryAt = (std::ops::Range<usize>, usize, usize);

/// What separates an entry's key from its value.
const VALUE_HEAD: &[u8] = b"\": ";

/// The key and the value of `entry` in `bytes`; `None` when they do not fit.
fn entry_at<'a>(bytes: &'a [u8], entry: &EntryAt) -> Option<(&'a [u8], &'a [u8])> {
    let (span, key_len, _) = entry;
    let key_start = span.start + ENTRY_HEAD.len();
    let key_end = key_start + key_len;
    Some((
        bytes.get(key_start..key_end)?,
        bytes.get(key_end + VALUE_HEAD.len()..span.end)?,
    ))
}

/// `bytes` without the spaces and line breaks at their end (a hole's bytes).
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let kept = (bytes.iter())
        .rposition(|&b| b != b' ' && b != b'\n')
        .map_or(0, |i| i + 1);
    &bytes[..kept]
}

/// The entries of the `tasks` map of `bytes` printed as FlowForge prints the view; `None`
/// when the bytes are not printed that way (a task named twice included). Found by two
/// searches (`memmem`), not by parsing: inside the map every line is blank or indented by four
/// spaces or more (an entry's value deeper than its key), and a JSON string never holds a raw
/// newline, so the first line of two spaces and a brace closes the map, and each line of
/// exactly four spaces and a quote starts an entry (the previous one ending with its comma).
///
/// FlowForge prints a view as the full model does, or as a splice leaves it: entries dropped
/// become spaces, their line breaks kept (their commas too), and entries added go after the
/// last one, so between two entries there is whitespace and one comma, and whitespace before
/// the first and after the last (any JSON reader reads the same document).
fn scan_lines(bytes: &[u8]) -> Option<LinesAt> {
    use memchr::memmem;
    let start = VIEW_HEAD.len();
    if !bytes.starts_with(VIEW_HEAD) {
        return None;
    }
    if bytes.get(start) == Some(&b'}') {
        return Some(LinesAt::new(Vec::new(), start + 1));
    }
    let end = start + memmem::find(&bytes[start..], TASKS_TAIL)?;
    let map = &bytes[start..end];
    let mut heads = memmem::find_iter(map, ENTRY_HEAD).peekable();
    let first = heads.peek().copied().unwrap_or(map.len());
    if !trim_spaces(&map[..first]).is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    let mut keys = Vec::new();
    let mut in_order = true;
    while let Some(head) = heads.next() {
        let next = heads.peek().copied();
        let entry = trim_spaces(&map[head + ENTRY_HEAD.len()..next.unwrap_or(map.len())]);
        let entry = match next {
            Some(_) => trim_spaces(entry.strip_suffix(b",")?),
            // A value never ends with a comma: one after the last entry is not JSON.
            None if entry.ends_with(b",") => return None,
            None => entry,
        };
        let quote = memchr::memchr(b'"', entry)?;
        let key = &entry[..quote];
        entry[quote..].strip_prefix(VALUE_HEAD)?;
        in_order &= keys.last().is_none_or(|&last| last < key);
        keys.push(key);
        let from = start + head;
        entries.push((
            from..from + ENTRY_HEAD.len() + entry.len(),
            key.len(),
            super::shard_of_id(std::str::from_utf8(key).ok()?),
        ));
    }
    // Each task once: seen in one pass when the keys are in order (as the full model prints
    // them), by sorting them otherwise.
    if !in_order {
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
    }
    Some(LinesAt::new(entries, end + TASKS_TAIL.len()))
}

/// [`splice`] over the view's lines, editing `bytes` in place: only the changed shards'
/// entries are looked at. Each that its shard no longer holds as it is printed becomes spaces,
/// its line breaks kept, with a comma next to it (the one after it, or the one after the
/// entry kept last when it was the last); each claim not already printed goes after the last
/// entry, before the map's closing brace. The untouched entries are neither parsed, checked
/// again (the mark vouches that FlowForge wrote them, from valid task ids) nor moved, so a
/// change costs one pass over the entries' spans (their shards looked at) and the bytes it
/// edits, whatever the number of claims; once the holes outweigh the entries (and
/// [`HOLES_SLACK`]) the view is printed anew without them ([`compact`]). `None`, with `bytes`
/// untouched, when the bytes are not printed as FlowForge prints the view (a task twice, a
/// changed shard's entry that is not a valid task id or assignment).
///
/// # Errors
/// [`Error::Json`] when a claim cannot be serialized.
fn splice_lines(
    bytes: &mut Vec<u8>,
    mut lines: LinesAt,
    read: &[Option<Arc<Claims>>],
    foreign: u64,
    path: &Path,
) -> Result<Option<Splice>> {
    // The changed shards' claims as the full model prints them (each claim printed once:
    // [`Held::entry`]), by key: whether each is in the file already as it prints.
    let mut new: Vec<(&str, &str, usize, bool)> = Vec::new();
    // The bash tools' entries written anew: claims of an older store, without a session.
    let mut written = 0u64;
    for (shard, claims) in read.iter().enumerate() {
        for (task, held) in claims.iter().flat_map(|c| &c.claims) {
            written += u64::from(!is_flowforge_entry(&held.assignment));
            let entry = held.entry(|assignment| entry_bytes(assignment, path))?;
            new.push((task.as_str(), entry, shard, false));
        }
    }
    new.sort_unstable_by(|a, b| a.0.cmp(b.0));
    // The changed shards' entries dropped, by position; the bash tools' entries of those
    // shards: in the file, and kept as they are; the bytes of the entries kept.
    let entries = &lines.entries[..];
    let mut dropped = Vec::new();
    let (mut before, mut after) = (0u64, 0u64);
    let changed_shards = (read.iter().enumerate())
        .filter(|(_, claims)| claims.is_some())
        .fold(0u64, |set, (shard, _)| set | 1 << shard_byte(shard));
    let of_changed_shards = (lines.shards.iter().enumerate())
        .filter(|&(_, &shard)| changed_shards >> shard & 1 == 1)
        .map(|(i, _)| i);
    for i in of_changed_shards {
        let entry = &entries[i];
        let Some(Some(claims)) = read.get(entry.2) else {
            return Ok(None);
        };
        let Some((key, value)) = entry_at(bytes, entry) else {
            return Ok(None);
        };
        let Some(task) = std::str::from_utf8(key)
            .ok()
            .and_then(|k| TaskId::new(k).ok())
        else {
            return Ok(None);
        };
        let keep = if names_session(value) {
            // FlowForge's entry: kept when it is what its claim prints now, else dropped
            // unparsed (its shard's claims are the whole truth).
            match new.binary_search_by(|c| c.0.as_bytes().cmp(key)) {
                Ok(j) if new[j].1.as_bytes() == value => {
                    if new[j].3 {
                        // A task twice: not a file FlowForge wrote.
                        return Ok(None);
                    }
                    new[j].3 = true;
                    true
                }
                _ => false,
            }
        } else {
            let Ok(a) = serde_json::from_slice::<TaskAssignment>(value) else {
                return Ok(None);
            };
            let bash = !is_flowforge_entry(&a);
            before += u64::from(bash);
            let kept = bash && !claims.was_dropped(&task, &a) && !claims.claims.contains_key(&task);
            after += u64::from(kept);
            kept
        };
        if !keep {
            dropped.push(i);
        }
    }
    let Some(foreign) = foreign.checked_sub(before) else {
        return Ok(None);
    };
    // The runs to blank: each entry dropped with the comma after it; the comma after the
    // entry kept last when the last entry is dropped (the one before a dropped last entry).
    let comma_after = |i: usize| -> Option<usize> {
        let gap = entries[i].0.end..entries.get(i + 1)?.0.start;
        memchr::memchr(b',', bytes.get(gap.clone())?).map(|at| gap.start + at)
    };
    let mut blanks = Vec::with_capacity(dropped.len() + 1);
    for &i in &dropped {
        let end = match i + 1 < entries.len() {
            true => match comma_after(i) {
                Some(comma) => comma + 1,
                None => return Ok(None),
            },
            false => entries[i].0.end,
        };
        blanks.push(entries[i].0.start..end);
    }
    if dropped.last().is_some_and(|&d| d + 1 == entries.len()) {
        let mut k = entries.len() - 1;
        for &d in dropped.iter().rev() {
            if d != k {
                break;
            }
            k = k.wrapping_sub(1);
        }
        if k < entries.len() {
            let Some(comma) = comma_after(k) else {
                return Ok(None);
            };
            blanks.push(comma..comma + 1);
        }
    }
    // Where the claims not printed yet go: before the map's closing brace, after the spaces
    // before it; a map printed empty (`{}`) is opened up.
    let close = lines.tasks_end;
    let (insert_at, closing): (usize, &[u8]) = if close >= TASKS_TAIL.len()
        && bytes.get(close - TASKS_TAIL.len()..close) == Some(TASKS_TAIL)
    {
        (close - TASKS_TAIL.len(), b"")
    } else if close >= 2 && bytes.get(close - 2..close) == Some(b"{}") {
        (close - 1, b"\n  ")
    } else {
        return Ok(None);
    };
    // Every check made: the bytes are edited from here on.
    for run in &blanks {
        // Line breaks kept: a hole reads as blank lines.
        for byte in &mut bytes[run.clone()] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    }
    let mut changed = blanks;
    lines.remove(&dropped);
    let mut added = Vec::new();
    let mut any = !lines.entries.is_empty();
    for (key, value, shard, _) in new.iter().filter(|c| !c.3) {
        if any {
            added.push(b',');
        }
        any = true;
        let start = insert_at + added.len();
        for part in [ENTRY_HEAD, key.as_bytes(), VALUE_HEAD, value.as_bytes()] {
            added.extend_from_slice(part);
        }
        lines.push((start..insert_at + added.len(), key.len(), *shard));
    }
    if !added.is_empty() {
        added.extend_from_slice(closing);
        bytes.splice(insert_at..insert_at, added.iter().copied());
        lines.tasks_end += added.len();
        changed.push(insert_at..bytes.len());
    }
    let map = lines.tasks_end - VIEW_HEAD.len();
    let live = lines.live;
    let holes = map.saturating_sub(live + lines.entries.len() + TASKS_TAIL.len());
    let changed = if holes > live.max(HOLES_SLACK) {
        compact(bytes, &mut lines);
        None
    } else {
        Some(changed)
    };
    Ok(Some(Splice {
        foreign: foreign + after + written,
        foreign_kept: after == before && written == 0,
        lines: Some(lines),
        changed,
    }))
}

/// Prints the view `bytes`, whose entries lie where `lines` says, anew as the full model
/// prints it: its entries in key order, without holes, the rest as it was; `lines` then says
/// where they lie in the new bytes.
fn compact(bytes: &mut Vec<u8>, lines: &mut LinesAt) {
    let key = |e: &EntryAt| entry_at(bytes, e).map(|(key, _)| key);
    let mut order: Vec<&EntryAt> = lines.entries.iter().collect();
    order.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    let mut out = buffer(bytes.len());
    out.extend_from_slice(VIEW_HEAD);
    let mut at = Vec::with_capacity(order.len());
    for (k, (span, key_len, shard)) in order.into_iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let start = out.len();
        out.extend_from_slice(&bytes[span.clone()]);
        at.push((start..out.len(), *key_len, *shard));
    }
    if at.is_empty() {
        out.push(b'}');
    } else {
        out.extend_from_slice(TASKS_TAIL);
    }
    let tasks_end = out.len();
    out.extend_from_slice(&bytes[lines.tasks_end..]);
    *lines = LinesAt::new(at, tasks_end);
    recycle(std::mem::replace(bytes, out));
}

/// How the full model prints an entry's [`SESSION_FIELD`](super::SESSION_FIELD) holding a
/// string: a line of the entry's value (two spaces deeper than its key), the field's name,
/// and the opening quote of its value.
const SESSION_LINE: &[u8] = b"\n      \"session_id\": \"";

/// Whether `value`, an entry's value printed as the full model prints it, is FlowForge's
/// ([`is_flowforge_entry`]: it names its session), found without parsing it: a line of the
/// value's own fields (exactly six spaces; a field of a nested value is deeper, and a JSON
/// string never holds a raw newline) naming the session field with a string. Each key is
/// printed once and as written, so this is the parse's answer.
fn names_session(value: &[u8]) -> bool {
    // Built once: a search built per call costs more than the search of a short value.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(SESSION_LINE));
    FINDER.find(value).is_some()
}

/// [`splice`] by scanning the view as a map of borrowed raw JSON values: `bytes` become the
/// document printed anew (untouched when it is `None`).
///
/// # Errors
/// [`Error::Json`] when a claim cannot be serialized.
fn splice_parsed(
    bytes: &mut Vec<u8>,
    read: &[Option<Arc<Claims>>],
    foreign: u64,
    path: &Path,
) -> Result<Option<Splice>> {
    let Ok(view) = serde_json::from_slice::<RawView<'_>>(bytes.as_slice()) else {
        return Ok(None);
    };
    let mut tasks = BTreeMap::new();
    // The bash tools' entries of the rewritten shards: in the file, and kept as they are.
    let (mut before, mut after) = (0u64, 0u64);
    for (key, raw) in view.tasks {
        let Ok(task) = TaskId::new(key) else {
            return Ok(None);
        };
        let entry = match &read[claim_shard(&task)] {
            None => Some(Entry::Kept(raw)),
            Some(claims) => {
                let Ok(a) = serde_json::from_str::<TaskAssignment>(raw.get()) else {
                    return Ok(None);
                };
                let bash = !is_flowforge_entry(&a);
                before += u64::from(bash);
                let kept =
                    bash && !claims.was_dropped(&task, &a) && !claims.claims.contains_key(&task);
                after += u64::from(kept);
                kept.then_some(Entry::Kept(raw))
            }
        };
        if let Some(entry) = entry {
            if tasks.insert(task, entry).is_some() {
                // A task named twice: not a file FlowForge wrote.
                return Ok(None);
            }
        }
    }
    // The bash tools' entries written anew (claims of an older store, without a session).
    let mut written = 0u64;
    for claims in read.iter().flatten() {
        for (task, held) in &claims.claims {
            written += u64::from(!is_flowforge_entry(&held.assignment));
            let printed =
                RawValue::from_string(entry_bytes(&held.assignment, path)?).map_err(|source| {
                    Error::Json {
                        path: path.to_owned(),
                        source,
                    }
                })?;
            tasks.insert(task.clone(), Entry::New(printed));
        }
    }
    let Some(foreign) = foreign.checked_sub(before) else {
        return Ok(None);
    };
    let spliced = Spliced {
        tasks: &tasks,
        extra: &view.extra,
    };
    let printed = pretty(&spliced, path)?;
    let spliced = Splice {
        foreign: foreign + after + written,
        foreign_kept: after == before && written == 0,
        lines: None,
        changed: None,
    };
    recycle(std::mem::replace(bytes, printed));
    Ok(Some(spliced))
}

#[cfg(test)]
mod tests {
    use flowforge_core::DeveloperId;
    use jiff::Timestamp;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::claim::Held;

    const TASKS: usize = 40;

    fn task(i: usize) -> TaskId {
        TaskId::new(&format!("task-{i:02}")).unwrap()
    }

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_758_182_400 + minute * 60).unwrap()
    }

    /// An assignment by developer `d` at `minute`: FlowForge's (with a session) or the bash
    /// tools' (with a field of their own).
    fn assignment(d: usize, minute: i64, flowforge: bool) -> TaskAssignment {
        let mut extra = serde_json::Map::new();
        if flowforge {
            extra.insert("session_id".into(), Value::from(format!("s-{d}-{minute}")));
        } else {
            // A session field deeper down, or not a string, does not make it FlowForge's.
            extra.insert(
                "note".into(),
                serde_json::json!({"from": "bash", "n": [d, 1], "session_id": "s-deeper"}),
            );
            if d % 2 == 0 {
                extra.insert("session_id".into(), Value::Null);
            }
        }
        TaskAssignment {
            assignee: DeveloperId::new(&format!("dev-{d}")).unwrap(),
            status: if flowforge { "claimed" } else { "in_progress" }.into(),
            claimed_at: at(minute),
            extra,
        }
    }

    /// Claims of every shard: task index → (developer, minute, FlowForge's or an older
    /// store's claim without a session), and the bash tools' entries taken over (`dropped`).
    type State = (BTreeMap<usize, (usize, i64, bool)>, BTreeMap<usize, i64>);

    fn shards(state: &State) -> Vec<Claims> {
        let mut all = vec![Claims::default(); CLAIM_SHARDS];
        for (&i, &(d, minute, flowforge)) in &state.0 {
            let held = Held::new(assignment(d, minute, flowforge), 1);
            all[claim_shard(&task(i))].claims.insert(task(i), held);
        }
        for (&i, &minute) in &state.1 {
            all[claim_shard(&task(i))]
                .dropped
                .insert(task(i), at(minute));
        }
        all
    }

    fn state() -> impl Strategy<Value = State> {
        (
            prop::collection::btree_map(
                0..TASKS,
                (0..5usize, 0..3i64, prop::bool::weighted(0.9)),
                0..TASKS,
            ),
            prop::collection::btree_map(0..TASKS, 0..3i64, 0..4),
        )
    }

    #[test]
    fn an_entry_names_its_session_on_a_line_of_its_own_fields() {
        let path = Path::new("task-assignments.json");
        let line = format!("\n      \"{}\": \"", super::super::SESSION_FIELD);
        assert_eq!(SESSION_LINE, line.as_bytes());
        for (d, flowforge) in [(1, true), (2, true), (1, false), (2, false)] {
            let a = assignment(d, 0, flowforge);
            let printed = entry_bytes(&a, path).unwrap();
            assert_eq!(names_session(printed.as_bytes()), flowforge, "{printed}");
            assert_eq!(is_flowforge_entry(&a), flowforge);
        }
    }

    /// The entries of the view `bytes` in the file's order, each as the full model reads it,
    /// tasks named twice included, and its other fields: what any JSON reader (the bash
    /// tools' `jq`) reads.
    fn document(bytes: &[u8]) -> (Vec<(TaskId, TaskAssignment)>, Value) {
        let raw: RawView<'_> = serde_json::from_slice(bytes).expect("JSON");
        let tasks = (raw.tasks.iter())
            .map(|(k, v)| {
                let a = serde_json::from_str(v.get()).expect("an assignment");
                (TaskId::new(k).unwrap(), a)
            })
            .collect();
        let extra = (raw.extra.iter())
            .map(|(k, v)| ((*k).to_owned(), serde_json::from_str(v.get()).unwrap()))
            .collect::<serde_json::Map<_, _>>();
        (tasks, Value::Object(extra))
    }

    /// The bash tools' entries of `view`.
    fn bash_of(v: &TaskAssignments) -> BTreeMap<TaskId, TaskAssignment> {
        (v.tasks.iter())
            .filter(|(_, a)| !is_flowforge_entry(a))
            .map(|(t, a)| (t.clone(), a.clone()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A shard is stored as the bytes its model serializes to, whether its claims print
        /// for the first time, again, or in a copy; and a claim's view entry is the one the
        /// view's printer prints, the first time and after.
        #[test]
        fn claims_printed_once_print_what_the_model_prints(
            state in state(),
            dropped_by in prop::collection::btree_map(0..TASKS, 0..5usize, 0..4),
        ) {
            let path = Path::new("task-assignments.json");
            for (shard, mut claims) in shards(&state).into_iter().enumerate() {
                for (&i, &d) in dropped_by.iter().filter(|(i, _)| claim_shard(&task(**i)) == shard) {
                    let dev = DeveloperId::new(&format!("dev-{d}")).unwrap();
                    claims.dropped_by.insert(task(i), dev);
                }
                let model = serde_json::to_vec(&claims).unwrap();
                prop_assert_eq!(&serde_json::to_vec(&crate::claim::Stored(&claims)).unwrap(), &model);
                prop_assert_eq!(&serde_json::to_vec(&crate::claim::Stored(&claims)).unwrap(), &model);
                let copy = claims.clone();
                prop_assert_eq!(&serde_json::to_vec(&crate::claim::Stored(&copy)).unwrap(), &model);
                prop_assert_eq!(&serde_json::from_slice::<Claims>(&model).unwrap(), &claims);
                for held in claims.claims.values() {
                    let printed = entry_bytes(&held.assignment, path).unwrap();
                    for _ in 0..2 {
                        let entry = held.entry(|a| entry_bytes(a, path)).unwrap();
                        prop_assert_eq!(entry, printed.as_str());
                    }
                }
            }
        }

        /// Splices of the changed shards' entries into the bytes FlowForge wrote, one after
        /// another, give the document (and the count of the bash tools' entries) of the full
        /// path: the whole file parsed into the model, those shards' entries replaced,
        /// serialized whole — each task once, as any JSON reader reads it. Each says where its
        /// entries lie as a scan of its bytes finds them, and where its bytes differ from
        /// those spliced; printed anew without holes, they are the full model's bytes. Each
        /// says the bash tools' entries are kept exactly when none of the changed shards' was
        /// dropped or replaced and no claim without a session was written, and then they are
        /// the file's.
        #[test]
        fn the_splice_writes_what_the_full_model_writes(
            old in state(),
            bash in prop::collection::btree_map(0..TASKS, (0..5usize, 0..3i64), 0..8),
            extra in prop::option::of(Just(serde_json::json!({"version": 2, "meta": {"a": [1, "x"]}}))),
            steps in prop::collection::vec(
                (
                    state(),
                    prop::collection::btree_set(0..CLAIM_SHARDS, 0..6),
                    prop::collection::vec(0..TASKS, 0..4),
                    prop::bool::weighted(0.2),
                ),
                1..6,
            ),
        ) {
            let path = Path::new("task-assignments.json");
            // The view on disk: the bash tools' entries, then a full rebuild over them.
            let mut view = TaskAssignments::default();
            for (&i, &(d, minute)) in &bash {
                view.tasks.insert(task(i), assignment(d, minute, false));
            }
            if let Some(Value::Object(fields)) = &extra {
                view.extra = fields.clone().into_iter().collect();
            }
            let everything: Vec<Option<Arc<Claims>>> =
                shards(&old).into_iter().map(|c| Some(Arc::new(c))).collect();
            let mut foreign = apply(&mut view, &everything);
            let bytes = pretty(&view, path).unwrap();
            // Both ways of splicing the first change: over the lines (what FlowForge's own
            // file takes) and over the parsed raw values (any other file in the written
            // shape). Then the lines' bytes take the next changes, from the lines recorded
            // or (`rescan`) found again.
            let mut lined = bytes.clone();
            let mut lines = None;
            for (k, (now, changed, also_changed, rescan)) in steps.into_iter().enumerate() {
                // The shards named change (and those of a few tasks, so that changes meet
                // the entries there).
                let mut changed = changed;
                changed.extend(also_changed.iter().map(|&i| claim_shard(&task(i))));
                let read = read_of(&now, &changed);
                let mut full = view.clone();
                let full_foreign = apply(&mut full, &read);
                let full_bytes = pretty(&full, path).unwrap();
                let full_doc = document(&full_bytes);
                // The bash tools' entries kept: each of the changed shards' still there as it
                // was and not a claim's, and no claim without a session written.
                let kept = bash_of(&view).iter().all(|(t, a)| match &read[claim_shard(t)] {
                    Some(claims) => !claims.claims.contains_key(t) && full.tasks.get(t) == Some(a),
                    None => true,
                });
                let none_written = (read.iter().flatten())
                    .all(|c| c.claims.values().all(|h| is_flowforge_entry(&h.assignment)));
                if k == 0 {
                    let mut parsed = bytes.clone();
                    let spliced = splice_parsed(&mut parsed, &read, foreign, path).unwrap().unwrap();
                    prop_assert_eq!(&parsed, &full_bytes);
                    prop_assert_eq!(spliced.foreign, full_foreign);
                    prop_assert!(spliced.changed.is_none());
                    prop_assert_eq!(spliced.foreign_kept, kept && none_written);
                }
                let was = lined.clone();
                let known = if rescan { None } else { lines.take() };
                let spliced = splice(&mut lined, known, &read, foreign, path)
                    .unwrap()
                    .expect("a file printed as FlowForge prints it");
                // The same document as the full model's, whatever the order and the holes.
                let (tasks, fields) = document(&lined);
                let by_task: BTreeMap<_, _> = tasks.iter().cloned().collect();
                prop_assert_eq!(by_task.len(), tasks.len(), "a task named twice");
                prop_assert_eq!(&by_task, &full_doc.0.iter().cloned().collect::<BTreeMap<_, _>>());
                prop_assert_eq!(&fields, &full_doc.1);
                prop_assert_eq!(spliced.foreign, full_foreign);
                let recorded = spliced.lines.clone().expect("a splice over the lines records them");
                prop_assert_eq!(&recorded, &scanned(&lined));
                match &spliced.changed {
                    // Edited in place: the bytes outside the ranges named are those spliced.
                    Some(changed) => {
                        for i in 0..lined.len().min(was.len()) {
                            if lined[i] != was[i] {
                                prop_assert!(changed.iter().any(|r| r.contains(&i)), "byte {i} changed unnamed");
                            }
                        }
                        if lined.len() > was.len() {
                            prop_assert!(changed.iter().any(|r| r.contains(&was.len())));
                        }
                    }
                    // Printed anew: the full model's bytes.
                    None => prop_assert_eq!(&lined, &full_bytes),
                }
                // Printed anew without the holes: the full model's bytes.
                let (mut compacted, mut at) = (lined.clone(), recorded.clone());
                compact(&mut compacted, &mut at);
                prop_assert_eq!(&compacted, &full_bytes);
                prop_assert_eq!(&at, &scanned(&compacted));
                prop_assert_eq!(spliced.foreign_kept, kept && none_written);
                if spliced.foreign_kept {
                    prop_assert_eq!(bash_of(&full), bash_of(&view));
                }
                lines = spliced.lines;
                view = full;
                foreign = full_foreign;
            }
        }
    }

    /// A view that only takes claims and releases them, edited in place change after change,
    /// stays within its live entries' size and [`HOLES_SLACK`] of holes: printed anew without
    /// them when they outweigh the entries, and then it is the full model's print.
    #[test]
    fn holes_left_by_releases_are_closed_before_they_outweigh_the_entries() {
        let path = Path::new("task-assignments.json");
        let mut state: State = (BTreeMap::new(), BTreeMap::new());
        let mut view = TaskAssignments::default();
        let mut bytes = pretty(&view, path).unwrap();
        let (mut lines, mut foreign, mut compacted) = (None, 0, 0);
        for step in 0..2_000usize {
            // Up to 30 tasks held: one released, another taken, each a new claim.
            let task_now = (step * 7) % TASKS;
            let changed = if state.0.len() >= 30 || state.0.contains_key(&task_now) {
                let released = *state.0.keys().nth(step % state.0.len()).unwrap();
                state.0.remove(&released);
                released
            } else {
                state
                    .0
                    .insert(task_now, (step % 5, (step % 3) as i64, true));
                task_now
            };
            let changed = std::collections::BTreeSet::from([claim_shard(&task(changed))]);
            let read = read_of(&state, &changed);
            foreign = apply(&mut view, &read);
            let spliced = splice(&mut bytes, lines.take(), &read, foreign, path)
                .unwrap()
                .expect("its own bytes");
            let full = pretty(&view, path).unwrap();
            assert!(
                bytes.len() <= full.len() + full.len().max(HOLES_SLACK),
                "{} bytes for {} live at step {step}",
                bytes.len(),
                full.len()
            );
            if spliced.changed.is_none() {
                compacted += 1;
                assert_eq!(bytes, full);
            }
            lines = spliced.lines;
        }
        assert!(compacted > 10, "printed anew {compacted} times");
        assert_eq!(foreign, 0);
    }

    /// The shards `changed` as a change reads them, from the claims of `state`.
    fn read_of(
        state: &State,
        changed: &std::collections::BTreeSet<usize>,
    ) -> Vec<Option<Arc<Claims>>> {
        let now = shards(state);
        (0..CLAIM_SHARDS)
            .map(|s| changed.contains(&s).then(|| Arc::new(now[s].clone())))
            .collect()
    }

    /// Where [`scan_lines`] finds the entries of `bytes`.
    fn scanned(bytes: &[u8]) -> LinesAt {
        scan_lines(bytes).expect("printed as the model prints it")
    }

    #[test]
    fn a_view_not_in_the_written_shape_is_left_to_the_full_model() {
        let path = Path::new("task-assignments.json");
        let read: Vec<Option<Arc<Claims>>> = (0..CLAIM_SHARDS)
            .map(|_| Some(Arc::new(Claims::default())))
            .collect();
        let entry = r#"{"assignee": "a", "status": "s", "claimed_at": "2025-09-18T08:00:00Z"}"#;
        for doc in [
            format!(r#"{{"assignments": {{"t-1": {entry}}}}}"#),
            format!(r#"{{"tasks": {{"t-1": {entry}}}, "tasks": {{}}}}"#),
            format!(r#"{{"tasks": {{"t-1": {entry}, "t-1": {entry}}}}}"#),
            format!(r#"{{"tasks": {{"bad/task": {entry}}}}}"#),
            r#"{"tasks": {"t-1": {"assignee": 7}}}"#.to_owned(),
            r#"{"tasks": [1]}"#.to_owned(),
            "not json".to_owned(),
        ] {
            assert!(
                splice(&mut doc.clone().into_bytes(), None, &read, 1, path)
                    .unwrap()
                    .is_none(),
                "{doc}"
            );
        }
        // Printed as the model prints it but not what it would print: out of order (as a
        // splice leaves it), a task twice, an id that is not a task id. The lines take only
        // the first; so does the parse, which puts entries in order itself.
        let pretty_entry = "{\n      \"assignee\": \"a\",\n      \"status\": \"s\",\n      \"claimed_at\": \"2025-09-18T08:00:00Z\"\n    }";
        for keys in [["t-2", "t-1"], ["t-1", "t-1"], ["t-1", "bad/task"]] {
            let doc = format!(
                "{{\n  \"tasks\": {{\n    \"{}\": {pretty_entry},\n    \"{}\": {pretty_entry}\n  }}\n}}\n",
                keys[0], keys[1]
            );
            let taken = keys[0] != keys[1] && keys[1] != "bad/task";
            let mut bytes = doc.clone().into_bytes();
            let lined = scan_lines(&bytes)
                .map(|lines| splice_lines(&mut bytes, lines, &read, 2, path).unwrap());
            assert_eq!(lined.flatten().is_some(), taken, "{doc}");
            assert_eq!(bytes, doc.as_bytes(), "left untouched");
            assert_eq!(
                splice(&mut doc.clone().into_bytes(), None, &read, 2, path)
                    .unwrap()
                    .is_some(),
                taken,
                "{doc}"
            );
        }
        // A count the file cannot have (fewer of the bash tools' entries than it holds).
        let doc = format!(r#"{{"tasks": {{"t-1": {entry}}}}}"#);
        assert!(
            splice(&mut doc.clone().into_bytes(), None, &read, 0, path)
                .unwrap()
                .is_none()
        );
        assert!(
            splice(&mut doc.clone().into_bytes(), None, &read, 1, path)
                .unwrap()
                .is_some()
        );
    }

    /// The vouch's own check: a sealed file is vouched for until anything writes to it —
    /// the same bytes written again in place, a truncation, an append — and the sentinel is
    /// before the write's own time, with the write's sequence number as its nanoseconds.
    #[test]
    fn a_sealed_file_is_vouched_for_until_it_is_written_to() {
        use std::{io::Write, os::unix::fs::FileExt};
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"{\n  \"tasks\": {}\n}\n";
        let len = bytes.len() as u64;
        type Edit<'a> = (&'a str, &'a dyn Fn(&std::fs::File));
        let edits: [Edit<'_>; 4] = [
            ("nothing", &|_| {}),
            ("the same bytes in place", &|f| {
                f.write_all_at(bytes, 0).unwrap()
            }),
            ("truncated to its length", &|f| f.set_len(len).unwrap()),
            ("appended to and cut back", &|mut f| {
                f.write_all(b" ").unwrap();
                f.set_len(len).unwrap();
            }),
        ];
        for (seq, (what, edit)) in (7u64..).zip(edits) {
            let path = dir.path().join(format!("view-{seq}.json"));
            std::fs::write(&path, bytes).unwrap();
            let written = std::fs::metadata(&path).unwrap();
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            let (file, sentinel) = seal(file, len, seq).unwrap();
            assert_eq!(sentinel.1 as u64, seq);
            assert_eq!(
                sentinel.0,
                std::os::unix::fs::MetadataExt::mtime(&written) - 1
            );
            // Another descriptor, as anyone else would write through.
            edit(&std::fs::OpenOptions::new().write(true).open(&path).unwrap());
            let stamp = sealed_stamp(&file, len, sentinel);
            if what == "nothing" {
                let stamp = stamp.expect("an untouched file is vouched for");
                assert_eq!(stamp.mtime, sentinel);
                assert_eq!(stamp.size, len);
            } else {
                assert_eq!(stamp, None, "{what}: vouched for");
            }
        }
        // A file of another length than the bytes written is never sealed.
        let path = dir.path().join("short.json");
        std::fs::write(&path, &bytes[1..]).unwrap();
        assert!(seal(std::fs::File::open(&path).unwrap(), len, 1).is_none());
    }

    /// The first format, as its writers wrote it and its readers read it (at most 512 bytes,
    /// decoded whole): what older FlowForge processes do with a mark.
    fn first_format(mark: &Mark) -> String {
        let body = format!("{} {:020}", fields_by_format(mark), mark.seq);
        format!("{body} {:016x}\n", checksum(body.as_bytes()))
    }

    /// The fields both formats start a mark with, as `format!` prints them.
    fn fields_by_format(mark: &Mark) -> String {
        format!(
            "{:020} {:020} {:020} {:020} {:020} {:010} {:020} {:010} {:020}",
            mark.journal_ino,
            mark.offset,
            mark.view.ino,
            mark.view.size,
            mark.view.mtime.0,
            mark.view.mtime.1,
            mark.view.ctime.0,
            mark.view.ctime.1,
            mark.foreign,
        )
    }

    /// The first format's reader: the view's stamp, the count and the sequence number.
    fn read_first_format(bytes: &[u8]) -> Option<(ViewStamp, u64, u64)> {
        let text = std::str::from_utf8(&bytes[..bytes.len().min(512)]).ok()?;
        let text = text.strip_suffix('\n')?;
        let (body, sum) = text.rsplit_once(' ')?;
        if sum.len() != 16 || u64::from_str_radix(sum, 16).ok()? != checksum(body.as_bytes()) {
            return None;
        }
        let words: Vec<i64> = body
            .split(' ')
            .map(|w| w.parse().ok())
            .collect::<Option<_>>()?;
        let [_, _, ino, size, ms, mn, cs, cn, foreign, seq] = words[..] else {
            return None;
        };
        let view = ViewStamp {
            ino: ino as u64,
            size: size as u64,
            mtime: (ms, mn as u32),
            ctime: (cs, cn as u32),
        };
        Some((view, foreign as u64, seq as u64))
    }

    #[test]
    fn a_mark_remembered_is_the_mark_its_bytes_decode_to() {
        let mark = |seq: u64| Mark {
            journal_ino: 7,
            offset: seq * 3,
            view: ViewStamp::default(),
            foreign: 0,
            seq,
            foreign_id: ViewStamp::default(),
        };
        // More marks than are remembered, each read twice, then all again; and garbage.
        let texts: Vec<String> = (0..2 * MARKS_REMEMBERED as u64)
            .map(|seq| mark(seq).encode())
            .collect();
        for _ in 0..2 {
            for (seq, text) in texts.iter().enumerate() {
                for _ in 0..2 {
                    assert_eq!(decode_remembered(text.as_bytes()), Some(mark(seq as u64)));
                }
            }
        }
        let mut torn = texts[1].clone().into_bytes();
        torn[3] = b'9';
        assert_eq!(decode_remembered(&torn), None);
        assert_eq!(decode_remembered(&torn), None);
        assert_eq!(decode_remembered(texts[1].as_bytes()), Some(mark(1)));
    }

    /// The mark as `format!` prints it: the bytes every writer so far has written.
    fn encoded_by_format(mark: &Mark) -> String {
        let fields = fields_by_format(mark);
        let width = MARK_LINE - fields.len() - 19;
        let body = format!("{fields} {:0width$}", mark.seq);
        let line = format!("{body} {:016x}\n", checksum(body.as_bytes()));
        let id = &mark.foreign_id;
        let named = format!(
            "{line}{:020} {:020} {:020} {:010} {:020} {:010}",
            id.ino, id.size, id.mtime.0, id.mtime.1, id.ctime.0, id.ctime.1,
        );
        format!("{named} {:016x}\n", checksum(named.as_bytes()))
    }

    #[test]
    fn a_mark_prints_as_format_prints_it() {
        let stamp = |n: u64, s: i64| ViewStamp {
            ino: n,
            size: n / 3,
            mtime: (s, 999_999_999),
            ctime: (s.wrapping_neg(), 0),
        };
        for (n, s) in [
            (0, 0),
            (1, -1),
            (4_321, 1_796_311_100),
            (u64::MAX, i64::MAX),
            (u64::MAX - 1, i64::MIN),
        ] {
            let mark = Mark {
                journal_ino: n,
                offset: n / 7,
                view: stamp(n, s),
                foreign: n / 11,
                seq: n / 13,
                foreign_id: stamp(n / 5, s / 3),
            };
            let text = mark.encode();
            assert_eq!(text, encoded_by_format(&mark), "{n} {s}");
            // The reader takes numbers up to `i64::MAX` (no inode or size reaches it).
            if n < 1 << 62 {
                assert_eq!(Mark::decode(text.as_bytes()), Some(mark), "{n} {s}");
            }
        }
    }

    #[test]
    fn a_mark_decodes_what_it_encodes_and_nothing_torn_or_forged() {
        let mark = Mark {
            journal_ino: 12,
            offset: 345,
            view: ViewStamp {
                ino: 678,
                size: 240_000,
                mtime: (1_700_000_000, 7),
                ctime: (-3, 999_999_999),
            },
            foreign: 2,
            seq: 41,
            foreign_id: ViewStamp {
                ino: 91,
                size: 239_000,
                mtime: (1_699_999_999, 5),
                ctime: (1_700_000_000, 123),
            },
        };
        let unnamed = |m: Mark| Mark {
            foreign_id: ViewStamp::default(),
            ..m
        };
        let text = mark.encode();
        assert_eq!(Mark::decode(text.as_bytes()), Some(mark));
        let other_mark = Mark {
            seq: 42,
            foreign_id: mark.view,
            ..mark
        };
        let other = other_mark.encode();
        assert_eq!(text.len(), other.len(), "fixed width");
        // Every mix of the two marks (a read torn between two in-place writes) decodes to
        // nothing, or to one of them whole, or to one of them without the identity of the
        // bash tools' entries (its first line whole, its second torn); so does any one
        // changed digit, the identity kept only when the change is elsewhere.
        let whole = [mark, other_mark, unnamed(mark), unnamed(other_mark)];
        for cut in 1..text.len() {
            let torn = format!("{}{}", &other[..cut], &text[cut..]);
            if let Some(m) = Mark::decode(torn.as_bytes()) {
                assert!(whole.contains(&m), "{torn}");
                assert!(m.foreign_id == ViewStamp::default() || torn == text || torn == other);
            }
            let mut flipped = text.clone().into_bytes();
            flipped[cut - 1] = if flipped[cut - 1] == b'1' { b'2' } else { b'1' };
            if flipped != text.as_bytes() {
                let expected = (cut > MARK_LINE).then_some(unnamed(mark));
                assert_eq!(Mark::decode(&flipped), expected, "{cut}");
            }
        }
        assert_eq!(
            Mark::decode(&text.as_bytes()[..MARK_LINE]),
            Some(unnamed(mark))
        );
        assert_eq!(Mark::decode(&text.as_bytes()[..MARK_LINE - 1]), None);
        assert_eq!(Mark::decode(b""), None);

        // A reader of the first format reads the first line and decodes it whole.
        assert_eq!(
            read_first_format(text.as_bytes()),
            Some((mark.view, mark.foreign, mark.seq))
        );
        // A mark of the first format reads, without the identity (the file must be read); so
        // does one written over a newer one (its tail left behind).
        let first = first_format(&mark);
        assert_eq!(Mark::decode(first.as_bytes()), Some(unnamed(mark)));
        let over = format!("{first}{}", &other[first.len()..]);
        assert_eq!(Mark::decode(over.as_bytes()), Some(unnamed(mark)));
    }
}

/// A view the bash tools replace while a writer makes its new bytes is not overwritten: the
/// writer looks again before publishing and rebuilds from their file.
#[cfg(test)]
mod edits_meanwhile {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use flowforge_core::{DeveloperId, Layout, TaskId, model::TaskAssignments};

    use super::{claim_shard, converge_view};
    use crate::{
        Namespace, SessionOptions, StartOptions,
        namespace::{self, team_store},
        store::{PausePoint, StoreOptions},
    };

    /// The bash tools' way: read, add a claim of theirs, write a new file, move it in place.
    fn bash_claim(layout: &Layout, task: &str) {
        let path = layout.task_assignments();
        let mut view: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        view["tasks"][task] = serde_json::json!({
            "assignee": "carol",
            "status": "in_progress",
            "claimedAt": "2025-09-18T08:00:00Z"
        });
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&view).unwrap()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    fn shown(layout: &Layout) -> TaskAssignments {
        serde_json::from_slice(&std::fs::read(layout.task_assignments()).unwrap()).unwrap()
    }

    #[test]
    fn a_view_replaced_while_its_writer_works_keeps_the_bash_tools_claim() {
        for full in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let layout = Layout::for_repo(tmp.path());
            let alice = DeveloperId::new("alice").unwrap();
            namespace::init(&layout, &alice, &Default::default()).unwrap();
            let ns = Namespace::open(&layout, &alice, SessionOptions::relaxed()).unwrap();
            let task = TaskId::new("t-1").unwrap();
            ns.start_session(&task, &StartOptions::default()).unwrap();
            // A change the view does not show yet: the splice path, or a full rebuild.
            let plain = team_store(&layout, StoreOptions::relaxed());
            super::super::note(&plain, claim_shard(&task)).unwrap();

            let once = Arc::new(AtomicBool::new(false));
            let hook_layout = layout.clone();
            let team = plain.with_pause(move |at, _| {
                if at == PausePoint::ViewRead && !once.swap(true, Ordering::SeqCst) {
                    bash_claim(&hook_layout, "bash-1");
                }
            });
            converge_view(&team, &layout, full).unwrap();

            let view = shown(&layout);
            let bash = view.tasks.get(&TaskId::new("bash-1").unwrap());
            assert_eq!(
                bash.map(|a| a.assignee.as_str()),
                Some("carol"),
                "full: {full}"
            );
            assert_eq!(view.tasks[&task].assignee, alice, "full: {full}");
        }
    }
}
