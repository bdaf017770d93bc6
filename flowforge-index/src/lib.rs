//! The FlowForge namespace index: cross-developer queries, team reports and the live monitor.
//!
//! This crate will own the in-memory index built from every namespace under the root (who holds
//! a task, who works on what, time per developer and task, parallel work on matching tasks),
//! refreshed incrementally from the session store's versions and persisted as a versioned
//! snapshot; the team reports (markdown, JSON, CSV); and the frames of the live monitor. It
//! reads namespaces through flowforge-session and never writes them; it knows nothing about git.
//!
//! Until that lands it exposes only the report periods FlowForge knows.
//!
//! ```
//! assert_eq!(flowforge_index::REPORT_PERIODS, ["daily", "weekly", "monthly"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

/// The periods a team report covers, as `team-report.sh report <period>` names them.
pub const REPORT_PERIODS: [&str; 3] = ["daily", "weekly", "monthly"];
