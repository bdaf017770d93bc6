//! The `--json` outputs: every one is a typed, documented `Serialize` struct of its command's
//! module, printed here as pretty JSON. `tests/it/json_schemas.rs` pins the key set of each.

use anyhow::Context as _;
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// `value` as pretty JSON.
///
/// # Errors
/// A failure when it cannot be serialised (a path that is not UTF-8).
pub(crate) fn to_string<T: Serialize>(value: &T) -> CliResult<String> {
    serde_json::to_string_pretty(value)
        .context("cannot write the JSON output")
        .map_err(CliError::failure)
}

/// One namespace left out of an answer: the `problems` array of the team queries.
#[derive(Debug, Serialize)]
pub(crate) struct ProblemJson {
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// The developer left out, when the problem belongs to one.
    pub developer: Option<flowforge_core::DeveloperId>,
    /// What is wrong.
    pub message: String,
}

/// The `problems` array of the team queries.
pub(crate) fn problems(problems: &[flowforge_index::Problem]) -> Vec<ProblemJson> {
    problems
        .iter()
        .map(|p| ProblemJson {
            path: p.path.clone(),
            developer: p.developer.clone(),
            message: p.message.clone(),
        })
        .collect()
}

/// The `remote` member of the team queries: which pull of other machines was merged in.
#[derive(Debug, Serialize)]
pub(crate) struct RemoteJson {
    /// The git remote.
    pub remote: String,
    /// When it was pulled.
    pub pulled_at: jiff::Timestamp,
    /// Seconds since then.
    pub age_seconds: i64,
}
