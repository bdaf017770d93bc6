//! Which remote a clone shares its state through, and the name of this machine: the
//! `[flowforge]` section of the clone's own `.git/config` (never committed, never shared).

use std::path::Path;

use git2::{ConfigLevel, Repository};

use crate::{
    error::{Error, Result},
    refs::valid_name,
};

/// A clone's remote settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The git remote's name (`origin`).
    pub remote: String,
    /// This clone's machine name, recorded in every claim and publication.
    pub machine: String,
}

/// The settings of the repository at `repo`, or `None` when no remote is in use.
///
/// # Errors
/// [`Error::Repo`] when the repository or its configuration cannot be read.
pub fn read_config(repo: &Path) -> Result<Option<Config>> {
    let repository = match Repository::open(repo) {
        Ok(r) => r,
        // Not a repository: no remote can be in use.
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(Error::repo(repo)(e)),
    };
    let config = repository.config().map_err(Error::repo(repo))?;
    let remote = config.get_string("flowforge.remote").ok();
    let machine = config.get_string("flowforge.machine").ok();
    Ok(match (remote, machine) {
        (Some(remote), Some(machine)) if !remote.is_empty() => Some(Config { remote, machine }),
        _ => None,
    })
}

/// Shares this clone's state through the git remote `remote` from now on. The machine name
/// is `machine`, or the one already configured, or the host name with a random suffix (so
/// two clones on one host are two machines).
///
/// # Errors
/// [`Error::UnknownRemote`] when the repository has no such remote, [`Error::InvalidName`]
/// for a name FlowForge cannot use, [`Error::Repo`] when the configuration cannot be written.
pub fn use_remote(repo: &Path, remote: &str, machine: Option<&str>) -> Result<Config> {
    if !valid_name(remote) {
        return Err(Error::InvalidName {
            what: "remote name",
            value: remote.to_owned(),
        });
    }
    if let Some(m) = machine {
        if !valid_name(m) {
            return Err(Error::InvalidName {
                what: "machine name",
                value: m.to_owned(),
            });
        }
    }
    let repository = Repository::open(repo).map_err(Error::repo(repo))?;
    if repository.find_remote(remote).is_err() {
        return Err(Error::UnknownRemote {
            remote: remote.to_owned(),
        });
    }
    let previous = read_config(repo)?.map(|c| c.machine);
    let machine = match (machine, previous) {
        (Some(m), _) => m.to_owned(),
        (None, Some(m)) => m,
        (None, None) => default_machine(),
    };
    let config = repository.config().map_err(Error::repo(repo))?;
    let mut local = config
        .open_level(ConfigLevel::Local)
        .map_err(Error::repo(repo))?;
    local
        .set_str("flowforge.machine", &machine)
        .and_then(|()| local.set_str("flowforge.remote", remote))
        .map_err(Error::repo(repo))?;
    Ok(Config {
        remote: remote.to_owned(),
        machine,
    })
}

/// The host name, reduced to the characters a machine name allows, and six random hex digits.
fn default_machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let mut host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    if host.is_empty() || !host.as_bytes()[0].is_ascii_alphanumeric() {
        host = format!("machine{host}");
    }
    format!("{host}-{:06x}", fastrand::u32(..0x0100_0000))
}
