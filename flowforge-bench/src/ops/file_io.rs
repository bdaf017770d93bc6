//! File I/O: every developer writes its git status snapshot (`cache/git-status.json`) and reads
//! it back.

use flowforge_core::{DeveloperId, Layout, model::GitStatusCache, score::Operation};
use flowforge_session::{compat::write_git_status_cache, fs::read_json};

use super::{Built, Round, Variant, plain, wrong};
use crate::{error::Result, fixture::Team};

/// Builds the File I/O round.
///
/// # Errors
/// None yet; kept for set-up that can fail.
pub fn build(variant: Variant, team: &Team) -> Result<Built> {
    Ok(Ok(Box::new(FileIo {
        team: team.clone(),
        variant,
    })))
}

struct FileIo {
    team: Team,
    variant: Variant,
}

impl Round for FileIo {
    fn run(&mut self) -> Result<()> {
        for dev in &self.team.developers {
            write_and_read(self.variant, &self.team.layout, dev)?;
        }
        Ok(())
    }
}

/// The snapshot a developer writes.
fn snapshot(dev: &DeveloperId) -> GitStatusCache {
    GitStatusCache {
        timestamp: jiff::Timestamp::now().as_second(),
        branch: format!("dev-{dev}/work"),
        status: " M src/lib.rs\n?? notes.txt\n".to_owned(),
        uncommitted_changes: 1,
        untracked_files: 1,
        remote_status: "no-upstream".to_owned(),
        extra: serde_json::Map::new(),
    }
}

/// One developer's write and read back: a plain in-place write (naive) or
/// [`write_git_status_cache`], the atomic replace `flowforge status` makes (optimized).
///
/// # Errors
/// [`crate::Error::Io`], [`crate::Error::Json`] or [`crate::Error::Session`] naming the file;
/// [`crate::Error::WrongAnswer`] when what is read back is not what was written.
pub fn write_and_read(variant: Variant, layout: &Layout, dev: &DeveloperId) -> Result<()> {
    let path = layout.git_status_cache(dev);
    let written = snapshot(dev);
    let read: Option<GitStatusCache> = match variant {
        Variant::Naive => {
            plain::write_json(&path, &written)?;
            plain::read_json(&path)?
        }
        Variant::Optimized => {
            write_git_status_cache(layout, dev, &written)?;
            read_json(layout.root(), &path)?
        }
    };
    if read.as_ref() != Some(&written) {
        return Err(wrong(
            Operation::FileIo,
            variant,
            format!("{} did not read back as written", path.display()),
        ));
    }
    Ok(())
}
