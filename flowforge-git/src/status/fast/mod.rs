//! The fast cold status: git's own strategy (parallel `lstat` against the index's cached stat
//! data, hashing only what changed, listing only tracked directories, and the cache-tree to
//! skip HEAD-to-index when nothing is staged), submodules decided by git's rules
//! ([`submodule`]), and libgit2 for whatever it does not decide.
//!
//! [`compute`] returns `None` when the repository uses something the fast path does not read
//! (SHA-256, `core.ignoreCase`, an index it cannot parse, a tracked directory replaced by a
//! file or link); the caller then uses libgit2 throughout. Split and sparse indexes, which
//! libgit2 refuses, are read by [`index::load_file`] and handed to libgit2 as an in-memory
//! index ([`index::fresh_index`]) for what it decides.
//!
//! Besides the status, the engine returns an [`IndexSnapshot`] of the index entries it was
//! computed from, which the [`StatusTracker`](super::StatusTracker) keeps so that [`refresh`]
//! recomputes only the entries that changed.

mod content;
mod stat_refresh;
mod worktree;

use std::{os::unix::fs::MetadataExt, path::Path, sync::Arc, time::SystemTime};

use git2::Repository;

use super::{
    by_git, head,
    ignore::IgnoreRules,
    index::{self, fresh_index},
    index_file::{IndexEntry, IndexFile},
    libgit2,
    replace::commit_tree_id,
    scope, submodule,
    types::{Head, Replace, StagedSide, Status, UnstagedSide},
    untracked,
};
use crate::{Repo, config::GitConfig, error::Result};

/// Above this many paths for libgit2 to decide, it diffs the whole work tree instead.
const MAX_SCOPES: usize = 256;

/// Below this many entries one thread is faster than starting more.
const ENTRIES_PER_THREAD: usize = 2_000;

/// The full status the fast way, with a snapshot of the index entries it was computed from
/// (none when the `git` program had to answer), or `None` when this repository needs libgit2
/// throughout. With `write_index`, stat data found stale but verified by content are cached in
/// the index.
pub(crate) fn compute(
    repo: &Repo,
    git: &Repository,
    write_index: bool,
) -> Result<Option<(Status, Option<IndexSnapshot>)>> {
    let Some(config) = usable_config(git) else {
        return Ok(None);
    };
    let started_sec = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let index_path = git.path().join("index");
    let Some((data, index_mtime)) = read_index(&index_path) else {
        return Ok(None);
    };
    // No index file is an empty index, as for git (a repository where nothing was added).
    let index = if data.is_empty() {
        Some(IndexFile::empty())
    } else {
        index::load_file(git, &data)
    };
    let Some(index) = index else {
        return Ok(None);
    };
    let entries = index.entries.iter().map(|e| by_git::IndexedPath {
        path: &e.path,
        stage: e.stage,
        mode: e.mode,
        skip_worktree: e.skip_worktree,
    });
    if let Some(why) = by_git::rules_only_git_reads(git, repo.workdir(), entries) {
        let status = by_git::status(repo.workdir(), !write_index, &why)?;
        return Ok(Some((status, None)));
    }

    // The index to the work tree, and meanwhile, on this thread, HEAD to the index.
    let settings = worktree::Settings {
        file_mode: config.bool("core.filemode", true),
        trust_ctime: config.bool("core.trustctime", true),
        check_stat: !config
            .string("core.checkstat")
            .is_some_and(|v| v.eq_ignore_ascii_case("minimal")),
        index_mtime,
        symlinks: config.bool("core.symlinks", true),
    };
    // One thread per core: with the page cache warm an `lstat` does not wait, so more threads
    // than cores only take turns (measured on 2 cores).
    let threads =
        flowforge_core::parallel::cores().min(index.entries.len() / ENTRIES_PER_THREAD + 1);
    let mut git_index = None;
    let (found, (head, staged)) =
        worktree::compare(repo.workdir(), &index, &settings, threads, || {
            let head = head::read(git).map_err(repo.git_error("read HEAD"))?;
            let staged = staged(repo, git, &index, &head, &mut git_index)?;
            let content = content::ContentRule::of(git, &index, &config);
            Ok(((head, staged), content))
        })?;
    if found.give_up {
        return Ok(None);
    }
    let untracked = untracked_entries(
        git,
        repo.workdir(),
        found.untracked_files,
        found.untracked_dirs,
    )
    .map_err(repo.git_error("read the ignore rules"))?;
    let mut changes = found.unstaged;
    if !found.submodules.is_empty() {
        let unmerged = index
            .entries
            .iter()
            .any(|e| e.stage != 0 && &*e.path == b".gitmodules");
        let rules = submodule::Rules::with_gitmodules(git, unmerged);
        for &position in &found.submodules {
            let entry = &index.entries[position];
            let recorded = git2::Oid::from_bytes(&entry.oid)
                .map_err(repo.git_error("read a submodule's commit"))?;
            if let Some(change) =
                submodule::worktree_change(repo.workdir(), &entry.path, recorded, &rules)
            {
                changes.insert(entry.path.to_vec(), change);
            }
        }
    }
    let mut unstaged = UnstagedSide::new(changes, untracked);
    // The rest — submodules, content under filters, a file replaced by a directory — is
    // libgit2's to decide. Every untracked entry was found above (every tracked directory was
    // listed), so only its unstaged answers are taken.
    let scopes = found.scopes;
    if !scopes.is_empty() {
        let loaded = match git_index.take() {
            Some(index) => index,
            None => load_index(repo, git)?,
        };
        let scopes = scope::widen(&loaded, scopes);
        // libgit2 matches every path against every pathspec: beyond a few hundred, one
        // unlimited diff is faster.
        let limit = (scopes.len() <= MAX_SCOPES).then_some(scopes.as_slice());
        let side = libgit2::unstaged_changes(git, &loaded, limit, staged.intent_to_add())
            .map_err(repo.git_error("diff the index to the work tree"))?;
        unstaged.replace_under(limit, side, Replace::Changes);
    }

    // Cache the stat data of entries whose content proved unchanged, as git does.
    let mut refreshed: Vec<(usize, &worktree::StatData)> =
        found.refreshed.iter().map(|(i, st)| (*i, st)).collect();
    refreshed.extend(
        found
            .refreshable_scopes
            .iter()
            .filter(|(i, _)| !unstaged.changes().contains_key(&*index.entries[*i].path))
            .map(|(i, st)| (*i, st)),
    );
    if write_index && index.rewritable && !refreshed.is_empty() {
        let read = stat_refresh::Read {
            path: &index_path,
            data: &data,
            entries: &index.entries,
            mtime_sec: index_mtime.0,
            started_sec,
        };
        stat_refresh::write(&read, &refreshed);
    }

    let status = Status::new(head, staged, unstaged, crate::config::quote_path(git));
    let snapshot = IndexSnapshot::of(&index);
    drop(index);
    drop(data);
    Ok(Some((status, snapshot)))
}

/// The untracked entries git shows among the files and directories found in tracked
/// directories: files the ignore rules do not hide, and directories by git's rule (nested
/// repositories included; an ignored one shows nothing, whatever it holds).
fn untracked_entries(
    git: &Repository,
    workdir: &Path,
    files: Vec<Vec<u8>>,
    dirs: Vec<Vec<u8>>,
) -> Result<std::collections::BTreeSet<Vec<u8>>, git2::Error> {
    let mut rules = IgnoreRules::new(git, workdir);
    let mut is_ignored = |path: &[u8], is_dir: bool| rules.is_ignored(path, is_dir);
    let mut untracked = worktree::untracked(files, |path| is_ignored(path, false))?;
    for mut dir in dirs {
        if !is_ignored(&dir, true)? && untracked::directory_shows(workdir, &dir, &mut is_ignored)? {
            dir.push(b'/');
            untracked.insert(dir);
        }
    }
    Ok(untracked)
}

/// The repository's config when the fast path can read this repository, else `None`.
fn usable_config(git: &Repository) -> Option<GitConfig> {
    let config = GitConfig::of(git)?;
    let unusable = config.bool("core.ignorecase", false)
        || config
            .string("extensions.objectformat")
            .is_some_and(|f| !f.eq_ignore_ascii_case("sha1"));
    (!unusable).then_some(config)
}

/// The index file's bytes and modification time, from one open file; no bytes when there is
/// no index file.
fn read_index(path: &Path) -> Option<(Vec<u8>, (i64, i64))> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some((Vec::new(), (0, 0))),
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut data).ok()?;
    Some((data, (meta.mtime(), meta.mtime_nsec())))
}

fn load_index(repo: &Repo, git: &Repository) -> Result<git2::Index> {
    fresh_index(git).map_err(repo.git_error("read the index"))
}

/// HEAD to the index: nothing staged when the cache-tree's root is HEAD's tree (and nothing
/// is unmerged); otherwise libgit2's diff, loading its index into `git_index`.
fn staged(
    repo: &Repo,
    git: &Repository,
    index: &IndexFile<'_>,
    head: &Head,
    git_index: &mut Option<git2::Index>,
) -> Result<StagedSide> {
    let head_tree = match head.commit {
        Some(commit) => Some(commit_tree_id(git, commit).map_err(repo.git_error("read HEAD"))?),
        None => None,
    };
    let unmerged = index.entries.iter().any(|e| e.stage != 0);
    let nothing_staged = !unmerged
        && match head_tree {
            Some(tree) => index.root_tree.is_some_and(|root| root == tree.as_bytes()),
            None => index.entries.iter().all(|e| e.intent_to_add),
        };
    if nothing_staged {
        let intent_to_add = index
            .entries
            .iter()
            .filter(|e| e.intent_to_add)
            .map(|e| e.path.to_vec())
            .collect();
        return Ok(StagedSide::new(
            Default::default(),
            Default::default(),
            intent_to_add,
        ));
    }
    let loaded = match git_index.take() {
        Some(loaded) => loaded,
        None => load_index(repo, git)?,
    };
    let side = libgit2::staged_side(git, &loaded).map_err(repo.git_error("diff HEAD to the index"));
    *git_index = Some(loaded);
    side
}

/// The index entries a status was computed from, to find which changed when the index does
/// (by path, stage, id, mode and flags: not by stat data). A long-lived view keeps it, so it
/// holds only what that comparison needs, in two flat buffers: the ids, and per entry its path
/// as what it does not share with the previous one (entries are sorted, so a directory's name
/// is kept once for its files), its lengths as varints and one byte of mode and flags — about
/// 23 bytes per entry besides the unshared part of its path (a parsed entry is ~96 bytes plus
/// its path's allocation). The comparison walks both snapshots in order, so nothing needs an
/// entry by position.
#[derive(Clone)]
pub(crate) struct IndexSnapshot(Arc<IndexKeys>);

impl std::fmt::Debug for IndexSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndexSnapshot({} entries)", self.0.len())
    }
}

/// The keys of an index's entries, in index order (path, then stage).
struct IndexKeys {
    /// Per entry: how many leading bytes its path shares with the previous entry's (LEB128),
    /// the length of the rest (LEB128), the rest, and its [`kind`] byte.
    keys: Vec<u8>,
    oids: Vec<[u8; 20]>,
}

/// The modes an index entry can have (git writes no other), by their number in [`kind`].
const MODES: [u32; 5] = [0o100644, 0o100755, 0o120000, 0o160000, 0o040000];

/// An entry's mode (its position in [`MODES`]) in bits 5-7, its stage in bits 0-1, and
/// `assume_valid`, `skip_worktree`, `intent_to_add` in bits 2, 3, 4; `None` for a mode git
/// does not write.
fn kind(e: &IndexEntry<'_>) -> Option<u8> {
    let mode = MODES.iter().position(|&m| m == e.mode)? as u8;
    Some(
        mode << 5
            | (e.stage & 3)
            | u8::from(e.assume_valid) << 2
            | u8::from(e.skip_worktree) << 3
            | u8::from(e.intent_to_add) << 4,
    )
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The varint at `*pos` of `bytes`, moving `*pos` past it (only ever reads what
/// [`put_varint`] wrote).
fn get_varint(bytes: &[u8], pos: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let byte = bytes[*pos];
        *pos += 1;
        n |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return n;
        }
        shift += 7;
    }
}

impl IndexKeys {
    /// The keys of `entries`, or `None` when their paths add up to 4 GiB or more, or an
    /// entry has a mode git does not write.
    fn of(entries: &[IndexEntry<'_>]) -> Option<Self> {
        let total: usize = entries.iter().map(|e| e.path.len()).sum();
        u32::try_from(total).ok()?;
        let mut keys = Self {
            keys: Vec::new(),
            oids: Vec::with_capacity(entries.len()),
        };
        let mut previous: &[u8] = &[];
        for e in entries {
            let shared = previous
                .iter()
                .zip(e.path.iter())
                .take_while(|(a, b)| a == b)
                .count();
            put_varint(&mut keys.keys, shared);
            put_varint(&mut keys.keys, e.path.len() - shared);
            keys.keys.extend_from_slice(&e.path[shared..]);
            keys.keys.push(kind(e)?);
            keys.oids.push(e.oid);
            previous = &e.path;
        }
        keys.keys.shrink_to_fit();
        Some(keys)
    }

    fn len(&self) -> usize {
        self.oids.len()
    }
}

/// Walks an [`IndexKeys`] in order, rebuilding each entry's path from the previous one.
struct Cursor<'a> {
    keys: &'a IndexKeys,
    /// The entry loaded (`keys.len()` once past the last).
    at: usize,
    /// Where the next entry starts in `keys.keys`.
    pos: usize,
    path: Vec<u8>,
    kind: u8,
}

impl<'a> Cursor<'a> {
    /// A cursor on the first entry.
    fn new(keys: &'a IndexKeys) -> Self {
        let mut cursor = Self {
            keys,
            at: 0,
            pos: 0,
            path: Vec::new(),
            kind: 0,
        };
        cursor.load();
        cursor
    }

    fn valid(&self) -> bool {
        self.at < self.keys.len()
    }

    fn load(&mut self) {
        if !self.valid() {
            return;
        }
        let bytes = &self.keys.keys;
        let shared = get_varint(bytes, &mut self.pos);
        let rest = get_varint(bytes, &mut self.pos);
        self.path.truncate(shared);
        self.path
            .extend_from_slice(&bytes[self.pos..self.pos + rest]);
        self.pos += rest;
        self.kind = bytes[self.pos];
        self.pos += 1;
    }

    fn advance(&mut self) {
        self.at += 1;
        self.load();
    }

    /// The order key: path, then stage.
    fn order(&self) -> (&[u8], u8) {
        (&self.path, self.kind & 3)
    }

    /// Whether the entries under both cursors (same path and stage) agree on what the
    /// unstaged side depends on: id, mode and flags.
    fn same(&self, other: &Self) -> bool {
        self.kind == other.kind && self.keys.oids[self.at] == other.keys.oids[other.at]
    }
}

impl IndexSnapshot {
    /// The snapshot of `index`'s entries, or `None` when they are too large to keep this way
    /// (the tracker then recomputes in full when the index changes).
    fn of(index: &IndexFile<'_>) -> Option<Self> {
        IndexKeys::of(&index.entries).map(|keys| Self(Arc::new(keys)))
    }

    /// The paths whose entries differ (added, removed, or changed in id, mode, stage or flags);
    /// both lists are in index order (path, then stage).
    fn changed_paths(&self, new: &Self) -> Vec<Vec<u8>> {
        let (mut old, mut new) = (Cursor::new(&self.0), Cursor::new(&new.0));
        let mut changed: Vec<Vec<u8>> = Vec::new();
        while old.valid() || new.valid() {
            let order = match (old.valid(), new.valid()) {
                (true, true) => old.order().cmp(&new.order()),
                (true, false) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    changed.push(old.path.clone());
                    old.advance();
                }
                std::cmp::Ordering::Greater => {
                    changed.push(new.path.clone());
                    new.advance();
                }
                std::cmp::Ordering::Equal => {
                    if !old.same(&new) {
                        changed.push(new.path.clone());
                    }
                    old.advance();
                    new.advance();
                }
            }
        }
        changed.dedup();
        changed
    }
}

/// Above this many changed index entries a full recompute is cheaper.
const MAX_CHANGED_ENTRIES: usize = 5_000;

/// Brings `status` up to date after the index or HEAD's commit changed, `previous` being the
/// index entries it was computed from: the staged side is recomputed (skipped through the
/// cache-tree when nothing is staged), and the unstaged side only for the index entries that
/// changed (and the untracked directories above them); with `index_unchanged`, only the
/// staged side. Returns the snapshot of the index now, or `None`, with `status` possibly
/// half-updated, when a full recompute is needed instead (an index the fast path does not
/// read, too many changes).
pub(crate) fn refresh(
    repo: &Repo,
    git: &Repository,
    status: &mut Status,
    previous: &IndexSnapshot,
    index_unchanged: bool,
) -> Result<Option<IndexSnapshot>> {
    if usable_config(git).is_none() {
        return Ok(None);
    }
    let Ok(data) = std::fs::read(git.path().join("index")) else {
        return Ok(None);
    };
    let Some(index) = index::load_file(git, &data) else {
        return Ok(None);
    };
    let mut git_index = None;
    let side = staged(repo, git, &index, status.head(), &mut git_index)?;
    status.set_staged(side);
    if index_unchanged {
        return Ok(Some(previous.clone()));
    }
    let Some(snapshot) = IndexSnapshot::of(&index) else {
        return Ok(None);
    };
    drop(index);
    let mut paths = previous.changed_paths(&snapshot);
    if paths.len() > MAX_CHANGED_ENTRIES {
        return Ok(None);
    }
    // An untracked directory that now holds (or held) a changed entry is recomputed whole.
    let mut above = Vec::new();
    for path in &paths {
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            if status.unstaged().untracked().contains(&path[..=i]) {
                above.push(path[..i].to_vec());
            }
        }
    }
    paths.extend(above);
    if !paths.is_empty() {
        let loaded = match git_index.take() {
            Some(loaded) => loaded,
            None => load_index(repo, git)?,
        };
        let scopes = scope::widen(&loaded, paths);
        libgit2::refresh_under(repo, git, &loaded, &scopes, status)?;
    }
    Ok(Some(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PorcelainOptions;

    /// The fast path is taken for an ordinary repository and for a split index (the
    /// differential tests then check its answers), and declines `core.ignoreCase`.
    #[test]
    fn ordinary_repositories_take_the_fast_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| flowforge_testkit::git::ok(dir.path(), args);
        git(&["init", "-q"]);
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");
        std::fs::write(dir.path().join("d/a"), "a").expect("write");
        git(&["add", "."]);
        git(&["commit", "-qm", "one"]);
        std::fs::write(dir.path().join("d/a"), "changed").expect("write");
        std::fs::write(dir.path().join("d/new"), "n").expect("write");
        let repo = Repo::open(dir.path()).expect("open");
        let (status, _) = repo
            .with_git2(|g| compute(&repo, g, false))
            .expect("status")
            .expect("the fast path applies");
        assert_eq!(
            status.porcelain(PorcelainOptions::default()),
            git(&["--no-optional-locks", "status", "--porcelain"])
        );
        git(&["update-index", "--split-index"]);
        let (status, _) = repo
            .with_git2(|g| compute(&repo, g, false))
            .expect("status")
            .expect("the fast path reads a split index");
        assert_eq!(
            status.porcelain(PorcelainOptions::default()),
            git(&["--no-optional-locks", "status", "--porcelain"])
        );
        git(&["config", "core.ignoreCase", "true"]);
        assert!(
            repo.with_git2(|g| compute(&repo, g, false))
                .expect("status")
                .is_none()
        );
    }

    fn entry(path: &str, stage: u8, oid: u8) -> IndexEntry<'static> {
        IndexEntry {
            offset: 0,
            path: path.as_bytes().to_vec().into(),
            oid: [oid; 20],
            mode: 0o100644,
            stage,
            assume_valid: false,
            skip_worktree: false,
            intent_to_add: false,
            sparse_dir: false,
            ctime: (0, 0),
            mtime: (0, 0),
            ino: 0,
            uid: 0,
            gid: 0,
            size: 0,
        }
    }

    fn snapshot(entries: Vec<IndexEntry<'_>>) -> IndexSnapshot {
        let index = IndexFile {
            entries,
            ..IndexFile::empty()
        };
        IndexSnapshot::of(&index).expect("small enough")
    }

    /// Every key the unstaged side depends on counts (id, mode, stage, each flag), stat data
    /// does not, and added and removed entries are found wherever they fall in the order.
    #[test]
    fn snapshots_differ_by_path_stage_id_mode_and_flags() {
        let names = ["a", "a.b", "a/b", "b/c", "ca", "d"];
        let old: Vec<IndexEntry<'_>> = names.iter().map(|n| entry(n, 0, 1)).collect();
        let base = snapshot(old.clone());
        assert!(base.changed_paths(&snapshot(old.clone())).is_empty());

        let mut stat_only = old.clone();
        for (i, e) in stat_only.iter_mut().enumerate() {
            (e.offset, e.mtime, e.ino, e.size) = (64 * i, (7, 7), 9, 99);
        }
        assert!(base.changed_paths(&snapshot(stat_only)).is_empty());

        type Tweak = (&'static str, fn(&mut IndexEntry<'_>));
        let changes: [Tweak; 6] = [
            ("id", |e| e.oid[19] = 2),
            ("mode", |e| e.mode = 0o100755),
            ("assume-unchanged", |e| e.assume_valid = true),
            ("skip-worktree", |e| e.skip_worktree = true),
            ("intent-to-add", |e| e.intent_to_add = true),
            ("stage", |e| e.stage = 2),
        ];
        for at in 0..old.len() {
            for (what, change) in &changes {
                let mut new = old.clone();
                change(&mut new[at]);
                assert_eq!(
                    base.changed_paths(&snapshot(new)),
                    [names[at].as_bytes()],
                    "{what} of {}",
                    names[at]
                );
            }
            let mut removed = old.clone();
            removed.remove(at);
            let removed = snapshot(removed);
            assert_eq!(base.changed_paths(&removed), [names[at].as_bytes()]);
            assert_eq!(removed.changed_paths(&base), [names[at].as_bytes()]);
        }

        // A conflict: stages 1-3 of one path replace its stage 0; the path is named once.
        let mut conflicted = old.clone();
        conflicted.splice(2..3, (1..=3).map(|stage| entry("a/b", stage, stage)));
        assert_eq!(base.changed_paths(&snapshot(conflicted)), [b"a/b"]);
    }

    /// What a view keeps per index entry is what its path does not share with the previous
    /// one and a few bytes besides, not a parsed entry with its stat data and its path's own
    /// allocation; every path comes back whole.
    #[test]
    fn a_snapshot_keeps_about_what_its_paths_do_not_share() {
        let names: Vec<String> = (0..10_000)
            .map(|i| format!("dir{:03}/file{i:05}.txt", i / 50))
            .collect();
        let entries: Vec<IndexEntry<'_>> = names.iter().map(|n| entry(n, 0, 1)).collect();
        let path_bytes: usize = entries.iter().map(|e| e.path.len()).sum();
        let snapshot = snapshot(entries);
        let keys = &*snapshot.0;
        assert_eq!(keys.len(), 10_000);
        let held = keys.keys.capacity() + 20 * keys.oids.capacity();
        // Less than the whole paths and the ids alone; the paths' unshared parts and 3 bytes
        // per entry besides the ids.
        assert!(held < path_bytes + 20 * 10_000, "{held} bytes held");
        assert!(
            keys.keys.len() <= path_bytes / 3 + 3 * 10_000,
            "{held} bytes held"
        );
        let mut cursor = Cursor::new(keys);
        for name in &names {
            assert!(cursor.valid());
            assert_eq!(cursor.path, name.as_bytes());
            cursor.advance();
        }
        assert!(!cursor.valid());
    }

    /// A mode git does not write is not kept (the tracker then recomputes in full).
    #[test]
    fn an_entry_of_another_mode_makes_no_snapshot() {
        let mut odd = entry("a", 0, 1);
        odd.mode = 0o100664;
        let index = IndexFile {
            entries: vec![entry("0", 0, 1), odd],
            ..IndexFile::empty()
        };
        assert!(IndexSnapshot::of(&index).is_none());
        for mode in MODES {
            let mut e = entry("a", 0, 1);
            e.mode = mode;
            let mut changed = e.clone();
            changed.mode = if mode == MODES[0] { MODES[1] } else { MODES[0] };
            assert_eq!(
                snapshot(vec![e]).changed_paths(&snapshot(vec![changed])),
                [b"a"]
            );
        }
    }

    /// A common prefix longer than a one-byte varint counts, and the comparison still sees
    /// every path whole.
    #[test]
    fn paths_sharing_more_than_u16_bytes_compare_whole() {
        let long = "d/".repeat(40_000);
        let names: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|n| format!("{long}{n}"))
            .collect();
        let old: Vec<IndexEntry<'_>> = names.iter().map(|n| entry(n, 0, 1)).collect();
        let mut new = old.clone();
        new[1].oid = [2; 20];
        let base = snapshot(old.clone());
        assert!(base.changed_paths(&snapshot(old)).is_empty());
        assert_eq!(base.changed_paths(&snapshot(new)), [names[1].as_bytes()]);
    }
}
