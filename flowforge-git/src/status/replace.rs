//! `git replace`: the objects git reads in place of others.

use git2::{Oid, Repository};

use crate::config;

/// The object git reads for `id`: its replacement when `refs/replace/<id>` exists (`git
/// replace`), unless `GIT_NO_REPLACE_OBJECTS` is set or `core.useReplaceRefs` is false.
pub(crate) fn replaced(repo: &Repository, id: Oid) -> Oid {
    let honoured =
        std::env::var_os("GIT_NO_REPLACE_OBJECTS").is_none() && config::use_replace_refs(repo);
    if !honoured {
        return id;
    }
    let base = std::env::var("GIT_REPLACE_REF_BASE").unwrap_or_else(|_| "refs/replace/".into());
    let mut current = id;
    // git follows a chain of replacements (up to five deep).
    for _ in 0..5 {
        match repo.refname_to_id(&format!("{base}{current}")) {
            Ok(next) if next != current => current = next,
            _ => break,
        }
    }
    current
}

/// The tree git compares the index with for `commit`, replacements honoured.
pub(crate) fn commit_tree(repo: &Repository, commit: Oid) -> Result<git2::Tree<'_>, git2::Error> {
    let commit = repo.find_commit(replaced(repo, commit))?;
    repo.find_tree(replaced(repo, commit.tree_id()))
}
