//! The time tracking document with each entry printed once.
//!
//! A session cycle adds one entry to a document of a few dozen and publishes it twice: the
//! store's version (compact) and `time-tracking.json` (pretty). Printing every entry again
//! each time (its timestamp above all) was a quarter of a cycle's instructions. A [`Tracked`]
//! keeps what each entry printed beside the document, the store's cache keeps the `Tracked`
//! between additions (`Store::compare_and_swap_arc`), and an addition prints only its new
//! entry. The bytes are those the document prints: [`Tracked`] and [`PrettyTracked`]
//! serialize through a mirror of [`TimeTracking`]'s fields whose entries are the kept prints
//! ([`RawValue`]s, written as they are), and a test holds both to the document's own.

use std::sync::Arc;

use flowforge_core::model::{Extra, TimeEntry, TimeTracking};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A line break and the indentation `serde_json`'s pretty printer gives an entry's lines in
/// the document: the entry is an element of `sessions` (two levels deep, four spaces), its
/// fields one deeper.
const ENTRY_BREAK: &str = "\n    ";

/// A time tracking document and, for each of its entries, what it printed (or nothing yet).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracked {
    pub(crate) doc: TimeTracking,
    /// Aligned with `doc.sessions` (shorter when the last entries were not printed yet).
    prints: Vec<Option<Arc<Prints>>>,
}

/// One entry's two prints, with what identifies the entry they were printed from.
#[derive(Debug)]
struct Prints {
    recorded_at: jiff::Timestamp,
    minutes: u64,
    compact: Box<RawValue>,
    pretty: Box<RawValue>,
}

impl Tracked {
    /// `doc`, none of its entries printed yet.
    pub(crate) fn new(doc: TimeTracking) -> Self {
        Self {
            doc,
            prints: Vec::new(),
        }
    }

    /// Keeps the prints aligned after the entries changed: `dropped` entries were removed
    /// from the front of `doc.sessions`, and any after those kept were added at its end.
    pub(crate) fn entries_changed(&mut self, dropped: usize) {
        self.prints.drain(..dropped.min(self.prints.len()));
        self.prints.truncate(self.doc.sessions.len());
    }

    /// Prints the entries not printed yet, so that [`Tracked`] and [`PrettyTracked`] only copy.
    ///
    /// # Errors
    /// What `serde_json` says when an entry cannot be printed.
    pub(crate) fn print(&mut self) -> serde_json::Result<()> {
        self.prints.resize(self.doc.sessions.len(), None);
        for (entry, prints) in self.doc.sessions.iter().zip(&mut self.prints) {
            if prints.as_ref().is_none_or(|p| !p.matches(entry)) {
                *prints = Some(Arc::new(Prints::of(entry)?));
            }
        }
        Ok(())
    }

    /// The document as `time-tracking.json` prints it (pretty).
    pub(crate) fn pretty(&self) -> PrettyTracked<'_> {
        PrettyTracked(self)
    }

    /// The document's fields with its entries as kept (compact or pretty).
    fn mirror(&self, pretty: bool) -> Mirror<'_, Entries<'_>> {
        Mirror {
            total_minutes: self.doc.total_minutes,
            sessions: Entries {
                tracked: self,
                pretty,
            },
            extra: &self.doc.extra,
        }
    }

    /// The kept prints of the entries, each `None` where it is missing or stale.
    fn prints(&self) -> impl Iterator<Item = (&TimeEntry, Option<&Prints>)> {
        let prints = self
            .prints
            .iter()
            .map(Option::as_deref)
            .chain(std::iter::repeat(None));
        self.doc
            .sessions
            .iter()
            .zip(prints)
            .map(|(entry, prints)| (entry, prints.filter(|p| p.matches(entry))))
    }
}

impl Prints {
    fn of(entry: &TimeEntry) -> serde_json::Result<Self> {
        let compact = serde_json::value::to_raw_value(entry)?;
        let pretty = serde_json::to_string_pretty(entry)?.replace('\n', ENTRY_BREAK);
        Ok(Self {
            recorded_at: entry.recorded_at,
            minutes: entry.minutes,
            compact,
            pretty: RawValue::from_string(pretty)?,
        })
    }

    /// Whether these were printed from `entry`: a check against an entry the prints do not
    /// belong to (the alignment is kept by [`Tracked::entries_changed`]); entries are never
    /// changed once recorded.
    fn matches(&self, entry: &TimeEntry) -> bool {
        self.recorded_at == entry.recorded_at && self.minutes == entry.minutes
    }
}

/// [`TimeTracking`]'s fields as its `Serialize` writes them (the same derive, the same names
/// and order), its entries given.
#[derive(Serialize)]
struct Mirror<'a, E: Serialize> {
    total_minutes: u64,
    sessions: E,
    #[serde(flatten)]
    extra: &'a Extra,
}

/// The entries, each as kept or printed now.
struct Entries<'a> {
    tracked: &'a Tracked,
    pretty: bool,
}

impl Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.tracked.doc.sessions.len()))?;
        for (entry, prints) in self.tracked.prints() {
            match (prints, self.pretty) {
                (Some(p), false) => seq.serialize_element(&p.compact)?,
                (Some(p), true) => seq.serialize_element(&p.pretty)?,
                (None, _) => seq.serialize_element(entry)?,
            }
        }
        seq.end()
    }
}

/// The store's version: the document printed compact.
impl Serialize for Tracked {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.mirror(false).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Tracked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TimeTracking::deserialize(deserializer).map(Self::new)
    }
}

/// The document as `time-tracking.json` holds it: printed pretty (only by a pretty printer:
/// its entries are kept printed at their depth in that document).
pub(crate) struct PrettyTracked<'a>(&'a Tracked);

impl Serialize for PrettyTracked<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.mirror(true).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use flowforge_core::TaskId;
    use jiff::Timestamp;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn entry(k: u64, extra: bool) -> TimeEntry {
        let mut fields = Extra::new();
        if extra {
            fields.insert(
                "note".to_owned(),
                Value::from(format!("tab\t\"quoted\" {k}")),
            );
            fields.insert(
                "nested".to_owned(),
                serde_json::json!({"a": [1, {"b": null}], "c": {}}),
            );
        }
        TimeEntry {
            session_id: (k % 3 != 0).then(|| format!("session-{k}")),
            task_id: (k % 4 != 0).then(|| TaskId::new(&format!("task-{}", k % 7)).unwrap()),
            minutes: k % 90,
            recorded_at: Timestamp::from_second(1_700_000_000 + k as i64 * 61).unwrap(),
            extra: fields,
        }
    }

    /// Both prints of `tracked` against the document's own.
    fn prints_as_the_document(tracked: &Tracked) {
        assert_eq!(
            serde_json::to_string(tracked).unwrap(),
            serde_json::to_string(&tracked.doc).unwrap()
        );
        assert_eq!(
            serde_json::to_string_pretty(&tracked.pretty()).unwrap(),
            serde_json::to_string_pretty(&tracked.doc).unwrap()
        );
    }

    #[test]
    fn an_empty_and_a_read_document_print_as_the_document() {
        prints_as_the_document(&Tracked::default());
        let read: Tracked = serde_json::from_str(
            r#"{"total_minutes":5,"sessions":[],"sealed_segments":2,"totalTime":300}"#,
        )
        .unwrap();
        prints_as_the_document(&read);
    }

    proptest! {
        /// Entries added at the end and dropped from the front, printed or not in between,
        /// with and without unknown fields: the kept prints always give the document's bytes.
        #[test]
        fn additions_and_seals_print_as_the_document(
            steps in proptest::collection::vec((0usize..4, 0usize..6, any::<bool>(), any::<bool>()), 1..40),
        ) {
            let mut tracked = Tracked::default();
            tracked.doc.extra.insert("sealed_segments".to_owned(), Value::from(0));
            let mut k = 0;
            for (added, dropped, extra, print) in steps {
                let dropped = dropped.min(tracked.doc.sessions.len());
                tracked.doc.sessions.drain(..dropped);
                for _ in 0..added {
                    k += 1;
                    tracked.doc.sessions.push(entry(k, extra));
                    tracked.doc.total_minutes += k % 90;
                }
                tracked.entries_changed(dropped);
                if print {
                    tracked.print().unwrap();
                }
                prints_as_the_document(&tracked);
            }
        }
    }

    #[test]
    fn a_print_that_does_not_belong_to_its_entry_is_not_used() {
        let mut tracked = Tracked::new(TimeTracking {
            total_minutes: 3,
            sessions: vec![entry(1, false), entry(2, true)],
            extra: Extra::new(),
        });
        tracked.print().unwrap();
        // Dropped from the front without telling: the prints are off by one.
        tracked.doc.sessions.remove(0);
        prints_as_the_document(&tracked);
    }
}
