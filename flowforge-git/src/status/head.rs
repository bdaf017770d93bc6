//! Reading where HEAD points, and how the branch relates to its upstream (the `--branch`
//! header).

use git2::{ErrorCode, Oid, Repository};

use super::types::{Head, Upstream};
use crate::error::Result;

/// Reads HEAD, the branch and its upstream.
pub(crate) fn read(repo: &Repository) -> Result<Head, git2::Error> {
    let head_ref = repo.find_reference("HEAD")?;
    // git still reads a `HEAD` that is a symbolic link into `refs/` as a symbolic ref; libgit2
    // follows the link and takes HEAD for detached.
    let linked = std::fs::read_link(repo.path().join("HEAD"))
        .ok()
        .and_then(|target| target.to_str().map(str::to_string))
        .filter(|target| target.starts_with("refs/"));
    let symbolic = linked.or_else(|| {
        head_ref
            .symbolic_target_bytes()
            .map(|t| String::from_utf8_lossy(t).into_owned())
    });
    let (refname, commit) = match symbolic {
        Some(target) => {
            let commit = match repo.refname_to_id(&target) {
                Ok(oid) => Some(oid),
                Err(e) if e.code() == ErrorCode::NotFound => None,
                Err(e) => return Err(e),
            };
            (Some(target), commit)
        }
        // A detached HEAD may hold an annotated tag's id: git shows the commit it points to.
        None => match head_ref.target() {
            Some(id) => (
                None,
                Some(repo.find_object(id, None)?.peel_to_commit()?.id()),
            ),
            None => (None, None),
        },
    };
    let Some(refname) = refname else {
        return Ok(Head {
            branch: None,
            commit,
            upstream: None,
            unborn: commit.is_none(),
        });
    };
    let upstream = upstream(repo, &refname, commit)?;
    let branch = refname
        .strip_prefix("refs/heads/")
        .unwrap_or(&refname)
        .to_string();
    Ok(Head {
        branch: Some(branch),
        commit,
        upstream,
        unborn: commit.is_none(),
    })
}

fn upstream(
    repo: &Repository,
    refname: &str,
    local: Option<Oid>,
) -> Result<Option<Upstream>, git2::Error> {
    if !refname.starts_with("refs/heads/") {
        return Ok(None);
    }
    // No upstream configured (or a remote with no matching refspec): git prints no `...`.
    let Ok(buf) = repo.branch_upstream_name(refname) else {
        return Ok(None);
    };
    let Some(upstream_ref) = buf.as_str().map(str::to_string) else {
        return Ok(None);
    };
    let name = shorten_unambiguous(repo, &upstream_ref);
    let theirs = repo
        .refname_to_id(&upstream_ref)
        .ok()
        // A commit (only its header is read): anything else is as good as gone.
        .filter(|&oid| {
            repo.odb()
                .and_then(|odb| odb.read_header(oid))
                .is_ok_and(|(_, kind)| kind == git2::ObjectType::Commit)
        });
    let (Some(theirs), Some(ours)) = (theirs, local) else {
        return Ok(Some(Upstream {
            name,
            gone: true,
            ahead: 0,
            behind: 0,
        }));
    };
    let (ahead, behind) = if ours == theirs {
        (0, 0)
    } else {
        repo.graph_ahead_behind(ours, theirs)?
    };
    Ok(Some(Upstream {
        name,
        gone: false,
        ahead,
        behind,
    }))
}

/// git's `shorten_unambiguous_ref`: the shortest name that resolves back to `refname` under
/// the rev-parse rules without any earlier rule resolving to another ref.
fn shorten_unambiguous(repo: &Repository, refname: &str) -> String {
    const RULES: [(&str, &str); 6] = [
        ("", ""),
        ("refs/", ""),
        ("refs/tags/", ""),
        ("refs/heads/", ""),
        ("refs/remotes/", ""),
        ("refs/remotes/", "/HEAD"),
    ];
    for i in (1..RULES.len()).rev() {
        let (prefix, suffix) = RULES[i];
        let Some(short) = refname
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
        else {
            continue;
        };
        if short.is_empty() {
            continue;
        }
        let ambiguous = RULES[..i].iter().any(|(p, s)| {
            let candidate = format!("{p}{short}{s}");
            candidate != refname && repo.refname_to_id(&candidate).is_ok()
        });
        if !ambiguous {
            return short.to_string();
        }
    }
    refname.to_string()
}
