//! The libgit2 engine: each side of the status from libgit2's diffs, brought to git's rules
//! where libgit2 differs (intent-to-add, assume-unchanged and skip-worktree entries,
//! submodules, untracked directories).

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::ffi::OsStrExt,
};

use git2::{Delta, DiffOptions, Index, Oid, Repository};

use super::{
    by_git, head,
    ignore::IgnoreRules,
    index, renames,
    replace::commit_tree,
    types::{Change, Replace, StagedChange, StagedSide, Status, Unmerged, UnstagedSide, is_under},
};
use crate::{Repo, config, error::Result};

/// The full status with libgit2's diffs throughout.
pub(crate) fn status(repo: &Repo, git: &Repository) -> Result<Status> {
    let index = index::fresh_index(git).map_err(repo.git_error("read the index"))?;
    let entries = index.iter().collect::<Vec<_>>();
    let indexed = entries.iter().map(|e| by_git::IndexedPath {
        path: &e.path,
        stage: ((e.flags >> 12) & 3) as u8,
        mode: e.mode,
        skip_worktree: e.flags_extended & ENTRY_SKIP_WORKTREE != 0,
    });
    if let Some(why) = by_git::rules_only_git_reads(git, repo.workdir(), indexed) {
        return by_git::status(repo.workdir(), true, &why);
    }
    let head = head::read(git).map_err(repo.git_error("read HEAD"))?;
    let staged = staged_side(git, &index).map_err(repo.git_error("diff HEAD to the index"))?;
    let unstaged = unstaged_side(git, &index, None, staged.intent_to_add())
        .map_err(repo.git_error("diff the index to the work tree"))?;
    Ok(Status::new(head, staged, unstaged, config::quote_path(git)))
}

/// Recomputes the unstaged side of `status` at and under `scopes` (files or directories,
/// relative to the top), untracked directories decided by git's rule.
pub(crate) fn refresh_under(
    repo: &Repo,
    git: &Repository,
    index: &Index,
    scopes: &[Vec<u8>],
    status: &mut Status,
) -> Result<()> {
    let mut rules = IgnoreRules::new(git, git.workdir().unwrap_or_else(|| git.path()));
    let (changes, mut untracked) = unstaged_entries(
        git,
        index,
        Some(scopes),
        status.staged().intent_to_add(),
        Some(&mut rules),
    )
    .map_err(repo.git_error("diff the index to the work tree"))?;
    settle_untracked_directories(git, index, scopes, &mut untracked, &mut rules)
        .map_err(repo.git_error("decide untracked directories"))?;
    status.unstaged_mut().replace_under(
        Some(scopes),
        UnstagedSide::new(changes, untracked),
        Replace::All,
    );
    Ok(())
}

/// Computes the staged side.
pub(crate) fn staged_side(repo: &Repository, index: &Index) -> Result<StagedSide, git2::Error> {
    let mut conflicts = BTreeMap::new();
    if index.has_conflicts() {
        for conflict in index.conflicts()? {
            let conflict = conflict?;
            let mut mask = 0u8;
            let mut path = None;
            for (bit, entry) in [
                (1, &conflict.ancestor),
                (2, &conflict.our),
                (4, &conflict.their),
            ] {
                if let Some(entry) = entry {
                    mask |= bit;
                    path.get_or_insert_with(|| entry.path.clone());
                }
            }
            if let (Some(path), Some(kind)) = (path, Unmerged::from_stage_mask(mask)) {
                conflicts.insert(path, kind);
            }
        }
    }

    let tree = match repo.head() {
        Ok(head) => Some(commit_tree(repo, head.peel_to_commit()?.id())?),
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let mut opts = DiffOptions::new();
    opts.include_typechange(true).ignore_submodules(false);
    let diff = repo.diff_tree_to_index(tree.as_ref(), Some(index), Some(&mut opts))?;
    let mut special = SpecialEntries::of(index);
    // path -> (change, HEAD side, index side)
    type Sides = (Change, Option<(Oid, u32)>, Option<(Oid, u32)>);
    let mut raw: BTreeMap<Vec<u8>, Sides> = BTreeMap::new();
    for delta in diff.deltas() {
        let (Some(change), Some(path)) = (change_of(delta.status()), delta_path(&delta)) else {
            continue;
        };
        if conflicts.contains_key(path) || special.intent_to_add.contains(path) {
            continue; // git leaves intent-to-add entries out of HEAD-to-index
        }
        let side =
            |file: git2::DiffFile<'_>| file.exists().then(|| (file.id(), u32::from(file.mode())));
        raw.insert(
            path.to_vec(),
            (change, side(delta.old_file()), side(delta.new_file())),
        );
    }
    // git treats an intent-to-add entry as absent from the index: deleted if HEAD has it (as
    // a file, link or submodule: a directory there is its own entries' business).
    for path in &special.intent_to_add {
        let in_head = tree_entry(tree.as_ref(), path)?;
        if let Some(head) = in_head.filter(|(_, mode)| mode & 0o170000 != 0o040000) {
            raw.insert(path.clone(), (Change::Deleted, Some(head), None));
        }
    }
    // libgit2 leaves assume-unchanged entries out of HEAD-to-index entirely; git compares them
    // like any other (the flag only concerns the work tree).
    for (path, oid, mode) in std::mem::take(&mut special.assume_unchanged) {
        raw.remove(&path);
        let in_head = tree_entry(tree.as_ref(), &path)?;
        let change = match in_head {
            None => Some(Change::Added),
            Some((_, head_mode)) if head_mode & 0o170000 != mode & 0o170000 => {
                Some(Change::TypeChanged)
            }
            Some((head_oid, head_mode)) if head_oid != oid || head_mode != mode => {
                Some(Change::Modified)
            }
            Some(_) => None,
        };
        if let Some(change) = change {
            raw.insert(path, (change, in_head, Some((oid, mode))));
        }
    }

    let detection = config::rename_detection(repo);
    let copies = detection == config::RenameDetection::Copies;
    let mut staged: BTreeMap<Vec<u8>, StagedChange> = BTreeMap::new();
    let mut sources = Vec::new();
    let mut dests = Vec::new();
    for (path, (change, head, in_index)) in raw {
        match (change, head, in_index) {
            (Change::Added, _, Some((oid, mode))) => dests.push(renames::Candidate {
                path,
                oid,
                mode,
                content: None,
                stays: false,
            }),
            (Change::Deleted, Some((oid, mode)), _) => sources.push(renames::Candidate {
                path,
                oid,
                mode,
                content: None,
                stays: false,
            }),
            // With copies, a path that stays (modified, or of another type) is a source too.
            (_, Some((oid, mode)), Some(_)) if copies => {
                staged.insert(path.clone(), StagedChange::new(change, None));
                sources.push(renames::Candidate {
                    path,
                    oid,
                    mode,
                    content: None,
                    stays: true,
                });
            }
            _ => {
                staged.insert(path, StagedChange::new(change, None));
            }
        }
    }
    let pairs = match detection {
        config::RenameDetection::Off => Vec::new(),
        _ => renames::detect(repo, &sources, &dests, copies)?,
    };
    let mut paired_dst = vec![None; dests.len()];
    let mut renamed_src = vec![false; sources.len()];
    for (d, s, change) in pairs {
        paired_dst[d] = Some((s, change));
        renamed_src[s] = true;
    }
    for (d, dst) in dests.into_iter().enumerate() {
        let (change, from) = match paired_dst[d] {
            Some((s, change)) => (change, Some(sources[s].path.clone())),
            None => (Change::Added, None),
        };
        staged.insert(dst.path, StagedChange::new(change, from));
    }
    for (s, src) in sources.into_iter().enumerate() {
        if !renamed_src[s] && !src.stays {
            staged.insert(src.path, StagedChange::new(Change::Deleted, None));
        }
    }
    Ok(StagedSide::new(staged, conflicts, special.intent_to_add))
}

/// The porcelain letter of a libgit2 delta, for the kinds `git status` shows.
fn change_of(delta: Delta) -> Option<Change> {
    Some(match delta {
        Delta::Added => Change::Added,
        Delta::Deleted => Change::Deleted,
        Delta::Modified => Change::Modified,
        Delta::Typechange => Change::TypeChanged,
        _ => return None,
    })
}

/// The path a delta concerns: its new side's, else its old side's.
fn delta_path<'a>(delta: &git2::DiffDelta<'a>) -> Option<&'a [u8]> {
    delta
        .new_file()
        .path_bytes()
        .or_else(|| delta.old_file().path_bytes())
}

/// The id and mode of `path` in `tree`, if it is there.
fn tree_entry(
    tree: Option<&git2::Tree<'_>>,
    path: &[u8],
) -> Result<Option<(git2::Oid, u32)>, git2::Error> {
    let Some(tree) = tree else {
        return Ok(None);
    };
    match tree.get_path(std::path::Path::new(std::ffi::OsStr::from_bytes(path))) {
        Ok(entry) => Ok(Some((entry.id(), entry.filemode() as u32))),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Index entries whose flags libgit2 treats differently from git.
#[derive(Default)]
pub(crate) struct SpecialEntries {
    /// `git add -N` entries.
    pub intent_to_add: BTreeSet<Vec<u8>>,
    /// `git update-index --assume-unchanged` entries, with their id and mode.
    pub assume_unchanged: Vec<(Vec<u8>, git2::Oid, u32)>,
}

const ENTRY_VALID: u16 = 0x8000;
const ENTRY_INTENT_TO_ADD: u16 = 1 << 13;
const ENTRY_SKIP_WORKTREE: u16 = 1 << 14;

impl SpecialEntries {
    pub(crate) fn of(index: &Index) -> Self {
        let mut special = Self::default();
        for entry in index.iter() {
            if entry.flags_extended & ENTRY_INTENT_TO_ADD != 0 {
                special.intent_to_add.insert(entry.path);
            } else if entry.flags & ENTRY_VALID != 0 && (entry.flags >> 12) & 3 == 0 {
                special
                    .assume_unchanged
                    .push((entry.path, entry.id, entry.mode));
            }
        }
        special
    }
}

/// Computes the unstaged side, for the whole work tree or only under `paths` (each a file or a
/// directory, relative to the top, matched literally).
pub(crate) fn unstaged_side(
    repo: &Repository,
    index: &Index,
    paths: Option<&[Vec<u8>]>,
    intent_to_add: &BTreeSet<Vec<u8>>,
) -> Result<UnstagedSide, git2::Error> {
    let workdir = repo.workdir().unwrap_or_else(|| repo.path());
    let mut rules = IgnoreRules::new(repo, workdir);
    let (changes, untracked) =
        unstaged_entries(repo, index, paths, intent_to_add, Some(&mut rules))?;
    Ok(UnstagedSide::new(changes, untracked))
}

/// [`unstaged_side`] without untracked entries (none listed, none decided): for a caller that
/// takes only the changes of tracked paths.
pub(crate) fn unstaged_changes(
    repo: &Repository,
    index: &Index,
    paths: Option<&[Vec<u8>]>,
    intent_to_add: &BTreeSet<Vec<u8>>,
) -> Result<UnstagedSide, git2::Error> {
    let (changes, _) = unstaged_entries(repo, index, paths, intent_to_add, None)?;
    Ok(UnstagedSide::new(changes, BTreeSet::new()))
}

/// The changed tracked paths and the untracked entries of an unstaged side.
type UnstagedEntries = (BTreeMap<Vec<u8>, Change>, BTreeSet<Vec<u8>>);

/// The changed tracked paths and (with the ignore `rules` to decide them by) the untracked
/// entries of [`unstaged_side`].
fn unstaged_entries(
    repo: &Repository,
    index: &Index,
    paths: Option<&[Vec<u8>]>,
    intent_to_add: &BTreeSet<Vec<u8>>,
    mut rules: Option<&mut IgnoreRules<'_>>,
) -> Result<UnstagedEntries, git2::Error> {
    let untracked = rules.is_some();
    let mut opts = DiffOptions::new();
    // Ignored entries too: libgit2's ignore rules are not git's (a `!` pattern in a nested
    // `.gitignore` does not re-include what a shallower file ignores, among others), so every
    // entry it calls untracked or ignored is decided again by git's rules below.
    opts.include_untracked(untracked)
        .recurse_untracked_dirs(false)
        .include_ignored(untracked)
        .recurse_ignored_dirs(false)
        .include_typechange(true)
        // Submodules are decided below by git's rules (libgit2 reads `.gitmodules` otherwise,
        // and fails on an unmerged one).
        .ignore_submodules(true);
    if let Some(paths) = paths {
        opts.disable_pathspec_match(true);
        for path in paths {
            opts.pathspec(path.clone());
        }
    }
    let diff = repo.diff_index_to_workdir(Some(index), Some(&mut opts))?;
    let workdir = repo.workdir().unwrap_or_else(|| repo.path());
    let mut changes = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for delta in diff.deltas() {
        let Some(path) = delta_path(&delta) else {
            continue;
        };
        if let (Delta::Untracked | Delta::Ignored, Some(rules)) = (delta.status(), &mut rules) {
            let ignored = delta.status() == Delta::Ignored;
            if !under_tracked_file(index, path) && shows_untracked(rules, workdir, path, ignored)? {
                listed.insert(path.to_vec());
            }
            continue;
        }
        let Some(change) = change_of(delta.status()) else {
            continue;
        };
        // git never compares a skip-worktree entry (outside a sparse checkout) with the work
        // tree; libgit2 does.
        let skip_worktree = index
            .get_path(std::path::Path::new(std::ffi::OsStr::from_bytes(path)), 0)
            .is_some_and(|e| e.flags_extended & ENTRY_SKIP_WORKTREE != 0);
        if skip_worktree {
            continue;
        }
        changes.insert(path.to_vec(), change);
    }
    let in_scope =
        |path: &[u8]| paths.is_none_or(|scopes| scopes.iter().any(|s| is_under(path, s)));
    let mut submodules = None;
    for entry in index.iter() {
        if entry.mode & 0o170000 != 0o160000
            || (entry.flags >> 12) & 3 != 0
            || !in_scope(&entry.path)
        {
            continue;
        }
        if entry.flags_extended & ENTRY_SKIP_WORKTREE != 0 {
            continue;
        }
        let rules = submodules.get_or_insert_with(|| super::submodule::Rules::of(repo, index));
        changes.remove(&entry.path);
        if let Some(change) =
            super::submodule::worktree_change(workdir, &entry.path, entry.id, rules)
        {
            changes.insert(entry.path, change);
        }
    }
    super::filters::settle(repo, index, &mut changes);
    // An intent-to-add entry is shown as added while its file exists, whatever the file
    // holds; libgit2 compares it with the empty blob instead. Unless it is also marked
    // assume-unchanged or skip-worktree: git then takes it as up to date and never looks at
    // its file.
    for path in intent_to_add {
        if !in_scope(path) {
            continue;
        }
        let trusted = index
            .get_path(std::path::Path::new(std::ffi::OsStr::from_bytes(path)), 0)
            .is_some_and(|e| {
                e.flags & ENTRY_VALID != 0 || e.flags_extended & ENTRY_SKIP_WORKTREE != 0
            });
        if trusted {
            changes.remove(path);
            continue;
        }
        let exists = workdir
            .join(std::ffi::OsStr::from_bytes(path))
            .symlink_metadata()
            .is_ok();
        changes.insert(
            path.clone(),
            if exists {
                Change::Added
            } else {
                Change::Deleted
            },
        );
    }
    Ok((changes, listed))
}

/// Whether git shows `path`, an entry libgit2's diff called untracked or (`ignored`) ignored
/// (a directory ends with `/`), as untracked: not hidden by git's ignore rules, and for a
/// directory that libgit2 ignored whole, holding something git shows. What a directory
/// libgit2 called untracked holds stays its to decide here (the callers that need git's rule
/// for untracked directories settle them after).
fn shows_untracked(
    rules: &mut IgnoreRules<'_>,
    workdir: &std::path::Path,
    path: &[u8],
    ignored: bool,
) -> Result<bool, git2::Error> {
    let (name, is_dir) = match path.strip_suffix(b"/") {
        Some(dir) => (dir, true),
        None => (path, false),
    };
    if rules.is_ignored(name, is_dir)? {
        return Ok(false);
    }
    if !is_dir || !ignored {
        return Ok(true);
    }
    super::untracked::directory_shows(workdir, name, &mut |p: &[u8], d: bool| {
        rules.is_ignored(p, d)
    })
}

/// True when `path` (possibly `dir/`) is, or lies under, a path the index holds as a file:
/// git does not look inside a tracked file replaced by a directory, libgit2 does.
fn under_tracked_file(index: &Index, path: &[u8]) -> bool {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    let tracked = |prefix: &[u8]| {
        let prefix = std::path::Path::new(std::ffi::OsStr::from_bytes(prefix));
        (0..=3).any(|stage| index.get_path(prefix, stage).is_some())
    };
    tracked(path)
        || path
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'/' && tracked(&path[..i]))
}

/// Brings libgit2's untracked answer under `scopes` (`untracked`) to git's rule for untracked
/// directories ([`directory_shows`](super::untracked::directory_shows)): the directories it
/// reported are decided again, and the untracked directories at or under each scope that it
/// did not report (a nested repository alone, a `.GIT` file) are added when git shows them,
/// by the ignore `rules`.
fn settle_untracked_directories(
    repo: &Repository,
    index: &Index,
    scopes: &[Vec<u8>],
    untracked: &mut BTreeSet<Vec<u8>>,
    rules: &mut IgnoreRules<'_>,
) -> Result<(), git2::Error> {
    let workdir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let mut is_ignored = |path: &[u8], is_dir: bool| rules.is_ignored(path, is_dir);
    let reported: Vec<Vec<u8>> = untracked
        .iter()
        .filter(|p| p.ends_with(b"/"))
        .cloned()
        .collect();
    for dir in reported {
        if !super::untracked::directory_shows(&workdir, &dir[..dir.len() - 1], &mut is_ignored)? {
            untracked.remove(&dir);
        }
    }
    let mut candidates = Vec::new();
    for scope in scopes {
        untracked_dirs_at(index, &workdir, scope, &mut candidates);
    }
    for mut dir in candidates {
        dir.push(b'/');
        if untracked.contains(&dir) {
            continue;
        }
        let name = &dir[..dir.len() - 1];
        if !is_ignored(name, true)?
            && super::untracked::directory_shows(&workdir, name, &mut is_ignored)?
        {
            untracked.insert(dir);
        }
    }
    Ok(())
}

/// The untracked directories at `path` or below it through tracked directories: `path` itself
/// when it is a directory holding no index entry, else those found listing it. Nothing under
/// a tracked file replaced by a directory (git does not look inside).
fn untracked_dirs_at(
    index: &Index,
    workdir: &std::path::Path,
    path: &[u8],
    out: &mut Vec<Vec<u8>>,
) {
    let full = workdir.join(std::ffi::OsStr::from_bytes(path));
    if !full.symlink_metadata().is_ok_and(|m| m.is_dir()) || under_tracked_file(index, path) {
        return;
    }
    let mut prefix = path.to_vec();
    prefix.push(b'/');
    if index.find_prefix(prefix.as_slice()).is_err() {
        out.push(path.to_vec());
        return;
    }
    let Ok(entries) = std::fs::read_dir(&full) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.as_bytes() != b".git" && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let mut child = prefix.clone();
            child.extend_from_slice(name.as_bytes());
            untracked_dirs_at(index, workdir, &child, out);
        }
    }
}
