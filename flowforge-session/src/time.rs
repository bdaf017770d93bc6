//! Time tracking: `total_minutes` and one entry per session or manual addition, incremented
//! by compare-and-swap so no increment is lost under any number of concurrent writers.
//!
//! The document that is changed (key [`TIME_KEY`](crate::TIME_KEY)) holds the exact total
//! and only the latest entries: once it holds [`SEGMENT_ENTRIES`] + [`TAIL_ENTRIES`] entries,
//! the next addition first seals the oldest [`SEGMENT_ENTRIES`] into a segment document of
//! their own (key `time-segment-<n>`, never changed once a document reads it) and keeps the
//! rest, and `sealed_segments` counts the segments. So an addition reads and writes a document of at
//! most a few dozen entries after 100 or 100,000 entries, and no document grows toward the
//! store's size limit. A document holding [`LARGE_SEGMENT_ENTRIES`] + [`TAIL_ENTRIES`]
//! entries or more (the bash tools' `time-tracking.json` taken in by the first addition, or a
//! document of an older FlowForge, whose segments were that large) seals
//! [`LARGE_SEGMENT_ENTRIES`] at a time, so taking in 100,000 entries makes a few hundred
//! segments, not thousands. The segment's content is determined by the document it is cut
//! from (its first entries, which never change, and its length, which decides the segment's
//! size only for a document no addition makes: one that came in that long), so writers racing
//! to seal, or retrying after a crash, all write the same segment; a writer that finds the
//! segment already written with other entries than its own cut (a writer of another size rule)
//! takes that segment as sealed when it holds the document's first entries, and refuses to
//! publish otherwise, so no entry is lost or counted twice.
//!
//! `time-tracking.json`, the bash tools' view, is that document: the exact `total_minutes`,
//! `sealed_segments`, and the latest entries. [`Namespace::time_tracking`] reads every entry.

use std::sync::Arc;

use flowforge_core::{
    TaskId,
    model::{TimeEntry, TimeTracking},
};
use jiff::Timestamp;
use serde_json::Value;

use crate::{
    error::{Error, Result},
    namespace::{Namespace, time_key},
    store::{Cas, Key, Store, Version, Versioned},
    view,
};

mod printed;

use printed::Tracked;

/// The most minutes one addition may carry: one year (525,600 minutes). Larger additions are
/// refused, so no sum of real entries comes near `u64::MAX`; a session that lasted longer is
/// counted as this many minutes.
pub const MAX_ADD_MINUTES: u64 = 525_600;
/// How many entries a segment sealed by an addition holds.
pub const SEGMENT_ENTRIES: usize = 32;
/// How many entries a segment holds when it is sealed from a document holding at least this
/// many and [`TAIL_ENTRIES`] more (a long history taken in at once).
pub const LARGE_SEGMENT_ENTRIES: usize = 256;
/// How many of the latest entries stay in the changed document after a seal (an addition
/// for a session that already has an entry among them is not repeated).
pub const TAIL_ENTRIES: usize = 8;
/// The field of the time tracking document counting its sealed segments: the number the next
/// segment sealed gets (segments are numbered from [`FIRST_SEGMENT_FIELD`] on).
pub const SEALED_FIELD: &str = "sealed_segments";
/// The field of the time tracking document naming its first sealed segment when that is not
/// 0: a document first made from the bash tools' `time-tracking.json` that found segments
/// already sealed, by another first addition that never published its document, from
/// another version of that file, seals its own past them (see [`Namespace::record_minutes`]).
/// Those segments are none of its entries.
pub const FIRST_SEGMENT_FIELD: &str = "first_segment";

/// What an addition of minutes belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddMinutes {
    /// The session the time belongs to. An addition for a session that already has an
    /// entry among the latest (or, with [`AddMinutes::since`], among every entry since the
    /// session began) is not repeated: ending a session after a crash counts its minutes once.
    pub session_id: Option<String>,
    /// The task the time belongs to.
    pub task_id: Option<TaskId>,
    /// When the session began. With it, an addition for [`AddMinutes::session_id`] is looked
    /// for among every entry recorded since then, sealed segments included (read newest
    /// first, and only when the latest entries do not reach back that far), so a `session
    /// end` retried after a crash counts its minutes once however many additions came in
    /// between. Without it only the latest entries are looked at.
    pub since: Option<Timestamp>,
}

/// What [`Namespace::record_minutes`] did.
#[derive(Debug)]
pub struct Added {
    /// The time tracking document as published: the exact total and the latest entries.
    pub time: Versioned<TimeTracking>,
    /// A follow-up step that failed after the addition was committed (rewriting
    /// `time-tracking.json`); the next addition repairs it.
    pub warning: Option<Error>,
}

/// The number of sealed segments a time tracking document records (the number the next
/// segment sealed gets: its segments are those from [`first_segment`] to this one, excluded).
pub fn sealed_segments(tracking: &TimeTracking) -> u64 {
    tracking
        .extra
        .get(SEALED_FIELD)
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The number of the first sealed segment of a time tracking document ([`FIRST_SEGMENT_FIELD`]),
/// never past [`sealed_segments`].
pub fn first_segment(tracking: &TimeTracking) -> u64 {
    tracking
        .extra
        .get(FIRST_SEGMENT_FIELD)
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(sealed_segments(tracking))
}

/// The store key of every sealed segment starts with this, followed by its number.
pub const SEGMENT_KEY_PREFIX: &str = "time-segment-";

fn segment_key(n: u64) -> Key {
    Key::new(&format!("{SEGMENT_KEY_PREFIX}{n}")).expect("a valid key")
}

/// Every entry of the time tracking in `store`: the sealed segments in order, then the
/// latest. Reads one document per segment.
pub(crate) fn read_all(store: &Store) -> Result<Option<Versioned<TimeTracking>>> {
    Ok(read_from(store, 0)?.map(|(time, _)| time))
}

/// The time tracking in `store` with the entries of its sealed segments from number `first`
/// on, then the latest; and what was read (the first segment read is `first`, or 0 when the
/// document holds fewer than `first` sealed segments, or `first` is not past its
/// [`first_segment`]: every entry is read then). Segments are
/// never changed once written, so a reader that kept the entries of the segments before
/// `first` (and was told of no change to them) has every entry.
pub(crate) fn read_from(
    store: &Store,
    first: u64,
) -> Result<Option<(Versioned<TimeTracking>, SegmentsRead)>> {
    let Some(mut head) = store.get::<TimeTracking>(&time_key())? else {
        return Ok(None);
    };
    let sealed = sealed_segments(&head.value);
    // Segments before the document's first are none of its entries: a reader that kept
    // fewer than that (of another document) reads every entry.
    let base = first_segment(&head.value);
    let first = if first > sealed || first <= base {
        base
    } else {
        first
    };
    let read = SegmentsRead {
        first: if first == base { 0 } else { first },
        sealed,
        latest: head.value.sessions.len(),
    };
    if sealed > first {
        let mut entries = Vec::with_capacity((sealed - first) as usize * SEGMENT_ENTRIES);
        for n in first..sealed {
            entries.extend(read_segment(store, n, sealed)?);
        }
        entries.append(&mut head.value.sessions);
        head.value.sessions = entries;
    }
    Ok(Some((head, read)))
}

/// The entries of sealed segment `n` of a document that counts `sealed`.
///
/// # Errors
/// The store's read errors; [`Error::Corrupt`] when the segment is missing.
fn read_segment(store: &Store, n: u64, sealed: u64) -> Result<Vec<TimeEntry>> {
    let key = segment_key(n);
    Ok(store
        .get::<Vec<TimeEntry>>(&key)?
        .ok_or_else(|| Error::Corrupt {
            path: store.key_dir(&key),
            reason: format!("sealed segment {n} of {sealed} is missing"),
        })?
        .value)
}

/// What a read of the time tracking took from its sealed segments
/// ([`read_documents_after`](crate::read_documents_after)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentsRead {
    /// The number of the first sealed segment read: the entries of those before it were left
    /// out.
    pub first: u64,
    /// How many sealed segments the document counts.
    pub sealed: u64,
    /// How many of the entries read are the document's latest (after every sealed one).
    pub latest: usize,
}

impl Namespace {
    /// The time tracking with its version and every entry (sealed segments included);
    /// `None` when nothing was ever recorded through the store. Reads one document per
    /// [`SEGMENT_ENTRIES`] entries.
    ///
    /// # Errors
    /// The store's read errors, naming the version file; [`Error::Corrupt`] when a sealed
    /// segment is missing.
    pub fn time_tracking(&self) -> Result<Option<Versioned<TimeTracking>>> {
        read_all(&self.store)
    }

    /// Adds `minutes` to `total_minutes` with a new entry; see [`Namespace::record_minutes`].
    /// A failed rewrite of `time-tracking.json` after the addition is not reported here (the
    /// next addition repairs it).
    ///
    /// # Errors
    /// As [`Namespace::record_minutes`].
    pub fn add_minutes(&self, minutes: u64, what: &AddMinutes) -> Result<Versioned<TimeTracking>> {
        let _dirs = crate::fs::DirScope::enter();
        self.record_minutes(minutes, what).map(|added| added.time)
    }

    /// Adds `minutes` to `total_minutes` with a new entry, sealing old entries into a segment
    /// when the document is full. The first addition through the store starts from the
    /// existing `time-tracking.json` (or the v2 tools' `cache/time-tracking.json`, see
    /// [`compat::read_time_view`](crate::compat::read_time_view)), so no earlier time is lost.
    ///
    /// # Errors
    /// [`Error::TooManyMinutes`] above [`MAX_ADD_MINUTES`], [`Error::Contended`] when the
    /// retry budget is spent, or the store's errors; nothing was added then.
    pub fn record_minutes(&self, minutes: u64, what: &AddMinutes) -> Result<Added> {
        let (time, warning) = self.record_minutes_shared(minutes, what)?;
        Ok(Added {
            time: Versioned {
                value: Arc::unwrap_or_clone(time.value).doc,
                version: time.version,
            },
            warning,
        })
    }

    /// [`Namespace::record_minutes`] answering the document as this process's store cache
    /// keeps it: a caller done with it (`session end`) drops its handle, nothing is copied.
    ///
    /// # Errors
    /// As [`Namespace::record_minutes`].
    pub(crate) fn record_minutes_shared(
        &self,
        minutes: u64,
        what: &AddMinutes,
    ) -> Result<(Versioned<Arc<Tracked>>, Option<Error>)> {
        let _dirs = crate::fs::DirScope::enter();
        if minutes > MAX_ADD_MINUTES {
            return Err(crate::Error::TooManyMinutes {
                minutes,
                limit: MAX_ADD_MINUTES,
            });
        }
        let key = time_key();
        let view_path = self.layout.time_tracking(&self.dev);
        let mut backoff = crate::store::Backoff::new(self.store.options().retry);
        let mut seed: Option<TimeTracking> = None;
        for _ in 0..self.store.options().retry.max_attempts {
            let current = self.store.get_to_change::<Tracked>(&key)?;
            let (expected, mut tracked) = match current {
                Some(current) => (Some(current.version), current.value),
                None => {
                    if seed.is_none() {
                        seed = Some(
                            crate::compat::read_time_view(&self.layout, &self.dev)?
                                .unwrap_or_default(),
                        );
                    }
                    (None, Tracked::new(seed.clone().unwrap_or_default()))
                }
            };
            let tracking = &mut tracked.doc;
            let entries_before = tracking.sessions.len();
            let repeated = what.session_id.as_ref().is_some_and(|id| {
                tracking
                    .sessions
                    .iter()
                    .any(|e| e.session_id.as_ref() == Some(id))
            }) || (expected.is_some() && self.sealed_since(tracking, what)?);
            if repeated {
                if let Some(version) = expected {
                    let time = Versioned {
                        value: Arc::new(tracked),
                        version,
                    };
                    return Ok((time, None));
                }
            } else {
                tracking.set_total_minutes(tracking.total_minutes.saturating_add(minutes));
                tracking.sessions.push(TimeEntry {
                    session_id: what.session_id.clone(),
                    task_id: what.task_id.clone(),
                    minutes,
                    recorded_at: Timestamp::now(),
                    extra: serde_json::Map::new(),
                });
            }
            let added = usize::from(!repeated);
            match self.seal(tracking, expected) {
                Ok(true) => {}
                // The document moved on while this addition sealed: read it again.
                Ok(false) => {
                    backoff.pause();
                    continue;
                }
                // A first addition whose seed meets segments sealed from another seed: its
                // own segments go past them.
                Err(Error::Corrupt { .. }) if expected.is_none() => {
                    let first = self.first_unsealed(sealed_segments(tracking))?;
                    let seed = seed.get_or_insert_with(TimeTracking::default);
                    seed.extra
                        .insert(FIRST_SEGMENT_FIELD.to_owned(), Value::from(first));
                    seed.extra
                        .insert(SEALED_FIELD.to_owned(), Value::from(first));
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Sealing dropped entries from the front; the addition is at the end.
            let dropped = (entries_before + added).saturating_sub(tracking.sessions.len());
            tracked.entries_changed(dropped);
            tracked.print().map_err(|source| Error::Json {
                path: view_path.clone(),
                source,
            })?;
            let tracked = Arc::new(tracked);
            if let Cas::Swapped(version) =
                self.store.compare_and_swap_arc(&key, expected, &tracked)?
            {
                let warning = view::publish_value::<TimeTracking>(
                    &self.store,
                    &key,
                    &view_path,
                    version,
                    &tracked.pretty(),
                )
                .err();
                let time = Versioned {
                    value: tracked,
                    version,
                };
                return Ok((time, warning));
            }
            backoff.pause();
        }
        Err(Error::Contended {
            key: key.to_string(),
            attempts: self.store.options().retry.max_attempts,
        })
    }

    /// Whether a sealed segment of `tracking` holds an entry of `what`'s session: read from
    /// the newest segment back to the first one whose oldest entry was recorded before
    /// [`AddMinutes::since`]. Nothing is read when `what` names no session or no start, or
    /// when the document's latest entries already reach back before that start (an entry of
    /// the session would be among them).
    ///
    /// # Errors
    /// The store's read errors; [`Error::Corrupt`] when a sealed segment is missing.
    fn sealed_since(&self, tracking: &TimeTracking, what: &AddMinutes) -> Result<bool> {
        let (Some(id), Some(since)) = (&what.session_id, what.since) else {
            return Ok(false);
        };
        if tracking
            .sessions
            .first()
            .is_some_and(|e| e.recorded_at < since)
        {
            return Ok(false);
        }
        let sealed = sealed_segments(tracking);
        for n in (first_segment(tracking)..sealed).rev() {
            let segment = read_segment(&self.store, n, sealed)?;
            if segment.iter().any(|e| e.session_id.as_ref() == Some(id)) {
                return Ok(true);
            }
            if segment.first().is_none_or(|e| e.recorded_at < since) {
                break;
            }
        }
        Ok(false)
    }

    /// The first segment number from `from` on that no segment was ever sealed under.
    ///
    /// # Errors
    /// The store's read errors.
    fn first_unsealed(&self, from: u64) -> Result<u64> {
        let mut n = from;
        while self.store.generation(&segment_key(n))? != 0 {
            n += 1;
        }
        Ok(n)
    }

    /// Moves the oldest entries of `tracking` into sealed segments while it holds
    /// [`SEGMENT_ENTRIES`] + [`TAIL_ENTRIES`] or more ([`LARGE_SEGMENT_ENTRIES`] at a time
    /// while it holds that many and [`TAIL_ENTRIES`] more).
    ///
    /// # Errors
    /// The store's errors; [`Error::Corrupt`] when the segment to seal exists and does not
    /// hold the document's first entries.
    ///
    /// `expected` is the version of the document `tracking` was read from (`None`: the first
    /// addition, which makes it). A segment in the way that holds other entries is, for an
    /// addition to the document, one that no document reads — sealed by a first addition
    /// that lost to the one that made the document, past that one's segments — and is
    /// replaced, once the document is seen still at `expected` (`Ok(false)` when it moved
    /// on: the addition reads it again). For the first addition it is an error: its caller
    /// seals its own past it.
    fn seal(&self, tracking: &mut TimeTracking, expected: Option<Version>) -> Result<bool> {
        while let Some(size) = segment_size(tracking.sessions.len()) {
            let n = sealed_segments(tracking);
            let key = segment_key(n);
            let segment = tracking.sessions[..size].to_vec();
            let mut outcome = self.store.create(&key, &segment)?;
            let mut replacements = 0;
            let sealed = loop {
                let current = match outcome {
                    Cas::Swapped(_) => break size,
                    Cas::Conflict(current) => current,
                };
                // A racing writer, or one that died before publishing the document, sealed
                // the same entries; or a writer of another size rule sealed another number of
                // them, which is fine as long as they are the document's first.
                let theirs = current.as_ref().map_or(&[][..], |c| &c.value[..]);
                let first = tracking.sessions.get(..theirs.len());
                if !theirs.is_empty()
                    && first.is_some_and(|first| first.iter().zip(theirs).all(same_entry))
                {
                    break theirs.len();
                }
                let Some(expected) = expected else {
                    return Err(Error::Corrupt {
                        path: self.store.key_dir(&key),
                        reason: format!(
                            "sealed segment {n} does not hold the time tracking's oldest \
                             unsealed entries"
                        ),
                    });
                };
                // Numbered at the document's count, so read by no version of it so far; and
                // by none to come once the document is seen still at `expected` (a later
                // version seals this number with these entries, or the replacement). A
                // segment that keeps changing under the replacements: read everything again
                // (the caller's retries are bounded).
                if replacements == 4 || self.store.generation(&time_key())? != expected.get() {
                    return Ok(false);
                }
                replacements += 1;
                outcome =
                    self.store
                        .compare_and_swap(&key, current.map(|c| c.version), &segment)?;
            };
            tracking.sessions.drain(..sealed);
            tracking
                .extra
                .insert(SEALED_FIELD.to_owned(), Value::from(n + 1));
        }
        Ok(true)
    }
}

/// Whether a sealed entry read back is `entry` (compared by what identifies it, not by every
/// field's representation).
fn same_entry((entry, sealed): (&TimeEntry, &TimeEntry)) -> bool {
    entry.session_id == sealed.session_id
        && entry.task_id == sealed.task_id
        && entry.minutes == sealed.minutes
        && entry.recorded_at == sealed.recorded_at
}

/// How many of the oldest of `entries` entries the next seal takes, if any.
fn segment_size(entries: usize) -> Option<usize> {
    if entries >= LARGE_SEGMENT_ENTRIES + TAIL_ENTRIES {
        Some(LARGE_SEGMENT_ENTRIES)
    } else if entries >= SEGMENT_ENTRIES + TAIL_ENTRIES {
        Some(SEGMENT_ENTRIES)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    };

    use flowforge_core::{DeveloperId, Layout, model::DeveloperInfo};

    use super::*;
    use crate::{SessionOptions, store::PausePoint};

    fn entry(i: usize) -> TimeEntry {
        let at: Timestamp = "2025-09-18T10:00:00Z".parse().unwrap();
        TimeEntry {
            session_id: Some(format!("s{i}")),
            task_id: None,
            minutes: 1,
            recorded_at: at + jiff::SignedDuration::from_mins(i as i64),
            extra: serde_json::Map::new(),
        }
    }

    /// The bash tools' `time-tracking.json` holding entries `s<i>` for `range`.
    fn write_view(layout: &Layout, dev: &DeveloperId, range: std::ops::Range<usize>) {
        let bash = TimeTracking {
            total_minutes: range.len() as u64,
            sessions: range.map(entry).collect(),
            extra: serde_json::Map::new(),
        };
        std::fs::write(
            layout.time_tracking(dev),
            serde_json::to_vec(&bash).unwrap(),
        )
        .unwrap();
    }

    /// A repository with developer `alice` initialised, and her namespace.
    fn alice() -> (tempfile::TempDir, Layout, DeveloperId, Namespace) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        let dev = DeveloperId::new("alice").unwrap();
        crate::namespace::init(&layout, &dev, &DeveloperInfo::default()).unwrap();
        let ns = Namespace::open(&layout, &dev, SessionOptions::relaxed()).unwrap();
        (tmp, layout, dev, ns)
    }

    /// Every addition, through seals and from a document the bash tools started (with a
    /// field of theirs), publishes the bytes the document prints: the entries kept printed
    /// between additions are the document's own.
    #[test]
    fn each_addition_publishes_what_the_document_prints() {
        let (_tmp, layout, dev, ns) = alice();
        let mut bash = TimeTracking {
            total_minutes: 30,
            sessions: (0..30).map(entry).collect(),
            extra: serde_json::Map::new(),
        };
        bash.extra
            .insert("note".to_owned(), Value::from("kept \"as\" written"));
        std::fs::write(
            layout.time_tracking(&dev),
            serde_json::to_vec_pretty(&bash).unwrap(),
        )
        .unwrap();
        for i in 0..3 * (SEGMENT_ENTRIES + TAIL_ENTRIES) {
            let what = AddMinutes {
                task_id: (i % 2 == 0).then(|| TaskId::new("t-1").unwrap()),
                ..session(&format!("n{i}"))
            };
            let time = ns.add_minutes(1 + i as u64 % 5, &what).unwrap();
            let view = std::fs::read_to_string(layout.time_tracking(&dev)).unwrap();
            assert_eq!(
                view,
                format!("{}\n", serde_json::to_string_pretty(&time.value).unwrap()),
                "addition {i}"
            );
            let version = std::fs::read_to_string(
                ns.store()
                    .key_dir(&time_key())
                    .join(format!("{:020}.json", time.version.get())),
            )
            .unwrap();
            let value = serde_json::to_string(&time.value).unwrap();
            assert!(
                version.contains(&format!(",\"value\":{value}}}")),
                "addition {i}"
            );
        }
        let all = ns.time_tracking().unwrap().unwrap().value;
        assert_eq!(
            all.sessions.len(),
            30 + 3 * (SEGMENT_ENTRIES + TAIL_ENTRIES)
        );
    }

    /// `ns` whose store stops the first time an addition has read the time document (before
    /// it seals and publishes), until the test lets it go.
    fn stopped_after_reading(ns: &Namespace) -> (Namespace, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (arrived_tx, arrived) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let armed = AtomicBool::new(true);
        let mut ns = ns.clone();
        ns.store = ns.store.clone().with_pause(move |at, key| {
            if at == PausePoint::Read
                && key.as_str() == crate::TIME_KEY
                && armed.swap(false, Ordering::SeqCst)
            {
                arrived_tx.send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            }
        });
        (ns, arrived, go)
    }

    fn session(id: &str) -> AddMinutes {
        AddMinutes {
            session_id: Some(id.to_owned()),
            task_id: None,
            since: None,
        }
    }

    /// Two first additions race across a rewrite of the bash tools' file: B seals segment 0
    /// from the file as it was; A meets it, seals its own past it (segment 1); B publishes the
    /// document, A adds to it. A's segment 1 is then in the way of the document's next seal:
    /// it is replaced (no document reads it), and every addition after goes on.
    #[test]
    fn the_segment_of_a_first_addition_that_lost_is_replaced_by_the_next_seal() {
        let (_tmp, layout, dev, ns) = alice();
        write_view(&layout, &dev, 0..50);
        let (b_ns, b_at, b_go) = stopped_after_reading(&ns);
        let b = std::thread::spawn(move || b_ns.add_minutes(1, &session("b")).map(drop));
        b_at.recv().unwrap();
        // The bash tools trim the oldest 10 entries and record 10 more.
        write_view(&layout, &dev, 10..60);
        let (a_ns, a_at, a_go) = stopped_after_reading(&ns);
        let a = std::thread::spawn(move || a_ns.add_minutes(1, &session("a")).map(drop));
        a_at.recv().unwrap();
        assert_ne!(
            ns.store().generation(&segment_key(1)).unwrap(),
            0,
            "A sealed 1"
        );
        b_go.send(()).unwrap();
        b.join().unwrap().unwrap();
        a_go.send(()).unwrap();
        a.join().unwrap().unwrap();
        let head = ns
            .store()
            .get::<TimeTracking>(&time_key())
            .unwrap()
            .unwrap();
        assert_eq!(
            (first_segment(&head.value), sealed_segments(&head.value)),
            (0, 1),
            "B's document"
        );

        let adds = 2 * (SEGMENT_ENTRIES + TAIL_ENTRIES);
        for i in 0..adds {
            ns.add_minutes(1, &session(&format!("n{i}"))).unwrap();
        }
        let all = ns.time_tracking().unwrap().unwrap().value;
        let ids: Vec<String> = all
            .sessions
            .iter()
            .map(|e| e.session_id.clone().unwrap())
            .collect();
        let expected: Vec<String> = (0..50)
            .map(|i| format!("s{i}"))
            .chain(["b".to_owned(), "a".to_owned()])
            .chain((0..adds).map(|i| format!("n{i}")))
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(all.total_minutes, 52 + adds as u64);
        assert!(
            sealed_segments(&latest(&ns)) > 2,
            "the document sealed past 1"
        );
    }

    fn latest(ns: &Namespace) -> TimeTracking {
        ns.store()
            .get::<TimeTracking>(&time_key())
            .unwrap()
            .unwrap()
            .value
    }
}
