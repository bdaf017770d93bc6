//! The status types: what changed, on which side, in git's order.
//!
//! These types depend on nothing else in the crate: the engines (`libgit2.rs`, `fast/`) build
//! each side through its constructor, and the tracker (`tracker.rs`) keeps the state it needs
//! to refresh them beside them, not in them.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::SystemTime,
};

use git2::Oid;

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

/// Where HEAD is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Head {
    /// The checked-out branch without `refs/heads/`, or `None` when HEAD is detached.
    pub branch: Option<String>,
    /// HEAD's commit, or `None` when the branch has no commits yet (unborn) or the
    /// repository's commit ids are not SHA-1 (a SHA-256 repository, read by
    /// [`Engine::GitProgram`](crate::Engine::GitProgram)).
    pub commit: Option<Oid>,
    /// The branch's upstream, when one is configured.
    pub upstream: Option<Upstream>,
    /// The branch has no commits yet.
    pub(crate) unborn: bool,
}

/// A branch's upstream as `git status --branch` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upstream {
    /// The upstream's shortest unambiguous name, e.g. `origin/main`.
    pub name: String,
    /// True when the upstream ref (or the local branch) does not exist: git prints `[gone]`.
    pub gone: bool,
    /// Commits on the branch that the upstream lacks.
    pub ahead: usize,
    /// Commits on the upstream that the branch lacks.
    pub behind: usize,
}

impl Head {
    /// True when HEAD is detached.
    pub fn is_detached(&self) -> bool {
        self.branch.is_none()
    }

    /// True when the branch has no commits yet.
    pub fn is_unborn(&self) -> bool {
        self.unborn
    }

    /// The branch name, or `HEAD` when detached (FlowForge's snapshot convention).
    pub fn name(&self) -> &str {
        self.branch.as_deref().unwrap_or("HEAD")
    }

    /// The relation to the upstream as FlowForge's snapshot spells it: `up-to-date`,
    /// `ahead 1`, `behind 2`, `ahead 1, behind 2`, `gone` or `no-upstream`.
    pub fn remote_status(&self) -> String {
        match &self.upstream {
            None => "no-upstream".into(),
            Some(up) if up.gone => "gone".into(),
            Some(up) => match (up.ahead, up.behind) {
                (0, 0) => "up-to-date".into(),
                (a, 0) => format!("ahead {a}"),
                (0, b) => format!("behind {b}"),
                (a, b) => format!("ahead {a}, behind {b}"),
            },
        }
    }
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
    /// `C`: copied (with `status.renames=copies`; staged, or on the work-tree side into an
    /// intent-to-add file).
    Copied,
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
            Change::Copied => b'C',
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

/// A staged change, keyed in a [`StagedSide`] by its (new) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagedChange {
    change: Change,
    /// The source of a rename or copy.
    from: Option<Vec<u8>>,
}

impl StagedChange {
    /// A change; `from` is the source of a rename or copy.
    pub(crate) fn new(change: Change, from: Option<Vec<u8>>) -> Self {
        Self { change, from }
    }

    /// The source of a rename or copy.
    pub(crate) fn from(&self) -> Option<&[u8]> {
        self.from.as_deref()
    }
}

/// The staged side: HEAD against the index, and the index's unmerged paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StagedSide {
    changes: BTreeMap<Vec<u8>, StagedChange>,
    unmerged: BTreeMap<Vec<u8>, Unmerged>,
    /// The index's intent-to-add entries, which the unstaged side shows as ` A` (shared: they
    /// change only with the index).
    intent_to_add: Arc<BTreeSet<Vec<u8>>>,
}

impl StagedSide {
    /// The staged changes by (new) path, the unmerged paths, and the intent-to-add entries.
    pub(crate) fn new(
        changes: BTreeMap<Vec<u8>, StagedChange>,
        unmerged: BTreeMap<Vec<u8>, Unmerged>,
        intent_to_add: BTreeSet<Vec<u8>>,
    ) -> Self {
        Self {
            changes,
            unmerged,
            intent_to_add: Arc::new(intent_to_add),
        }
    }

    /// The unmerged paths.
    pub(crate) fn unmerged(&self) -> &BTreeMap<Vec<u8>, Unmerged> {
        &self.unmerged
    }

    /// The index's intent-to-add entries.
    pub(crate) fn intent_to_add(&self) -> &BTreeSet<Vec<u8>> {
        &self.intent_to_add
    }

    /// True when nothing is staged or unmerged.
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.unmerged.is_empty()
    }
}

/// Work-tree renames and copies: intent-to-add destination -> (source, `Renamed` or `Copied`).
pub(crate) type WorktreeRenames = BTreeMap<Vec<u8>, (Vec<u8>, Change)>;

/// The unstaged side: the index against the work tree, the untracked entries, and the renames
/// git shows on this side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UnstagedSide {
    changes: BTreeMap<Vec<u8>, Change>,
    untracked: BTreeSet<Vec<u8>>,
    /// Work-tree renames and copies: intent-to-add destination -> (source, `Renamed` or
    /// `Copied`).
    renames: WorktreeRenames,
}

/// What [`UnstagedSide::replace_under`] replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// The changes of tracked paths and the untracked entries.
    All,
    /// The changes of tracked paths only; the untracked entries stay.
    Changes,
}

impl UnstagedSide {
    /// The changed tracked paths and the untracked entries (untracked directories end with
    /// `/`); no renames until [`set_renames`](Self::set_renames).
    pub(crate) fn new(changes: BTreeMap<Vec<u8>, Change>, untracked: BTreeSet<Vec<u8>>) -> Self {
        Self {
            changes,
            untracked,
            renames: BTreeMap::new(),
        }
    }

    /// The changed tracked paths.
    pub(crate) fn changes(&self) -> &BTreeMap<Vec<u8>, Change> {
        &self.changes
    }

    /// The untracked entries.
    pub(crate) fn untracked(&self) -> &BTreeSet<Vec<u8>> {
        &self.untracked
    }

    /// Sets the work-tree renames and copies (intent-to-add destination -> (source, `Renamed`
    /// or `Copied`)).
    pub(crate) fn set_renames(&mut self, renames: WorktreeRenames) {
        self.renames = renames;
    }

    /// Replaces what lies at or under `scopes` (everything when `None`) with `fresh`, an answer
    /// computed for those scopes only.
    pub(crate) fn replace_under(
        &mut self,
        scopes: Option<&[Vec<u8>]>,
        fresh: UnstagedSide,
        what: Replace,
    ) {
        match scopes {
            Some(scopes) => {
                for scope in scopes {
                    let outside = |path: &Vec<u8>| !is_under(path, scope);
                    self.changes.retain(|path, _| outside(path));
                    if what == Replace::All {
                        self.untracked.retain(outside);
                    }
                }
            }
            None => {
                self.changes.clear();
                if what == Replace::All {
                    self.untracked.clear();
                }
            }
        }
        self.changes.extend(fresh.changes);
        if what == Replace::All {
            self.untracked.extend(fresh.untracked);
        }
    }
}

/// True when `path` (possibly `dir/`) is `scope` or lies under it (both relative to the top,
/// `/`-separated).
pub(crate) fn is_under(path: &[u8], scope: &[u8]) -> bool {
    path.strip_prefix(scope)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
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
        /// For a rename or copy, the source path.
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
    head: Head,
    staged: StagedSide,
    unstaged: UnstagedSide,
    /// `core.quotePath`, read when the status was computed.
    quote_path: bool,
    computed_at: SystemTime,
    /// Why the `git` program computed this status, when it did.
    by_git: Option<Arc<str>>,
}

impl Status {
    /// A status computed now.
    pub(crate) fn new(
        head: Head,
        staged: StagedSide,
        unstaged: UnstagedSide,
        quote_path: bool,
    ) -> Self {
        Self {
            head,
            staged,
            unstaged,
            quote_path,
            computed_at: SystemTime::now(),
            by_git: None,
        }
    }

    /// The same status, marked as computed by the `git` program because of `why`.
    pub(crate) fn computed_by_git_because(self, why: &str) -> Self {
        Self {
            by_git: Some(why.into()),
            ..self
        }
    }

    /// Where HEAD is: branch, detached or unborn, and its upstream.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The entries in git's order: every tracked change and conflict sorted by path (bytewise),
    /// then the untracked entries sorted by path.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        let (staged, unstaged) = (&self.staged, &self.unstaged);
        let mut tracked: BTreeSet<&[u8]> = BTreeSet::new();
        tracked.extend(staged.changes.keys().map(Vec::as_slice));
        tracked.extend(staged.unmerged.keys().map(Vec::as_slice));
        tracked.extend(unstaged.changes.keys().map(Vec::as_slice));
        // A renamed source is gone from the work tree; a copied one stays as it is.
        let renamed_sources: BTreeSet<&[u8]> = unstaged
            .renames
            .values()
            .filter(|(_, change)| *change == Change::Renamed)
            .map(|(from, _)| from.as_slice())
            .collect();
        let mut entries: Vec<Entry<'_>> = tracked
            .into_iter()
            .filter_map(|path| {
                let kind = match staged.unmerged.get(path) {
                    Some(conflict) => EntryKind::Conflicted(*conflict),
                    None => {
                        let worktree = unstaged.renames.get(path);
                        let worktree_from = worktree.map(|(from, _)| from);
                        let staged = staged.changes.get(path);
                        let unstaged = match worktree {
                            Some((_, change)) => Some(*change),
                            None if renamed_sources.contains(path) => None,
                            None => unstaged.changes.get(path).copied(),
                        };
                        if staged.is_none() && unstaged.is_none() {
                            return None; // the source of a work-tree rename, nothing else
                        }
                        EntryKind::Tracked {
                            staged: staged.map(|s| s.change),
                            renamed_from: staged
                                .and_then(|s| s.from())
                                .or(worktree_from.map(Vec::as_slice)),
                            unstaged,
                        }
                    }
                };
                Some(Entry { path, kind })
            })
            .collect();
        entries.extend(unstaged.untracked.iter().map(|path| Entry {
            path,
            kind: EntryKind::Untracked,
        }));
        entries
    }

    /// True when nothing is staged, changed, unmerged or untracked.
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty()
            && self.unstaged.changes.is_empty()
            && self.unstaged.untracked.is_empty()
    }

    /// The number of tracked paths with a change or a conflict (lines other than `??`).
    pub fn changed_count(&self) -> usize {
        self.entries().len() - self.unstaged.untracked.len()
    }

    /// The number of untracked entries (`??` lines; a collapsed directory counts once).
    pub fn untracked_count(&self) -> usize {
        self.unstaged.untracked.len()
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

    /// The staged side.
    pub(crate) fn staged(&self) -> &StagedSide {
        &self.staged
    }

    /// The unstaged side.
    pub(crate) fn unstaged(&self) -> &UnstagedSide {
        &self.unstaged
    }

    /// `core.quotePath` as it was when the status was computed.
    pub(crate) fn quote_path(&self) -> bool {
        self.quote_path
    }

    /// Takes a newly read HEAD.
    pub(crate) fn set_head(&mut self, head: Head) {
        self.head = head;
    }

    /// Takes a newly computed staged side.
    pub(crate) fn set_staged(&mut self, staged: StagedSide) {
        self.staged = staged;
    }

    /// The unstaged side, to refresh in place.
    pub(crate) fn unstaged_mut(&mut self) -> &mut UnstagedSide {
        &mut self.unstaged
    }

    /// Takes a newly read `core.quotePath`.
    pub(crate) fn set_quote_path(&mut self, quote_path: bool) {
        self.quote_path = quote_path;
    }

    /// Marks the status as brought up to date now.
    pub(crate) fn touch(&mut self) {
        self.computed_at = SystemTime::now();
    }
}
