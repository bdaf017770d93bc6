//! The work tree's default developer (`dev switch`): `.namespace-env` at the namespace root,
//! one `FLOWFORGE_DEVELOPER=<id>` line a shell can `source`, as the FlowForge v2 tools write
//! it. A developer named on the command line or in the environment wins over it.

use flowforge_core::{DeveloperId, Layout};

use crate::{
    error::{Error, Result},
    fs::{Durability, FileKind, read_bytes, write_atomic},
};

/// The variable `.namespace-env` sets.
pub const VARIABLE: &str = "FLOWFORGE_DEVELOPER";

/// Makes `dev` the default developer of `layout`'s work tree. The developer's namespace must
/// exist.
///
/// # Errors
/// [`Error::NotInitialised`] when `dev` has no namespace, or [`Error::Io`] /
/// [`Error::Symlink`] naming `.namespace-env`.
pub fn set_default_developer(layout: &Layout, dev: &DeveloperId) -> Result<()> {
    let config = crate::fs::stat(layout.root(), &layout.dev_config(dev))?;
    if !config.is_some_and(|st| st.kind == FileKind::File) {
        return Err(Error::NotInitialised {
            developer: dev.clone(),
        });
    }
    let text = format!("# Written by `flowforge dev switch`.\n{VARIABLE}={dev}\n");
    write_atomic(
        layout.root(),
        &layout.namespace_env(),
        text.as_bytes(),
        Durability::Sync,
    )
}

/// The default developer of `layout`'s work tree; `None` when none was chosen.
///
/// # Errors
/// [`Error::Io`] or [`Error::Symlink`] when `.namespace-env` cannot be read,
/// [`Error::Corrupt`] when it names no valid developer.
pub fn default_developer(layout: &Layout) -> Result<Option<DeveloperId>> {
    let path = layout.namespace_env();
    let Some(bytes) = read_bytes(layout.root(), &path)? else {
        return Ok(None);
    };
    let corrupt = |reason: String| Error::Corrupt {
        path: path.clone(),
        reason,
    };
    let text = String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8".to_owned()))?;
    // The last assignment wins, as when a shell sources the file.
    let value = text
        .lines()
        .rev()
        .map(str::trim)
        .map(|l| l.strip_prefix("export ").unwrap_or(l).trim_start())
        .find_map(|l| l.strip_prefix(VARIABLE)?.strip_prefix('='));
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    DeveloperId::new(value)
        .map(Some)
        .map_err(|e| corrupt(format!("{VARIABLE}: {e}")))
}

#[cfg(test)]
mod tests {
    use flowforge_core::model::DeveloperInfo;

    use super::*;

    #[test]
    fn the_default_developer_round_trips_and_reads_shell_forms() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::for_repo(tmp.path());
        let alice = DeveloperId::new("alice").unwrap();
        let bob = DeveloperId::new("bob").unwrap();
        assert_eq!(default_developer(&layout).unwrap(), None);
        crate::namespace::init(&layout, &alice, &DeveloperInfo::default()).unwrap();
        let err = set_default_developer(&layout, &bob).unwrap_err();
        assert!(matches!(err, Error::NotInitialised { .. }), "{err}");
        assert!(!layout.namespace_env().exists(), "nothing written");
        set_default_developer(&layout, &alice).unwrap();
        assert_eq!(default_developer(&layout).unwrap(), Some(alice.clone()));

        std::fs::write(
            layout.namespace_env(),
            "export FLOWFORGE_DEVELOPER=\"bob\"\nOTHER=x\n",
        )
        .unwrap();
        assert_eq!(default_developer(&layout).unwrap(), Some(bob));
        std::fs::write(layout.namespace_env(), "FLOWFORGE_DEVELOPER=../x\n").unwrap();
        let err = default_developer(&layout).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}
