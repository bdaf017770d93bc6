//! Git Sync: every developer's view of git (status and HEAD), cold, warm and after an edit.

use std::path::PathBuf;

use flowforge_core::{DeveloperId, score::Operation};

use super::{Built, Mode, Round, Subject, Variant, not_measured, wrong};
use crate::{error::Result, fixture::Editor, git_cli::git};

/// Builds the Git Sync round in `mode`.
///
/// # Errors
/// None yet; kept for set-up that can fail.
pub fn build(variant: Variant, mode: Mode, subject: &Subject) -> Result<Built> {
    match variant {
        Variant::Naive => Ok(Ok(Box::new(Naive {
            repo: subject.repo.clone(),
            developers: subject.team.developers.clone(),
            editor: (mode == Mode::AfterEdit).then(|| subject.editor.clone()),
            expect: None,
        }))),
        Variant::Optimized => Ok(not_measured("flowforge-git is not on main yet")),
    }
}

/// The plan's current implementation: `git status --porcelain` and `git rev-parse HEAD` per
/// developer, one after the other. It caches nothing, so its three modes differ only in the
/// edit made before an *after edit* round.
struct Naive {
    repo: PathBuf,
    developers: Vec<DeveloperId>,
    editor: Option<Editor>,
    expect: Option<String>,
}

impl Round for Naive {
    fn prepare(&mut self) -> Result<()> {
        if let Some(editor) = &self.editor {
            self.expect = Some(editor.edit_next_file()?);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        for dev in &self.developers {
            let status = git(&self.repo, ["status", "--porcelain"])?;
            let head = git(&self.repo, ["rev-parse", "HEAD"])?;
            if head.len() < 40 {
                return Err(wrong(
                    Operation::GitSync,
                    Variant::Naive,
                    format!("{dev} got no HEAD"),
                ));
            }
            if let Some(path) = &self.expect {
                check_contains_edit(Variant::Naive, dev, &String::from_utf8_lossy(&status), path)?;
            }
        }
        Ok(())
    }
}

/// Fails unless `porcelain` (v1 status text) lists `path` as modified in the work tree.
pub(crate) fn check_contains_edit(
    variant: Variant,
    dev: &DeveloperId,
    porcelain: &str,
    path: &str,
) -> Result<()> {
    let expected = format!(" M {path}");
    if porcelain.lines().any(|line| line == expected) {
        Ok(())
    } else {
        Err(wrong(
            Operation::GitSync,
            variant,
            format!("stale answer: {dev}'s status does not show the edit of {path}"),
        ))
    }
}
