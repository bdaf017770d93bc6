//! The FlowForge namespace model: validated ids, the on-disk layout, serde models of
//! FlowForge's JSON files, the baseline's thresholds and score, and a metrics registry.
//!
//! flowforge-core knows nothing about git, locking, or the state of the filesystem: it holds
//! types, validation, paths and arithmetic. The other crates build on it.
//!
//! ```
//! use flowforge_core::{DeveloperId, Layout, TaskId};
//! let dev: DeveloperId = "alice".parse()?;
//! let task: TaskId = "feature-auth-1".parse()?;
//! let layout = Layout::for_repo("/repo");
//! assert!(layout.time_tracking(&dev).starts_with(layout.root()));
//! assert!(layout.claim_dir(&task).starts_with(layout.root()));
//! assert!("../../etc".parse::<DeveloperId>().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod error;
mod id;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod parallel;
pub mod score;
pub mod wildcard;

pub use error::{Error, IdRule};
pub use id::{DeveloperId, RESERVED_DEVELOPER_IDS, TaskId, escape_bytes};
pub use layout::Layout;
