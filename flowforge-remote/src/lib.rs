//! FlowForge team state shared through the team's git remote.
//!
//! Developers on different machines share nothing but the git remote, so FlowForge keeps its
//! team state there, under its own ref namespace `refs/flowforge/v1/` (the format version is in
//! the ref names):
//!
//! - `claims/<task>`: one ref per claimed task. [`Remote::claim`] creates it only if absent
//!   (`git push --force-with-lease=<ref>:`), so of any number of racing clones exactly one
//!   wins; [`Remote::release`] deletes it with a lease on the value it owns, or with `force`
//!   on the value it observed. Released claims are deleted, so the ref count follows the live
//!   claims (every push lists every ref of the remote).
//! - `devs/<id>`: a developer's sessions, history and time entries, one subtree per machine
//!   ([`Remote::publish`]); entries are named by their content and only ever added, so
//!   concurrent publications merge without loss and publishing again adds nothing twice.
//!
//! [`Remote::pull`] fetches every FlowForge ref and writes the other machines' state as a
//! read-only namespace layout (`<root>/remote/<remote>/`, see [`view_root`]) the namespace
//! index opens like any root. [`Remote::status`] says what is published, pending and how old
//! the view is, without the network.
//!
//! This crate is where FlowForge spawns `git`: fetch and push go through the `git` binary
//! (leases, `--atomic`, `--porcelain` read per ref), never libgit2's push, whose `file://`
//! transport overwrites refs that moved after negotiation and reports rejected refs as
//! success. libgit2 builds the objects and moves local refs.
//!
//! ```
//! # fn git(dir: &std::path::Path, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
//! #     let ok = std::process::Command::new("git").arg("-C").arg(dir).args(args)
//! #         .stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status()?.success();
//! #     if ok { Ok(()) } else { Err("git failed".into()) }
//! # }
//! use flowforge_core::{DeveloperId, TaskId};
//! use flowforge_remote::{Claimed, Options, Remote, use_remote};
//!
//! let tmp = tempfile::tempdir()?;
//! let (bare, clone) = (tmp.path().join("team.git"), tmp.path().join("clone"));
//! git(tmp.path(), &["init", "-q", "--bare", bare.to_str().ok_or("utf-8")?])?;
//! git(tmp.path(), &["init", "-q", clone.to_str().ok_or("utf-8")?])?;
//! git(&clone, &["remote", "add", "origin", bare.to_str().ok_or("utf-8")?])?;
//!
//! use_remote(&clone, "origin", Some("laptop"))?;
//! let remote = Remote::open(&clone, Options::default())?.ok_or("configured above")?;
//! let (alice, task): (DeveloperId, TaskId) = ("alice".parse()?, "feature-1".parse()?);
//! assert_eq!(remote.claim(&task, &alice, None)?, Claimed::New);
//! assert_eq!(remote.holder(&task)?.map(|c| c.machine), Some("laptop".to_owned()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod claim;
mod config;
mod error;
mod git;
mod handle;
mod publish;
mod pull;
mod refs;
mod status;

pub use claim::{Claimed, RemoteClaim, RemoteRelease};
pub use config::{Config, read_config, use_remote};
pub use error::{Error, Result};
pub use handle::{Interleave, Options, Remote, Stage};
pub use publish::Publication;
pub use pull::{Pulled, last_pull, view_root};
pub use refs::{FORMAT, ROOT};
pub use status::{Pushed, RemoteStatus};
