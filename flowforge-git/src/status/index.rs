//! Reading the index for both engines: libgit2's reader, this crate's parser
//! ([`index_file`](super::index_file)) for the shapes libgit2 refuses (a split or sparse
//! index), and a fingerprint of the index file that tells whether it changed.

use git2::{Index, Repository};

use super::index_file::{self, IndexFile};

/// Reads the index, re-reading it from disk if it changed since this handle last read it.
///
/// An index libgit2 refuses (a split or sparse index) is read by this crate's own parser into
/// an in-memory libgit2 index holding the same entries, which becomes the handle's index (so
/// that libgit2's own reads — attributes, submodules — see it too). Such an index has no file
/// to re-read, so it is built again from the file on every call.
pub(crate) fn fresh_index(repo: &Repository) -> Result<Index, git2::Error> {
    let read = repo.index().and_then(|mut index| {
        if index.path().is_none() {
            // Ours, from an earlier call: the file may have changed since.
            return Err(git2::Error::from_str("an in-memory index"));
        }
        index.read(false)?;
        Ok(index)
    });
    match read {
        Err(e) => {
            let mut index = index_for_libgit2(repo).ok_or(e)?;
            repo.set_index(&mut index)?;
            Ok(index)
        }
        ok => ok,
    }
}

/// The index file `data` of `git`, a split index merged and a sparse index expanded.
pub(crate) fn load_file<'a>(git: &Repository, data: &'a [u8]) -> Option<IndexFile<'a>> {
    index_file::load(data, git.path(), &mut |id| {
        let mut out = Vec::new();
        list_tree(
            git,
            &git2::Oid::from_bytes(id).ok()?,
            &mut Vec::new(),
            &mut out,
        )?;
        Some(out)
    })
}

/// Appends every non-tree entry of tree `id`, recursively, as (path below it, id, mode).
fn list_tree(
    git: &Repository,
    id: &git2::Oid,
    prefix: &mut Vec<u8>,
    out: &mut Vec<index_file::TreeEntry>,
) -> Option<()> {
    let tree = git.find_tree(*id).ok()?;
    for entry in tree.iter() {
        let len = prefix.len();
        prefix.extend_from_slice(entry.name_bytes());
        if entry.kind() == Some(git2::ObjectType::Tree) {
            prefix.push(b'/');
            list_tree(git, &entry.id(), prefix, out)?;
        } else {
            let oid: [u8; 20] = entry.id().as_bytes().try_into().ok()?;
            out.push((prefix.clone(), oid, entry.filemode() as u32));
        }
        prefix.truncate(len);
    }
    Some(())
}

/// The index as an in-memory libgit2 index, for an index file libgit2 refuses to read (a
/// split or sparse index): the same entries, stages, flags and stat data.
pub(crate) fn index_for_libgit2(git: &Repository) -> Option<git2::Index> {
    let data = std::fs::read(git.path().join("index")).ok()?;
    let file = load_file(git, &data)?;
    let mut index = git2::Index::new().ok()?;
    for e in &file.entries {
        let time = |(sec, nsec): (u32, u32)| git2::IndexTime::new(sec as i32, nsec);
        let entry = git2::IndexEntry {
            ctime: time(e.ctime),
            mtime: time(e.mtime),
            dev: 0,
            ino: e.ino,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            file_size: e.size,
            id: git2::Oid::from_bytes(&e.oid).ok()?,
            flags: u16::from(e.stage) << 12 | if e.assume_valid { 0x8000 } else { 0 },
            flags_extended: u16::from(e.intent_to_add) << 13 | u16::from(e.skip_worktree) << 14,
            path: e.path.to_vec(),
        };
        index.add(&entry).ok()?;
    }
    Some(index)
}

/// A fingerprint of the index file: its size, times, inode and trailing checksum. Equal
/// fingerprints mean the same index content (an `index.skipHash` index has a zero checksum,
/// which the times and size cover). Empty when there is no index file.
pub(crate) fn fingerprint(repo: &Repository) -> Vec<u8> {
    use std::{
        io::{Read, Seek, SeekFrom},
        os::unix::fs::MetadataExt,
    };
    let Ok(mut file) = std::fs::File::open(repo.path().join("index")) else {
        return Vec::new();
    };
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let mut print = Vec::with_capacity(80);
    for n in [
        meta.len() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino() as i64,
    ] {
        print.extend_from_slice(&n.to_le_bytes());
    }
    let n = meta.len().min(32);
    let mut tail = vec![0u8; n as usize];
    if file.seek(SeekFrom::End(-(n as i64))).is_ok() && file.read_exact(&mut tail).is_ok() {
        print.extend_from_slice(&tail);
    }
    print
}
