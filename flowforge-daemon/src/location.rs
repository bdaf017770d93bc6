//! Where a repository's daemon listens, locks and records itself.
//!
//! The socket lives in a directory only this user can open: `$XDG_RUNTIME_DIR/flowforge/`, or
//! `/tmp/flowforge-<uid>/` when there is no runtime directory or its path would make the socket
//! path longer than the 107 bytes a unix socket path may have. The directory is created 0700 and
//! refused when another user owns it or others may open it. The socket's name is a hash of the
//! repository's git *common* directory, so every linked worktree of a repository finds the same
//! daemon. Beside it, `<hash>.lock` is held (`flock`) by the daemon for its whole life: it is the
//! arbiter between racing starts. The daemon also writes a record, `flowforge-daemon.json`, into
//! the common directory, for people and `daemon status`.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use crate::error::{Error, Result, io};

/// The longest socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where one repository's daemon lives; see the [crate documentation](crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    repository: PathBuf,
    runtime_dir: PathBuf,
    socket: PathBuf,
    lock: PathBuf,
    log: PathBuf,
    record: PathBuf,
}

impl Location {
    /// The location of the daemon of the repository whose git common directory is
    /// `common_dir`, under `$XDG_RUNTIME_DIR` (or `/tmp/flowforge-<uid>`). Creates the runtime
    /// directory when missing.
    ///
    /// # Errors
    /// [`Error::RuntimeDir`] when the directory cannot be created or is not private,
    /// [`Error::Io`] when `common_dir` cannot be resolved.
    pub fn for_repository(common_dir: &Path) -> Result<Self> {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|p| p.join("flowforge"));
        Self::under(common_dir, runtime)
    }

    /// Like [`Location::for_repository`], with the runtime directory given (`None`:
    /// `/tmp/flowforge-<uid>`).
    ///
    /// # Errors
    /// As [`Location::for_repository`].
    pub fn under(common_dir: &Path, runtime_dir: Option<PathBuf>) -> Result<Self> {
        let repository = fs::canonicalize(common_dir).map_err(io("cannot resolve", common_dir))?;
        let name = format!("{:016x}", fnv1a(repository.as_os_str().as_encoded_bytes()));
        let fallback = PathBuf::from(format!(
            "/tmp/flowforge-{}",
            rustix::process::getuid().as_raw()
        ));
        let runtime_dir = match runtime_dir {
            Some(dir) if socket_fits(&dir, &name) => dir,
            _ => fallback,
        };
        let socket = runtime_dir.join(format!("{name}.sock"));
        if !socket_fits(&runtime_dir, &name) {
            return Err(Error::SocketPathTooLong { path: socket });
        }
        private_dir(&runtime_dir)?;
        Ok(Self {
            lock: runtime_dir.join(format!("{name}.lock")),
            log: runtime_dir.join(format!("{name}.log")),
            record: repository.join("flowforge-daemon.json"),
            socket,
            runtime_dir,
            repository,
        })
    }

    /// The repository's git common directory, resolved.
    pub fn repository(&self) -> &Path {
        &self.repository
    }

    /// The private directory holding the socket, lock and log.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The unix socket the daemon listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The lock file a live daemon holds.
    pub fn lock(&self) -> &Path {
        &self.lock
    }

    /// Where a detached daemon writes its stderr.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The record (`flowforge-daemon.json`) the daemon writes in the repository.
    pub fn record(&self) -> &Path {
        &self.record
    }

    /// Whether a daemon holds the lock right now (running, or starting up).
    pub fn is_locked(&self) -> bool {
        let Ok(file) = fs::File::open(&self.lock) else {
            return false;
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => false,
            Err(e) => e == rustix::io::Errno::WOULDBLOCK,
        }
    }
}

fn socket_fits(dir: &Path, name: &str) -> bool {
    dir.as_os_str().len() + 1 + name.len() + ".sock".len() <= MAX_SOCKET_PATH
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Creates `dir` 0700 if missing, and checks it is this user's and closed to others.
fn private_dir(dir: &Path) -> Result<()> {
    let unusable = |reason: String| Error::RuntimeDir {
        path: dir.to_owned(),
        reason,
    };
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(unusable(e.to_string())),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| unusable(e.to_string()))?;
    if !meta.is_dir() {
        return Err(unusable("not a directory".to_owned()));
    }
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(unusable(format!("owned by uid {}", meta.uid())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(unusable(format!(
            "mode {:o} lets others in",
            meta.permissions().mode() & 0o777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runtime_dirs_fall_back_to_tmp() {
        let repo = tempfile::tempdir().expect("temp dir");
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        let location = Location::under(repo.path(), Some(long)).expect("location");
        assert!(location.socket().as_os_str().len() <= MAX_SOCKET_PATH);
        assert!(
            location
                .runtime_dir()
                .to_string_lossy()
                .starts_with("/tmp/flowforge-")
        );
    }

    #[test]
    fn an_open_runtime_dir_is_refused() {
        let repo = tempfile::tempdir().expect("temp dir");
        let runtime = tempfile::tempdir().expect("temp dir");
        let dir = runtime.path().join("rt");
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = Location::under(repo.path(), Some(dir)).expect_err("refused");
        assert!(matches!(err, Error::RuntimeDir { .. }), "{err}");
    }

    #[test]
    fn the_name_follows_the_resolved_common_dir() {
        let repo = tempfile::tempdir().expect("temp dir");
        let runtime = tempfile::tempdir().expect("temp dir");
        let rt = Some(runtime.path().join("rt"));
        let a = Location::under(repo.path(), rt.clone()).expect("location");
        let b = Location::under(&repo.path().join("."), rt.clone()).expect("location");
        assert_eq!(a, b);
        let other = tempfile::tempdir().expect("temp dir");
        assert_ne!(
            Location::under(other.path(), rt)
                .expect("location")
                .socket(),
            a.socket()
        );
    }
}
