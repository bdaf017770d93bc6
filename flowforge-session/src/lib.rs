//! Storage for FlowForge namespaces.
//!
//! flowforge-session owns every write under `.flowforge/`: namespace creation
//! ([`namespace::init`]), private atomic file primitives ([`fs`]), and — as the storage work
//! lands — the lock-free compare-and-swap store of sessions, task claims and time tracking, with
//! `current.json`-style views kept for the bash tools. It knows nothing about git.
//!
//! ```
//! use flowforge_core::{DeveloperId, Layout, model::DeveloperInfo};
//! let repo = tempfile::tempdir()?;
//! let layout = Layout::for_repo(repo.path());
//! let alice: DeveloperId = "alice".parse()?;
//! flowforge_session::namespace::init(&layout, &alice, &DeveloperInfo::default())?;
//! let members = flowforge_session::namespace::members(&layout)?;
//! assert_eq!(members[0].id, alice);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod fs;
pub mod namespace;

pub use error::{Error, Result};
