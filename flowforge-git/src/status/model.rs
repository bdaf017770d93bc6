//! The status model: what changed, on which side, in git's order.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::SystemTime,
};

use super::head::Head;

/// How to compute a status, with git's defaults: untracked directories collapsed, ignored files
/// hidden, renames detected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusOptions {
    /// Which implementation computes a full status.
    pub engine: Engine,
    /// As `git --no-optional-locks status`: never write the index. By default a status that
    /// had to hash files whose stat data were stale caches their new stat data in the index,
    /// as `git status` does (under `index.lock`, only when it is free, and never when
    /// `GIT_OPTIONAL_LOCKS=0`), so that the next status does not hash them again.
    pub no_optional_locks: bool,
}

/// The implementation behind a full status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Engine {
    /// The fast path — the index read directly, every tracked file `lstat`ed on all cores
    /// against the index's cached stat data, only changed files hashed, only tracked
    /// directories listed, HEAD-to-index skipped when the cache-tree shows nothing staged —
    /// with libgit2 for what it does not decide (submodules, filtered content) and libgit2
    /// throughout for repositories it does not read (`core.ignoreCase`, a tracked directory
    /// replaced by a file). Split and sparse indexes are read by this crate.
    #[default]
    Auto,
    /// libgit2's diffs throughout (with this crate's corrections for git's rules): about twice
    /// as slow on large work trees; kept for comparison. Unlike `Auto` it leaves untracked
    /// directories to libgit2's rule, which differs from git's for nested repositories and
    /// directories that look like one (a `.git` that is not a repository, `.GIT`).
    Libgit2,
    /// The `git` program itself (`git status --porcelain=v2 -z --branch`, parsed): git's
    /// answer by definition, at the cost of a process. `Auto` takes it on its own for a
    /// repository libgit2 cannot open — SHA-256 objects, reftable refs, an extension it does
    /// not know, a linked worktree whose `HEAD` is a symbolic link — and for an index libgit2
    /// refuses (entries such as `../x` or `.git/x` that git reads), and where git reads rules
    /// from the index or HEAD (a skip-worktree `.gitignore` missing from the work tree,
    /// `.gitmodules` missing from it beside submodules); [`Status::computed_by_git`]
    /// says when and why. Fails when git is not installed or fails itself.
    GitProgram,
}

/// How one side of a tracked path changed: one of the letters of `git status --porcelain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Change {
    /// `A`: added (staged), or an intent-to-add entry (unstaged side).
    Added,
    /// `M`: modified.
    Modified,
    /// `D`: deleted.
    Deleted,
    /// `R`: renamed (staged, or on the work-tree side into an intent-to-add file).
    Renamed,
    /// `T`: the type changed (file, symbolic link, submodule).
    TypeChanged,
}

impl Change {
    /// The porcelain letter.
    pub fn code(self) -> u8 {
        match self {
            Change::Added => b'A',
            Change::Modified => b'M',
            Change::Deleted => b'D',
            Change::Renamed => b'R',
            Change::TypeChanged => b'T',
        }
    }
}

/// An unmerged path, named by which index stages it has, with git's two-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unmerged {
    /// `DD`: deleted by both sides (stage 1 only).
    BothDeleted,
    /// `AU`: added by us (stage 2 only).
    AddedByUs,
    /// `UD`: deleted by them (stages 1 and 2).
    DeletedByThem,
    /// `UA`: added by them (stage 3 only).
    AddedByThem,
    /// `DU`: deleted by us (stages 1 and 3).
    DeletedByUs,
    /// `AA`: added by both (stages 2 and 3).
    BothAdded,
    /// `UU`: modified by both (stages 1, 2 and 3).
    BothModified,
}

impl Unmerged {
    /// The conflict for the set of stages present: bit 0 stage 1 (base), bit 1 stage 2
    /// (ours), bit 2 stage 3 (theirs). `None` for an empty mask.
    pub fn from_stage_mask(mask: u8) -> Option<Self> {
        Some(match mask & 7 {
            1 => Unmerged::BothDeleted,
            2 => Unmerged::AddedByUs,
            3 => Unmerged::DeletedByThem,
            4 => Unmerged::AddedByThem,
            5 => Unmerged::DeletedByUs,
            6 => Unmerged::BothAdded,
            7 => Unmerged::BothModified,
            _ => return None,
        })
    }

    /// The porcelain code, e.g. `b"UU"`.
    pub fn code(self) -> &'static [u8; 2] {
        match self {
            Unmerged::BothDeleted => b"DD",
            Unmerged::AddedByUs => b"AU",
            Unmerged::DeletedByThem => b"UD",
            Unmerged::AddedByThem => b"UA",
            Unmerged::DeletedByUs => b"DU",
            Unmerged::BothAdded => b"AA",
            Unmerged::BothModified => b"UU",
        }
    }
}

/// A staged change, keyed in [`Status`] by its (new) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Staged {
    pub change: Change,
    /// The source of a rename.
    pub from: Option<Vec<u8>>,
}

/// One line of `git status --porcelain`, borrowed from a [`Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path relative to the work tree's top, as git stores it (bytes, `/`-separated);
    /// an untracked directory ends with `/`.
    pub path: &'a [u8],
    /// What happened to it.
    pub kind: EntryKind<'a>,
}

/// What an [`Entry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind<'a> {
    /// A tracked path changed in the index (`staged`) and/or in the work tree (`unstaged`).
    Tracked {
        /// HEAD against the index (the `X` letter).
        staged: Option<Change>,
        /// For a staged rename, the source path.
        renamed_from: Option<&'a [u8]>,
        /// The index against the work tree (the `Y` letter).
        unstaged: Option<Change>,
    },
    /// An unmerged path.
    Conflicted(Unmerged),
    /// An untracked file, or a directory holding untracked files (`??`).
    Untracked,
}

/// The full working-tree status of a repository, both sides kept apart (see the
/// [module docs](crate::status)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub(crate) head: Head,
    pub(crate) staged: BTreeMap<Vec<u8>, Staged>,
    pub(crate) conflicts: BTreeMap<Vec<u8>, Unmerged>,
    pub(crate) unstaged: BTreeMap<Vec<u8>, Change>,
    pub(crate) untracked: BTreeSet<Vec<u8>>,
    /// Work-tree renames: intent-to-add destination -> deleted source.
    pub(crate) worktree_renames: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The index's intent-to-add entries (shared: they change only with the index).
    pub(crate) intent_to_add: std::sync::Arc<BTreeSet<Vec<u8>>>,
    /// `core.quotePath`, read when the status was computed.
    pub(crate) quote_path: bool,
    /// The index entries the unstaged side was computed from (fast path only).
    pub(crate) index_entries: Option<super::fast::IndexSnapshot>,
    /// What the staged side was computed from, to skip recomputing it when nothing changed.
    pub(crate) staged_basis: Option<StagedBasis>,
    pub(crate) computed_at: SystemTime,
    /// Why the `git` program computed this status, when it did.
    pub(crate) by_git: Option<std::sync::Arc<str>>,
}

/// The inputs of the staged side: HEAD's commit and the index file's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagedBasis {
    pub head: Option<git2::Oid>,
    pub index_fingerprint: Vec<u8>,
}

impl Status {
    /// Where HEAD is: branch, detached or unborn, and its upstream.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The entries in git's order: every tracked change and conflict sorted by path (bytewise),
    /// then the untracked entries sorted by path.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        let mut tracked: BTreeSet<&[u8]> = BTreeSet::new();
        tracked.extend(self.staged.keys().map(Vec::as_slice));
        tracked.extend(self.conflicts.keys().map(Vec::as_slice));
        tracked.extend(self.unstaged.keys().map(Vec::as_slice));
        let renamed_sources: BTreeSet<&[u8]> =
            self.worktree_renames.values().map(Vec::as_slice).collect();
        let mut entries: Vec<Entry<'_>> = tracked
            .into_iter()
            .filter_map(|path| {
                let kind = match self.conflicts.get(path) {
                    Some(conflict) => EntryKind::Conflicted(*conflict),
                    None => {
                        let staged = self.staged.get(path);
                        let worktree_from = self.worktree_renames.get(path);
                        let unstaged = match worktree_from {
                            Some(_) => Some(Change::Renamed),
                            None if renamed_sources.contains(path) => None,
                            None => self.unstaged.get(path).copied(),
                        };
                        if staged.is_none() && unstaged.is_none() {
                            return None; // the source of a work-tree rename, nothing else
                        }
                        EntryKind::Tracked {
                            staged: staged.map(|s| s.change),
                            renamed_from: staged
                                .and_then(|s| s.from.as_deref())
                                .or(worktree_from.map(Vec::as_slice)),
                            unstaged,
                        }
                    }
                };
                Some(Entry { path, kind })
            })
            .collect();
        entries.extend(self.untracked.iter().map(|path| Entry {
            path,
            kind: EntryKind::Untracked,
        }));
        entries
    }

    /// True when nothing is staged, changed, unmerged or untracked.
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty()
            && self.conflicts.is_empty()
            && self.unstaged.is_empty()
            && self.untracked.is_empty()
    }

    /// The number of tracked paths with a change or a conflict (lines other than `??`).
    pub fn changed_count(&self) -> usize {
        self.entries().len() - self.untracked.len()
    }

    /// The number of untracked entries (`??` lines; a collapsed directory counts once).
    pub fn untracked_count(&self) -> usize {
        self.untracked.len()
    }

    /// When the status was last computed or refreshed.
    pub fn computed_at(&self) -> SystemTime {
        self.computed_at
    }

    /// Why the `git` program computed this status ([`Engine::GitProgram`]), or `None` when
    /// this crate did.
    pub fn computed_by_git(&self) -> Option<&str> {
        self.by_git.as_deref()
    }
}
