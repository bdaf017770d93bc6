//! What the store benches share: the two durability modes, a temporary directory on a real
//! disk (Cargo's target tmp dir, so `Sync` pays real flushes) and a small session as the bash
//! tools write it.

use flowforge_core::{DeveloperId, TaskId, model::Session};
use flowforge_session::fs::Durability;
use jiff::Timestamp;

/// Each durability mode with its name in the benchmark ids.
pub(crate) const MODES: [(&str, Durability); 2] =
    [("sync", Durability::Sync), ("relaxed", Durability::Relaxed)];

/// A temporary directory under Cargo's target tmp dir.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory")
}

/// A small session (~400 bytes), as the bash tools write it.
pub(crate) fn session() -> Session {
    Session {
        active: true,
        session_id: "session-1758189600000-4242-0".to_owned(),
        start_time: Timestamp::now(),
        task_id: Some(TaskId::new("feature-auth-42").expect("valid")),
        developer_id: DeveloperId::new("alice").expect("valid"),
        branch: Some("feature/42-auth".to_owned()),
        provider: Some("github".to_owned()),
        metadata: serde_json::Map::new(),
        end_time: None,
        extra: serde_json::Map::new(),
    }
}
