//! Time tracking: `total_minutes` and one entry per session or manual addition, incremented
//! by compare-and-swap so no increment is lost under any number of concurrent writers.

use flowforge_core::{
    TaskId,
    model::{TimeEntry, TimeTracking},
};
use jiff::Timestamp;

use crate::{
    error::Result,
    handle::{Namespace, time_key},
    store::Versioned,
    view,
};

/// The most minutes one addition may carry: one year (525,600 minutes). Larger additions are
/// refused, so no sum of real entries comes near `u64::MAX`; a session that lasted longer is
/// counted as this many minutes.
pub const MAX_ADD_MINUTES: u64 = 525_600;

/// What an addition of minutes belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddMinutes {
    /// The session the time belongs to. An addition for a session that already has an
    /// entry is not repeated (ending a session after a crash counts its minutes once).
    pub session_id: Option<String>,
    /// The task the time belongs to.
    pub task_id: Option<TaskId>,
}

impl Namespace {
    /// The time tracking with its version; `None` when nothing was ever recorded through the
    /// store.
    ///
    /// # Errors
    /// The store's read errors, naming the version file.
    pub fn time_tracking(&self) -> Result<Option<Versioned<TimeTracking>>> {
        self.store.get(&time_key())
    }

    /// Adds `minutes` to `total_minutes` with a new entry. The first addition through the
    /// store starts from the existing `time-tracking.json` (or the v2 tools'
    /// `cache/time-tracking.json`, see [`compat::read_time_view`](crate::compat::read_time_view)),
    /// so no earlier time is lost.
    ///
    /// # Errors
    /// [`Error::TooManyMinutes`](crate::Error::TooManyMinutes) above [`MAX_ADD_MINUTES`]
    /// (nothing written), [`Error::Contended`](crate::Error::Contended) when the retry budget is
    /// spent, or the store's errors.
    pub fn add_minutes(&self, minutes: u64, what: &AddMinutes) -> Result<Versioned<TimeTracking>> {
        if minutes > MAX_ADD_MINUTES {
            return Err(crate::Error::TooManyMinutes {
                minutes,
                limit: MAX_ADD_MINUTES,
            });
        }
        let key = time_key();
        let view_path = self.layout.time_tracking(&self.dev);
        let mut seed: Option<TimeTracking> = None;
        let updated = self.store.update(&key, |current: Option<&TimeTracking>| {
            let mut tracking = match current {
                Some(current) => current.clone(),
                None => {
                    if seed.is_none() {
                        seed = Some(
                            crate::compat::read_time_view(&self.layout, &self.dev)?
                                .unwrap_or_default(),
                        );
                    }
                    seed.clone().unwrap_or_default()
                }
            };
            let repeated = what.session_id.as_ref().is_some_and(|id| {
                tracking
                    .sessions
                    .iter()
                    .any(|e| e.session_id.as_ref() == Some(id))
            });
            if !repeated {
                tracking.set_total_minutes(tracking.total_minutes.saturating_add(minutes));
                tracking.sessions.push(TimeEntry {
                    session_id: what.session_id.clone(),
                    task_id: what.task_id.clone(),
                    minutes,
                    recorded_at: Timestamp::now(),
                    extra: serde_json::Map::new(),
                });
            }
            Ok(tracking)
        })?;
        view::publish(&self.store, &key, &view_path, &updated)?;
        Ok(updated)
    }
}
