//! `--cached` and `--max-age`: answers the caller explicitly accepts to be older than the call,
//! and the note that says how old each one is.
//!
//! By default every answer is synced: it includes every change made before the call (the
//! daemon proves its watchers caught up with a cookie; a process reads the files now). With
//! `--cached` the daemon answers from what its watchers have reported so far, without the round
//! trip; with `--max-age DURATION` it answers without checking at all when its state was proven
//! current less than that long ago. Either way the command ends with one line on stderr saying
//! how old the answer is — `flowforge: note: fresh answer` when nothing older was used (always
//! so without a daemon), else `flowforge: note: cached answer: git status as of 12 ms before
//! the call` — so a cached answer never passes for a fresh one.

use std::{cell::RefCell, time::Duration};

use flowforge_git::{Fresh, Freshness};

use crate::output::{Output, errln};

/// How fresh an answer the caller accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Every change made before the call (the default).
    #[default]
    Synced,
    /// What the daemon's watchers have reported so far.
    Cached,
    /// State proven current at most this long before the call.
    MaxAge(Duration),
}

impl Accept {
    /// From `--cached` and `--max-age`.
    pub(crate) fn from_args(cached: bool, max_age: Option<Duration>) -> Self {
        match (cached, max_age) {
            (_, Some(age)) => Self::MaxAge(age),
            (true, None) => Self::Cached,
            (false, None) => Self::Synced,
        }
    }

    /// The git view's freshness for this.
    pub(crate) fn git(self) -> Freshness {
        match self {
            Self::Synced => Freshness::Synced,
            Self::Cached => Freshness::Cached,
            Self::MaxAge(age) => Freshness::MaxAge(age),
        }
    }
}

/// What a command's answer was made of, when something was older than the call.
#[derive(Debug, Default)]
pub(crate) struct Ages {
    parts: RefCell<Vec<String>>,
}

impl Ages {
    /// Records how fresh the git part of the answer is.
    pub(crate) fn git(&self, what: &str, fresh: Fresh) {
        match fresh {
            Fresh::Aged(age) => self.older(what, age),
            Fresh::Watched => self.watched(what),
            Fresh::Synced | Fresh::Recomputed => {}
        }
    }

    /// Records a part proven current `age` before the call and not checked since.
    pub(crate) fn older(&self, what: &str, age: Duration) {
        self.parts
            .borrow_mut()
            .push(format!("{what} as of {} before the call", human(age)));
    }

    /// Records a part answered from what a watcher had reported, without a cookie.
    pub(crate) fn watched(&self, what: &str) {
        self.parts.borrow_mut().push(format!(
            "{what} as its watcher last reported (changes of the last milliseconds may be missing)"
        ));
    }

    /// Writes the note: one line on stderr.
    pub(crate) fn note(&self, out: &mut Output) {
        let mut parts = self.parts.borrow_mut();
        parts.dedup();
        if parts.is_empty() {
            errln!(out, "flowforge: note: fresh answer");
        } else {
            errln!(out, "flowforge: note: cached answer: {}", parts.join("; "));
        }
    }
}

/// A duration for people: milliseconds below ten seconds, seconds above.
fn human(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// Parses `--max-age`: a number and a unit (`ms`, `s`, `m`, `h`), a bare number being
/// seconds: `500ms`, `5s`, `2m`, `5`.
pub(crate) fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 5s, 2m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?} (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_age("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_age("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_age("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert!(parse_age("5 parsecs").is_err());
        assert!(parse_age("-1s").is_err());
        assert!(parse_age("").is_err());
    }
}
