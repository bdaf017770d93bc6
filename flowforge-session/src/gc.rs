//! Reclaiming what is done: superseded versions of every store key, the claims of older
//! stores (one document, or one key per task) once every claims shard holds its part, stray
//! temporary files of writers that are gone, pooled spares of views that are gone, and time
//! segments no document reads. (A live view's pooled spares are not strays: its writers
//! rewrite them instead of creating files, see `fs/publish.rs`.)
//!
//! Writers keep the store bounded on their own (automatic [`Compaction`](crate::store::Compaction)
//! keeps a few versions per key, released claims leave their shard when they are
//! released); [`gc`] brings every key down to its latest version and sweeps what crashed
//! writers left, at any time, while any number of writers run: see `store/compact.rs` for why
//! a writer stalled at any step can neither resurrect a removed version nor lose its update.

use std::{collections::BTreeSet, ffi::OsStr, path::PathBuf};

use flowforge_core::Layout;

use crate::{
    claim::CLAIMS_KEY,
    error::{Error, Result},
    fs::{Dir, Durability, FileKind, POOL, parse_pooled, parse_temp, writer_alive},
    namespace::team_store,
    store::{CompactReport, Key, Store, StoreOptions},
};

/// What [`gc`] does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Only report what would be removed.
    pub dry_run: bool,
}

/// What [`gc`] removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Whether this was a dry run (nothing was removed).
    pub dry_run: bool,
    /// Store keys looked at.
    pub keys: usize,
    /// Versions superseded by a newer one, removed.
    pub superseded_versions: usize,
    /// Keys of older stores' claims (`team/store/claims/`, `team/store/claim-<task>/`),
    /// removed whole once every shard was seeded from them.
    pub legacy_claim_keys: usize,
    /// Temporary files of writers that are gone, removed.
    pub temp_files: usize,
    /// Spare files removed: superseded versions writers keep to rewrite instead of creating
    /// files, and pooled spares of views that are gone (those of live views are kept).
    pub spare_files: usize,
    /// Time segments no document reads, removed whole: sealed by a first addition of minutes
    /// that lost to another, numbered below the document's first
    /// ([`first_segment`](crate::time::first_segment)).
    pub orphan_segments: usize,
    /// Orphaned claims released: their holder's process died between taking the claim and
    /// writing its session (in a dry run, those that would be).
    pub released_claims: Vec<flowforge_core::TaskId>,
    /// The bytes of everything removed.
    pub bytes: u64,
}

impl GcReport {
    fn add(&mut self, compacted: &CompactReport) {
        self.superseded_versions += compacted.removed_versions;
        self.temp_files += compacted.removed_temp_files;
        self.spare_files += compacted.removed_spares;
        self.bytes += compacted.removed_bytes;
    }
}

/// Reclaims the namespace at `layout`: compacts every key of the team store and of each
/// developer's store down to its latest version, releases orphaned claims (a process died
/// between taking a claim and writing its session), seeds every claims shard from an older
/// store's claims and removes those, removes time segments no document reads, and removes
/// temporary files of dead writers anywhere in the namespace. Safe while other processes read
/// and write.
///
/// # Errors
/// [`Error::Io`] or [`Error::Symlink`] naming what could not be listed or removed; what was
/// removed before stays removed (every step is complete in itself, and a later `gc` finishes
/// the job).
pub fn gc(layout: &Layout, options: GcOptions) -> Result<GcReport> {
    let mut report = GcReport {
        dry_run: options.dry_run,
        ..GcReport::default()
    };
    let store_options = StoreOptions::with_durability(Durability::Sync);
    let team = team_store(layout, store_options);
    // Every shard seeded from an older store's claims first: nothing reads those then.
    let has_legacy = crate::claim::seed_shards(&team, options.dry_run)?;
    // Claims no session will release (their process died before writing the session).
    report.released_claims = crate::claim::release_orphans(layout, &team, options.dry_run)?;
    // Opened once for the older store's keys, which may be one per task.
    let legacy_dir = if has_legacy {
        Dir::open(team.root(), team.dir())?
    } else {
        None
    };
    for key in team.keys()? {
        report.keys += 1;
        if has_legacy && (key.as_str() == CLAIMS_KEY || key.claim_task().is_some()) {
            let Some(dir) = &legacy_dir else {
                continue;
            };
            if remove_key(dir, key.as_str(), options, &mut report)? {
                report.legacy_claim_keys += 1;
            }
        } else {
            report.add(&team.compact_key(&key, 1, options.dry_run)?);
        }
    }
    for dev in crate::namespace::namespace_ids(layout.root())? {
        let store = crate::namespace::dev_store(layout, &dev, store_options);
        // Opened before the document is read, and segments removed through it: should the
        // namespace be removed and made again meanwhile, the removals land in the old
        // directory, never among the new document's segments.
        let dir = Dir::open(store.root(), store.dir())?;
        let keys = store.keys()?;
        let first = first_segment(&store)?;
        for key in keys {
            report.keys += 1;
            if let Some(dir) = dir
                .as_ref()
                .filter(|_| segment_number(&key).is_some_and(|n| n < first))
            {
                if remove_key(dir, key.as_str(), options, &mut report)? {
                    report.orphan_segments += 1;
                }
            } else {
                report.add(&store.compact_key(&key, 1, options.dry_run)?);
            }
        }
    }
    // The views whose spares `dev init` provisions keep them even before their first write.
    let provisioned: BTreeSet<PathBuf> = crate::namespace::namespace_ids(layout.root())?
        .iter()
        .flat_map(|dev| crate::namespace::pooled_views(layout, dev))
        .collect();
    if let Some(root) = Dir::open(layout.root(), layout.root())? {
        sweep(&root, 0, &provisioned, options, &mut report)?;
    }
    Ok(report)
}

/// The first sealed time segment the time document of `store` reads
/// ([`crate::time::first_segment`]); 0 without a document, or with one that does not parse
/// (nothing is taken for an orphan then).
///
/// Segments below it are read by no document, now or later: it is set once, by the addition
/// that makes the document (past every segment number in use then), and every later version
/// carries it on; the document is never removed.
///
/// # Errors
/// The store's read errors other than a document that does not parse.
fn first_segment(store: &Store) -> Result<u64> {
    match store.get::<flowforge_core::model::TimeTracking>(&crate::namespace::time_key()) {
        Ok(head) => Ok(head.map_or(0, |head| crate::time::first_segment(&head.value))),
        Err(Error::Json { .. } | Error::Corrupt { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// The number of a time segment's key.
fn segment_number(key: &Key) -> Option<u64> {
    key.as_str()
        .strip_prefix(crate::time::SEGMENT_KEY_PREFIX)?
        .parse()
        .ok()
}

/// Removes the key `name` of the store directory `dir` whole: its files, then its directory.
/// Whether the directory was removed (or, in a dry run, is there to remove).
fn remove_key(dir: &Dir, name: &str, options: GcOptions, report: &mut GcReport) -> Result<bool> {
    let Some(key) = dir.subdir(name)? else {
        return Ok(false);
    };
    for entry in key.entries()? {
        let size = key.stat(&entry.name)?.map_or(0, |st| st.size);
        if options.dry_run || key.remove(&entry.name)? {
            report.bytes += size;
        }
    }
    if options.dry_run {
        return Ok(true);
    }
    match dir.remove_dir(name) {
        Ok(removed) => Ok(removed),
        // A writer put a file in meanwhile (a first addition of minutes still sealing past
        // the document it lost to): the next gc removes the rest.
        Err(Error::Io { source, .. })
            if source.raw_os_error() == Some(rustix::io::Errno::NOTEMPTY.raw_os_error()) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// How deep below the namespace root a stray temporary file is looked for
/// (`dev-<id>/sessions/history/` is 3).
const SWEEP_DEPTH: usize = 4;

/// Removes temporary files of dead writers in `dir` and the directories below it, store
/// directories excepted (compaction sweeps those, knowing which writers it must wait for).
fn sweep(
    dir: &Dir,
    depth: usize,
    provisioned: &BTreeSet<PathBuf>,
    options: GcOptions,
    report: &mut GcReport,
) -> Result<()> {
    for entry in dir.entries()? {
        match entry.kind {
            FileKind::Dir if depth < SWEEP_DEPTH && !is_store(&entry.name) => {
                let Some(name) = entry.name.to_str() else {
                    continue;
                };
                if let Some(sub) = dir.subdir(name)? {
                    sweep(&sub, depth + 1, provisioned, options, report)?;
                }
            }
            FileKind::File => {
                if let Some((slot, target)) = parse_pooled(&entry.name) {
                    // A spare of a live view is kept (its writer rewrites it instead of
                    // creating a file), and so is one provisioned for a view not written
                    // yet; one of a view that is gone, or beyond the pool, is surplus.
                    let live = match dir.stat(target)? {
                        Some(st) => st.kind == FileKind::File,
                        None => provisioned.contains(&dir.join(target)),
                    };
                    if slot < POOL && live {
                        continue;
                    }
                    let size = dir.stat(&entry.name)?.map_or(0, |st| st.size);
                    if options.dry_run || dir.remove(&entry.name)? {
                        report.spare_files += 1;
                        report.bytes += size;
                    }
                    continue;
                }
                let Some(temp) = parse_temp(&entry.name) else {
                    continue;
                };
                if writer_alive(temp.pid) {
                    continue;
                }
                let size = dir.stat(&entry.name)?.map_or(0, |st| st.size);
                if options.dry_run || dir.remove(&entry.name)? {
                    report.temp_files += 1;
                    report.bytes += size;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_store(name: &OsStr) -> bool {
    name == "store"
}
