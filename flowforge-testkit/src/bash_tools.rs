//! Namespace files written the way FlowForge's bash tools write them: plain files through a
//! temporary file and a rename (`jq ... > tmp && mv tmp file`), directories 0700, files 0600.
//!
//! Tests use these to put a namespace in a state the store did not make (a hand-written view,
//! a corrupt file, a generated team) without going through flowforge-session, which is the only
//! library that writes namespace files.

use std::{
    fs,
    io::{self, Write},
    path::Path,
};

/// Makes `dir` and its missing parents, each 0700.
///
/// # Errors
/// When a directory cannot be made.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Replaces `path` with `bytes` through a temporary file in the same directory and a rename,
/// making the directory first; the file is 0600.
///
/// # Errors
/// When the directory, the temporary file or the rename fails.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a file path has a parent"))?;
    create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(private())
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// As [`write()`], with `value` as pretty-printed JSON.
///
/// # Errors
/// As [`write()`], and when `value` cannot be serialized.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write(path, &bytes)
}

fn private() -> fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o600)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn files_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("dev-alice/sessions/current.json");
        write_json(&path, &serde_json::json!({"active": true})).expect("write");
        write_json(&path, &serde_json::json!({"active": false})).expect("replace");
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\n  \"active\": false\n}\n");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("dev-alice")), 0o700);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
