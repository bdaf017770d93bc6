//! The report of a run: tables for the terminal, the JSON file and the SVG chart.

mod svg;
mod table;

use std::path::{Path, PathBuf};

pub use svg::svg;
pub use table::{calibration, format_ms, text};

use crate::{
    baseline::Baseline,
    error::{Error, Result},
};

/// The default JSON path: `<target>/flowforge-baseline/baseline-<UTC time>.json`, where
/// `<target>` is `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn default_json_path(baseline: &Baseline) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let stamp = baseline.generated_at.strftime("%Y%m%dT%H%M%SZ");
    target
        .join("flowforge-baseline")
        .join(format!("baseline-{stamp}.json"))
}

/// Writes the JSON to `json` and the chart beside it (same name, `.svg`); returns the chart's
/// path.
///
/// # Errors
/// [`Error::Io`] naming the file or directory that could not be written.
pub fn write(baseline: &Baseline, json: &Path) -> Result<PathBuf> {
    if let Some(dir) = json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    }
    let mut bytes = serde_json::to_vec_pretty(baseline).map_err(|source| Error::Json {
        what: "the baseline".to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    std::fs::write(json, bytes).map_err(Error::io("cannot write", json))?;
    let chart = json.with_extension("svg");
    std::fs::write(&chart, svg(baseline)).map_err(Error::io("cannot write", &chart))?;
    Ok(chart)
}
