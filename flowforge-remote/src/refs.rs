//! Ref names: FlowForge's namespace on the remote, and this clone's local copies of it.
//!
//! On the remote, everything lives under `refs/flowforge/<format>/`: one ref per claimed task
//! (`claims/<task>`) and one per developer (`devs/<id>`). A pull copies all of
//! `refs/flowforge/` to `refs/flowforge-pulled/<remote>/`; the claims this clone holds are
//! recorded under `refs/flowforge-own/<remote>/` with the value the remote was given, which is
//! the lease a release uses.

use flowforge_core::{DeveloperId, TaskId};

/// The format version this FlowForge reads and writes, as it appears in ref names.
pub const FORMAT: &str = "v1";

/// The root of every FlowForge ref on a remote.
pub const ROOT: &str = "refs/flowforge/";

/// The remote ref of a task's claim. Task ids may hold `.`, which git forbids in some
/// positions (`..`, `.lock`, a trailing `.`); it is written `%2E` (ids never hold `%`).
pub(crate) fn claim_ref(task: &TaskId) -> String {
    format!(
        "{ROOT}{FORMAT}/claims/{}",
        task.as_str().replace('.', "%2E")
    )
}

/// The task of a claim ref's last component, if it is one.
pub(crate) fn task_of(component: &str) -> Option<TaskId> {
    component.replace("%2E", ".").parse().ok()
}

/// The remote ref of a developer's sessions, history and time.
pub(crate) fn dev_ref(dev: &DeveloperId) -> String {
    format!("{ROOT}{FORMAT}/devs/{dev}")
}

/// The local copy of a remote FlowForge ref after a pull.
pub(crate) fn pulled(remote: &str, remote_ref: &str) -> String {
    format!(
        "refs/flowforge-pulled/{remote}/{}",
        remote_ref.strip_prefix(ROOT).unwrap_or(remote_ref)
    )
}

/// The prefix of every pulled ref of `remote`.
pub(crate) fn pulled_root(remote: &str) -> String {
    format!("refs/flowforge-pulled/{remote}/")
}

/// The local record of a remote ref this clone wrote (a claim it holds, its last publication).
pub(crate) fn own(remote: &str, remote_ref: &str) -> String {
    format!(
        "refs/flowforge-own/{remote}/{}",
        remote_ref.strip_prefix(ROOT).unwrap_or(remote_ref)
    )
}

/// The prefix of every own ref of `remote`.
pub(crate) fn own_root(remote: &str) -> String {
    format!("refs/flowforge-own/{remote}/")
}

/// Whether `name` can be a remote or machine name: it becomes a ref component and a path
/// component.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.contains("..")
        && !name.ends_with('.')
        && !name.ends_with(".lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_id_makes_a_valid_ref() {
        for raw in ["a", "a..b", "x.lock", "end.", "v1.2.3", "A_b-9"] {
            let task: TaskId = raw.parse().expect("a valid task id");
            let name = claim_ref(&task);
            assert!(git2::Reference::is_valid_name(&name), "{name}");
            let last = name.rsplit('/').next().expect("has components");
            assert_eq!(task_of(last), Some(task));
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("origin"));
        assert!(valid_name("host-1.lan"));
        for bad in ["", ".x", "-x", "a/b", "a..b", "x.lock", "a b", "x."] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
