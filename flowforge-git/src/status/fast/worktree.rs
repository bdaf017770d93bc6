//! The index against the work tree without libgit2's single-threaded walk: each directory
//! holding tracked files is opened once, on all cores, and through that one handle listed (for
//! untracked candidates) and its tracked entries `lstat`ed (`fstatat`) and compared with the
//! stat data cached in the index (git's racy-clean rule included); only entries whose stat
//! data do not settle it are hashed, afterwards, on all cores.
//!
//! Directories are handed out one at a time, the costliest first, to whichever thread is free;
//! the calling thread meanwhile does the caller's own work (HEAD, the staged side, the content
//! rule), then joins in, so that nothing waits on one core while the other is idle.
//!
//! What this does not decide itself — submodules, a tracked file replaced by a directory that
//! is not a repository, content under attribute filters — it returns as *scopes*, which the
//! caller hands to libgit2 limited to those paths. Untracked directories are returned for the
//! caller to decide by git's rule.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ffi::OsStr,
    os::unix::ffi::{OsStrExt, OsStringExt},
    path::{Path, PathBuf},
};

use flowforge_core::parallel::map_each;
use git2::{ObjectType, Oid};
use rustix::{
    fd::{BorrowedFd, OwnedFd},
    fs::{AtFlags, Dir, FileType, Mode, OFlags},
    io::Errno,
};

use super::content::{ContentRule, ContentVerdict};
use crate::status::{
    index_file::{IndexEntry, IndexFile},
    types::Change,
};

/// The work-tree settings that change the comparison of stat data.
pub(crate) struct Settings {
    /// `core.fileMode`: compare executable bits.
    pub file_mode: bool,
    /// `core.trustCtime`: compare change times.
    pub trust_ctime: bool,
    /// `core.checkStat` is not `minimal`: compare change times, inodes and owners.
    pub check_stat: bool,
    /// The index file's modification time, for the racy-clean rule.
    pub index_mtime: (i64, i64),
    /// `core.symlinks`: when false, a tracked link is checked out as a plain file holding its
    /// target, and git compares that file's bytes with the link's blob.
    pub symlinks: bool,
}

/// What the fast comparison found.
#[derive(Default)]
pub(crate) struct Found {
    pub unstaged: BTreeMap<Vec<u8>, Change>,
    /// Untracked files in tracked directories (not yet checked against the ignore rules).
    pub untracked_files: Vec<Vec<u8>>,
    /// Untracked directories in tracked directories (not yet checked against the ignore rules).
    pub untracked_dirs: Vec<Vec<u8>>,
    /// Paths for libgit2 to decide.
    pub scopes: Vec<Vec<u8>>,
    /// Submodules (gitlink entries, by position in the index) present in the work tree as
    /// directories, for git's submodule rules to decide.
    pub submodules: Vec<usize>,
    /// A tracked directory is no longer a real directory: use libgit2 for everything.
    pub give_up: bool,
    /// Entries (by position in the index) whose stat data were stale but whose content was
    /// hashed and found equal to the index: the stat data to cache for them.
    pub refreshed: Vec<(usize, StatData)>,
    /// Entries handed to libgit2 only for their content (attribute filters): the stat data to
    /// cache for them if libgit2 finds them unchanged.
    pub refreshable_scopes: Vec<(usize, StatData)>,
}

enum Verdict {
    Clean,
    /// Unchanged, but only its content said so: cache this stat data.
    CleanWithStat(StatData),
    Changed(Change),
    Scope,
    /// A submodule's directory: git's submodule rules decide.
    Submodule,
    /// Only the content (under attribute filters) is left to decide.
    ContentScope(StatData),
    /// The stat data (taken here) do not settle it: the content must be hashed.
    Hash(StatData),
}

/// The stat fields git compares (and `dev`, which it stores).
#[derive(Debug, Clone)]
pub(crate) struct StatData {
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl StatData {
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // field types vary by target
    fn of(st: &rustix::fs::Stat) -> Self {
        Self {
            mode: st.st_mode as u32,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: st.st_size as u64,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }
}

/// Compares `index` with the work tree at `workdir` on `threads` threads (the calling thread
/// one of them), running `alongside` on the calling thread while the others start: it returns
/// the caller's own answer and the rule for hashing content, which only the entries whose stat
/// data do not settle them need. An error from `alongside` is returned as it is.
pub(crate) fn compare<T, E>(
    workdir: &Path,
    index: &IndexFile<'_>,
    settings: &Settings,
    threads: usize,
    alongside: impl FnOnce() -> Result<(T, ContentRule), E>,
) -> Result<(Found, T), E> {
    let entries = &index.entries;
    let mut found = Found::default();
    let Ok(root) = rustix::fs::open(
        workdir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        let (beside, _) = alongside()?;
        found.give_up = true;
        return Ok((found, beside));
    };

    // Tracked directories ("" is the top), each with its tracked subdirectories' names and the
    // number of its own entries. A directory holding only skip-worktree entries (outside a
    // sparse checkout) need not exist; one holding any other entry must.
    let mut dirs: Vec<TrackedDir<'_>> = Vec::new();
    let mut by_path: HashMap<&[u8], usize> = HashMap::new();
    let top = tracked_dir(&mut dirs, &mut by_path, b"");
    dirs[top].required = true;
    let mut last: Option<(&[u8], usize)> = None;
    for entry in entries {
        let dir = split(&entry.path).0;
        let at = match last {
            Some((d, at)) if d == dir => at,
            _ => tracked_dir(&mut dirs, &mut by_path, dir),
        };
        last = Some((dir, at));
        dirs[at].own.end += 1;
        if !entry.skip_worktree {
            let mut up = Some(at);
            while let Some(i) = up.filter(|&i| !dirs[i].required) {
                dirs[i].required = true;
                up = dirs[i].parent;
            }
        }
    }
    for dir in &mut dirs {
        dir.subdirs.sort_unstable();
    }
    let Some(by_dir) = group_by_dir(entries, &mut dirs, &by_path) else {
        let (beside, _) = alongside()?;
        found.give_up = true;
        return Ok((found, beside));
    };
    drop(by_path);

    // One pass per directory, on all cores, the costliest first: it must still be a real
    // directory; its untracked names are listed and its entries' stat data compared through
    // one open handle.
    let mut costliest_first: Vec<usize> = (0..dirs.len()).collect();
    costliest_first.sort_by_key(|&at| std::cmp::Reverse(dirs[at].cost()));
    let (results, beside) = map_each(&costliest_first, threads, alongside, |&at| {
        let dir = &dirs[at];
        visit(
            &root,
            workdir,
            dir,
            &by_dir[dir.own.clone()],
            entries,
            settings,
        )
    });
    let (beside, content) = beside?;
    drop(by_dir);
    let mut in_order: Vec<Option<Visited>> =
        std::iter::repeat_with(|| None).take(dirs.len()).collect();
    for (at, visited) in costliest_first.into_iter().zip(results) {
        in_order[at] = visited;
    }
    let mut to_hash = Vec::new();
    for (dir, visited) in dirs.iter().zip(in_order) {
        let Some(visited) = visited else {
            if !dir.required {
                continue; // only skip-worktree entries, which git does not compare
            }
            found.give_up = true;
            return Ok((found, beside));
        };
        for (path, is_dir) in visited.candidates {
            if is_dir {
                found.untracked_dirs.push(path);
            } else {
                found.untracked_files.push(path);
            }
        }
        for (position, verdict) in visited.verdicts {
            match verdict {
                Verdict::Hash(stat) => to_hash.push((position, stat)),
                verdict => found.record(&entries[position], position, verdict),
            }
        }
    }

    // An untracked `.gitattributes` may name filters the tracked ones do not.
    let untracked_attributes = found
        .untracked_files
        .iter()
        .any(|p| split(p).1 == b".gitattributes");
    let content = if untracked_attributes {
        ContentRule::Libgit2
    } else {
        content
    };
    // The entries whose stat data did not settle it: their content, on all cores.
    let (hashed, ()) = map_each(
        &to_hash,
        threads,
        || (),
        |(position, stat)| content_verdict(workdir, &entries[*position], stat, &content),
    );
    for ((position, _), verdict) in to_hash.iter().zip(hashed) {
        found.record(&entries[*position], *position, verdict);
    }
    Ok((found, beside))
}

impl Found {
    fn record(&mut self, entry: &IndexEntry<'_>, position: usize, verdict: Verdict) {
        match verdict {
            Verdict::Clean | Verdict::Hash(_) => {}
            Verdict::CleanWithStat(stat) => self.refreshed.push((position, stat)),
            Verdict::Changed(change) => {
                self.unstaged.insert(entry.path.to_vec(), change);
            }
            Verdict::Scope => self.scopes.push(entry.path.to_vec()),
            Verdict::Submodule => self.submodules.push(position),
            Verdict::ContentScope(stat) => {
                self.scopes.push(entry.path.to_vec());
                self.refreshable_scopes.push((position, stat));
            }
        }
    }
}

/// A directory holding tracked entries (directly or below).
struct TrackedDir<'a> {
    path: &'a [u8],
    parent: Option<usize>,
    /// Some non-skip-worktree entry lies at or below it.
    required: bool,
    /// Where its own entries' positions in the index lie in the array of them grouped by
    /// directory (while directories are found: `end` counts them).
    own: std::ops::Range<usize>,
    /// The names of its tracked subdirectories, sorted.
    subdirs: Vec<&'a [u8]>,
}

impl TrackedDir<'_> {
    /// Where the name of one of its entries starts in the entry's path (after `path/`).
    fn name_start(&self) -> usize {
        if self.path.is_empty() {
            0
        } else {
            self.path.len() + 1
        }
    }

    /// A rough cost of visiting it: opening and listing it, and one `lstat` per entry.
    fn cost(&self) -> usize {
        16 + self.subdirs.len() + 3 * self.own.len()
    }
}

/// Every entry's position, grouped by directory in one array (not one growing list per
/// directory), each directory's run sorted by name; sets each directory's `own` range in it.
/// `None` for more than `u32::MAX` entries.
fn group_by_dir(
    entries: &[IndexEntry<'_>],
    dirs: &mut [TrackedDir<'_>],
    by_path: &HashMap<&[u8], usize>,
) -> Option<Vec<u32>> {
    let count = u32::try_from(entries.len()).ok()?;
    let mut start = 0;
    for dir in dirs.iter_mut() {
        let len = dir.own.end;
        dir.own = start..start + len;
        start += len;
    }
    let mut fill: Vec<usize> = dirs.iter().map(|dir| dir.own.start).collect();
    let mut grouped = vec![0u32; entries.len()];
    let mut last: Option<(&[u8], usize)> = None;
    for (entry, position) in entries.iter().zip(0..count) {
        let dir = split(&entry.path).0;
        let at = match last {
            Some((d, at)) if d == dir => at,
            _ => *by_path.get(dir)?,
        };
        last = Some((dir, at));
        *grouped.get_mut(*fill.get(at)?)? = position;
        fill[at] += 1;
    }
    // Within a directory a valid index is in name order already; this sort then only checks it
    // (an index out of order would otherwise break the lookup by name).
    for dir in dirs.iter() {
        let start = dir.name_start();
        grouped[dir.own.clone()].sort_by(|&a, &b| {
            entries[a as usize].path[start..].cmp(&entries[b as usize].path[start..])
        });
    }
    Some(grouped)
}

/// The position of `dir` in `dirs`, added (with every parent up to the top) if new.
fn tracked_dir<'a>(
    dirs: &mut Vec<TrackedDir<'a>>,
    by_path: &mut HashMap<&'a [u8], usize>,
    dir: &'a [u8],
) -> usize {
    if let Some(&at) = by_path.get(dir) {
        return at;
    }
    let parent = (!dir.is_empty()).then(|| {
        let (up, name) = split(dir);
        let parent = tracked_dir(dirs, by_path, up);
        dirs[parent].subdirs.push(name);
        parent
    });
    dirs.push(TrackedDir {
        path: dir,
        parent,
        required: false,
        own: 0..0,
        subdirs: Vec::new(),
    });
    by_path.insert(dir, dirs.len() - 1);
    dirs.len() - 1
}

/// What one directory's pass found.
struct Visited {
    /// Untracked names (as paths from the top), and whether each is a directory.
    candidates: Vec<(Vec<u8>, bool)>,
    /// The verdict from its stat data of each entry that is not plainly clean (most are, so
    /// those are not kept: this is held for every directory until the walk ends).
    verdicts: Vec<(usize, Verdict)>,
}

/// Lists `dir` and compares its entries' stat data, or `None` if it is no longer a real
/// directory (replaced by a file or a symbolic link). A directory that is gone, with all
/// below it, holds nothing untracked and its entries are deleted, as their `lstat`s would say.
fn visit(
    root: &OwnedFd,
    workdir: &Path,
    dir: &TrackedDir<'_>,
    own: &[u32],
    entries: &[IndexEntry<'_>],
    settings: &Settings,
) -> Option<Visited> {
    let start = dir.name_start();
    let name_of = |position: u32| &entries[position as usize].path[start..];
    // The names the index tracks here: its entries' (`own` is sorted by name) and its
    // tracked subdirectories'.
    let tracked = |name: &[u8]| {
        dir.subdirs.binary_search(&name).is_ok()
            || own
                .binary_search_by(|&position| name_of(position).cmp(name))
                .is_ok()
    };
    let own = own.iter().map(|&position| position as usize);
    let fd = match open_dir(root, dir.path) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => {
            let verdicts = own
                .filter(|&position| !trusted(&entries[position]))
                .map(|position| (position, Verdict::Changed(Change::Deleted)))
                .collect();
            return Some(Visited {
                candidates: Vec::new(),
                verdicts,
            });
        }
        Err(_) => return None,
    };
    let mut listing = Dir::new(fd).ok()?;
    let mut candidates = Vec::new();
    while let Some(dirent) = listing.read() {
        let dirent = dirent.ok()?;
        let name = dirent.file_name().to_bytes();
        if matches!(name, b"." | b".." | b".git") || tracked(name) {
            continue; // git never lists a `.git`
        }
        let file_type = match dirent.file_type() {
            FileType::Unknown => {
                let fd = listing.fd().ok()?;
                match rustix::fs::statat(fd, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => FileType::from_raw_mode(st.st_mode as _),
                    Err(_) => continue, // gone since it was listed
                }
            }
            file_type => file_type,
        };
        // git lists only files, links and directories: an untracked fifo or socket is not shown.
        let is_dir = match file_type {
            FileType::Directory => true,
            FileType::RegularFile | FileType::Symlink => false,
            _ => continue,
        };
        let mut rel = Vec::with_capacity(dir.path.len() + 1 + name.len());
        if !dir.path.is_empty() {
            rel.extend_from_slice(dir.path);
            rel.push(b'/');
        }
        rel.extend_from_slice(name);
        candidates.push((rel, is_dir));
    }
    let fd = listing.fd().ok()?;
    let verdicts = own
        .filter_map(|position| {
            let entry = &entries[position];
            let name = split(&entry.path).1;
            match stat_verdict(workdir, fd, name, entry, settings) {
                Verdict::Clean => None,
                verdict => Some((position, verdict)),
            }
        })
        .collect();
    Some(Visited {
        candidates,
        verdicts,
    })
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (&path[..0], path),
    }
}

/// Opens a tracked directory without following a symbolic link in its last component.
fn open_dir(root: &OwnedFd, dir: &[u8]) -> rustix::io::Result<OwnedFd> {
    let path = if dir.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(dir)
    };
    rustix::fs::openat(
        root,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn full_path(workdir: &Path, rel: &[u8]) -> PathBuf {
    workdir.join(OsStr::from_bytes(rel))
}

/// Whether the work tree is not compared for `entry`: conflicts are the staged side's, and
/// `--assume-unchanged` and skip-worktree mean "trust me".
fn trusted(entry: &IndexEntry<'_>) -> bool {
    entry.stage != 0 || entry.assume_valid || entry.skip_worktree
}

/// An entry's verdict from its stat data alone, or [`Verdict::Hash`] when its content must
/// decide. `dir` is an open handle on its directory, `name` its last component.
fn stat_verdict(
    workdir: &Path,
    dir: BorrowedFd<'_>,
    name: &[u8],
    entry: &IndexEntry<'_>,
    settings: &Settings,
) -> Verdict {
    if trusted(entry) {
        return Verdict::Clean;
    }
    let st = match rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => StatData::of(&st),
        Err(Errno::NOENT | Errno::NOTDIR) => return Verdict::Changed(Change::Deleted),
        Err(_) => return Verdict::Scope,
    };
    if entry.intent_to_add {
        return Verdict::Changed(Change::Added);
    }
    let index_type = entry.mode & 0o170000;
    let file_type = match st.mode & 0o170000 {
        // git takes anything else (a fifo, a socket, a device) for a regular file.
        t @ (0o120000 | 0o040000) => t,
        // Without symbolic links, a plain file stands for a tracked link (`ce_mode_from_stat`).
        _ if !settings.symlinks && index_type == 0o120000 => 0o120000,
        _ => 0o100000,
    };
    if index_type != 0o160000 && file_type == 0o040000 {
        // A file replaced by a directory: a type change when that directory is a repository
        // with a HEAD (git's `check_removed`), else libgit2 says deleted.
        if super::super::untracked::is_repository_with_head(&full_path(workdir, &entry.path)) {
            return Verdict::Changed(Change::TypeChanged);
        }
        return Verdict::Scope;
    }
    if index_type == 0o160000 {
        return match file_type {
            0o040000 => Verdict::Submodule,
            _ => Verdict::Changed(Change::TypeChanged), // replaced by a file or a link
        };
    }
    if index_type != file_type {
        return Verdict::Changed(Change::TypeChanged);
    }
    if st.mode & 0o170000 != 0o100000 && index_type == 0o100000 {
        return Verdict::Changed(Change::Modified); // never the same content as a blob
    }
    if index_type == 0o100000 && settings.file_mode && (st.mode & 0o100) != (entry.mode & 0o100) {
        return Verdict::Changed(Change::Modified);
    }
    let stat_clean = stat_matches(entry, &st, settings);
    if stat_clean && !racy(entry, settings) {
        return Verdict::Clean;
    }
    // git's `ie_modified`: a changed size is a change without looking at the content (even
    // when filters would make the content equal), unless the index never recorded a size.
    if !stat_clean && entry.size != 0 && entry.size != st.size as u32 {
        return Verdict::Changed(Change::Modified);
    }
    Verdict::Hash(st)
}

/// An entry's verdict from its content (its stat data `st` did not settle it).
fn content_verdict(
    workdir: &Path,
    entry: &IndexEntry<'_>,
    st: &StatData,
    rule: &ContentRule,
) -> Verdict {
    let full = full_path(workdir, &entry.path);
    if entry.mode & 0o170000 != 0o120000 {
        if *rule == ContentRule::Libgit2 {
            return Verdict::ContentScope(st.clone());
        }
        let Ok(content) = std::fs::read(&full) else {
            return Verdict::Scope;
        };
        return match rule.compare(&entry.path, &content, &entry.oid) {
            ContentVerdict::Unchanged => Verdict::CleanWithStat(st.clone()),
            ContentVerdict::Modified => Verdict::Changed(Change::Modified),
            ContentVerdict::Undecided => Verdict::ContentScope(st.clone()),
        };
    }
    let target = if st.mode & 0o170000 == 0o120000 {
        std::fs::read_link(&full).map(|t| t.into_os_string().into_vec())
    } else {
        std::fs::read(&full) // the plain file standing for a link
    };
    match target.map(|target| Oid::hash_object(ObjectType::Blob, &target)) {
        Ok(Ok(oid)) if oid.as_bytes() == entry.oid => Verdict::CleanWithStat(st.clone()),
        Ok(Ok(_)) => Verdict::Changed(Change::Modified),
        _ => Verdict::Scope,
    }
}

/// git's `ce_match_stat_basic`: whole seconds of the times (git is built without `USE_NSEC`
/// by default, so sub-second differences are not changes), inode and owner unless
/// `core.checkStat=minimal`, change time unless `core.trustCtime=false`, and size; sizes,
/// inodes and times truncated to 32 bits as the index stores them.
fn stat_matches(entry: &IndexEntry<'_>, st: &StatData, settings: &Settings) -> bool {
    entry.mtime.0 == st.mtime.0 as u32
        && (!settings.trust_ctime || !settings.check_stat || entry.ctime.0 == st.ctime.0 as u32)
        && (!settings.check_stat
            || (entry.ino == st.ino as u32 && entry.uid == st.uid && entry.gid == st.gid))
        && entry.size == st.size as u32
}

/// git's racy-clean rule at its default resolution: an entry modified in the same second as
/// the index was written (or later) may have changed without its stat data showing it, so its
/// content must be checked.
fn racy(entry: &IndexEntry<'_>, settings: &Settings) -> bool {
    i64::from(entry.mtime.0) >= settings.index_mtime.0
}

/// The untracked files that the ignore rules do not hide (`is_ignored` decides).
pub(crate) fn untracked<E>(
    found_files: Vec<Vec<u8>>,
    mut is_ignored: impl FnMut(&[u8]) -> Result<bool, E>,
) -> Result<BTreeSet<Vec<u8>>, E> {
    let mut kept = BTreeSet::new();
    for path in found_files {
        if !is_ignored(&path)? {
            kept.insert(path);
        }
    }
    Ok(kept)
}
