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
