//! The Linux backend: inotify, read by FlowForge itself rather than through notify.
//!
//! Two reasons, both measured on a daemon answering a team of 1,000 developers:
//!
//! - **No open events.** notify 8 asks inotify for `IN_OPEN` with no way to opt out, so every
//!   file any process opens under a watched directory wakes the watcher, the daemon's own reads
//!   included. A session change by one CLI process cost the daemon's watcher threads more CPU
//!   than the change itself. This backend asks only for events that can mean a change.
//! - **Synchronous drain.** inotify queues an event in the very system call that makes the
//!   change (`write`, `rename`, `unlink`, `mkdir`… call `fsnotify` before they return). So once
//!   the queue has been read empty, every change completed before the read began has been
//!   handed over: [`Backend::drain`] proves it without writing a cookie file and waiting for a
//!   thread to wake up. The background thread drains too, under the same lock, so an event is
//!   never half handled when a drain returns.
//!
//! The events handed on are the ones notify makes of the same inotify events, so callers see
//! no difference but the missing open events.

use std::{
    collections::{BTreeMap, HashMap},
    ffi::OsString,
    io::{self, Read as _, Write as _},
    os::{fd::AsFd as _, unix::net::UnixStream},
    path::{Path, PathBuf},
    sync::Arc,
    thread::{self, JoinHandle, ThreadId},
};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use notify::{
    Event, EventKind, RecursiveMode,
    event::{
        AccessKind, AccessMode, CreateKind, DataChange, Flag, MetadataKind, ModifyKind, RemoveKind,
        RenameMode,
    },
};
use parking_lot::Mutex;
use rustix::event::{PollFd, PollFlags};

use crate::tree::is_vanished;

/// Where the events go (the caller's handler, called with the backend's lock held).
pub(crate) type Handler = Box<dyn Fn(notify::Result<Event>) + Send + Sync>;

/// The events that can mean a change. Opening, reading and closing a file unwritten are left
/// out: they change nothing and are most of what a busy tree produces.
/// How long the reader thread lets events gather after the first one before reading them.
const BATCH: std::time::Duration = std::time::Duration::from_millis(1);

fn change_mask() -> WatchMask {
    WatchMask::ATTRIB
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::CLOSE_WRITE
        | WatchMask::MODIFY
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::ONLYDIR
}

/// A running inotify watcher with its background thread.
pub(crate) struct Backend {
    inner: Arc<Inner>,
    /// Writing to (or dropping) this wakes the background thread to stop.
    stop: UnixStream,
    thread: Option<JoinHandle<()>>,
}

struct Inner {
    state: Mutex<State>,
    handler: Handler,
    follow_symlinks: bool,
}

struct State {
    inotify: Inotify,
    /// What each watch descriptor watches.
    paths: HashMap<WatchDescriptor, Watched>,
    /// The watch descriptor of each watched directory, in path order (a directory's
    /// subdirectories follow it).
    watches: BTreeMap<PathBuf, WatchDescriptor>,
    buffer: Vec<u8>,
    /// The last `MOVED_FROM`, to pair it with its `MOVED_TO`.
    rename_from: Option<(u32, PathBuf)>,
    /// The thread that handles events, so that dropping the backend from a handler does not
    /// wait for itself.
    thread: Option<ThreadId>,
}

struct Watched {
    path: PathBuf,
    /// Directories created below it are watched as they appear.
    recursive: bool,
}

/// One inotify event, copied out of the read buffer.
struct Raw {
    wd: WatchDescriptor,
    mask: EventMask,
    cookie: u32,
    name: Option<OsString>,
}

impl Backend {
    /// Starts an inotify instance and its background thread; nothing is watched yet.
    ///
    /// # Errors
    /// notify's error when no inotify instance or thread can be made.
    pub(crate) fn new(handler: Handler, config: notify::Config) -> notify::Result<Self> {
        let inotify = Inotify::init().map_err(notify::Error::io)?;
        let (stop, stop_rx) = UnixStream::pair().map_err(notify::Error::io)?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                inotify,
                paths: HashMap::new(),
                watches: BTreeMap::new(),
                buffer: vec![0; 16 * 1024],
                rename_from: None,
                thread: None,
            }),
            handler,
            follow_symlinks: config.follow_symlinks(),
        });
        let thread = {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name("flowforge-inotify".to_owned())
                .spawn(move || inner.run(stop_rx))
                .map_err(notify::Error::io)?
        };
        inner.state.lock().thread = Some(thread.thread().id());
        Ok(Self {
            inner,
            stop,
            thread: Some(thread),
        })
    }

    /// Watches `path`: that directory only, or with every directory below it, now and as they
    /// are created.
    ///
    /// # Errors
    /// As notify's `watch`: [`notify::ErrorKind::PathNotFound`] for a vanished path,
    /// [`notify::ErrorKind::MaxFilesWatch`] at the inotify watch limit.
    pub(crate) fn watch(&self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        let recursive = mode == RecursiveMode::Recursive;
        let mut state = self.inner.state.lock();
        state.add(path, recursive, true, self.inner.follow_symlinks)?;
        if recursive {
            state.add_below(path, self.inner.follow_symlinks, None)?;
        }
        Ok(())
    }

    /// Hands every queued event to the handler, and returns once the queue has been read
    /// empty: every change completed before the call is then handled.
    pub(crate) fn drain(&self) {
        self.inner.drain();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.stop.write_all(&[1]);
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Inner {
    /// The background thread: waits for events (or the stop signal) and drains them.
    fn run(&self, mut stop: UnixStream) {
        let fd = {
            let state = self.state.lock();
            // The instance lives as long as `self`, which this thread holds.
            rustix::io::dup(state.inotify.as_fd())
        };
        let Ok(fd) = fd else {
            (self.handler)(Err(notify::Error::generic(
                "cannot wait for inotify events",
            )));
            return;
        };
        loop {
            let mut fds = [
                PollFd::new(&fd, PollFlags::IN),
                PollFd::new(&stop, PollFlags::IN),
            ];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    (self.handler)(Err(notify::Error::io(e.into())));
                    return;
                }
            }
            if !fds[1].revents().is_empty() {
                let _ = stop.read(&mut [0]);
                return;
            }
            // Let the events of a burst gather before reading them: a writer's one change is
            // tens of events (a temporary file written, renamed, a lock, a view), and waking
            // for each costs more than handling it. A sync reads the queue itself, so this
            // delays no answer; the queue holds far more than a millisecond of events.
            let mut stop_only = [PollFd::new(&stop, PollFlags::IN)];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: BATCH.as_nanos() as _,
            };
            if rustix::event::poll(&mut stop_only, Some(&timeout)).is_ok_and(|n| n > 0) {
                let _ = stop.read(&mut [0]);
                return;
            }
            self.drain();
        }
    }

    fn drain(&self) {
        let mut state = self.state.lock();
        loop {
            let raw = match state.read() {
                Ok(raw) if raw.is_empty() => return,
                Ok(raw) => raw,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    (self.handler)(Err(notify::Error::io(e)));
                    return;
                }
            };
            for event in raw {
                state.handle(event, &self.handler, self.follow_symlinks);
            }
        }
    }
}

impl State {
    /// Reads what is queued (without blocking).
    fn read(&mut self) -> io::Result<Vec<Raw>> {
        let Self {
            inotify, buffer, ..
        } = self;
        Ok(inotify
            .read_events(buffer)?
            .map(|e| Raw {
                wd: e.wd,
                mask: e.mask,
                cookie: e.cookie,
                name: e.name.map(ToOwned::to_owned),
            })
            .collect())
    }

    /// Hands one inotify event on as the events notify makes of it, and keeps the watches of
    /// recursive trees in step (directories created, moved in, moved out, deleted).
    fn handle(&mut self, raw: Raw, handler: &Handler, follow_symlinks: bool) {
        if raw.mask.contains(EventMask::Q_OVERFLOW) {
            // Directories created meanwhile may be unwatched: walk the recursive trees again,
            // each from its top (a directory below a recursive watch is walked with it), and
            // only then ask for a rescan. Asked first, a consumer could rescan a new directory
            // before a file is written in it and before it is watched: that file would never
            // be reported.
            let below_recursive = |path: &Path| {
                (path.parent())
                    .and_then(|parent| self.watches.get(parent))
                    .and_then(|wd| self.paths.get(wd))
                    .is_some_and(|parent| parent.recursive)
            };
            let roots: Vec<PathBuf> = self
                .paths
                .values()
                .filter(|w| w.recursive && !below_recursive(&w.path))
                .map(|w| w.path.clone())
                .collect();
            for root in roots {
                if let Err(e) = self.add_below(&root, follow_symlinks, None) {
                    handler(Err(e));
                }
            }
            handler(Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan)));
            return;
        }
        if raw.mask.contains(EventMask::IGNORED) {
            // The watch is gone (its directory was deleted, or it was removed).
            if let Some(watched) = self.paths.remove(&raw.wd) {
                if self.watches.get(&watched.path) == Some(&raw.wd) {
                    self.watches.remove(&watched.path);
                }
            }
            return;
        }
        let Some(watched) = self.paths.get(&raw.wd) else {
            return;
        };
        let recursive = watched.recursive;
        let path = match &raw.name {
            Some(name) => watched.path.join(name),
            None => watched.path.clone(),
        };
        let is_dir = raw.mask.contains(EventMask::ISDIR);
        let emit = |kind: EventKind| handler(Ok(Event::new(kind).add_path(path.clone())));

        if raw.mask.contains(EventMask::MOVED_FROM) {
            if is_dir {
                self.unwatch_below(&path);
            }
            handler(Ok(Event::new(EventKind::Modify(ModifyKind::Name(
                RenameMode::From,
            )))
            .add_path(path.clone())
            .set_tracker(raw.cookie as usize)));
            self.rename_from = Some((raw.cookie, path.clone()));
        } else if raw.mask.contains(EventMask::MOVED_TO) {
            handler(Ok(Event::new(EventKind::Modify(ModifyKind::Name(
                RenameMode::To,
            )))
            .set_tracker(raw.cookie as usize)
            .add_path(path.clone())));
            if let Some((cookie, from)) = self.rename_from.take() {
                if cookie == raw.cookie {
                    handler(Ok(Event::new(EventKind::Modify(ModifyKind::Name(
                        RenameMode::Both,
                    )))
                    .set_tracker(raw.cookie as usize)
                    .add_path(from)
                    .add_path(path.clone())));
                } else {
                    self.rename_from = Some((cookie, from));
                }
            }
            if is_dir && recursive {
                self.watch_new_dir(&path, handler, follow_symlinks);
            }
        }
        if raw.mask.contains(EventMask::MOVE_SELF) {
            emit(EventKind::Modify(ModifyKind::Name(RenameMode::From)));
        }
        if raw.mask.contains(EventMask::CREATE) {
            emit(EventKind::Create(if is_dir {
                CreateKind::Folder
            } else {
                CreateKind::File
            }));
            if is_dir && recursive {
                self.watch_new_dir(&path, handler, follow_symlinks);
            }
        }
        if raw.mask.contains(EventMask::DELETE) {
            emit(EventKind::Remove(if is_dir {
                RemoveKind::Folder
            } else {
                RemoveKind::File
            }));
            if is_dir {
                self.unwatch_below(&path);
            }
        }
        if raw.mask.contains(EventMask::DELETE_SELF) {
            emit(EventKind::Remove(RemoveKind::Folder));
        }
        if raw.mask.contains(EventMask::MODIFY) {
            emit(EventKind::Modify(ModifyKind::Data(DataChange::Any)));
        }
        if raw.mask.contains(EventMask::CLOSE_WRITE) {
            emit(EventKind::Access(AccessKind::Close(AccessMode::Write)));
        }
        if raw.mask.contains(EventMask::ATTRIB) {
            emit(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)));
        }
    }

    /// Watches a directory that appeared in a recursive tree, and everything below it. What
    /// was created in it before its watch was added made no event: every entry found below it
    /// once watched is reported as created (a later change of it makes events of its own), so
    /// no file written right after its directory goes unseen.
    fn watch_new_dir(&mut self, path: &Path, handler: &Handler, follow_symlinks: bool) {
        let added = self
            .add(path, true, false, follow_symlinks)
            .and_then(|()| self.add_below(path, follow_symlinks, Some(handler)));
        match added {
            Ok(()) => {}
            // Gone again: its deletion is an event of its own.
            Err(e) if is_vanished(&e) => {}
            Err(e) => handler(Err(e)),
        }
    }

    /// Adds one directory's watch. `own` also asks for the directory's own deletion and move
    /// (for the paths the caller names; below them the parent's events say as much).
    fn add(
        &mut self,
        path: &Path,
        recursive: bool,
        own: bool,
        follow_symlinks: bool,
    ) -> notify::Result<()> {
        let mut mask = change_mask();
        if own {
            mask |= WatchMask::DELETE_SELF | WatchMask::MOVE_SELF;
        }
        // Below a named path, a symbolic link is an entry of its own.
        if !own || !follow_symlinks {
            mask |= WatchMask::DONT_FOLLOW;
        }
        let wd = self
            .inotify
            .watches()
            .add(path, mask)
            .map_err(|e| watch_error(e, path))?;
        // Re-adding a watched directory returns its descriptor again.
        let recursive = recursive || self.paths.get(&wd).is_some_and(|w| w.recursive);
        if let Some(old) = self.watches.insert(path.to_path_buf(), wd.clone()) {
            if old != wd {
                self.paths.remove(&old);
            }
        }
        self.paths.insert(
            wd,
            Watched {
                path: path.to_path_buf(),
                recursive,
            },
        );
        Ok(())
    }

    /// Watches every directory below `dir` (symbolic links are not followed); a directory
    /// that vanishes meanwhile is skipped.
    fn add_below(
        &mut self,
        dir: &Path,
        follow_symlinks: bool,
        created: Option<&Handler>,
    ) -> notify::Result<()> {
        crate::tree::watch_tree(
            |path| {
                if path == dir {
                    return Ok(()); // watched by the caller
                }
                self.add(path, true, false, follow_symlinks)
            },
            |path, is_dir| {
                if let Some(handler) = created {
                    let kind = if is_dir {
                        CreateKind::Folder
                    } else {
                        CreateKind::File
                    };
                    handler(Ok(
                        Event::new(EventKind::Create(kind)).add_path(path.to_owned())
                    ));
                }
            },
            dir,
            &[],
        )
    }

    /// Forgets the watches of `path` and below (moved out or deleted: their later events
    /// would carry the wrong paths).
    fn unwatch_below(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .watches
            .range::<Path, _>((std::ops::Bound::Included(path), std::ops::Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(path))
            .cloned()
            .collect();
        for p in gone {
            if let Some(wd) = self.watches.remove(&p) {
                self.paths.remove(&wd);
                let _ = self.inotify.watches().remove(wd);
            }
        }
    }
}

fn watch_error(e: io::Error, path: &Path) -> notify::Error {
    let error = if e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) {
        notify::Error::new(notify::ErrorKind::MaxFilesWatch)
    } else if e.kind() == io::ErrorKind::NotFound {
        notify::Error::new(notify::ErrorKind::PathNotFound)
    } else {
        notify::Error::io(e)
    };
    error.add_path(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    /// After a queue overflow, a consumer that rescans as soon as it is asked to (the daemon's
    /// refresher) lists a directory made while events were lost; a file written in it right
    /// after that listing is reported, because the directory is watched before the rescan is
    /// asked for.
    #[test]
    fn a_file_written_right_after_the_rescan_of_an_overflow_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let mut state = State {
            inotify: Inotify::init().unwrap(),
            paths: HashMap::new(),
            watches: BTreeMap::new(),
            buffer: vec![0; 16 * 1024],
            rename_from: None,
            thread: None,
        };
        // Made while the queue overflowed: made before the root is watched, so no event for it
        // is queued and it is not watched.
        std::fs::create_dir(root.join("d")).unwrap();
        state.add(&root, true, true, false).unwrap();
        let file = root.join("d/f");
        let rescanned = Arc::new(StdMutex::new(false));
        let handler: Handler = {
            let (file, rescanned) = (file.clone(), Arc::clone(&rescanned));
            Box::new(move |event| {
                if event.unwrap().need_rescan() {
                    // The consumer rescans: `d` is empty. Then another process writes `d/f`.
                    let listed = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
                    assert_eq!(listed, 0);
                    std::fs::write(&file, "x").unwrap();
                    *rescanned.lock().unwrap() = true;
                }
            })
        };
        let wd = state.watches[&root].clone();
        let overflow = Raw {
            wd,
            mask: EventMask::Q_OVERFLOW,
            cookie: 0,
            name: None,
        };
        state.handle(overflow, &handler, false);
        assert!(*rescanned.lock().unwrap(), "no rescan was asked for");
        // Nothing queued reads as `WouldBlock`: the instance does not block.
        let queued = state.read().unwrap_or_default();
        let d = state.watches.get(&root.join("d")).cloned();
        assert!(
            queued
                .iter()
                .any(|raw| Some(&raw.wd) == d.as_ref() && raw.name.as_deref() == Some("f".as_ref())),
            "d/f was never reported"
        );
    }
}
