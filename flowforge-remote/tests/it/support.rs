//! A team: one bare repository and clones of it, each with its own `.flowforge`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use flowforge_core::{DeveloperId, Layout, TaskId, model::DeveloperInfo};
use flowforge_remote::{Options, Remote, use_remote};
use tempfile::TempDir;

pub(crate) struct Team {
    pub tmp: TempDir,
    pub bare: PathBuf,
}

pub(crate) struct Clone {
    pub dir: PathBuf,
    pub layout: Layout,
}

pub(crate) use flowforge_testkit::git::ok_text as git;

/// `git hash-object -w --stdin` in `dir`: the id of a new blob holding `bytes`.
pub(crate) fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let out =
        flowforge_testkit::git::run_with_input(dir, ["hash-object", "-w", "--stdin"], Some(bytes))
            .expect("hash-object");
    String::from_utf8_lossy(&out).trim().to_owned()
}

impl Team {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let bare = tmp.path().join("team.git");
        git(
            tmp.path(),
            &["init", "-q", "--bare", bare.to_str().expect("utf-8")],
        );
        Self { tmp, bare }
    }

    /// A clone (an empty repository with `origin` pointing at the bare one, over `file://`)
    /// using the remote as machine `name`.
    pub(crate) fn clone(&self, name: &str) -> Clone {
        let dir = self.tmp.path().join(name);
        git(
            self.tmp.path(),
            &["init", "-q", dir.to_str().expect("utf-8")],
        );
        let url = format!("file://{}", self.bare.display());
        git(&dir, &["remote", "add", "origin", &url]);
        use_remote(&dir, "origin", Some(name)).expect("remote use");
        Clone {
            layout: Layout::for_repo(&dir),
            dir,
        }
    }

    /// The remote's FlowForge refs: `<oid> <name>` lines.
    pub(crate) fn refs(&self) -> String {
        git(
            &self.bare,
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/flowforge/",
            ],
        )
    }

    /// Installs a pre-receive hook on the remote.
    pub(crate) fn pre_receive(&self, script: &str) {
        let path = self.bare.join("hooks/pre-receive");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write hook");
        Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .expect("chmod");
    }
}

impl Clone {
    pub(crate) fn remote(&self) -> Remote {
        self.remote_with(Options::default())
    }

    pub(crate) fn remote_with(&self, options: Options) -> Remote {
        Remote::open(&self.dir, options)
            .expect("open")
            .expect("configured")
    }

    /// Creates `dev`'s namespace in this clone.
    pub(crate) fn init_dev(&self, dev: &str) -> DeveloperId {
        let id: DeveloperId = dev.parse().expect("valid id");
        flowforge_session::namespace::init(&self.layout, &id, &DeveloperInfo::default())
            .expect("init");
        id
    }

    /// This clone's local FlowForge refs.
    pub(crate) fn local_refs(&self) -> String {
        git(
            &self.dir,
            &["for-each-ref", "--format=%(objectname) %(refname)"],
        )
    }
}

pub(crate) fn task(t: &str) -> TaskId {
    t.parse().expect("valid task")
}

pub(crate) fn dev(d: &str) -> DeveloperId {
    d.parse().expect("valid developer")
}
