//! The pulled view of a git remote: the other machines' team state written as a namespace
//! root of its own, `remote/<remote>/` under the namespace root, for the index to open.
//!
//! flowforge-remote reads the remote's refs and hands the result to [`write_view`]; this
//! module makes the files. The view holds views only — `team/task-assignments.json`,
//! `dev-<id>/sessions/current.json`, `sessions/history/<session>.json`,
//! `time-tracking.json` — and the caller's record of the pull as `pulled.json`. It is built
//! in a temporary directory beside the old view and swapped in with one
//! `renameat2(RENAME_EXCHANGE)`, so readers see the old view or the new one, never a part.
//! Directories are 0700, files 0600, and no symbolic link under the root is followed.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    path::{Component, Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{Session, TaskAssignments, TimeTracking},
};
use rustix::{fs::RenameFlags, io::Errno};
use serde::Serialize;

use crate::{
    error::{Error, Result},
    fs::{Dir, Durability, create_private_dir_all, write_json},
};

/// What the view holds of one developer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PulledDeveloper {
    /// The latest active session on another machine (`sessions/current.json`).
    pub session: Option<Session>,
    /// Ended sessions (`sessions/history/<session>.json`); one whose id cannot name a file
    /// is left out.
    pub history: Vec<Session>,
    /// The time tracking (`time-tracking.json`).
    pub time: TimeTracking,
}

impl PulledDeveloper {
    /// Whether there is nothing to write: no session, no history, no time entry.
    fn is_empty(&self) -> bool {
        self.session.is_none() && self.history.is_empty() && self.time.sessions.is_empty()
    }
}

/// The directory of `remote`'s pulled view under `layout`'s root: `remote/<remote>/`.
#[must_use]
pub fn view_root(layout: &Layout, remote: &str) -> PathBuf {
    layout.root().join("remote").join(remote)
}

/// Replaces `remote`'s pulled view (see [`view_root`]) with `tasks`, the `developers` that
/// have anything to show, and `record` as `pulled.json`. Not flushed: the view can be pulled
/// again.
///
/// # Errors
/// [`Error::Outside`] when `remote` is not a plain directory name, [`Error::Symlink`] for a
/// link on the way, [`Error::Json`] or [`Error::Io`] naming the file; the old view is then
/// left as it was and the new one removed.
pub fn write_view<R: Serialize>(
    layout: &Layout,
    remote: &str,
    record: &R,
    tasks: &TaskAssignments,
    developers: &BTreeMap<DeveloperId, PulledDeveloper>,
) -> Result<()> {
    let root = layout.root();
    let target = view_root(layout, remote);
    let mut parts = Path::new(remote).components();
    if !matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) || remote.starts_with('.')
    {
        return Err(Error::Outside {
            path: target,
            root: root.to_owned(),
        });
    }
    let parent = target
        .parent()
        .expect("view_root joins two names to the root");
    create_private_dir_all(root, parent)?;
    let dir = Dir::create(root, parent)?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp_name = format!(
        ".{remote}.new-{}-{}",
        crate::fs::pid(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    // A directory left by a crashed pull of a process that had this id is not ours to reuse.
    dir.remove_tree(&tmp_name)?;
    let tmp = parent.join(&tmp_name);
    let view = Layout::new(&tmp);
    let d = Durability::Relaxed;
    let written = create_private_dir_all(root, &view.team_dir())
        .and_then(|()| write_json(root, &view.task_assignments(), tasks, d))
        .and_then(|()| {
            (developers.iter())
                .filter(|(_, pulled)| !pulled.is_empty())
                .try_for_each(|(dev, pulled)| write_developer(root, &view, dev, pulled))
        })
        .and_then(|()| write_json(root, &tmp.join("pulled.json"), record, d));
    if let Err(e) = written {
        let _ = dir.remove_tree(&tmp_name);
        return Err(e);
    }
    swap_in(&dir, &tmp_name, remote)
}

/// Writes one developer's files into the view being built.
fn write_developer(
    root: &Path,
    view: &Layout,
    dev: &DeveloperId,
    pulled: &PulledDeveloper,
) -> Result<()> {
    let d = Durability::Relaxed;
    let history = view.session_history_dir(dev);
    create_private_dir_all(root, &history)?;
    if let Some(session) = &pulled.session {
        write_json(root, &view.current_session(dev), session, d)?;
    }
    for session in &pulled.history {
        // The id names the file: only one that is a valid id stays beneath the root.
        if TaskId::new(&session.session_id).is_ok() {
            let path = history.join(format!("{}.json", session.session_id));
            write_json(root, &path, session, d)?;
        }
    }
    write_json(root, &view.time_tracking(dev), &pulled.time, d)
}

/// Puts the directory `new` of `dir` at `target`, atomically for readers, and removes the
/// old view. Another pull that put its view there first is exchanged with.
fn swap_in(dir: &Dir, new: &str, target: &str) -> Result<()> {
    let (new_os, target_os) = (OsStr::new(new), OsStr::new(target));
    let err = |e: Errno| Error::io("cannot replace", dir.join(target))(e.into());
    for _ in 0..8 {
        match dir.rename(new_os, target_os, RenameFlags::EXCHANGE) {
            Ok(()) => {
                let _ = dir.remove_tree(new);
                return Ok(());
            }
            Err(Errno::NOENT) => match dir.rename(new_os, target_os, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                // Another pull put its view there meanwhile: exchange with it.
                Err(Errno::EXIST) => {}
                Err(e) => {
                    let _ = dir.remove_tree(new);
                    return Err(err(e));
                }
            },
            Err(e) => {
                let _ = dir.remove_tree(new);
                return Err(err(e));
            }
        }
    }
    let _ = dir.remove_tree(new);
    Ok(())
}
