//! The status against the real git CLI after random sequences of work-tree and git operations:
//! a cold `Repo::status` and a status kept up to date only through the incremental refresh
//! functions must both print exactly what `git status --porcelain=v1` prints, with and without
//! `-z` and `--branch`.

use crate::status_support;

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use flowforge_git::{Engine, Repo, StatusOptions};
use proptest::prelude::*;
use status_support::{TestRepo, assert_matches_git};

/// The paths the operations pick from: spaces, quotes and non-ASCII names, nested and
/// untracked directories, a `.log` file for the ignore rules.
const FILES: &[&str] = &[
    "a.txt",
    "b c.txt",
    "dir/x.txt",
    "dir/sub/y.txt",
    "new/deep/z.txt",
    "é.txt",
    "dir/n.log",
    "q\"t.txt",
];

/// Lines appended to ignore files: patterns at several levels, a negation, a directory rule.
const IGNORES: &[(&str, &str)] = &[
    (".gitignore", "*.log"),
    (".gitignore", "new/"),
    ("dir/.gitignore", "sub/"),
    ("dir/.gitignore", "!n.log"),
    ("dir/sub/.gitignore", "*"),
    (".git/info/exclude", "b*"),
];

#[derive(Debug, Clone)]
enum Op {
    Write {
        file: usize,
        family: u8,
        variant: u8,
    },
    Append(usize),
    Delete(usize),
    Rename(usize, usize),
    Chmod(usize),
    Symlink(usize),
    Stage(usize),
    StageAll,
    Unstage(usize),
    IntentToAdd(usize),
    Commit,
    Ignore(usize),
    Checkout(u8),
    SetUpstream,
    MergeConflict {
        file: usize,
        kind: u8,
    },
    AssumeUnchanged(usize),
    SkipWorktree(usize),
    /// A file replaced by a directory holding a file.
    FileToDir(usize),
    /// A directory replaced by a file.
    DirToFile(usize),
}

const DIRS: &[&str] = &["dir", "dir/sub", "new", "new/deep"];

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    prop_oneof![
        6 => (file.clone(), 0..3u8, 0..4u8).prop_map(|(file, family, variant)| Op::Write { file, family, variant }),
        3 => file.clone().prop_map(Op::Append),
        2 => file.clone().prop_map(Op::Delete),
        2 => (file.clone(), file.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => file.clone().prop_map(Op::Chmod),
        1 => file.clone().prop_map(Op::Symlink),
        3 => file.clone().prop_map(Op::Stage),
        2 => Just(Op::StageAll),
        1 => file.clone().prop_map(Op::Unstage),
        1 => file.clone().prop_map(Op::IntentToAdd),
        2 => Just(Op::Commit),
        2 => (0..IGNORES.len()).prop_map(Op::Ignore),
        1 => (0..3u8).prop_map(Op::Checkout),
        1 => Just(Op::SetUpstream),
        1 => (file.clone(), 0..3u8).prop_map(|(file, kind)| Op::MergeConflict { file, kind }),
        1 => file.clone().prop_map(Op::AssumeUnchanged),
        1 => file.clone().prop_map(Op::SkipWorktree),
        1 => file.prop_map(Op::FileToDir),
        1 => (0..DIRS.len()).prop_map(Op::DirToFile),
    ]
}

fn content(family: u8, variant: u8) -> String {
    (0..24)
        .map(|i| {
            if i == usize::from(variant) * 5 {
                format!("family {family} changed line {i}\n")
            } else {
                format!("family {family} line {i} with some text to compare\n")
            }
        })
        .collect()
}

/// What an operation touched, as a watcher would report it.
enum Touched {
    Paths(Vec<String>),
    /// A git command that changes only the index, HEAD, refs or config.
    Index,
    /// A git command that may also change any work-tree file (checkout, merge).
    Git,
}

struct World {
    repo: TestRepo,
    merges: u32,
}

impl World {
    fn abs(&self, rel: &str) -> PathBuf {
        self.repo.path().join(rel)
    }

    fn remove(&self, rel: &str) {
        let path = self.abs(rel);
        if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::remove_dir_all(&path);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.abs(rel);
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            self.remove(rel);
        }
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&path, text);
    }

    fn git(&self, args: &[&str]) -> bool {
        self.repo.git(args).status.success()
    }

    fn apply(&mut self, op: &Op) -> Touched {
        let name = |i: &usize| FILES[*i];
        match op {
            Op::Write {
                file,
                family,
                variant,
            } => {
                self.write(name(file), &content(*family, *variant));
                Touched::Paths(vec![name(file).into()])
            }
            Op::Append(file) => {
                let path = self.abs(name(file));
                if path.is_file() {
                    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
                    text.push_str("appended\n");
                    self.write(name(file), &text);
                }
                Touched::Paths(vec![name(file).into()])
            }
            Op::Delete(file) => {
                self.remove(name(file));
                Touched::Paths(vec![name(file).into()])
            }
            Op::Rename(from, to) => {
                let (from, to) = (name(from), name(to));
                if let Some(parent) = self.abs(to).parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::rename(self.abs(from), self.abs(to));
                Touched::Paths(vec![from.into(), to.into()])
            }
            Op::Chmod(file) => {
                let path = self.abs(name(file));
                if let Ok(meta) = path.symlink_metadata() {
                    if meta.is_file() {
                        let mode = meta.permissions().mode() ^ 0o111;
                        let _ =
                            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
                    }
                }
                Touched::Paths(vec![name(file).into()])
            }
            Op::Symlink(file) => {
                let path = self.abs(name(file));
                if path.symlink_metadata().is_ok_and(|m| m.is_file()) {
                    self.remove(name(file));
                    let _ = std::os::unix::fs::symlink("a.txt", &path);
                }
                Touched::Paths(vec![name(file).into()])
            }
            Op::Stage(file) => {
                self.git(&["add", "-A", "--", name(file)]);
                Touched::Index
            }
            Op::StageAll => {
                self.git(&["add", "-A"]);
                Touched::Index
            }
            Op::Unstage(file) => {
                if !self.git(&["reset", "-q", "--", name(file)]) {
                    self.git(&["rm", "-q", "-r", "--cached", "--", name(file)]);
                }
                Touched::Index
            }
            Op::IntentToAdd(file) => {
                self.git(&["add", "-N", "--", name(file)]);
                Touched::Index
            }
            Op::Commit => {
                self.git(&["commit", "-q", "-m", "step"]);
                Touched::Index
            }
            Op::Ignore(which) => {
                let (file, line) = IGNORES[*which];
                let path = self.abs(file);
                let mut text = std::fs::read_to_string(&path).unwrap_or_default();
                text.push_str(line);
                text.push('\n');
                self.write(file, &text);
                Touched::Paths(vec![file.into()])
            }
            Op::Checkout(target) => {
                match target {
                    0 => self.git(&["checkout", "-q", "main"]),
                    1 => self.git(&["branch", "side"]) | self.git(&["checkout", "-q", "side"]),
                    _ => self.git(&["checkout", "-q", "--detach"]),
                };
                Touched::Git
            }
            Op::SetUpstream => {
                self.git(&["config", "branch.main.remote", "."]);
                self.git(&["config", "branch.main.merge", "refs/heads/side"]);
                Touched::Index
            }
            Op::MergeConflict { file, kind } => {
                self.merge_conflict(name(file), *kind);
                Touched::Git
            }
            Op::AssumeUnchanged(file) => {
                self.git(&["update-index", "--assume-unchanged", "--", name(file)]);
                Touched::Index
            }
            Op::FileToDir(file) => {
                self.remove(name(file));
                self.write(&format!("{}/inner.txt", name(file)), "inner\n");
                Touched::Paths(vec![name(file).into()])
            }
            Op::DirToFile(dir) => {
                self.remove(DIRS[*dir]);
                self.write(DIRS[*dir], "was a directory\n");
                Touched::Paths(vec![DIRS[*dir].into()])
            }
            Op::SkipWorktree(file) => {
                self.git(&["update-index", "--skip-worktree", "--", name(file)]);
                Touched::Index
            }
        }
    }

    /// Commits `file` differently on a new branch and on the current one, then merges.
    fn merge_conflict(&mut self, file: &str, kind: u8) {
        self.merges += 1;
        let theirs = format!("theirs-{}", self.merges);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "base"]);
        let out = self.repo.git(&["rev-parse", "--abbrev-ref", "HEAD"]);
        let mut back = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if back == "HEAD" {
            let out = self.repo.git(&["rev-parse", "HEAD"]);
            back = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        if !self.git(&["checkout", "-q", "-b", &theirs]) {
            return;
        }
        match kind {
            0 | 2 => self.write(file, "theirs side\n"),
            _ => self.remove(file),
        }
        self.git(&["add", "-A", "--", file]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "theirs"]);
        if !self.git(&["checkout", "-q", &back]) {
            return;
        }
        match kind {
            2 => self.remove(file),
            _ => self.write(file, "ours side\n"),
        }
        self.git(&["add", "-A", "--", file]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "ours"]);
        self.git(&["merge", "-q", &theirs]);
    }
}

/// Every work-tree path an operation on the pool can touch, plus the git files.
fn everything(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = FILES.iter().map(PathBuf::from).collect();
    paths.extend(IGNORES.iter().map(|(file, _)| PathBuf::from(file)));
    paths.extend(["dir", "dir/sub", "new", "new/deep"].map(PathBuf::from));
    paths.extend([".git/index", ".git/HEAD", ".git/refs/heads/main"].map(|p| root.join(p)));
    paths
}

fn run(ops: &[Op]) {
    let mut world = World {
        repo: TestRepo::new(),
        merges: 0,
    };
    world.repo.git_ok(&["config", "user.name", "Test"]);
    world
        .repo
        .git_ok(&["config", "user.email", "test@example.com"]);
    let repo = Repo::open(world.repo.path()).expect("open");
    let mut incremental = repo
        .track_status(&StatusOptions::default())
        .expect("status");
    for (step, op) in ops.iter().enumerate() {
        let touched = world.apply(op);
        match touched {
            Touched::Paths(paths) => {
                let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
                incremental
                    .refresh_paths(&repo, &paths)
                    .expect("refresh paths");
            }
            Touched::Index => {
                incremental
                    .refresh_index_and_head(&repo)
                    .expect("refresh index");
            }
            Touched::Git => {
                incremental
                    .refresh_index_and_head(&repo)
                    .expect("refresh index");
                incremental
                    .refresh_paths(&repo, &everything(world.repo.path()))
                    .expect("refresh paths");
            }
        }
        let cold = repo.status(&StatusOptions::default()).expect("status");
        let what = format!("step {step} {op:?}");
        assert_matches_git(&format!("cold {what}"), &world.repo, &cold);
        let mut options = StatusOptions::default();
        options.engine = Engine::Libgit2;
        let cold_libgit2 = repo.status(&options).expect("status");
        assert_matches_git(&format!("cold libgit2 {what}"), &world.repo, &cold_libgit2);
        let what = format!("incremental {what}");
        assert_matches_git(&what, &world.repo, incremental.status());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn status_matches_git(ops in proptest::collection::vec(op(), 1..12)) {
        run(&ops);
    }
}
