//! The disposable areas of a developer's namespace — `cache/`, `logs/` and `workspace/temp/`
//! of `dev-<id>/`, where the FlowForge v2 tools keep what can be made again — their sizes
//! ([`usage`]) and their cleaning ([`clean`]).
//!
//! Cleaning removes files, never directories, and never follows a link: a link found in an
//! area is removed itself. `cache/time-tracking.json` is kept: the v2 tools record time there,
//! and it is the starting point of the time tracking until the store holds one. The pooled
//! spares of a view (`cache/.tmp-spare-<slot>-git-status.json`, the files its writes take
//! turns with) are FlowForge's bookkeeping, not the area's content: neither counted nor
//! removed here; [`gc`](crate::gc()) removes those of views that are gone.

use std::path::{Path, PathBuf};

use flowforge_core::{DeveloperId, Layout};

use crate::{
    error::Result,
    fs::{FileKind, list_dir_stat, remove_file},
};

/// One disposable area of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Area {
    /// `dev-<id>/cache/`: the git status snapshot and the v2 tools' caches.
    Cache,
    /// `dev-<id>/logs/`: the v2 tools' logs.
    Logs,
    /// `dev-<id>/workspace/temp/`: temporary files.
    Temp,
}

impl Area {
    /// Every area.
    pub const ALL: [Area; 3] = [Area::Cache, Area::Logs, Area::Temp];

    /// The area's directory for `dev`.
    pub fn dir(self, layout: &Layout, dev: &DeveloperId) -> PathBuf {
        match self {
            Area::Cache => layout.cache_dir(dev),
            Area::Logs => layout.dev_dir(dev).join("logs"),
            Area::Temp => layout.dev_dir(dev).join("workspace").join("temp"),
        }
    }

    /// Its name: `cache`, `logs` or `temp`.
    pub fn name(self) -> &'static str {
        match self {
            Area::Cache => "cache",
            Area::Logs => "logs",
            Area::Temp => "temp",
        }
    }
}

/// The files of an area and their size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Files (and links) beneath the area, at any depth.
    pub files: u64,
    /// Their sizes summed, in bytes (a link counts its own size).
    pub bytes: u64,
}

/// What [`clean`] removed (or, on a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// The files, in the order found.
    pub files: Vec<PathBuf>,
    /// Their sizes summed, in bytes.
    pub bytes: u64,
    /// Files left in place on purpose (`cache/time-tracking.json`).
    pub kept: Vec<PathBuf>,
}

/// The files and bytes of `area` of `dev`'s namespace; an absent area is empty.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) or [`Error::Symlink`](crate::Error::Symlink) naming a
/// directory that cannot be listed.
pub fn usage(layout: &Layout, dev: &DeveloperId, area: Area) -> Result<Usage> {
    let mut usage = Usage::default();
    walk(layout.root(), &area.dir(layout, dev), &mut |_, size| {
        usage.files += 1;
        usage.bytes += size;
        Ok(())
    })?;
    Ok(usage)
}

/// Removes the files of `areas` of `dev`'s namespace (see the [module docs](self)); with
/// `dry_run`, only lists them.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) or [`Error::Symlink`](crate::Error::Symlink) naming the
/// file or directory; files removed before the error stay removed.
pub fn clean(layout: &Layout, dev: &DeveloperId, areas: &[Area], dry_run: bool) -> Result<Cleaned> {
    let root = layout.root();
    let keep = crate::compat::cache_time_tracking(layout, dev);
    let mut cleaned = Cleaned::default();
    for area in Area::ALL.into_iter().filter(|a| areas.contains(a)) {
        walk(root, &area.dir(layout, dev), &mut |path, size| {
            if path == keep {
                cleaned.kept.push(path.to_owned());
                return Ok(());
            }
            if !dry_run {
                remove_file(root, path)?;
            }
            cleaned.files.push(path.to_owned());
            cleaned.bytes += size;
            Ok(())
        })?;
    }
    Ok(cleaned)
}

/// Calls `f` with every file and link beneath `dir` (depth first, sorted by name), never
/// following a link.
fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&Path, u64) -> Result<()>) -> Result<()> {
    let Some(mut entries) = list_dir_stat(root, dir)? else {
        return Ok(());
    };
    entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (entry, stat) in entries {
        if stat.kind == FileKind::File && crate::fs::parse_pooled(&entry.name).is_some() {
            continue;
        }
        let path = dir.join(&entry.name);
        match stat.kind {
            FileKind::Dir => walk(root, &path, f)?,
            _ => f(&path, stat.size)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use flowforge_core::model::DeveloperInfo;

    use super::*;

    #[test]
    fn clean_removes_files_of_the_chosen_areas_and_keeps_the_time_file() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        let alice = DeveloperId::new("alice").unwrap();
        crate::namespace::init(&layout, &alice, &DeveloperInfo::default()).unwrap();
        let cache = Area::Cache.dir(&layout, &alice);
        let logs = Area::Logs.dir(&layout, &alice);
        fs::create_dir_all(cache.join("provider")).unwrap();
        fs::create_dir_all(&logs).unwrap();
        fs::write(cache.join("git-status.json"), "12345").unwrap();
        fs::write(cache.join("provider/github.json"), "123").unwrap();
        fs::write(cache.join("time-tracking.json"), "{}").unwrap();
        fs::write(logs.join("session.log"), "1234567").unwrap();
        let outside = tmp.path().join("outside");
        fs::write(&outside, "keep me").unwrap();
        std::os::unix::fs::symlink(&outside, cache.join("link")).unwrap();

        let before = usage(&layout, &alice, Area::Cache).unwrap();
        assert_eq!(before.files, 4);
        let dry = clean(&layout, &alice, &[Area::Cache], true).unwrap();
        assert_eq!(dry.files.len(), 3, "{dry:?}");
        assert_eq!(usage(&layout, &alice, Area::Cache).unwrap(), before);

        let done = clean(&layout, &alice, &[Area::Cache], false).unwrap();
        assert_eq!(done, dry);
        assert_eq!(done.kept, [cache.join("time-tracking.json")]);
        assert_eq!(usage(&layout, &alice, Area::Cache).unwrap().files, 1);
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me");
        assert!(cache.join("provider").is_dir(), "directories stay");
        assert_eq!(
            usage(&layout, &alice, Area::Logs).unwrap(),
            Usage { files: 1, bytes: 7 }
        );
        assert_eq!(
            usage(&layout, &alice, Area::Temp).unwrap(),
            Usage::default()
        );
    }
}
