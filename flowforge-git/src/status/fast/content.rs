//! When the fast path may decide a work-tree file's content itself, and when git's clean
//! conversion (line endings, `ident`, filter drivers, `working-tree-encoding`) leaves it to
//! libgit2.
//!
//! Reading every attribute of every file would cost as much as the status. Instead the rule
//! is decided once from what could apply at all, then per file from its bytes:
//!
//! * a configured filter driver (`filter.<name>.clean` or `.process`) named by some attribute
//!   source, or a `working-tree-encoding` attribute: content is left to libgit2;
//! * `ident` only rewrites `$Id…$`: a file holding `$Id` when `ident` appears is left to libgit2;
//! * line-ending conversion only ever turns CRLF into LF (git's `crlf_to_git`), so a file without
//!   a CRLF pair hashes as it is, and one with CRLF pairs hashes either as it is or without the
//!   CRs of its pairs. When neither is the index's id, it is modified whatever the attributes
//!   say. When the bytes as they are give the index's id, only an explicit conversion (`text`,
//!   `eol`, `crlf`, or a macro setting one) would convert them — git's automatic modes
//!   (`text=auto`, `core.autocrlf`) leave a file alone when the index's copy holds CRLF or is
//!   binary, and that copy is these very bytes — so a file whose name no such attribute line
//!   can match is unchanged. Every other file is left to libgit2.

use std::{ffi::OsStr, os::unix::ffi::OsStrExt, path::Path};

use git2::Repository;

use crate::config::GitConfig;
use crate::status::index_file::IndexFile;

/// How a file's content may be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContentRule {
    /// No conversion can apply: hash the bytes.
    Plain,
    /// Only line-ending conversion (and `ident` when `ident` is set) can apply.
    CheckBytes {
        /// `ident` appears in some attribute source.
        ident: bool,
        /// The names an explicit line-ending conversion may apply to.
        explicit_eol: ExplicitEol,
    },
    /// A filter driver or an encoding may apply: libgit2 decides.
    Libgit2,
}

/// What a file's bytes say of an entry whose stat data did not settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentVerdict {
    /// The content is the index's.
    Unchanged,
    /// The content differs from the index's.
    Modified,
    /// Only the attributes of the path can tell: libgit2 decides.
    Undecided,
}

impl ContentRule {
    /// Decides the rule for `git`'s work tree from its configuration and attribute sources.
    pub(crate) fn of(git: &Repository, index: &IndexFile<'_>, config: &GitConfig) -> Self {
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
                &*entry.path == b".gitattributes" || entry.path.ends_with(b"/.gitattributes");
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
            explicit_eol: ExplicitEol::of(&sources),
        }
    }

    /// What `content`, the bytes of the file at `path` (relative to the top), says against
    /// the index's id `oid` under this rule.
    pub(crate) fn compare(&self, path: &[u8], content: &[u8], oid: &[u8; 20]) -> ContentVerdict {
        let is = |bytes: &[u8]| {
            git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
                .ok()
                .map(|id| id.as_bytes() == oid)
        };
        let verdict = |same: Option<bool>| match same {
            Some(true) => ContentVerdict::Unchanged,
            Some(false) => ContentVerdict::Modified,
            None => ContentVerdict::Undecided,
        };
        let (ident, explicit_eol) = match self {
            Self::Plain => return verdict(is(content)),
            Self::Libgit2 => return ContentVerdict::Undecided,
            Self::CheckBytes {
                ident,
                explicit_eol,
            } => (*ident, explicit_eol),
        };
        if ident && memchr::memmem::find(content, b"$Id").is_some() {
            return ContentVerdict::Undecided;
        }
        if !has_crlf(content) {
            return verdict(is(content));
        }
        match is(content) {
            Some(true) if !explicit_eol.may_apply(path) => ContentVerdict::Unchanged,
            Some(false) => match is(&without_crlf(content)) {
                Some(false) => ContentVerdict::Modified,
                _ => ContentVerdict::Undecided,
            },
            _ => ContentVerdict::Undecided,
        }
    }
}

/// The last components of the patterns of the attribute lines that may set an explicit
/// line-ending conversion, over-approximated: a file whose name matches none of them gets
/// none (git's automatic modes at most).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExplicitEol {
    /// Some such line may match any name.
    any: bool,
    /// Globs (`*` and `?`) on a file's name.
    names: Vec<Vec<u8>>,
}

impl ExplicitEol {
    /// Reads the attribute lines of `sources` (macros included, wherever defined).
    fn of(sources: &[Vec<u8>]) -> Self {
        let lines: Vec<Vec<&[u8]>> = sources
            .iter()
            .flat_map(|text| text.split(|&b| b == b'\n'))
            .map(|line| {
                line.split(|b| b.is_ascii_whitespace())
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|tokens| tokens.first().is_some_and(|t| !t.starts_with(b"#")))
            .collect();
        // Macros that set an explicit conversion, directly or through another macro.
        let mut macros: Vec<&[u8]> = Vec::new();
        loop {
            let before = macros.len();
            for tokens in &lines {
                let Some(name) = tokens[0].strip_prefix(b"[attr]") else {
                    continue;
                };
                if !macros.contains(&name) && tokens[1..].iter().any(|t| sets_eol(t, &macros)) {
                    macros.push(name);
                }
            }
            if macros.len() == before {
                break;
            }
        }
        let mut explicit = Self::default();
        for tokens in &lines {
            let pattern = tokens[0];
            if pattern.starts_with(b"[attr]") || !tokens[1..].iter().any(|t| sets_eol(t, &macros)) {
                continue;
            }
            let pattern = pattern.strip_suffix(b"/").unwrap_or(pattern);
            let name = pattern.rsplit(|&b| b == b'/').next().unwrap_or(pattern);
            // Quoted patterns, brackets, escapes and `**` are not read: they may match anything.
            let simple = !name.is_empty()
                && !pattern.starts_with(b"\"")
                && !name.windows(2).any(|w| w == b"**")
                && !name.iter().any(|b| matches!(b, b'[' | b'\\'));
            if simple {
                explicit.names.push(name.to_vec());
            } else {
                explicit.any = true;
            }
        }
        explicit
    }

    /// Whether an explicit conversion may apply to the file at `path`.
    fn may_apply(&self, path: &[u8]) -> bool {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        self.any || self.names.iter().any(|glob| glob_matches(glob, name))
    }
}

/// True when `token` (an attribute of a line) may set an explicit line-ending conversion:
/// `text` set or `input`, `crlf` set or `input`, any `eol`, or one of `macros`, however written
/// (`-text` and `!text` do not convert; `text=auto` is git's automatic mode).
fn sets_eol(token: &[u8], macros: &[&[u8]]) -> bool {
    let (name, value) = match token.iter().position(|&b| b == b'=') {
        Some(eq) => (&token[..eq], Some(&token[eq + 1..])),
        None => (token, None),
    };
    if let Some(bare) = name.strip_prefix(b"-").or_else(|| name.strip_prefix(b"!")) {
        return macros.contains(&bare);
    }
    match name {
        b"text" | b"crlf" => value != Some(b"auto"),
        b"eol" => true,
        _ => macros.contains(&name),
    }
}

/// fnmatch of `name` (one path component) against `glob` with `*` and `?`.
fn glob_matches(glob: &[u8], name: &[u8]) -> bool {
    flowforge_core::wildcard::matches(glob, name, b'*', b'?')
}

/// Whether `content` holds a CR immediately followed by LF.
fn has_crlf(content: &[u8]) -> bool {
    memchr::memmem::find(content, b"\r\n").is_some()
}

/// `content` with the CR of every CRLF pair removed, as git's `crlf_to_git` converts it.
fn without_crlf(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut from = 0;
    for cr in memchr::memmem::find_iter(content, b"\r\n") {
        out.extend_from_slice(&content[from..cr]);
        from = cr + 1;
    }
    out.extend_from_slice(&content[from..]);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_name() {
        for (glob, name, matches) in [
            ("*.sh", "run.sh", true),
            ("*.sh", "run.shx", false),
            ("*", "anything", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbc", false),
            ("justfile", "justfile", true),
            ("justfile", "Justfile", false),
        ] {
            assert_eq!(
                glob_matches(glob.as_bytes(), name.as_bytes()),
                matches,
                "{glob} {name}"
            );
        }
    }

    /// Only lines that may set an explicit conversion count, through macros too; what the
    /// reader does not parse counts as matching everything.
    #[test]
    fn explicit_line_endings_are_over_approximated() {
        let of = |text: &str| ExplicitEol::of(&[text.as_bytes().to_vec()]);
        let none = of("* text=auto\n* binary\n*.a -text\n*.b !eol\n# *.c text\n*.d crlf=auto\n");
        assert_eq!(none, ExplicitEol::default());
        let some =
            of("ci/**/*.sh text eol=lf\n[attr]m1 m2\n[attr]m2 crlf\n*.x m1\ndir/ eol=crlf\n");
        assert!(!some.any);
        for (path, applies) in [
            ("ci/a/run.sh", true),
            ("elsewhere/run.sh", true),
            ("a.x", true),
            ("dir", true),
            ("a.y", false),
            ("run.shy", false),
        ] {
            assert_eq!(some.may_apply(path.as_bytes()), applies, "{path}");
        }
        for text in [
            "a/** text\n",
            "[ab].c eol=lf\n",
            "\"q\" text\n",
            "**.c text\n",
        ] {
            assert!(of(text).any, "{text:?}");
        }
    }

    #[test]
    fn crlf_pairs_lose_their_cr_only() {
        assert!(has_crlf(b"a\r\n"));
        assert!(!has_crlf(b"a\rb\n\r"));
        assert_eq!(without_crlf(b"a\r\r\nb\rc\r\n"), b"a\r\nb\rc\n");
    }
}
