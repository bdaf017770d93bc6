//! Formatters: porcelain v1 (with and without `-z`), the `--branch` header, and FlowForge's
//! `cache/git-status.json` snapshot.

use std::time::UNIX_EPOCH;

use flowforge_core::model::GitStatusCache;

use super::{
    quote::push_quoted,
    types::{Change, EntryKind, Status},
};

/// The flags of `git status --porcelain=v1` that change its output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PorcelainOptions {
    /// `-b`/`--branch`: start with the `## branch...upstream [ahead N, behind M]` header.
    pub branch: bool,
    /// `-z`: terminate entries with NUL, print paths unquoted, and a rename as
    /// `R  new\0old\0` instead of `R  old -> new\n`.
    pub nul_terminated: bool,
}

impl Status {
    /// The output of `git status --porcelain=v1` with the given flags, byte for byte.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # git2::Repository::init(dir.path())?;
    /// std::fs::write(dir.path().join("new file"), "x")?;
    /// let repo = flowforge_git::Repo::open(dir.path())?;
    /// let status = repo.status(&Default::default())?;
    /// let options = flowforge_git::PorcelainOptions { branch: true, ..Default::default() };
    /// let head = status.head().branch.clone().unwrap_or_default();
    /// assert_eq!(
    ///     String::from_utf8(status.porcelain(options))?,
    ///     format!("## No commits yet on {head}\n?? \"new file\"\n")
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn porcelain(&self, options: PorcelainOptions) -> Vec<u8> {
        let end = if options.nul_terminated { 0 } else { b'\n' };
        let mut out = Vec::new();
        if options.branch {
            out.extend_from_slice(self.branch_header().as_bytes());
            out.push(end);
        }
        for entry in self.entries() {
            let (code, from): ([u8; 2], Option<&[u8]>) = match entry.kind {
                EntryKind::Conflicted(conflict) => (*conflict.code(), None),
                EntryKind::Untracked => (*b"??", None),
                EntryKind::Tracked {
                    staged,
                    renamed_from,
                    unstaged,
                } => ([letter(staged), letter(unstaged)], renamed_from),
            };
            out.extend_from_slice(&code);
            out.push(b' ');
            if options.nul_terminated {
                out.extend_from_slice(entry.path);
                out.push(0);
                if let Some(from) = from {
                    out.extend_from_slice(from);
                    out.push(0);
                }
            } else {
                if let Some(from) = from {
                    push_quoted(&mut out, from, self.quote_path());
                    out.extend_from_slice(b" -> ");
                }
                push_quoted(&mut out, entry.path, self.quote_path());
                out.push(b'\n');
            }
        }
        out
    }

    /// The `--branch` header line without its terminator: `## main...origin/main [ahead 1,
    /// behind 2]`, `## main...origin/main [gone]`, `## HEAD (no branch)`,
    /// `## No commits yet on main`.
    pub fn branch_header(&self) -> String {
        let mut line = String::from("## ");
        if self.head().is_unborn() {
            line.push_str("No commits yet on ");
        }
        let Some(branch) = &self.head().branch else {
            line.push_str("HEAD (no branch)");
            return line;
        };
        line.push_str(branch);
        if let Some(up) = &self.head().upstream {
            line.push_str("...");
            line.push_str(&up.name);
            if up.gone {
                line.push_str(" [gone]");
            } else {
                match (up.ahead, up.behind) {
                    (0, 0) => {}
                    (a, 0) => line.push_str(&format!(" [ahead {a}]")),
                    (0, b) => line.push_str(&format!(" [behind {b}]")),
                    (a, b) => line.push_str(&format!(" [ahead {a}, behind {b}]")),
                }
            }
        }
        line
    }

    /// FlowForge's `dev-<id>/cache/git-status.json` snapshot of this status, stamped with
    /// the time it was computed.
    pub fn to_cache(&self) -> GitStatusCache {
        let timestamp = self
            .computed_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        GitStatusCache {
            timestamp,
            branch: self.head().name().to_string(),
            status: String::from_utf8_lossy(&self.porcelain(PorcelainOptions::default()))
                .into_owned(),
            uncommitted_changes: self.changed_count() as u64,
            untracked_files: self.untracked_count() as u64,
            remote_status: self.head().remote_status(),
            extra: Default::default(),
        }
    }
}

fn letter(change: Option<Change>) -> u8 {
    change.map_or(b' ', Change::code)
}
