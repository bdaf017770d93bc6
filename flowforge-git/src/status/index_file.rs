//! A read-only parser of git's index file (versions 2, 3 and 4, SHA-1), enough for the fast
//! status: every entry's path, id, mode, flags and cached stat data, and the cache-tree's root.
//!
//! [`load`] also reads the two shapes libgit2 refuses: a **split index** (`link` extension:
//! the entries of `sharedindex.<id>` with this file's deletions, replacements and additions
//! applied) and a **sparse index** (`sdir`: a skip-worktree directory entry stands for a whole
//! tree, expanded here into the skip-worktree file entries a full index would hold). What it
//! still does not handle (SHA-256, an unknown required extension, a malformed file) makes it
//! return `None`, and the caller falls back to libgit2.

use std::{borrow::Cow, path::Path};

/// One index entry.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry<'a> {
    /// Where the entry starts in the index file (its stat data are the first 40 bytes).
    pub offset: usize,
    /// Borrowed from the index file's bytes where they hold it whole (versions 2 and 3): no
    /// allocation per entry; owned where it is rebuilt (version 4's prefix compression, a
    /// split index's shared entries, a sparse directory's expansion).
    pub path: Cow<'a, [u8]>,
    pub oid: [u8; 20],
    pub mode: u32,
    pub stage: u8,
    /// `--assume-unchanged`.
    pub assume_valid: bool,
    pub skip_worktree: bool,
    pub intent_to_add: bool,
    /// A sparse-index directory entry (mode `040000`, its id a tree), before expansion.
    pub sparse_dir: bool,
    pub ctime: (u32, u32),
    pub mtime: (u32, u32),
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

/// The parsed index, borrowing from the index file's bytes.
#[derive(Debug)]
pub(crate) struct IndexFile<'a> {
    pub entries: Vec<IndexEntry<'a>>,
    /// The cache-tree's root tree id, when the root is valid.
    pub root_tree: Option<[u8; 20]>,
    /// The `link` extension of a split index, before [`load`] merges the shared index.
    pub link: Option<Link>,
    /// False when the entries do not all come from this file as written (a split or sparse
    /// index): their offsets then do not locate their stat data, and nothing may be written
    /// back in place.
    pub rewritable: bool,
}

impl IndexFile<'_> {
    /// The index of a repository without an index file.
    pub(crate) fn empty() -> Self {
        Self {
            entries: Vec::new(),
            root_tree: None,
            link: None,
            rewritable: false,
        }
    }
}

/// A split index's `link` extension: the shared index it builds on, and which of the shared
/// entries this file deletes and replaces.
#[derive(Debug)]
pub(crate) struct Link {
    pub shared: [u8; 20],
    pub delete: Vec<usize>,
    pub replace: Vec<usize>,
}

/// A blob, link or submodule of a tree: its path below the tree, id and mode.
pub(crate) type TreeEntry = (Vec<u8>, [u8; 20], u32);

/// The index at `data` (the bytes of `<git dir>/index`), with a split index merged with its
/// shared index from `git_dir` and a sparse index's directory entries expanded by `tree`,
/// which lists a tree's blobs and links recursively as (path below it, id, mode).
pub(crate) fn load<'a>(
    data: &'a [u8],
    git_dir: &Path,
    tree: &mut dyn FnMut(&[u8; 20]) -> Option<Vec<TreeEntry>>,
) -> Option<IndexFile<'a>> {
    let mut index = parse(data)?;
    if let Some(link) = index.link.take() {
        index = merge_split(index, &link, git_dir)?;
    }
    if index.entries.iter().any(|e| e.sparse_dir) {
        index.rewritable = false;
        let mut expanded = Vec::with_capacity(index.entries.len());
        for entry in std::mem::take(&mut index.entries) {
            if !entry.sparse_dir {
                expanded.push(entry);
                continue;
            }
            for (below, oid, mode) in tree(&entry.oid)? {
                let mut path = entry.path.to_vec();
                path.extend_from_slice(&below);
                expanded.push(IndexEntry {
                    path: Cow::Owned(path),
                    oid,
                    mode,
                    sparse_dir: false,
                    ctime: (0, 0),
                    mtime: (0, 0),
                    ino: 0,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    ..entry.clone()
                });
            }
        }
        expanded.sort_by(|a, b| (&a.path, a.stage).cmp(&(&b.path, b.stage)));
        index.entries = expanded;
    }
    Some(index)
}

/// git's `merge_base_index`: the shared entries minus the deleted ones, the replaced ones
/// taken from this file in order (keeping the shared path when the replacement has none),
/// then this file's remaining entries, all sorted by path and stage.
fn merge_split<'a>(split: IndexFile<'a>, link: &Link, git_dir: &Path) -> Option<IndexFile<'a>> {
    let name = format!("sharedindex.{}", hex(&link.shared));
    let shared_data = std::fs::read(git_dir.join(name)).ok()?;
    let shared = parse(&shared_data)?;
    if shared.link.is_some() {
        return None;
    }
    let mut own = split.entries.into_iter();
    let (mut delete, mut replace) = (
        link.delete.iter().peekable(),
        link.replace.iter().peekable(),
    );
    let mut entries = Vec::with_capacity(shared.entries.len());
    // The shared entries are read from a file of their own, dropped here: they own their paths.
    let shared_entries = shared.entries.into_iter().map(|e| IndexEntry {
        path: Cow::Owned(e.path.into_owned()),
        ..e
    });
    for (i, base) in shared_entries.enumerate() {
        let deleted = delete.next_if_eq(&&i).is_some();
        if replace.next_if_eq(&&i).is_some() {
            let mut new = own.next()?;
            if new.path.is_empty() {
                new.path = base.path;
            }
            if !deleted {
                entries.push(new);
            }
        } else if !deleted {
            entries.push(base);
        }
    }
    if delete.next().is_some() || replace.next().is_some() {
        return None; // bits beyond the shared index: not a pair git wrote
    }
    entries.extend(own);
    entries.sort_by(|a, b| (&a.path, a.stage).cmp(&(&b.path, b.stage)));
    Some(IndexFile {
        entries,
        root_tree: split.root_tree,
        link: None,
        rewritable: false,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The set bits of git's EWAH-compressed bitmap (`ewah_read_mmap`), in increasing order, and
/// the bytes it used.
fn ewah_bits(data: &[u8]) -> Option<(Vec<usize>, usize)> {
    let bit_size = be32(data, 0)? as usize;
    let words = be32(data, 4)? as usize;
    let body = data.get(8..8usize.checked_add(words.checked_mul(8)?)?)?;
    let word = |i: usize| -> Option<u64> {
        Some(u64::from_be_bytes(
            body.get(i * 8..i * 8 + 8)?.try_into().ok()?,
        ))
    };
    let mut bits = Vec::new();
    let (mut at, mut position) = (0usize, 0usize);
    while at < words {
        let marker = word(at)?;
        let running_bit = marker & 1 != 0;
        let running_len = ((marker >> 1) & 0xffff_ffff) as usize;
        let literals = (marker >> 33) as usize;
        let run_bits = running_len.checked_mul(64)?;
        if position.checked_add(run_bits)? > bit_size.div_ceil(64) * 64 {
            return None; // a run past the bitmap's own size
        }
        if running_bit {
            bits.extend(position..(position + run_bits).min(bit_size));
        }
        position += run_bits;
        for k in 0..literals {
            let literal = word(at + 1 + k)?;
            bits.extend(
                (0..64)
                    .filter(|b| literal >> b & 1 != 0)
                    .map(|b| position + b)
                    .filter(|&bit| bit < bit_size),
            );
            position += 64;
        }
        at += 1 + literals;
    }
    // The trailing 4 bytes locate the last marker word.
    Some((bits, 8 + words * 8 + 4))
}

const SHA1_LEN: usize = 20;

/// Parses `data` (the whole index file), or `None` when the fast path must not be used.
pub(crate) fn parse(data: &[u8]) -> Option<IndexFile<'_>> {
    if data.len() < 12 + SHA1_LEN {
        return None;
    }
    let (version, count) = header(data)?;
    let end = data.len() - SHA1_LEN;
    let mut at = 12;
    let mut entries = Vec::with_capacity(count);
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = at;
        let field = |i: usize| be32(data, start + 4 * i);
        let (ctime, mtime) = ((field(0)?, field(1)?), (field(2)?, field(3)?));
        let (ino, mode, uid, gid, size) = (field(5)?, field(6)?, field(7)?, field(8)?, field(9)?);
        let oid: [u8; 20] = data.get(start + 40..start + 60)?.try_into().ok()?;
        let flags = be16(data, start + 60)?;
        at = start + 62;
        let mut extended = 0u16;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            extended = be16(data, at)?;
            at += 2;
        }
        let path = if version == 4 {
            let (strip, used) = varint(data.get(at..end)?)?;
            at += used;
            let nul = data.get(at..end)?.iter().position(|&b| b == 0)?;
            let keep = previous.len().checked_sub(strip)?;
            let mut path = previous[..keep].to_vec();
            path.extend_from_slice(&data[at..at + nul]);
            at += nul + 1;
            previous.clone_from(&path);
            Cow::Owned(path)
        } else {
            let nul = data.get(at..end)?.iter().position(|&b| b == 0)?;
            let path = &data[at..at + nul];
            // Entries are padded with 1-8 NULs to a multiple of 8 bytes.
            let len = at + nul - start;
            at = start + ((len + 8) & !7);
            Cow::Borrowed(path)
        };
        if at > end {
            return None; // malformed
        }
        // A sparse-index directory entry: `dir/`, skip-worktree, the id of a tree.
        let sparse_dir = mode & 0o170000 == 0o040000;
        if sparse_dir && (extended & 0x4000 == 0 || !path.ends_with(b"/")) {
            return None;
        }
        entries.push(IndexEntry {
            offset: start,
            path,
            oid,
            mode,
            stage: ((flags >> 12) & 3) as u8,
            assume_valid: flags & 0x8000 != 0,
            skip_worktree: extended & 0x4000 != 0,
            intent_to_add: extended & 0x2000 != 0,
            sparse_dir,
            ctime,
            mtime,
            ino,
            uid,
            gid,
            size,
        });
    }
    let mut root_tree = None;
    let mut link = None;
    while at + 8 <= end {
        let signature = &data[at..at + 4];
        let size = be32(data, at + 4)? as usize;
        let body = data.get(at + 8..at + 8 + size)?;
        match signature {
            b"TREE" => root_tree = cache_tree_root(body),
            b"link" => link = Some(parse_link(body)?),
            // Marks a sparse index, whose directory entries were read above.
            b"sdir" => {}
            // Other optional extensions (REUC, UNTR, FSMN, EOIE, IEOT…) start with A-Z.
            [first, ..] if !first.is_ascii_uppercase() => return None,
            _ => {}
        }
        at += 8 + size;
    }
    Some(IndexFile {
        entries,
        root_tree,
        link,
        rewritable: true,
    })
}

/// The `link` extension: the shared index's id, then (when the file holds entries of its
/// own) the delete and replace bitmaps.
fn parse_link(body: &[u8]) -> Option<Link> {
    let shared: [u8; 20] = body.get(..SHA1_LEN)?.try_into().ok()?;
    let rest = &body[SHA1_LEN..];
    let (delete, replace) = if rest.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let (delete, used) = ewah_bits(rest)?;
        let (replace, _) = ewah_bits(rest.get(used..)?)?;
        (delete, replace)
    };
    Some(Link {
        shared,
        delete,
        replace,
    })
}

/// The root of the `TREE` extension: `"" NUL count SP subtrees LF oid`, valid when count >= 0.
fn cache_tree_root(body: &[u8]) -> Option<[u8; 20]> {
    let nul = body.iter().position(|&b| b == 0)?;
    if nul != 0 {
        return None;
    }
    let rest = &body[1..];
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&rest[..lf]).ok()?;
    let count: i64 = header.split(' ').next()?.parse().ok()?;
    if count < 0 {
        return None;
    }
    rest.get(lf + 1..lf + 1 + SHA1_LEN)?.try_into().ok()
}

/// Calls `visit` with every entry's path, in the index's order, reading `file` as a stream:
/// nothing is kept, neither the entries nor the file (a large buffer freed would leave the
/// allocator keeping later ones resident). `None` when the file is not one [`parse`] reads,
/// or is a split index (its paths are not all in this file).
pub(crate) fn for_each_path(file: impl std::io::Read, mut visit: impl FnMut(&[u8])) -> Option<()> {
    use std::io::{BufRead as _, Read as _};
    let mut file = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut header = [0u8; 12];
    file.read_exact(&mut header).ok()?;
    let (version, count) = self::header(&header)?;
    let mut fixed = [0u8; 64];
    let mut path: Vec<u8> = Vec::new();
    let mut suffix: Vec<u8> = Vec::new();
    for _ in 0..count {
        file.read_exact(&mut fixed[..62]).ok()?;
        let mut len = 62;
        if be16(&fixed, 60)? & 0x4000 != 0 {
            file.read_exact(&mut fixed[62..64]).ok()?;
            len = 64;
        }
        if version == 4 {
            let mut strip = 0usize;
            loop {
                let mut byte = [0u8];
                file.read_exact(&mut byte).ok()?;
                strip = strip
                    .checked_mul(128)?
                    .checked_add(usize::from(byte[0] & 0x7f))?;
                if byte[0] & 0x80 == 0 {
                    break;
                }
                strip = strip.checked_add(1)?;
            }
            suffix.clear();
            file.read_until(0, &mut suffix).ok()?;
            suffix.pop().filter(|&b| b == 0)?;
            path.truncate(path.len().checked_sub(strip)?);
            path.extend_from_slice(&suffix);
        } else {
            path.clear();
            file.read_until(0, &mut path).ok()?;
            path.pop().filter(|&b| b == 0)?;
            // Entries are padded with 1-8 NULs to a multiple of 8 bytes; one is read.
            let padding = ((len + path.len() + 8) & !7) - (len + path.len()) - 1;
            file.read_exact(&mut fixed[..padding]).ok()?;
        }
        visit(&path);
    }
    // The extensions, then the checksum: a split index has a `link` extension.
    let mut rest = Vec::new();
    loop {
        let mut head = [0u8; 8];
        match file.read_exact(&mut head) {
            Ok(()) => {}
            Err(_) => return Some(()), // the checksum's end
        }
        if &head[..4] == b"link" {
            return None;
        }
        if !head[0].is_ascii_uppercase() {
            return Some(()); // the checksum (20 bytes) and nothing after it
        }
        let size = be32(&head, 4)? as u64;
        rest.clear();
        (&mut file).take(size).read_to_end(&mut rest).ok()?;
    }
}

/// The version and entry count of the index whose first 12 bytes are `data`'s, for the
/// versions read here (2 to 4).
fn header(data: &[u8]) -> Option<(u32, usize)> {
    if data.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    Some((version, be32(data, 8)? as usize))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// git's offset varint (as in `decode_varint`): returns the value and the bytes used.
fn varint(data: &[u8]) -> Option<(usize, usize)> {
    let mut used = 0;
    let mut byte = *data.first()?;
    used += 1;
    let mut value = usize::from(byte & 0x7f);
    while byte & 0x80 != 0 {
        byte = *data.get(used)?;
        used += 1;
        value = value.checked_add(1)?.checked_shl(7)? | usize::from(byte & 0x7f);
    }
    Some((value, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &std::path::Path, args: &[&str]) {
        flowforge_testkit::git::ok(dir, args);
    }

    /// Parses the index git wrote in each format version and compares with libgit2's reading.
    #[test]
    fn parses_every_index_version_git_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        git(root, &["init", "-q"]);
        for name in [
            "a.txt",
            "dir/b c.txt",
            "dir/sub/d.txt",
            "dir/sub/e.txt",
            "z",
        ] {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, name).expect("write");
        }
        git(root, &["add", "."]);
        git(root, &["commit", "-qm", "one"]);
        std::fs::write(root.join("ita.txt"), "x").expect("write");
        git(root, &["add", "-N", "ita.txt"]);
        git(root, &["update-index", "--assume-unchanged", "a.txt"]);
        git(root, &["update-index", "--skip-worktree", "z"]);
        for version in ["4", "3", "2"] {
            if version == "2" {
                // Version 2 cannot hold extended flags.
                git(root, &["update-index", "--no-skip-worktree", "z"]);
                git(root, &["rm", "-q", "--cached", "ita.txt"]);
            }
            git(root, &["update-index", "--index-version", version]);
            let data = std::fs::read(root.join(".git/index")).expect("index");
            let parsed = parse(&data).unwrap_or_else(|| panic!("version {version} parses"));
            let repo = git2::Repository::open(root).expect("open");
            let index = repo.index().expect("index");
            let theirs: Vec<(Vec<u8>, git2::Oid, u32)> =
                index.iter().map(|e| (e.path, e.id, e.mode)).collect();
            let ours: Vec<(Vec<u8>, git2::Oid, u32)> = parsed
                .entries
                .iter()
                .map(|e| {
                    (
                        e.path.to_vec(),
                        git2::Oid::from_bytes(&e.oid).expect("oid"),
                        e.mode,
                    )
                })
                .collect();
            assert_eq!(ours, theirs, "version {version}");
            // Versions 2 and 3 hold each path whole: it is borrowed, not allocated per entry.
            let borrowed = parsed
                .entries
                .iter()
                .filter(|e| matches!(e.path, Cow::Borrowed(_)))
                .count();
            let expected = if version == "4" {
                0
            } else {
                parsed.entries.len()
            };
            assert_eq!(borrowed, expected, "version {version}");
            let flags = |p: &[u8]| {
                parsed
                    .entries
                    .iter()
                    .find(|e| *e.path == *p)
                    .expect("entry")
                    .clone()
            };
            assert!(flags(b"a.txt").assume_valid);
            if version != "2" {
                assert!(flags(b"z").skip_worktree);
                assert!(flags(b"ita.txt").intent_to_add);
            }
        }
    }

    #[test]
    fn every_path_is_visited_as_parse_reads_it() {
        for version in ["2", "3", "4"] {
            let repo = flowforge_testkit::TestRepo::new();
            for path in ["a.txt", "dir/b.txt", "dir/sub/c.txt", "dir-x/d", "e"] {
                repo.write(path, "x\n");
            }
            repo.git_ok(&["update-index", "--index-version", version]);
            repo.git_ok(&["add", "-A"]);
            let data = std::fs::read(repo.path().join(".git/index")).expect("index");
            let mut visited = Vec::new();
            for_each_path(data.as_slice(), |p| visited.push(p.to_vec())).expect("read");
            let parsed: Vec<Vec<u8>> = parse(&data)
                .expect("parse")
                .entries
                .iter()
                .map(|e| e.path.to_vec())
                .collect();
            assert_eq!(visited, parsed, "version {version}");
            assert_eq!(visited.len(), 5);
        }
        assert!(for_each_path(&b""[..], |_| {}).is_none());
    }

    #[test]
    fn refuses_what_it_does_not_read() {
        assert!(parse(b"").is_none());
        assert!(parse(&[0u8; 64]).is_none());
        let mut header = b"DIRC\0\0\0\x05\0\0\0\0".to_vec();
        header.extend_from_slice(&[0; 20]);
        assert!(parse(&header).is_none(), "unknown version");
        let mut truncated = b"DIRC\0\0\0\x02\0\0\0\x01".to_vec();
        truncated.extend_from_slice(&[0; 30]);
        assert!(parse(&truncated).is_none(), "an entry past the end");
    }
}
