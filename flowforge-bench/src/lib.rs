//! The FlowForge baseline: the seed's six operations at 1, 6 and 10 developers (or any list),
//! naive against optimized, measured on one machine in one run.
//!
//! - [`fixture`]: a generated git repository (default 50,000 files) or a clone of an existing
//!   one, plus a `.flowforge` team, in a temporary directory.
//!
//! ```
//! use flowforge_bench::fixture::{Fixture, FixtureOptions};
//! let fixture = Fixture::create(&FixtureOptions::small(1))?;
//! assert_eq!(fixture.tracked_files(), 500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod fixture;
pub mod git_cli;

pub use error::{Error, Result};
