//! Registering developers: creating a namespace and recording the developer in the team's
//! registry, and listing the registered developers and the namespaces on disk.
//!
//! The team's registry lives in the team store (key [`TEAM_CONFIG_KEY`]) and is changed by
//! compare-and-swap, so developers registering at the same instant all stay registered;
//! `team/config.json` is its view for the bash tools. The first registration through the
//! store starts from the existing `team/config.json`, so nothing registered before is lost.

use std::path::Path;

use flowforge_core::{
    DeveloperId, Layout,
    model::{DevConfig, DevConfigDeveloper, DeveloperInfo, NAMESPACE_VERSION, TeamConfig},
};
use jiff::Timestamp;

use crate::{
    error::{Error, Result},
    fs::{Durability, create_private_dir_all, read_json, write_json},
    namespace::team_store,
    store::{Cas, Key, StoreOptions, Versioned},
    view,
};

/// The key of the team registry in the team store.
pub const TEAM_CONFIG_KEY: &str = "team-config";

fn team_config_key() -> Key {
    Key::new(TEAM_CONFIG_KEY).expect("a valid constant key")
}

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

/// The views a session cycle of `dev` rewrites, whose pooled spares the namespace gets when
/// it is created (and [`gc`](crate::gc) keeps, though a view may not be written yet).
pub(crate) fn pooled_views(layout: &Layout, dev: &DeveloperId) -> [std::path::PathBuf; 4] {
    [
        layout.current_session(dev),
        layout.time_tracking(dev),
        layout.git_status_cache(dev),
        layout.task_assignments(),
    ]
}

/// Creates `dev`'s namespace (directories 0700, files 0600) and registers the developer in
/// `team/config.json`. Idempotent: details given in `info` replace the registered ones, the
/// others stay. The root gets its own ignore file ([`ensure_ignore_file`]).
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file that could not be created, read or written
/// (a corrupt `team/config.json` is reported, never overwritten).
pub fn init(layout: &Layout, dev: &DeveloperId, info: &DeveloperInfo) -> Result<InitOutcome> {
    let store = team_store(layout, StoreOptions::default());
    let key = team_config_key();
    // Read first: a corrupt team config stops us before anything is created.
    let mut current = read_team_config(layout)?;

    let root = layout.root();
    let created_namespace = crate::fs::stat(root, &layout.dev_dir(dev))?.is_none();
    for dir in layout.namespace_dirs(dev) {
        create_private_dir_all(root, &dir)?;
    }
    ensure_ignore_file(layout)?;
    if created_namespace {
        // The keys every session cycle writes get their spare slots now, so that no session
        // cycle creates a file (see `Store::provision_spares`); best-effort and not flushed
        // (a key without them makes its own within a few generations).
        let own = super::dev_store(layout, dev, StoreOptions::relaxed());
        for key in [super::session_key(), super::time_key()] {
            let _ = own.provision_spares(&key);
        }
        // And so do the views a cycle rewrites (see `fs::provision_pool`); the team's view
        // of the claims once per team.
        for view in pooled_views(layout, dev) {
            if crate::fs::stat(root, &view)?.is_none() {
                let _ = crate::fs::provision_pool(root, &view);
            }
        }
    }
    let dev_config_path = layout.dev_config(dev);
    if crate::fs::stat(root, &dev_config_path)?.is_none() {
        let dev_config = DevConfig {
            developer: DevConfigDeveloper {
                id: Some(dev.clone()),
                namespace_version: Some(NAMESPACE_VERSION.to_owned()),
                created_at: Some(Timestamp::now()),
                ..Default::default()
            },
            ..Default::default()
        };
        write_json(root, &dev_config_path, &dev_config, Durability::Sync)?;
    }

    for _ in 0..store.options().retry.max_attempts {
        let (mut config, expected) = match current {
            Some(v) => (v.value, Some(v.version)),
            None => (
                read_json(root, &layout.team_config())?.unwrap_or_default(),
                None,
            ),
        };
        // A developer not registered yet is a change even without details: compare with
        // what was there before the entry is made, not with the default it starts as.
        let before = config.team.developers.get(dev).cloned();
        let entry = config.team.developers.entry(dev.clone()).or_default();
        if info.name.is_some() {
            entry.name.clone_from(&info.name);
        }
        if info.email.is_some() {
            entry.email.clone_from(&info.email);
        }
        if info.role.is_some() {
            entry.role.clone_from(&info.role);
        }
        let changed = before.as_ref() != Some(&*entry) || expected.is_none();
        if !changed {
            return Ok(InitOutcome {
                created_namespace,
                registration_changed: false,
            });
        }
        match store.compare_and_swap(&key, expected, &config)? {
            Cas::Swapped(version) => {
                let written = Versioned {
                    value: config,
                    version,
                };
                view::publish(&store, &key, &layout.team_config(), &written)?;
                return Ok(InitOutcome {
                    created_namespace,
                    registration_changed: true,
                });
            }
            Cas::Conflict(found) => current = found,
        }
    }
    Err(Error::Contended {
        key: key.to_string(),
        attempts: store.options().retry.max_attempts,
    })
}

/// The content of the namespace's own ignore file: everything under the root, the file
/// itself included, stays out of `git status`.
pub const IGNORE_FILE_CONTENT: &str =
    "# Written by FlowForge: keeps this directory out of `git status`.\n*\n";

/// Writes the namespace root's own `.gitignore` ([`IGNORE_FILE_CONTENT`]) if the root exists
/// and the file does not; returns whether it wrote it. Written once: an existing file (or
/// anything else at that path, a symbolic link included) is never replaced, and the
/// repository's own `.gitignore` is never touched.
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be created or written.
pub fn ensure_ignore_file(layout: &Layout) -> Result<bool> {
    let root = layout.root();
    if !std::fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        return Ok(false);
    }
    // O_EXCL: never follows a symbolic link and never replaces a file a concurrent writer
    // created first.
    crate::fs::create_new(root, &layout.ignore_file(), IGNORE_FILE_CONTENT.as_bytes())
}

/// The registry with its version from the store; `None` before the first registration
/// through the store (then `team/config.json`, if any, is the registry).
fn read_team_config(layout: &Layout) -> Result<Option<Versioned<TeamConfig>>> {
    let store = team_store(layout, StoreOptions::default());
    let current = store.get(&team_config_key())?;
    if current.is_none() {
        // Validate the file now: a corrupt one is reported, never overwritten.
        read_json::<TeamConfig>(layout.root(), &layout.team_config())?;
    }
    Ok(current)
}

/// The team registry: from the team store, or `team/config.json` before the first
/// registration through the store; an absent registry is an empty team.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file.
pub fn team_config(layout: &Layout) -> Result<TeamConfig> {
    match read_team_config(layout)? {
        Some(v) => Ok(v.value),
        None => Ok(read_json(layout.root(), &layout.team_config())?.unwrap_or_default()),
    }
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

/// The ids of the `dev-<id>` directories of the root; links are not namespaces.
pub(crate) fn namespace_ids(root: &Path) -> Result<Vec<DeveloperId>> {
    let Some(entries) = crate::fs::list_dir(root, root)? else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for entry in entries {
        let is_dir = entry.kind == crate::fs::FileKind::Dir;
        if let (true, Some(Ok(id))) = (is_dir, Layout::parse_dev_dir_name(&entry.name)) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::PermissionsExt};

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
        for file in [
            layout.team_config(),
            layout.dev_config(&alice),
            layout.ignore_file(),
        ] {
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
    fn the_ignore_file_is_written_once_and_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        assert!(
            !ensure_ignore_file(&layout).unwrap(),
            "no root, nothing written"
        );
        assert!(!layout.root().exists());
        create_private_dir_all(layout.root(), layout.root()).unwrap();
        assert!(ensure_ignore_file(&layout).unwrap());
        assert_eq!(
            fs::read_to_string(layout.ignore_file()).unwrap(),
            IGNORE_FILE_CONTENT
        );
        fs::write(layout.ignore_file(), "mine\n").unwrap();
        assert!(!ensure_ignore_file(&layout).unwrap());
        assert_eq!(fs::read_to_string(layout.ignore_file()).unwrap(), "mine\n");
        fs::remove_file(layout.ignore_file()).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), layout.ignore_file()).unwrap();
        assert!(!ensure_ignore_file(&layout).unwrap());
        assert!(
            !tmp.path().join("elsewhere").exists(),
            "a link is never followed"
        );
    }

    #[test]
    fn a_corrupt_team_config_stops_init_before_anything_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        create_private_dir_all(layout.root(), &layout.team_dir()).unwrap();
        fs::write(layout.team_config(), "{oops").unwrap();
        let bob = DeveloperId::new("bob").unwrap();
        let err = init(&layout, &bob, &DeveloperInfo::default()).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err}");
        assert!(!layout.dev_dir(&bob).exists());
        assert_eq!(fs::read_to_string(layout.team_config()).unwrap(), "{oops");
    }

    #[test]
    fn concurrent_registrations_are_all_kept_and_earlier_ones_too() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        create_private_dir_all(layout.root(), &layout.team_dir()).unwrap();
        // Registered by the bash tools before the store existed.
        fs::write(
            layout.team_config(),
            r#"{"team":{"developers":{"old":{"name":"Old"}}},"security":{"audit":true}}"#,
        )
        .unwrap();
        std::thread::scope(|s| {
            for i in 0..6 {
                let layout = &layout;
                s.spawn(move || {
                    let dev = DeveloperId::new(&format!("dev{i}")).unwrap();
                    init(layout, &dev, &info(&format!("Dev {i}"))).unwrap();
                });
            }
        });
        let config = team_config(&layout).unwrap();
        assert_eq!(config.team.developers.len(), 7, "{config:?}");
        assert_eq!(config.extra["security"]["audit"], true);
        let view: TeamConfig = read_json(layout.root(), &layout.team_config())
            .unwrap()
            .unwrap();
        assert_eq!(view, config);
    }

    #[test]
    fn invalid_namespace_directories_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        create_private_dir_all(layout.root(), &layout.root().join("dev-..bad")).unwrap();
        create_private_dir_all(layout.root(), &layout.root().join("dev-carol")).unwrap();
        let ids: Vec<_> = members(&layout)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [DeveloperId::new("carol").unwrap()]);
    }
}
