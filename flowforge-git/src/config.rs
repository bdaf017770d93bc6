//! Reading git's configuration, with git's rules, in one place.
//!
//! libgit2 finds a key's value (files, includes and priorities as git has them); what the
//! value means is decided here, once: a boolean follows `git_config_bool` (a bare `key` is
//! true, `key =` is false, `true`/`yes`/`on` and `false`/`no`/`off` in any case, an integer is
//! true when not zero), and the settings the status engines read are named functions.

use git2::Repository;

/// A repository's configuration, read with git's rules.
pub(crate) struct GitConfig {
    config: git2::Config,
}

impl GitConfig {
    /// The configuration of `repo`, or `None` when libgit2 cannot read it.
    pub(crate) fn of(repo: &Repository) -> Option<Self> {
        repo.config().ok().map(|config| Self { config })
    }

    /// The boolean `key`, or `default` when it is not set or is not a boolean (git would
    /// refuse to run; FlowForge keeps git's default instead).
    pub(crate) fn bool(&self, key: &str, default: bool) -> bool {
        self.raw(key)
            .and_then(|value| parse_bool(value.as_deref()))
            .unwrap_or(default)
    }

    /// The string `key`, or `None` when it is not set (a bare `key` reads as `""`).
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.raw(key)
            .map(|value| String::from_utf8_lossy(value.as_deref().unwrap_or_default()).into_owned())
    }

    /// Whether `key` is set at all (with or without a value).
    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.config.get_entry(key).is_ok()
    }

    /// The value of `key` as written: `Some(None)` for a bare `key` (no `=`), `None` when it
    /// is not set.
    fn raw(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let entry = self.config.get_entry(key).ok()?;
        Some(entry.has_value().then(|| entry.value_bytes().to_vec()))
    }

    /// libgit2's configuration, for what is not a single key (listing entries by pattern).
    pub(crate) fn libgit2(&self) -> &git2::Config {
        &self.config
    }
}

/// A git boolean: `None` (a bare `key`) is true; `""` is false; `true`, `yes`, `on` and
/// `false`, `no`, `off` in any case; an integer (optionally signed, with a `k`, `m` or `g`
/// unit) is true unless zero. Anything else is not a boolean (`None`).
pub(crate) fn parse_bool(value: Option<&[u8]>) -> Option<bool> {
    let Some(value) = value else {
        return Some(true);
    };
    let word = |w: &str| value.eq_ignore_ascii_case(w.as_bytes());
    if value.is_empty() || word("false") || word("no") || word("off") {
        return Some(false);
    }
    if word("true") || word("yes") || word("on") {
        return Some(true);
    }
    parse_int(value).map(|n| n != 0)
}

/// git's integer: optional sign, decimal digits, an optional `k`/`m`/`g` unit (any case).
fn parse_int(value: &[u8]) -> Option<i64> {
    let (digits, factor) = match value.last()?.to_ascii_lowercase() {
        b'k' => (&value[..value.len() - 1], 1i64 << 10),
        b'm' => (&value[..value.len() - 1], 1 << 20),
        b'g' => (&value[..value.len() - 1], 1 << 30),
        _ => (value, 1),
    };
    let number: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    number.checked_mul(factor)
}

/// `core.quotePath` (default true): whether paths with unusual bytes are quoted.
pub(crate) fn quote_path(repo: &Repository) -> bool {
    GitConfig::of(repo).is_none_or(|c| c.bool("core.quotepath", true))
}

/// What rename detection git's status does (`status.renames`, falling back to
/// `diff.renames`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameDetection {
    /// No detection (`false`).
    Off,
    /// Renames (`true`, the default).
    Renames,
    /// Renames and copies (`copies` or `copy`): a modified path may be a source too.
    Copies,
}

/// `status.renames`, falling back to `diff.renames` (default renames).
pub(crate) fn rename_detection(repo: &Repository) -> RenameDetection {
    let Some(config) = GitConfig::of(repo) else {
        return RenameDetection::Renames;
    };
    for key in ["status.renames", "diff.renames"] {
        if let Some(value) = config.raw(key) {
            if value.as_deref().is_some_and(|v| {
                v.eq_ignore_ascii_case(b"copies") || v.eq_ignore_ascii_case(b"copy")
            }) {
                return RenameDetection::Copies;
            }
            return match parse_bool(value.as_deref()).unwrap_or(true) {
                true => RenameDetection::Renames,
                false => RenameDetection::Off,
            };
        }
    }
    RenameDetection::Renames
}

/// `core.useReplaceRefs` (default true): whether `refs/replace/` replaces objects.
pub(crate) fn use_replace_refs(repo: &Repository) -> bool {
    GitConfig::of(repo).is_none_or(|c| c.bool("core.usereplacerefs", true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_git() {
        for (value, expected) in [
            (None, Some(true)),
            (Some(""), Some(false)),
            (Some("true"), Some(true)),
            (Some("YES"), Some(true)),
            (Some("On"), Some(true)),
            (Some("false"), Some(false)),
            (Some("No"), Some(false)),
            (Some("OFF"), Some(false)),
            (Some("1"), Some(true)),
            (Some("0"), Some(false)),
            (Some("-3"), Some(true)),
            (Some("2k"), Some(true)),
            (Some("0m"), Some(false)),
            (Some("maybe"), None),
            (Some("1x"), None),
        ] {
            assert_eq!(parse_bool(value.map(str::as_bytes)), expected, "{value:?}");
        }
    }

    /// Each spelling of a boolean in a real config file reads as `git config --type=bool`
    /// reads it.
    #[test]
    fn config_files_read_as_git_reads_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| flowforge_testkit::git::ok(dir.path(), args);
        git(&["init", "-q"]);
        let config = dir.path().join(".git/config");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str(
            "[flowforge]\n\tbare\n\tempty =\n\tword = Yes\n\tnumber = 2k\n\tzero = 0\n\tjunk = maybe\n",
        );
        std::fs::write(&config, text).expect("write config");
        let repo = Repository::open(dir.path()).expect("open");
        let ours = GitConfig::of(&repo).expect("config");
        for key in ["bare", "empty", "word", "number", "zero"] {
            let key = format!("flowforge.{key}");
            let theirs = git(&["config", "--type=bool", &key]);
            let expected = theirs.trim_ascii() == b"true";
            assert_eq!(ours.bool(&key, !expected), expected, "{key}");
        }
        assert!(ours.bool("flowforge.junk", true) && !ours.bool("flowforge.junk", false));
        assert!(ours.bool("flowforge.unset", true) && !ours.bool("flowforge.unset", false));
        assert_eq!(ours.string("flowforge.word").as_deref(), Some("Yes"));
        assert_eq!(ours.string("flowforge.bare").as_deref(), Some(""));
        assert!(ours.is_set("flowforge.bare") && !ours.is_set("flowforge.unset"));
    }
}
