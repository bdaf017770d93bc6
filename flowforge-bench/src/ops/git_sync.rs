//! Git Sync: every developer's view of git (status and HEAD), cold, warm and after an edit.

use std::path::PathBuf;

use flowforge_core::{DeveloperId, score::Operation};

use flowforge_git::{
    DeveloperRequest, Freshness, GitView, SyncReport, ViewOptions, WatchMode, sync_once,
};

use super::{Built, Mode, Round, Subject, Variant, wrong};
use crate::{error::Result, fixture::Editor};
use flowforge_testkit::git::run as git;

/// Builds the Git Sync round in `mode`.
///
/// # Errors
/// [`crate::Error::GitView`] when the repository cannot be opened.
pub fn build(variant: Variant, mode: Mode, subject: &Subject) -> Result<Built> {
    let editor = (mode == Mode::AfterEdit).then(|| subject.editor.clone());
    Ok(Ok(match variant {
        Variant::Naive => Box::new(Naive {
            repo: subject.repo.clone(),
            developers: subject.team.developers.clone(),
            editor,
            expect: None,
        }),
        Variant::Optimized => Box::new(Optimized {
            view: match mode {
                Mode::Cold => None,
                Mode::Warm | Mode::AfterEdit => {
                    Some(GitView::open(&subject.repo, &ViewOptions::default())?)
                }
            },
            repo: subject.repo.clone(),
            requests: subject
                .team
                .developers
                .iter()
                .zip(&subject.team.tasks)
                .map(|(dev, task)| DeveloperRequest {
                    id: dev.clone(),
                    tasks: vec![task.clone()],
                })
                .collect(),
            editor,
            expect: None,
        }),
    }))
}

/// flowforge-git: one `sync` call answers every developer from one status and one ref
/// snapshot, asked [`Freshness::Synced`] (the answer includes every change made before the
/// call). *Cold* opens a new view without a watcher every round (a one-shot process); *warm*
/// and *after edit* reuse one watched view.
struct Optimized {
    view: Option<GitView>,
    repo: PathBuf,
    requests: Vec<DeveloperRequest>,
    editor: Option<Editor>,
    expect: Option<String>,
}

impl Round for Optimized {
    fn prepare(&mut self) -> Result<()> {
        if let Some(editor) = &self.editor {
            self.expect = Some(editor.edit_next_file()?);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        let report = match &self.view {
            Some(view) => view.sync(&self.requests, Freshness::Synced)?,
            None => sync_once(
                &self.repo,
                &self.requests,
                &ViewOptions {
                    watch: WatchMode::Off,
                    ..ViewOptions::default()
                },
                Freshness::Synced,
            )?,
        };
        check_report(&report, &self.requests, self.expect.as_deref())
    }
}

/// Every developer got an answer, with their branches, containing the edit when there is one.
fn check_report(
    report: &SyncReport,
    requests: &[DeveloperRequest],
    edit: Option<&str>,
) -> Result<()> {
    if report.developers.len() != requests.len() {
        return Err(wrong(
            Operation::GitSync,
            Variant::Optimized,
            format!(
                "{} developers asked, {} answered",
                requests.len(),
                report.developers.len()
            ),
        ));
    }
    for (answer, request) in report.developers.iter().zip(requests) {
        if answer.developer != request.id || answer.branches().len() == 0 {
            return Err(wrong(
                Operation::GitSync,
                Variant::Optimized,
                format!("{}'s answer lacks their branches", request.id),
            ));
        }
        if let Some(path) = edit {
            if answer.entry(path.as_bytes()).is_none() {
                return Err(wrong(
                    Operation::GitSync,
                    Variant::Optimized,
                    format!(
                        "stale answer: {}'s status does not show the edit of {path}",
                        request.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The original bash FlowForge's way: `git status --porcelain` and `git rev-parse HEAD` per
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

/// The resident memory (MiB) that a watched view of `repo` adds once it has answered two
/// synced Git Syncs of `team`: RSS after minus RSS before (`None` without `/proc`). Measure it
/// before other work has grown the heap, or freed memory gets reused and hides the cost.
///
/// # Errors
/// [`crate::Error::GitView`] when the view cannot be opened or answer.
pub fn resident_footprint_mib(
    repo: &std::path::Path,
    team: &crate::fixture::Team,
) -> Result<Option<f64>> {
    let requests: Vec<DeveloperRequest> = team
        .developers
        .iter()
        .zip(&team.tasks)
        .map(|(dev, task)| DeveloperRequest {
            id: dev.clone(),
            tasks: vec![task.clone()],
        })
        .collect();
    let before = crate::stats::current_rss_mib();
    let view = GitView::open(repo, &ViewOptions::default())?;
    for _ in 0..2 {
        std::hint::black_box(view.sync(&requests, Freshness::Synced)?);
    }
    let after = crate::stats::current_rss_mib();
    drop(view);
    Ok(before.zip(after).map(|(b, a)| (a - b).max(0.0)))
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
