//! Creating and listing developer namespaces.
//!
//! `team/config.json` is rewritten with a read-modify-write and an atomic replace. Two
//! developers registering at the same instant can still lose one registration; moving the
//! registry onto the versioned store removes that race.

use std::{fs, path::Path};

use flowforge_core::{
    DeveloperId, Layout,
    model::{DevConfig, DevConfigDeveloper, DeveloperInfo, NAMESPACE_VERSION, TeamConfig},
};
use jiff::Timestamp;

use crate::{
    error::{Error, Result},
    fs::{Durability, create_private_dir_all, read_json, write_json},
};

/// What [`init`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitOutcome {
    /// The namespace directory did not exist before.
    pub created_namespace: bool,
    /// `team/config.json` was written (a new registration or changed details).
    pub registration_changed: bool,
}

/// A developer known to the team, by registration or by namespace directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The developer.
    pub id: DeveloperId,
    /// Details from `team/config.json`, if registered there.
    pub info: Option<DeveloperInfo>,
    /// Whether `dev-<id>/` exists.
    pub has_namespace: bool,
}

/// Creates `dev`'s namespace (directories 0700, files 0600) and registers the developer in
/// `team/config.json`. Idempotent: details given in `info` replace the registered ones, the
/// others stay.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file that could not be created, read or written
/// (a corrupt `team/config.json` is reported, never overwritten).
pub fn init(layout: &Layout, dev: &DeveloperId, info: &DeveloperInfo) -> Result<InitOutcome> {
    let team_config_path = layout.team_config();
    // Read first: a corrupt team config stops us before anything is created.
    let mut config: TeamConfig = read_json(&team_config_path)?.unwrap_or_default();

    let created_namespace = !layout.dev_dir(dev).exists();
    for dir in layout.namespace_dirs(dev) {
        create_private_dir_all(&dir)?;
    }
    let dev_config_path = layout.dev_config(dev);
    if !dev_config_path.exists() {
        let dev_config = DevConfig {
            developer: DevConfigDeveloper {
                id: Some(dev.clone()),
                namespace_version: Some(NAMESPACE_VERSION.to_owned()),
                created_at: Some(Timestamp::now()),
                ..Default::default()
            },
            ..Default::default()
        };
        write_json(&dev_config_path, &dev_config, Durability::Sync)?;
    }

    let entry = config.team.developers.entry(dev.clone()).or_default();
    let before = entry.clone();
    if info.name.is_some() {
        entry.name.clone_from(&info.name);
    }
    if info.email.is_some() {
        entry.email.clone_from(&info.email);
    }
    if info.role.is_some() {
        entry.role.clone_from(&info.role);
    }
    let registration_changed = *entry != before || !team_config_path.exists();
    if registration_changed {
        write_json(&team_config_path, &config, Durability::Sync)?;
    }
    Ok(InitOutcome {
        created_namespace,
        registration_changed,
    })
}

/// Reads `team/config.json`; an absent file is an empty team.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file.
pub fn team_config(layout: &Layout) -> Result<TeamConfig> {
    Ok(read_json(&layout.team_config())?.unwrap_or_default())
}

/// Every developer registered in `team/config.json` or owning a `dev-<id>/` directory, sorted
/// by id. Directories named `dev-…` whose rest is not a valid id are skipped, never followed.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file or directory that could not be read.
pub fn members(layout: &Layout) -> Result<Vec<Member>> {
    let config = team_config(layout)?;
    let mut members: std::collections::BTreeMap<DeveloperId, Member> = config
        .team
        .developers
        .into_iter()
        .map(|(id, info)| {
            let member = Member {
                id: id.clone(),
                info: Some(info),
                has_namespace: false,
            };
            (id, member)
        })
        .collect();
    for id in namespace_ids(layout.root())? {
        members
            .entry(id.clone())
            .or_insert_with(|| Member {
                id,
                info: None,
                has_namespace: false,
            })
            .has_namespace = true;
    }
    Ok(members.into_values().collect())
}

fn namespace_ids(root: &Path) -> Result<Vec<DeveloperId>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("cannot list", root)(e)),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("cannot list", root))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Some(Ok(id))) = (is_dir, Layout::parse_dev_dir_name(&entry.file_name())) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn info(name: &str) -> DeveloperInfo {
        DeveloperInfo {
            name: Some(name.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn init_creates_a_private_namespace_and_registers_once() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        let alice = DeveloperId::new("alice").unwrap();
        let first = init(&layout, &alice, &info("Alice")).unwrap();
        assert!(first.created_namespace && first.registration_changed);
        let again = init(&layout, &alice, &DeveloperInfo::default()).unwrap();
        assert!(!again.created_namespace && !again.registration_changed);

        for dir in layout.namespace_dirs(&alice) {
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{dir:?}");
        }
        for file in [layout.team_config(), layout.dev_config(&alice)] {
            let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file:?}");
        }
        let members = members(&layout).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(
            members[0].info.as_ref().unwrap().name.as_deref(),
            Some("Alice")
        );
        assert!(members[0].has_namespace);
    }

    #[test]
    fn a_corrupt_team_config_stops_init_before_anything_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        create_private_dir_all(&layout.team_dir()).unwrap();
        fs::write(layout.team_config(), "{oops").unwrap();
        let bob = DeveloperId::new("bob").unwrap();
        let err = init(&layout, &bob, &DeveloperInfo::default()).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err}");
        assert!(!layout.dev_dir(&bob).exists());
        assert_eq!(fs::read_to_string(layout.team_config()).unwrap(), "{oops");
    }

    #[test]
    fn invalid_namespace_directories_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        create_private_dir_all(&layout.root().join("dev-..bad")).unwrap();
        create_private_dir_all(&layout.root().join("dev-carol")).unwrap();
        let ids: Vec<_> = members(&layout)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [DeveloperId::new("carol").unwrap()]);
    }
}
