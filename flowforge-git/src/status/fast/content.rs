//! When the fast path may hash a work-tree file as it is, and when git's clean conversion
//! (line endings, `ident`, filter drivers, `working-tree-encoding`) could change what it hashes.
//!
//! Reading every attribute of every file would cost as much as the status. Instead the rule
//! is decided once from what could apply at all, then per file from its bytes:
//!
//! * a configured filter driver (`filter.<name>.clean` or `.process`) named by some attribute
//!   source, or a `working-tree-encoding` attribute: content is left to libgit2;
//! * line-ending conversion only ever turns CRLF into LF, and `ident` only rewrites `$Id…$`:
//!   a file without a CR byte (and without `$Id` when `ident` appears) is hashed as it is, and
//!   any other is left to libgit2.

use std::{ffi::OsStr, os::unix::ffi::OsStrExt, path::Path};

use git2::Repository;

use crate::config::GitConfig;
use crate::status::index_file::IndexFile;

/// How a file's content may be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentRule {
    /// No conversion can apply: hash the bytes.
    Plain,
    /// Only line-ending conversion (and `ident` when `ident` is set) can apply.
    CheckBytes {
        /// `ident` appears in some attribute source.
        ident: bool,
    },
    /// A filter driver or an encoding may apply: libgit2 decides.
    Libgit2,
}

impl ContentRule {
    /// Decides the rule for `git`'s work tree from its configuration and attribute sources.
    pub(crate) fn of(git: &Repository, index: &IndexFile, config: &GitConfig) -> Self {
        let mut sources: Vec<Vec<u8>> = Vec::new();
        let mut read = |path: &Path| {
            if let Ok(text) = std::fs::read(path) {
                sources.push(text);
            }
        };
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        {
            read(&dir.join("git/attributes"));
        }
        if let Ok(file) = config.libgit2().get_path("core.attributesfile") {
            read(&file);
        }
        read(&git.path().join("info/attributes"));
        read(&git.commondir().join("info/attributes"));
        let workdir = git.workdir().unwrap_or_else(|| git.path());
        for entry in &index.entries {
            let is_attributes =
                entry.path == b".gitattributes" || entry.path.ends_with(b"/.gitattributes");
            if !is_attributes {
                continue;
            }
            match std::fs::read(workdir.join(OsStr::from_bytes(&entry.path))) {
                Ok(text) => sources.push(text),
                // Not in the work tree (sparse, deleted): git reads the index's copy.
                Err(_) => {
                    match git2::Oid::from_bytes(&entry.oid).and_then(|id| git.find_blob(id)) {
                        Ok(blob) => sources.push(blob.content().to_vec()),
                        Err(_) => return Self::Libgit2,
                    }
                }
            }
        }
        let mentions = |word: &[u8]| {
            sources
                .iter()
                .any(|text| text.windows(word.len()).any(|w| w == word))
        };
        if mentions(b"working-tree-encoding") || (mentions(b"filter") && has_filter_driver(config))
        {
            return Self::Libgit2;
        }
        // `core.autocrlf` is `input` or a boolean (a value git does not know counts as set).
        let eol_config = config.is_set("core.eol")
            || config.string("core.autocrlf").is_some_and(|v| {
                v.eq_ignore_ascii_case("input") || config.bool("core.autocrlf", true)
            });
        if sources.iter().all(|s| s.is_empty()) && !eol_config {
            return Self::Plain;
        }
        Self::CheckBytes {
            ident: mentions(b"ident"),
        }
    }

    /// True when `content` hashes as it is under this rule.
    pub(crate) fn hashes_as_is(self, content: &[u8]) -> bool {
        match self {
            Self::Plain => true,
            Self::CheckBytes { ident } => {
                let has_id = || content.windows(3).any(|w| w == b"$Id");
                !(content.contains(&b'\r') || (ident && has_id()))
            }
            Self::Libgit2 => false,
        }
    }
}

/// True when the configuration names a filter driver that converts content going into git.
fn has_filter_driver(config: &GitConfig) -> bool {
    let Ok(mut entries) = config
        .libgit2()
        .entries(Some(r"^filter\..*\.(clean|process|required)$"))
    else {
        return true;
    };
    entries.next().is_some()
}
