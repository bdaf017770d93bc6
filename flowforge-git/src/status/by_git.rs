//! The status as the `git` program reports it, for repositories libgit2 cannot read (see
//! [`Engine::GitProgram`](super::Engine::GitProgram)): `git status --porcelain=v2 -z
//! --branch`, parsed into the same model the other engines fill, so that every formatter
//! prints it as git would.
//!
//! Porcelain v2 is git's stable, machine-readable form: the header names the branch, its
//! upstream and the ahead/behind counts (none when the upstream is gone); each entry gives
//! both letters, a rename's source, an unmerged path's two-letter code, or `?` for untracked.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsStr,
    path::Path,
};

use super::types::{
    Change, Head, StagedChange, StagedSide, Status, Unmerged, UnstagedSide, Upstream,
};
use crate::{error::Result, git_program};

/// Computes the status of the work tree at `workdir` with the `git` program, because of
/// `why`. `no_optional_locks`: as `git --no-optional-locks` (git may otherwise refresh the
/// index's stat data, as it always does).
///
/// # Errors
///
/// [`Error::GitProgram`](crate::Error::GitProgram) when git cannot be run, fails, or prints
/// something that is not porcelain v2.
pub(crate) fn status(workdir: &Path, no_optional_locks: bool, why: &str) -> Result<Status> {
    let mut args = Vec::new();
    if no_optional_locks {
        args.push(OsStr::new("--no-optional-locks"));
    }
    args.extend(["status", "--porcelain=v2", "-z", "--branch"].map(OsStr::new));
    let out = git_program::run(workdir, &args, false)?;
    let quote = ["config", "--type=bool", "--get", "core.quotePath"].map(OsStr::new);
    let quote_path = git_program::run(workdir, &quote, true)? != b"false\n";
    let status = parse(&out, quote_path).map_err(|what| {
        git_program::failed(workdir, &args, format!("unreadable output: {what}"))
    })?;
    Ok(status.computed_by_git_because(why))
}

/// One index entry, as [`rules_only_git_reads`] needs it.
pub(crate) struct IndexedPath<'a> {
    pub path: &'a [u8],
    pub stage: u8,
    pub mode: u32,
    pub skip_worktree: bool,
}

/// Why the status needs the `git` program because git reads rules from the index or HEAD
/// where libgit2 reads only the work tree, or `None`:
///
/// * a skip-worktree `.gitignore` missing from the work tree (git reads the index's copy)
///   in a directory that exists (else nothing untracked can be below it);
/// * submodules with `.gitmodules` missing from the work tree but in the index or in HEAD,
///   and not unmerged (git reads `:.gitmodules`, else `HEAD:.gitmodules`, for their names
///   and `ignore` rules).
pub(crate) fn rules_only_git_reads<'a>(
    git: &git2::Repository,
    workdir: &Path,
    entries: impl IntoIterator<Item = IndexedPath<'a>>,
) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let on_disk = |path: &[u8]| workdir.join(OsStr::from_bytes(path)).exists();
    let (mut gitlinks, mut gitmodules_staged, mut gitmodules_unmerged) = (false, false, false);
    for entry in entries {
        if entry.mode & 0o170000 == 0o160000 {
            gitlinks = true;
        }
        if entry.path == b".gitmodules" {
            match entry.stage {
                0 => gitmodules_staged = true,
                _ => gitmodules_unmerged = true,
            }
        }
        let is_ignore_file = entry.path == b".gitignore" || entry.path.ends_with(b"/.gitignore");
        if is_ignore_file && entry.skip_worktree && !on_disk(entry.path) {
            let dir = &entry.path[..entry.path.len() - b".gitignore".len()];
            if dir.is_empty() || on_disk(dir) {
                return Some(format!(
                    "git reads the skip-worktree {} from the index",
                    String::from_utf8_lossy(entry.path)
                ));
            }
        }
    }
    if !gitlinks || gitmodules_unmerged || on_disk(b".gitmodules") {
        return None;
    }
    let in_head = || {
        git.head()
            .and_then(|h| h.peel_to_tree())
            .is_ok_and(|tree| tree.get_name(".gitmodules").is_some())
    };
    (gitmodules_staged || in_head())
        .then(|| "git reads .gitmodules from the index or HEAD".to_owned())
}

/// Reads porcelain v2 `-z --branch` output.
fn parse(out: &[u8], quote_path: bool) -> Result<Status, String> {
    let mut head = Head {
        branch: None,
        commit: None,
        upstream: None,
        unborn: false,
    };
    let mut upstream_name = None;
    let mut ahead_behind = None;
    let mut staged = BTreeMap::new();
    let mut unmerged = BTreeMap::new();
    let mut unstaged = BTreeMap::new();
    let mut untracked = BTreeSet::new();
    let mut worktree_renames = BTreeMap::new();
    let mut records = out.split(|&b| b == 0);
    while let Some(record) = records.next() {
        if record.is_empty() {
            continue;
        }
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match record[0] {
            b'#' => {
                let line = text(record);
                if let Some(oid) = line.strip_prefix("# branch.oid ") {
                    head.unborn = oid == "(initial)";
                    head.commit = git2::Oid::from_str(oid).ok().filter(|_| oid.len() == 40);
                } else if let Some(name) = line.strip_prefix("# branch.head ") {
                    head.branch = (name != "(detached)").then(|| name.to_owned());
                } else if let Some(name) = line.strip_prefix("# branch.upstream ") {
                    upstream_name = Some(name.to_owned());
                } else if let Some(ab) = line.strip_prefix("# branch.ab ") {
                    let count = |s: Option<&str>, sign: char| {
                        s.and_then(|s| s.strip_prefix(sign))
                            .and_then(|n| n.parse::<usize>().ok())
                    };
                    let mut parts = ab.split(' ');
                    match (count(parts.next(), '+'), count(parts.next(), '-')) {
                        (Some(ahead), Some(behind)) => ahead_behind = Some((ahead, behind)),
                        _ => return Err(format!("a bad ahead/behind line {line:?}")),
                    }
                }
            }
            b'1' | b'2' => {
                // `1 XY sub mH mI mW hH hI path`, `2 XY sub mH mI mW hH hI Xscore path\0orig`
                let fields = if record[0] == b'1' { 9 } else { 10 };
                let parts: Vec<&[u8]> = record.splitn(fields, |&b| b == b' ').collect();
                let (Some(xy), Some(path)) = (parts.get(1), parts.get(fields - 1)) else {
                    return Err(format!("a short entry {:?}", text(record)));
                };
                let [x, y] = xy[..] else {
                    return Err(format!("a bad code in {:?}", text(record)));
                };
                let from = if record[0] == b'2' {
                    let from = records.next().filter(|from| !from.is_empty());
                    Some(from.ok_or("a rename without its source")?.to_vec())
                } else {
                    None
                };
                let path = path.to_vec();
                let paired = |c: Change| matches!(c, Change::Renamed | Change::Copied);
                if let Some(change) = change(x)? {
                    let from = from.clone().filter(|_| paired(change));
                    staged.insert(path.clone(), StagedChange::new(change, from));
                }
                match (change(y)?, from) {
                    (Some(change), Some(from)) if paired(change) => {
                        // The destination is an intent-to-add entry (shown as its pair).
                        unstaged.insert(path.clone(), Change::Added);
                        worktree_renames.insert(path, (from, change));
                    }
                    (Some(change), _) => {
                        unstaged.insert(path, change);
                    }
                    (None, _) => {}
                }
            }
            b'u' => {
                // `u XY sub m1 m2 m3 mW h1 h2 h3 path`
                let parts: Vec<&[u8]> = record.splitn(11, |&b| b == b' ').collect();
                let (Some(xy), Some(path)) = (parts.get(1), parts.get(10)) else {
                    return Err(format!("a short unmerged entry {:?}", text(record)));
                };
                let conflict = UNMERGED
                    .iter()
                    .find(|u| &u.code()[..] == *xy)
                    .ok_or_else(|| format!("an unknown unmerged code {:?}", text(xy)))?;
                unmerged.insert(path.to_vec(), *conflict);
            }
            b'?' => {
                let path = record.get(2..).ok_or("an empty untracked entry")?;
                untracked.insert(path.to_vec());
            }
            b'!' => {} // ignored entries, shown only when asked for
            _ => return Err(format!("an unknown entry {:?}", text(record))),
        }
    }
    head.upstream = upstream_name.map(|name| match ahead_behind {
        Some((ahead, behind)) => Upstream {
            name,
            gone: false,
            ahead,
            behind,
        },
        None => Upstream {
            name,
            gone: true,
            ahead: 0,
            behind: 0,
        },
    });
    let staged = StagedSide::new(staged, unmerged, BTreeSet::new());
    let mut unstaged = UnstagedSide::new(unstaged, untracked);
    unstaged.set_renames(worktree_renames);
    Ok(Status::new(head, staged, unstaged, quote_path))
}

const UNMERGED: [Unmerged; 7] = [
    Unmerged::BothDeleted,
    Unmerged::AddedByUs,
    Unmerged::DeletedByThem,
    Unmerged::AddedByThem,
    Unmerged::DeletedByUs,
    Unmerged::BothAdded,
    Unmerged::BothModified,
];

/// The change a porcelain v2 letter names (`.` for none).
fn change(letter: u8) -> Result<Option<Change>, String> {
    Ok(Some(match letter {
        b'.' => return Ok(None),
        b'A' => Change::Added,
        b'M' => Change::Modified,
        b'D' => Change::Deleted,
        b'R' => Change::Renamed,
        b'C' => Change::Copied,
        b'T' => Change::TypeChanged,
        other => return Err(format!("an unknown change letter {:?}", other as char)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PorcelainOptions;

    fn v1(out: &[u8]) -> String {
        let status = parse(out, true).expect("parses");
        let options = PorcelainOptions {
            branch: true,
            nul_terminated: false,
        };
        String::from_utf8(status.porcelain(options)).expect("utf-8")
    }

    #[test]
    fn reads_the_header_entries_and_renames() {
        let out =
            b"# branch.oid 0123456789012345678901234567890123456789012345678901234567890123\0\
# branch.head main\0# branch.upstream origin/main\0# branch.ab +1 -2\0\
1 .M N... 100644 100644 100644 aa aa a b\0\
2 R. N... 100644 100644 100644 bb bb R100 new\0old\0\
u UU N... 100644 100644 100644 100644 cc dd ee both\0? dir/\0";
        assert_eq!(
            v1(out),
            "## main...origin/main [ahead 1, behind 2]\n M \"a b\"\nUU both\nR  old -> new\n?? dir/\n"
        );
    }

    #[test]
    fn reads_copies_on_both_sides() {
        let out = b"# branch.oid (initial)\0# branch.head main\0\
1 M. N... 100644 100644 100644 aa bb a\0\
2 C. N... 100644 100644 100644 aa aa C100 b\0a\0\
2 .C N... 100644 100644 100644 aa aa C100 c\0a\0";
        assert_eq!(
            v1(out),
            "## No commits yet on main\nM  a\nC  a -> b\n C a -> c\n"
        );
    }

    #[test]
    fn an_unborn_branch_a_gone_upstream_and_a_detached_head() {
        assert_eq!(
            v1(b"# branch.oid (initial)\0# branch.head main\0# branch.upstream o/m\0"),
            "## No commits yet on main...o/m [gone]\n"
        );
        assert_eq!(
            v1(b"# branch.oid 0123456789012345678901234567890123456789\0# branch.head (detached)\0"),
            "## HEAD (no branch)\n"
        );
    }

    #[test]
    fn refuses_what_is_not_porcelain_v2() {
        assert!(parse(b"M  a\0", true).is_err());
        assert!(parse(b"2 R. N... 1 1 1 a a R100 new\0", true).is_err());
    }
}
