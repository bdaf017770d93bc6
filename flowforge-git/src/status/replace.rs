//! `git replace`: the objects git reads in place of others.

use git2::{ErrorClass, ErrorCode, ObjectType, Oid, Repository};

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
    repo.find_tree(commit_tree_id(repo, commit)?)
}

/// The id of the tree git compares the index with for `commit`, replacements honoured: only
/// the tree's header is read (to check that it is a tree), not its entries, which the
/// cache-tree shortcut does not need.
pub(crate) fn commit_tree_id(repo: &Repository, commit: Oid) -> Result<Oid, git2::Error> {
    let commit = repo.find_commit(replaced(repo, commit))?;
    let tree = replaced(repo, commit.tree_id());
    match repo.odb()?.read_header(tree)? {
        (_, ObjectType::Tree) => Ok(tree),
        (_, kind) => Err(git2::Error::new(
            ErrorCode::InvalidSpec,
            ErrorClass::Object,
            format!("the tree {tree} of commit {} is a {kind}", commit.id()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(text: &[u8]) -> Oid {
        Oid::from_str(String::from_utf8_lossy(text).trim()).expect("an object id")
    }

    /// The tree id is HEAD's tree as git names it, a replaced tree is followed, and a commit
    /// whose tree is not one is an error, as reading the tree was.
    #[test]
    fn the_tree_id_is_read_without_the_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| flowforge_testkit::git::ok(dir.path(), args);
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("a"), "a\n").expect("write");
        git(&["add", "a"]);
        git(&["commit", "-qm", "one"]);
        let repo = Repository::open(dir.path()).expect("open");
        let head = oid(&git(&["rev-parse", "HEAD"]));
        assert_eq!(
            commit_tree_id(&repo, head).expect("tree id"),
            oid(&git(&["rev-parse", "HEAD^{tree}"]))
        );

        // `git replace` of the tree: the replacement is the tree git compares with.
        std::fs::write(dir.path().join("b"), "b\n").expect("write");
        git(&["add", "b"]);
        let other = oid(&git(&["write-tree"]));
        git(&[
            "replace",
            &oid(&git(&["rev-parse", "HEAD^{tree}"])).to_string(),
            &other.to_string(),
        ]);
        let repo = Repository::open(dir.path()).expect("open");
        assert_eq!(commit_tree_id(&repo, head).expect("tree id"), other);

        // A commit naming a blob as its tree.
        let blob = oid(&git(&["hash-object", "-w", "a"]));
        let body = format!(
            "tree {blob}\nauthor A <a@example.com> 0 +0000\ncommitter A <a@example.com> 0 +0000\n\nbad\n"
        );
        std::fs::write(dir.path().join("commit"), body).expect("write");
        let bad = oid(&git(&[
            "hash-object",
            "-w",
            "-t",
            "commit",
            "--literally",
            "commit",
        ]));
        let repo = Repository::open(dir.path()).expect("open");
        assert!(commit_tree_id(&repo, bad).is_err());
        assert!(commit_tree(&repo, bad).is_err());
    }
}
