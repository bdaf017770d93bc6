//! Team reports, as FlowForge's `team-report.sh report <daily|weekly|monthly>
//! <markdown|json|csv>` makes them: active developers, sessions, tasks, time per developer and
//! per task, conflicts and problems, for one calendar period in an explicit time zone.
//!
//! The same index state, options and `now` always give the same bytes.
//!
//! ```
//! use flowforge_core::Layout;
//! use flowforge_index::{Index, report::{Format, Period, Report, ReportOptions, Zone}};
//! let repo = tempfile::tempdir()?;
//! let index = Index::build(&Layout::for_repo(repo.path()))?;
//! let options = ReportOptions {
//!     period: Period::Daily,
//!     zone: Zone::named("Europe/Paris")?,
//!     now: "2025-09-18T10:00:00Z".parse()?,
//! };
//! let report = Report::generate(&index, &options)?;
//! let text = report.render(Format::Markdown);
//! assert!(text.contains("Europe/Paris"));
//! assert!(text.contains("2025-09-18T00:00:00+02:00"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod render;

use std::{fmt, str::FromStr};

use flowforge_core::{DeveloperId, TaskId};
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::{
    Pattern,
    error::{Error, Result},
    index::Index,
    query::{Conflict, TimeRange},
};

/// The calendar period a report covers, in the report's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The day containing `now`.
    Daily,
    /// The ISO week (Monday to Sunday) containing `now`.
    Weekly,
    /// The month containing `now`.
    Monthly,
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Markdown tables.
    Markdown,
    /// One pretty-printed JSON object.
    Json,
    /// One CSV table: `section,developer,task,branch,start,end,minutes,detail`.
    Csv,
}

/// A time zone with the name a report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

/// What a report covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The period.
    pub period: Period,
    /// The time zone of the period's boundaries and of every time shown.
    pub zone: Zone,
    /// The instant the report is made at; the period is the one containing it.
    pub now: Timestamp,
}

/// A team report, ready to render. Times are RFC 3339 in the report's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The period.
    pub period: Period,
    /// The time zone's name.
    pub timezone: String,
    /// When the report was made.
    pub generated_at: String,
    /// The period's first instant.
    pub from: String,
    /// The first instant after the period.
    pub to: String,
    /// Namespaces indexed (broken ones included).
    pub developers: usize,
    /// Developers with an active session.
    pub active: Vec<ActiveLine>,
    /// Sessions overlapping the period, current and ended, by start.
    pub sessions: Vec<SessionLine>,
    /// Claimed or worked-on tasks.
    pub tasks: Vec<TaskLine>,
    /// Minutes recorded in the period, per developer.
    pub time_per_developer: Vec<Minutes>,
    /// Minutes recorded in the period, per task.
    pub time_per_task: Vec<Minutes>,
    /// Minutes recorded in the period, in all.
    pub total_minutes: u64,
    /// Developers on the same task or path.
    pub conflicts: Vec<Conflict>,
    /// What was left out of the report, and why.
    pub problems: Vec<ProblemLine>,
}

/// A row of [`Report::active`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveLine {
    /// The developer.
    pub developer: DeveloperId,
    /// The session's task.
    pub task: Option<TaskId>,
    /// The session's branch.
    pub branch: Option<String>,
    /// When the session started.
    pub since: String,
}

/// A row of [`Report::sessions`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionLine {
    /// The developer.
    pub developer: DeveloperId,
    /// The session's id.
    pub session_id: String,
    /// Its task.
    pub task: Option<TaskId>,
    /// Its branch.
    pub branch: Option<String>,
    /// When it started.
    pub start: String,
    /// When it ended, if it did.
    pub end: Option<String>,
    /// Whether it is running.
    pub active: bool,
}

/// A row of [`Report::tasks`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLine {
    /// The task.
    pub task: TaskId,
    /// Who claimed it.
    pub holder: Option<DeveloperId>,
    /// The claim's status.
    pub status: Option<String>,
    /// When it was claimed.
    pub claimed_at: Option<String>,
    /// Who works on it in an active session.
    pub working: Vec<DeveloperId>,
}

/// Minutes of one developer or task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    /// The developer or task.
    pub name: String,
    /// Minutes.
    pub minutes: u64,
}

/// A row of [`Report::problems`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemLine {
    /// The file or directory.
    pub path: String,
    /// The developer left out, if any.
    pub developer: Option<DeveloperId>,
    /// What is wrong.
    pub message: String,
}

impl Zone {
    /// A zone of the time zone database, e.g. `Europe/Paris` or `UTC`.
    ///
    /// # Errors
    /// [`Error::UnknownTimeZone`] when the database does not know `name`.
    pub fn named(name: &str) -> Result<Self> {
        let tz = TimeZone::get(name).map_err(|source| Error::UnknownTimeZone {
            name: name.to_owned(),
            source,
        })?;
        Ok(Self {
            name: tz.iana_name().unwrap_or(name).to_owned(),
            tz,
        })
    }

    /// The system's zone (`$TZ`, then `/etc/localtime`), or UTC when it cannot be found.
    pub fn local() -> Self {
        match TimeZone::try_system() {
            Ok(tz) => Self {
                name: tz.iana_name().unwrap_or("local").to_owned(),
                tz,
            },
            Err(_) => Self::utc(),
        }
    }

    /// UTC.
    pub fn utc() -> Self {
        Self {
            tz: TimeZone::UTC,
            name: "UTC".to_owned(),
        }
    }

    /// The name reports show.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// `at` as RFC 3339 in this zone, to the second.
    pub fn format(&self, at: Timestamp) -> String {
        at.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

impl Period {
    /// The period of this kind containing `now`, in `zone`.
    ///
    /// # Errors
    /// [`Error::Calendar`] for instants at the edge of the supported range.
    pub fn range(self, now: Timestamp, zone: &Zone) -> Result<TimeRange> {
        let calendar = |what| move |source| Error::Calendar { what, source };
        let now = now.to_zoned(zone.tz.clone());
        let (start, length) = match self {
            Period::Daily => (now.start_of_day(), 1.day()),
            Period::Weekly => {
                let back = i64::from(now.weekday().to_monday_zero_offset());
                let monday =
                    (now.date().checked_sub(back.days())).map_err(calendar("start of the week"))?;
                (monday.to_zoned(zone.tz.clone()), 1.week())
            }
            Period::Monthly => (
                (now.first_of_month()).and_then(|first| first.start_of_day()),
                1.month(),
            ),
        };
        let start = start.map_err(calendar("start"))?;
        let end = start.checked_add(length).map_err(calendar("end"))?;
        Ok(TimeRange {
            start: start.timestamp(),
            end: end.timestamp(),
        })
    }

    /// `daily`, `weekly` or `monthly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }
}

impl FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "daily" => Ok(Period::Daily),
            "weekly" => Ok(Period::Weekly),
            "monthly" => Ok(Period::Monthly),
            _ => Err(Error::UnknownPeriod { name: s.to_owned() }),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(Error::UnknownFormat { name: s.to_owned() }),
        }
    }
}

impl Report {
    /// The report of `index`'s current state for `options`.
    ///
    /// # Errors
    /// [`Error::Calendar`] when the period cannot be computed.
    pub fn generate(index: &Index, options: &ReportOptions) -> Result<Self> {
        let zone = &options.zone;
        let range = options.period.range(options.now, zone)?;
        let active = (index.active().into_iter())
            .map(|a| ActiveLine {
                developer: a.developer,
                task: a.task,
                branch: a.branch,
                since: zone.format(a.since),
            })
            .collect();
        let mut sessions: Vec<(Timestamp, SessionLine)> = Vec::new();
        for record in index.records() {
            for s in record.sessions() {
                let end = if s.active {
                    Timestamp::MAX
                } else {
                    s.end_time.unwrap_or(s.start_time)
                };
                if s.start_time < range.end && end >= range.start {
                    let line = SessionLine {
                        developer: s.developer_id.clone(),
                        session_id: s.session_id.clone(),
                        task: s.task_id.clone(),
                        branch: s.branch.clone(),
                        start: zone.format(s.start_time),
                        end: s.end_time.map(|e| zone.format(e)),
                        active: s.active,
                    };
                    sessions.push((s.start_time, line));
                }
            }
        }
        sessions.sort_by(|(a, x), (b, y)| {
            (a, &x.developer, &x.session_id).cmp(&(b, &y.developer, &y.session_id))
        });
        let tasks = (index.tasks(&Pattern::any()).tasks.into_iter())
            .map(|t| TaskLine {
                task: t.task,
                holder: t.holder,
                status: t.status,
                claimed_at: t.claimed_at.map(|c| zone.format(c)),
                working: t.working,
            })
            .collect();
        let minutes = |(name, minutes): (String, u64)| Minutes { name, minutes };
        let time_per_developer: Vec<Minutes> = (index.time_by_developer(&range).into_iter())
            .map(|(dev, m)| minutes((dev.to_string(), m)))
            .collect();
        let time_per_task = (index.time_by_task(&range).into_iter())
            .map(|(task, m)| minutes((task.to_string(), m)))
            .collect();
        let mut problems: Vec<ProblemLine> = (index.problems().into_iter())
            .map(|p| ProblemLine {
                path: p.path.display().to_string(),
                developer: p.developer,
                message: p.message,
            })
            .collect();
        // Sums are checked: a total past u64::MAX comes only from corrupt time entries, and the
        // report says so instead of wrapping.
        let total = (time_per_developer.iter())
            .try_fold(0u64, |sum, m| sum.checked_add(m.minutes))
            .filter(|_| time_per_developer.iter().all(|m| m.minutes < u64::MAX));
        let total_minutes = total.unwrap_or_else(|| {
            problems.push(ProblemLine {
                path: index.layout().root().display().to_string(),
                developer: None,
                message: "the recorded minutes add up to more than 18446744073709551615: \
                          a time entry is corrupt, the totals are capped"
                    .to_owned(),
            });
            u64::MAX
        });
        Ok(Self {
            period: options.period,
            timezone: zone.name.clone(),
            generated_at: zone.format(options.now),
            from: zone.format(range.start),
            to: zone.format(range.end),
            developers: index.namespace_count(),
            active,
            sessions: sessions.into_iter().map(|(_, line)| line).collect(),
            tasks,
            total_minutes,
            time_per_developer,
            time_per_task,
            conflicts: index.conflicts(),
            problems,
        })
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Markdown => render::markdown(self),
            Format::Json => render::json(self),
            Format::Csv => render::csv(self),
        }
    }
}
