//! Sessions: start (claiming the task), update, end (archiving to `history/`, releasing the
//! claim, adding the minutes to time tracking), show, history and restore.

use std::sync::atomic::{AtomicU64, Ordering};

use flowforge_core::{TaskId, model::Session};
use jiff::Timestamp;
use serde_json::Value;

use crate::{
    claim, compat,
    error::{Error, Result},
    fs::write_json_new,
    namespace::{Namespace, session_key},
    store::{Cas, Versioned},
    time::AddMinutes,
    view,
};

/// What [`Namespace::start_session`] records besides the task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// End the active session first instead of refusing to start.
    pub replace: bool,
    /// The git branch worked on.
    pub branch: Option<String>,
    /// The task provider (`github`, `notion`, …).
    pub provider: Option<String>,
}

/// A session that was started.
#[derive(Debug)]
pub struct Started {
    /// The new active session and its version.
    pub session: Versioned<Session>,
    /// The session it replaced, if [`StartOptions::replace`] ended one.
    pub replaced: Option<Ended>,
    /// Follow-up steps that failed after the session was committed (rewriting a view,
    /// releasing the replaced session's claim); the next write repairs them.
    pub warnings: Vec<Error>,
}

/// A session that was ended.
#[derive(Debug)]
pub struct Ended {
    /// The ended session (`active: false`, `endTime` set) and its version.
    pub session: Versioned<Session>,
    /// The whole minutes it lasted, added to time tracking.
    pub minutes: u64,
    /// Follow-up steps that failed after the session was committed as ended (releasing its
    /// claim, rewriting a view); the developer's next claim change or write repairs them.
    pub warnings: Vec<Error>,
}

/// The metadata field naming the session a restored session resumes.
pub const RESTORED_FROM: &str = "restoredFrom";

impl Namespace {
    /// The latest session — active, or the last one ended — with its version.
    ///
    /// # Errors
    /// The store's read errors, naming the version file.
    pub fn current_session(&self) -> Result<Option<Versioned<Session>>> {
        self.store.get_cloned(&session_key())
    }

    /// The latest session: from the store, or — before the store ever held one — from
    /// `sessions/current.json` as the bash tools wrote it (a reset session is none).
    ///
    /// # Errors
    /// The store's read errors, or those of [`compat::read_session_view`].
    pub fn session(&self) -> Result<Option<Session>> {
        match self.current_session()? {
            Some(current) => Ok(Some(current.value)),
            None if self.store.generation(&session_key())? == 0 => {
                compat::read_own_session_view(&self.layout, &self.dev)
            }
            None => Ok(None),
        }
    }

    /// The current session, to be replaced by a new one: [`Error::SessionActive`] when it is
    /// active and `options` does not say to replace it.
    fn current_to_replace(&self, options: &StartOptions) -> Result<Option<Versioned<Session>>> {
        let current = self.current_for_write()?;
        if let Some(active) = current.as_ref().filter(|c| c.value.active) {
            if !options.replace {
                return Err(Error::SessionActive {
                    developer: self.dev.clone(),
                    session_id: active.value.session_id.clone(),
                    task: active.value.task_id.clone(),
                });
            }
        }
        Ok(current)
    }

    /// The latest session for a write: when the store never held one, a session the bash
    /// tools left in `sessions/current.json` is first taken over by the store.
    pub(crate) fn current_for_write(&self) -> Result<Option<Versioned<Session>>> {
        let key = session_key();
        if let Some(current) = self.store.get_to_change(&key)? {
            return Ok(Some(current));
        }
        if self.store.generation(&key)? != 0 {
            return Ok(None);
        }
        let Some(found) = compat::read_own_session_view(&self.layout, &self.dev)? else {
            return Ok(None);
        };
        match self.store.compare_and_swap_shared(&key, None, &found)? {
            Cas::Swapped(version) => Ok(Some(Versioned {
                value: found,
                version,
            })),
            // Another process of the developer wrote first: its version is the truth.
            Cas::Conflict(now) => Ok(now),
        }
    }

    /// Starts a session on `task`: claims the task (exactly one of any number of developers
    /// racing for it wins), then publishes the session. A developer has one active session;
    /// another is refused unless [`StartOptions::replace`] ends it first.
    ///
    /// # Errors
    /// [`Error::ClaimHeld`] naming the holder, [`Error::SessionActive`], [`Error::Conflict`]
    /// when another process of the same developer changed the session meanwhile (the claim
    /// taken is released again), or the store's errors.
    pub fn start_session(&self, task: &TaskId, options: &StartOptions) -> Result<Started> {
        let _dirs = crate::fs::DirScope::enter();
        let current = self.current_to_replace(options)?;
        let mut session = Session {
            active: true,
            session_id: new_session_id(),
            start_time: Timestamp::now(),
            task_id: Some(task.clone()),
            developer_id: self.dev.clone(),
            branch: options.branch.clone(),
            provider: options.provider.clone(),
            metadata: serde_json::Map::new(),
            end_time: None,
            extra: serde_json::Map::new(),
        };
        let at = session.start_time;
        mark(&mut session, ACTIVE, at);
        self.start(session, current)
    }

    /// Applies `f` to the active session and publishes the result (retrying on races with
    /// other processes of the same developer).
    ///
    /// # Errors
    /// [`Error::NoActiveSession`], or the store's errors.
    pub fn update_session<F>(&self, mut f: F) -> Result<Versioned<Session>>
    where
        F: FnMut(&mut Session),
    {
        self.update_active_session(|session, now| {
            f(session);
            session.touch(now);
            Ok(())
        })
    }

    /// Applies `f` (given the time of the change) to the active session by compare-and-swap
    /// and publishes the `current.json` view: the one path every change of an active session
    /// takes.
    pub(crate) fn update_active_session<F>(&self, mut f: F) -> Result<Versioned<Session>>
    where
        F: FnMut(&mut Session, Timestamp) -> Result<()>,
    {
        let _dirs = crate::fs::DirScope::enter();
        let key = session_key();
        // The session as read to take over a bash-tools session is the first attempt's base:
        // read once, then again only after a lost race.
        let mut current = self.current_for_write()?;
        let retry = self.store.options().retry;
        let mut backoff = crate::store::Backoff::new(retry);
        let mut attempts = 0;
        let updated = loop {
            let base =
                current
                    .filter(|c| c.value.active)
                    .ok_or_else(|| Error::NoActiveSession {
                        developer: self.dev.clone(),
                    })?;
            let mut session = base.value;
            f(&mut session, Timestamp::now())?;
            match self
                .store
                .compare_and_swap_shared(&key, Some(base.version), &session)?
            {
                Cas::Swapped(version) => {
                    break Versioned {
                        value: session,
                        version,
                    };
                }
                Cas::Conflict(now) => current = now,
            }
            attempts += 1;
            if attempts >= retry.max_attempts {
                return Err(Error::Contended {
                    key: key.to_string(),
                    attempts,
                });
            }
            backoff.pause();
        };
        view::publish(
            &self.store,
            &key,
            &self.layout.current_session(&self.dev),
            &updated,
        )?;
        Ok(updated)
    }

    /// Ends the active session: archives it to `sessions/history/<id>.json`, adds its minutes
    /// to time tracking (once, even when retried after a crash), publishes it ended and
    /// releases its claim.
    ///
    /// # Errors
    /// [`Error::NoActiveSession`], [`Error::Conflict`] when another process ended or
    /// replaced it meanwhile, or the store's errors.
    pub fn end_session(&self) -> Result<Ended> {
        let _dirs = crate::fs::DirScope::enter();
        let current = self
            .current_for_write()?
            .filter(|c| c.value.active)
            .ok_or_else(|| Error::NoActiveSession {
                developer: self.dev.clone(),
            })?;
        self.end(current)
    }

    /// The ended sessions of `sessions/history/`, oldest first. Lists and parses the whole
    /// history directory.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Json`] naming the file that could not be read.
    pub fn history(&self) -> Result<Vec<Session>> {
        crate::state::session_history(&self.layout, &self.dev)
    }

    /// Resumes an ended session from the history: a new active session (new id) on the same
    /// task, branch and provider, with `metadata.restoredFrom` naming the old one. The task
    /// is claimed again.
    ///
    /// # Errors
    /// [`Error::InvalidSessionId`], [`Error::NotInHistory`], and those of
    /// [`Namespace::start_session`].
    pub fn restore_session(&self, session_id: &str, options: &StartOptions) -> Result<Started> {
        let _dirs = crate::fs::DirScope::enter();
        let path = crate::state::history_path(&self.layout, &self.dev, session_id)?;
        let old: Session = crate::fs::read_json(self.layout.root(), &path)?.ok_or_else(|| {
            Error::NotInHistory {
                developer: self.dev.clone(),
                session_id: session_id.to_owned(),
            }
        })?;
        let current = self.current_to_replace(options)?;
        let mut metadata = old.metadata.clone();
        metadata.insert(
            RESTORED_FROM.to_owned(),
            Value::from(old.session_id.clone()),
        );
        let mut session = Session {
            active: true,
            session_id: new_session_id(),
            start_time: Timestamp::now(),
            end_time: None,
            developer_id: self.dev.clone(),
            metadata,
            ..old
        };
        crate::pause::clear(&mut session);
        let at = session.start_time;
        mark(&mut session, ACTIVE, at);
        self.start(session, current)
    }

    fn owner<'a>(&'a self, current: Option<&'a Versioned<Session>>) -> claim::Owner<'a> {
        claim::Owner {
            dev: &self.dev,
            known: true,
            session: current.map(|c| {
                let v = &c.value;
                (v.session_id.as_str(), v.active, v.task_id.as_ref())
            }),
        }
    }

    pub(crate) fn start(
        &self,
        session: Session,
        current: Option<Versioned<Session>>,
    ) -> Result<Started> {
        let mut claimed = None;
        if let Some(task) = &session.task_id {
            claimed = Some(claim::acquire(
                &self.team,
                &self.layout,
                task,
                self.owner(current.as_ref()),
                &session.session_id,
            )?);
        }
        let mut started = match self.start_claimed(&session, current) {
            Ok(started) => started,
            Err(e) => {
                // Nothing of the session was committed: give the claim back. Should that
                // fail too, the claim names a session that never existed, and the
                // developer's next claim change releases it once it is `ORPHAN_AGE` old.
                if let Some(task) = &session.task_id {
                    let owner = claim::Owner {
                        dev: &self.dev,
                        known: false,
                        session: None,
                    };
                    if let Ok(Some(published)) =
                        claim::release_if_held(&self.team, task, owner, Some(&session.session_id))
                    {
                        let _ = claim::publish_view(&self.team, &self.layout, [published]);
                    }
                }
                return Err(e);
            }
        };
        if let Some(published) = claimed {
            if let Err(e) = claim::publish_view(&self.team, &self.layout, published) {
                started.warnings.push(e);
            }
        }
        Ok(started)
    }

    fn start_claimed(
        &self,
        session: &Session,
        current: Option<Versioned<Session>>,
    ) -> Result<Started> {
        let mut expected = current.as_ref().map(|c| c.version);
        let mut replaced = None;
        if let Some(active) = current.filter(|c| c.value.active) {
            let ended = self.end(active)?;
            expected = Some(ended.session.version);
            replaced = Some(ended);
        }
        let version = match self
            .store
            .compare_and_swap_shared(&session_key(), expected, session)?
        {
            Cas::Swapped(version) => version,
            Cas::Conflict(found) => return Err(conflict(expected, found.map(|f| f.version))),
        };
        let session = Versioned {
            value: session.clone(),
            version,
        };
        let mut warnings = Vec::new();
        let path = self.layout.current_session(&self.dev);
        if let Err(e) = view::publish(&self.store, &session_key(), &path, &session) {
            warnings.push(e);
        }
        Ok(Started {
            session,
            replaced,
            warnings,
        })
    }

    /// Ends `active`: the history file and the minutes first (both repeatable: a retry
    /// after a crash rewrites the same file and counts the minutes once), then the session
    /// is committed as ended; releasing the claim and the views follow, and their failures
    /// are warnings.
    fn end(&self, active: Versioned<Session>) -> Result<Ended> {
        let now = Timestamp::now();
        let mut ended = active.value.clone();
        ended.active = false;
        ended.end_time = Some(now);
        // Paused time is not worked time: the open pause, if any, closes now.
        crate::pause::close(&mut ended, now);
        let worked = crate::pause::worked_seconds(&ended, now);
        let minutes = (worked / 60).min(crate::time::MAX_ADD_MINUTES);
        ended.extra.insert(DURATION.to_owned(), Value::from(worked));
        mark(&mut ended, ENDED, now);
        let history = crate::state::history_path(&self.layout, &self.dev, &ended.session_id)?;
        // A deleted `sessions/history/` is made again (never through a link).
        crate::fs::create_private_dir_all(
            self.layout.root(),
            &self.layout.session_history_dir(&self.dev),
        )?;
        write_json_new(
            self.layout.root(),
            &history,
            &ended,
            self.store.options().durability,
        )?;
        let (_, warning) = self.record_minutes_shared(
            minutes,
            &AddMinutes {
                session_id: Some(ended.session_id.clone()),
                task_id: ended.task_id.clone(),
                since: Some(ended.start_time),
            },
        )?;
        let mut warnings: Vec<Error> = warning.into_iter().collect();
        let version = match self.store.compare_and_swap_shared(
            &session_key(),
            Some(active.version),
            &ended,
        )? {
            Cas::Swapped(version) => version,
            Cas::Conflict(found) => {
                return Err(conflict(Some(active.version), found.map(|f| f.version)));
            }
        };
        let session = Versioned {
            value: ended,
            version,
        };
        if let Some(task) = &session.value.task_id {
            let released = claim::release_if_held(
                &self.team,
                task,
                self.owner(Some(&session)),
                Some(&session.value.session_id),
            );
            match released {
                Ok(Some(published)) => {
                    if let Err(e) = claim::publish_view(&self.team, &self.layout, [published]) {
                        warnings.push(e);
                    }
                }
                Ok(None) => {}
                Err(e) => warnings.push(e),
            }
        }
        let path = self.layout.current_session(&self.dev);
        if let Err(e) = view::publish(&self.store, &session_key(), &path, &session) {
            warnings.push(e);
        }
        Ok(Ended {
            session,
            minutes,
            warnings,
        })
    }
}

fn conflict(
    expected: Option<crate::store::Version>,
    found: Option<crate::store::Version>,
) -> Error {
    let show = |v: Option<crate::store::Version>| v.map_or("none".to_owned(), |v| v.to_string());
    Error::Conflict {
        key: crate::namespace::SESSION_KEY.to_owned(),
        expected: show(expected),
        found: show(found),
    }
}

/// The v2 `status` of a running session.
pub(crate) const ACTIVE: &str = "active";
/// The v2 `status` of a paused session.
pub(crate) const PAUSED: &str = "paused";
/// The v2 `status` of an ended session.
const ENDED: &str = "ended";
/// The v2 field holding an ended session's worked seconds.
const DURATION: &str = "duration";

/// Sets the v2 `status`, `user` and `lastActivity` of `session`.
pub(crate) fn mark(session: &mut Session, status: &str, at: Timestamp) {
    session.extra.insert(
        flowforge_core::model::SESSION_STATUS.to_owned(),
        Value::from(status),
    );
    session.touch(at);
}

/// A new session id: `session-<unix millis>-<pid>-<n>`, unique across processes of a host
/// and a valid file name.
fn new_session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "session-{}-{}-{}",
        Timestamp::now().as_millisecond(),
        crate::fs::pid(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
