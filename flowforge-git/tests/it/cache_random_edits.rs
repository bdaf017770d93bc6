//! The cache's answers after random sequences of edits equal git's, synced and cached.

use crate::cache_support;

use cache_support::{RepoExt as _, TestRepo, committed_repo, ours};
use flowforge_git::{Fresh, Freshness};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Edit {
    Write {
        dir: usize,
        file: usize,
        content: u8,
    },
    Remove {
        dir: usize,
        file: usize,
    },
    RemoveDir {
        dir: usize,
    },
    Rename {
        dir: usize,
        file: usize,
        to_dir: usize,
    },
    Chmod {
        dir: usize,
        file: usize,
    },
    Stage,
    Unstage {
        dir: usize,
        file: usize,
    },
    Commit,
    Ignore {
        dir: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    let dir = 0..7usize;
    let file = 0..3usize;
    prop_oneof![
        4 => (dir.clone(), file.clone(), any::<u8>())
            .prop_map(|(dir, file, content)| Edit::Write { dir, file, content }),
        2 => (dir.clone(), file.clone()).prop_map(|(dir, file)| Edit::Remove { dir, file }),
        1 => dir.clone().prop_map(|dir| Edit::RemoveDir { dir }),
        1 => (dir.clone(), file.clone(), dir.clone())
            .prop_map(|(dir, file, to_dir)| Edit::Rename { dir, file, to_dir }),
        1 => (dir.clone(), file.clone()).prop_map(|(dir, file)| Edit::Chmod { dir, file }),
        1 => Just(Edit::Stage),
        1 => (dir.clone(), file.clone()).prop_map(|(dir, file)| Edit::Unstage { dir, file }),
        1 => Just(Edit::Commit),
        1 => dir.prop_map(|dir| Edit::Ignore { dir }),
    ]
}

/// Directories 0-1 exist and are tracked at the start (`src`, `docs/d0`); 2-6 do not, and
/// 5-6 are untracked directories inside tracked ones.
fn dir_name(dir: usize) -> &'static str {
    [
        "src",
        "docs/d0",
        "fresh",
        "fresh/nested",
        "other/a/b",
        "src/new",
        "docs/d1/x",
    ][dir]
}

fn apply(repo: &TestRepo, edit: &Edit) {
    let file = |dir: usize, file: usize| format!("{}/f{file}.txt", dir_name(dir));
    match edit {
        Edit::Write {
            dir,
            file: f,
            content,
        } => repo.write(&file(*dir, *f), &format!("{content}\n")),
        Edit::Remove { dir, file: f } => {
            let _ = std::fs::remove_file(repo.path().join(file(*dir, *f)));
        }
        Edit::RemoveDir { dir } => {
            let _ = std::fs::remove_dir_all(repo.path().join(dir_name(*dir)));
        }
        Edit::Rename {
            dir,
            file: f,
            to_dir,
        } => {
            let to = repo.path().join(dir_name(*to_dir));
            let _ = std::fs::create_dir_all(&to);
            let _ = std::fs::rename(
                repo.path().join(file(*dir, *f)),
                to.join(format!("r{f}.txt")),
            );
        }
        Edit::Chmod { dir, file: f } => {
            use std::os::unix::fs::PermissionsExt;
            let path = repo.path().join(file(*dir, *f));
            if let Ok(meta) = std::fs::metadata(&path) {
                let mode = meta.permissions().mode() ^ 0o100;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
            }
        }
        Edit::Stage => {
            repo.git_ok(&["add", "-A"]);
        }
        Edit::Unstage { dir, file: f } => {
            let _ = repo.git(&["reset", "-q", "--", &file(*dir, *f)]);
        }
        Edit::Commit => {
            repo.git_ok(&["commit", "-q", "--allow-empty", "-m", "step"]);
        }
        Edit::Ignore { dir } => repo.write(".gitignore", &format!("*.log\n/{}/\n", dir_name(*dir))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn answers_after_random_edits_equal_gits(edits in prop::collection::vec(edit(), 1..12)) {
        let repo = committed_repo();
        let view = repo.view();
        prop_assert!(view.is_watching());
        view.status(Freshness::Synced).expect("status");
        for (i, edit) in edits.iter().enumerate() {
            apply(&repo, edit);
            let answer = view.status(Freshness::Synced).expect("synced status");
            prop_assert_eq!(answer.fresh, Fresh::Synced);
            let git = repo.git_porcelain();
            prop_assert_eq!(ours(&answer.value), git.clone(), "after {} {:?}", i, edit);
            // Nothing changed since: a cached answer is the same.
            let cached = view.status(Freshness::Cached).expect("cached status");
            prop_assert_eq!(ours(&cached.value), git);
        }
    }
}
