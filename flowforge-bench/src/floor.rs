//! The file-system floor of a per-developer cost: the least that publishing the views the
//! bash tools read can cost when every developer has files of their own, timed at two team
//! sizes.
//!
//! Whatever the engine, a session cycle publishes files of the developer's own that the bash
//! tools read (`sessions/current.json` three times, `time-tracking.json` once), each without
//! tearing: a reader sees the old bytes or the new, never a mix. With 1,000 developers those
//! files — their inodes, directory entries and page-cache pages — no longer stay in the CPU's
//! caches between one developer's turn and the next, as they do with 10, so the kernel's part
//! of a cycle costs more per developer in the larger team even for a workload that does
//! nothing else. The floor is that workload: per developer, [`PUBLISHES`] times, write
//! [`BYTES`] bytes into the developer's spare file (opened, written at its start, closed) and
//! swap it with the view (`renameat2(RENAME_EXCHANGE)`; elsewhere than Linux, a rename over
//! the view and a new spare) — no store, no claims, no history. Its per-developer ratio
//! between two team sizes is what the machine charges any design that keeps tear-free
//! per-developer views, the yardstick of the per-developer Session target (see
//! [`crate::baseline::FileFloor`]).

use std::{
    fs::{self, OpenOptions},
    os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use crate::{
    error::{Error, Result},
    ops::Round,
};

/// Publications per developer in a round: as many as a session cycle makes of the developer's
/// own views (`current.json` at the end, the start and the update; `time-tracking.json` once).
pub const PUBLISHES: usize = 4;

/// The bytes each write puts at the start of the file: about a `current.json`.
pub const BYTES: usize = 400;

/// The floor's round over one team's files: see the [module](self).
#[derive(Debug)]
pub struct Floor {
    /// Per developer: the view, and its spare.
    files: Vec<(PathBuf, PathBuf)>,
    bytes: Vec<u8>,
}

impl Floor {
    /// Creates `developers` directories `dev-<i>` under `dir` (mode 0700, `dir` created as
    /// needed), each holding the view `current.json` and its spare `.spare-current.json`, of
    /// [`BYTES`] bytes each (mode 0600): the files the round writes.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] for zero developers; [`Error::Io`] naming the directory or
    /// file that could not be created (an existing `dir` is fine, an existing developer's
    /// directory is not).
    pub fn create(dir: &Path, developers: usize) -> Result<Self> {
        if developers == 0 {
            return Err(Error::InvalidOptions {
                reason: "the file-system floor needs at least one developer".to_owned(),
            });
        }
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o700);
        builder
            .recursive(true)
            .create(dir)
            .map_err(Error::io("cannot create", dir))?;
        builder.recursive(false);
        let bytes = document();
        let files = (0..developers)
            .map(|i| {
                let developer = dir.join(format!("dev-{i}"));
                builder
                    .create(&developer)
                    .map_err(Error::io("cannot create", &developer))?;
                let view = developer.join("current.json");
                let spare = developer.join(".spare-current.json");
                for file in [&view, &spare] {
                    write(file, true, &bytes)?;
                }
                Ok((view, spare))
            })
            .collect::<Result<_>>()?;
        Ok(Self { files, bytes })
    }

    /// The views a round publishes, one per developer.
    pub fn views(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|(view, _)| view.as_path())
    }
}

impl Round for Floor {
    /// Per developer, [`PUBLISHES`] times: write [`BYTES`] bytes at the start of its spare,
    /// then swap the spare with the view.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that could not be written or swapped (one removed since
    /// [`Floor::create`]: the round creates no file, except the spare a platform without
    /// `RENAME_EXCHANGE` makes anew).
    fn run(&mut self) -> Result<()> {
        for (view, spare) in &self.files {
            for _ in 0..PUBLISHES {
                write(spare, false, &self.bytes)?;
                swap(spare, view)?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` at the start of `file` (0600 when `create`d, which it must then be), without
/// truncating it.
fn write(file: &Path, create: bool, bytes: &[u8]) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(create)
        .mode(0o600)
        .open(file)
        .and_then(|f| f.write_all_at(bytes, 0))
        .map_err(Error::io("cannot write", file))
}

/// Publishes `spare` as `view`, the view's old bytes becoming the spare.
#[cfg(target_os = "linux")]
fn swap(spare: &Path, view: &Path) -> Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, spare, CWD, view, RenameFlags::EXCHANGE)
        .map_err(|e| Error::io("cannot swap", view)(e.into()))
}

/// Publishes `spare` as `view` by a rename over it, and makes the next spare a copy.
#[cfg(not(target_os = "linux"))]
fn swap(spare: &Path, view: &Path) -> Result<()> {
    if !spare.exists() {
        return Err(Error::io("cannot swap", spare)(
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    fs::rename(spare, view).map_err(Error::io("cannot swap", view))?;
    fs::copy(view, spare).map_err(Error::io("cannot write", spare))?;
    Ok(())
}

/// [`BYTES`] bytes of JSON: an empty object padded with spaces, and a newline.
fn document() -> Vec<u8> {
    let mut bytes = vec![b' '; BYTES];
    bytes[0] = b'{';
    bytes[BYTES - 2] = b'}';
    bytes[BYTES - 1] = b'\n';
    bytes
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A round publishes each developer's view whole (the spare's bytes, written over what
    /// was there, then swapped in), the files 0600 in 0700 directories.
    #[test]
    fn a_round_publishes_every_developers_view() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("floor").join("3");
        let mut floor = Floor::create(&dir, 3).unwrap();
        assert_eq!(floor.views().len(), 3);
        for (view, spare) in &floor.files {
            for file in [view, spare] {
                assert_eq!(mode(file), 0o600, "{}", file.display());
                fs::write(file, b"old").unwrap();
            }
            assert_eq!(mode(view.parent().unwrap()), 0o700);
        }
        floor.run().unwrap();
        for (view, spare) in &floor.files {
            assert_eq!(fs::read(view).unwrap(), document(), "{}", view.display());
            assert_eq!(
                fs::read(spare).unwrap(),
                document(),
                "the old view, overwritten"
            );
        }
        let parsed: serde_json::Value = serde_json::from_slice(&document()).unwrap();
        assert_eq!(parsed, serde_json::json!({}));
    }

    /// Bad input and a vanished file are errors naming what failed, not panics.
    #[test]
    fn zero_developers_or_a_vanished_file_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            Floor::create(tmp.path(), 0),
            Err(Error::InvalidOptions { .. })
        ));
        let mut floor = Floor::create(tmp.path(), 2).unwrap();
        let (view, spare) = floor.files[1].clone();
        fs::remove_file(&view).unwrap();
        match floor.run() {
            Err(Error::Io { path, .. }) => assert_eq!(path, view),
            other => panic!("expected an I/O error naming {}: {other:?}", view.display()),
        }
        fs::remove_file(&spare).unwrap();
        match floor.run() {
            Err(Error::Io { path, .. }) => assert_eq!(path, spare),
            other => panic!(
                "expected an I/O error naming {}: {other:?}",
                spare.display()
            ),
        }
        assert!(!spare.exists(), "the round creates no spare");
        // The same directory again: its developers' directories exist already.
        assert!(matches!(
            Floor::create(tmp.path(), 1),
            Err(Error::Io { .. })
        ));
    }
}
