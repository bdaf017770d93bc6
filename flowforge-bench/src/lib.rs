//! The FlowForge baseline: the original FlowForge baseline's six operations at 1, 6 and 10
//! developers (or any list), naive against optimized, measured on one machine in one run and
//! shown beside the original's own table ([`original`]).
//!
//! - [`fixture`]: a generated git repository (a fixed size, or sized so that one `git status`
//!   takes what it took in the original, [`fixture::calibrate`]) or a clone of an existing one,
//!   plus `.flowforge` teams, in a temporary directory.
//! - [`ops`]: each operation's naive and optimized [`ops::Round`], shared by the run and the
//!   criterion benches.
//! - [`run`]: the run itself, producing a [`baseline::Baseline`] (its JSON schema is documented
//!   there), and [`report`]: the terminal tables, the JSON file and the SVG chart.
//! - [`floor`]: the file-system floor of a per-developer cost, the yardstick of the
//!   per-developer Session target.
//!
//! ```
//! use flowforge_bench::{fixture::{Fixture, FixtureOptions}, run::{run, RunOptions}};
//! let mut fixture = Fixture::create(&FixtureOptions { files: 100, developers: 1, ..Default::default() })?;
//! let options = RunOptions { developers: vec![1], samples: 1, ..Default::default() };
//! let baseline = run(&mut fixture, &options, &mut |_| {})?;
//! assert!(baseline.rows.iter().any(|r| r.operation.key() == "git_sync"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "flowforge-bench needs Unix: it measures the Unix file operations of the original bash FlowForge"
);

pub mod baseline;
pub mod cli;
mod error;
pub mod fixture;
pub mod floor;
pub mod ops;
pub mod original;
pub mod remote_claims;
pub mod report;
pub mod run;
pub mod session_cli;
pub mod stats;
pub mod targets;

pub use error::{Error, Result};
