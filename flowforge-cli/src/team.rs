//! What `who`, `active`, `tasks` and `report` share: opening the namespace index and printing
//! what it left out.

use anyhow::anyhow;
use flowforge_index::{Index, Problem, StartedFrom};
use serde_json::{Value, json};

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, errln},
};

/// Opens the index from its snapshot (a full build when there is none or it is unusable),
/// refreshed, and saves the snapshot again when anything was reloaded. A snapshot that cannot
/// be saved costs the next run a rebuild, nothing more: it is a warning.
pub fn open_index(ctx: &Context, out: &mut Output) -> CliResult<Index> {
    let opened = Index::open(&ctx.layout)?;
    let changed = opened.started_from != StartedFrom::Snapshot
        || !opened.refresh.reloaded.is_empty()
        || !opened.refresh.removed.is_empty()
        || opened.refresh.team_reloaded;
    if changed {
        if let Err(e) = opened.index.save_snapshot() {
            errln!(out, "flowforge: warning: {:#}", anyhow!(e));
        }
    }
    Ok(opened.index)
}

/// The `problems` array of the JSON outputs.
pub fn problems_json(problems: &[Problem]) -> Value {
    Value::Array(
        (problems.iter())
            .map(|p| json!({"path": p.path, "developer": p.developer, "message": p.message}))
            .collect(),
    )
}

/// Text outputs list what was left out on stderr, one line each.
pub fn warn_problems(problems: &[Problem], out: &mut Output) {
    for p in problems {
        errln!(
            out,
            "flowforge: warning: left out {}: {}",
            p.path.display(),
            p.message
        );
    }
}
