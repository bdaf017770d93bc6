//! Staged renames against git's rename detection, around git's 50% similarity threshold.

use crate::status_support;

use flowforge_git::{Repo, StatusOptions};
use proptest::prelude::*;
use status_support::{TestRepo, assert_matches_git};

fn body(lines: usize, seed: u32) -> String {
    (0..lines)
        .map(|i| format!("line {i} of file {seed} with text\n"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 32, ..ProptestConfig::default() })]

    /// A file renamed and partly rewritten, another deleted and one added: git decides which
    /// pairs are renames by similarity; we must decide the same.
    #[test]
    fn staged_renames_match_git(
        lines in 1usize..40,
        changed in 0usize..40,
        appended in 0usize..10,
        extra in 0usize..3,
        same_basename in any::<bool>(),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let repo = TestRepo::new();
        let original = body(lines, 1);
        repo.write("old.txt", &original);
        for i in 0..extra {
            repo.write(&format!("other{i}.txt"), &body(lines, 10 + i as u32));
        }
        repo.git_ok(&["add", "."]);
        repo.git_ok(&["commit", "-qm", "one"]);
        let mut new: Vec<String> = original.lines().map(str::to_string).collect();
        for line in new.iter_mut().take(changed.min(lines)) {
            *line = format!("{line} rewritten");
        }
        for i in 0..appended {
            new.push(format!("appended {i}"));
        }
        std::fs::remove_file(repo.path().join("old.txt")).expect("rm");
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = new.join(eol);
        if final_newline {
            text.push_str(eol);
        }
        let target = if same_basename { "sub/old.txt" } else { "new.txt" };
        repo.write(target, &text);
        for i in 0..extra {
            std::fs::remove_file(repo.path().join(format!("other{i}.txt"))).expect("rm");
            repo.write(&format!("moved{i}.txt"), &body(lines / 2 + 1, 10 + i as u32));
        }
        repo.git_ok(&["add", "-A"]);
        let status = Repo::open(repo.path()).expect("open").status(&StatusOptions::default()).expect("status");
        assert_matches_git("renames", &repo, &status);
    }
}

/// git weighs at most 100 identical unused sources for a destination: a source with the
/// destination's basename wins only when it is among them, else the first one does.
#[test]
fn identical_sources_beyond_the_hundredth_are_not_weighed() {
    for sources in [99, 100, 101] {
        let repo = TestRepo::new();
        for i in 0..sources {
            repo.write(&format!("d/a{i:03}"), "same content\n");
        }
        repo.write("z/target", "same content\n");
        repo.git_ok(&["add", "."]);
        repo.git_ok(&["commit", "-qm", "one"]);
        repo.git_ok(&["rm", "-rq", "d", "z"]);
        repo.write("new/target", "same content\n");
        repo.git_ok(&["add", "new/target"]);
        let status = Repo::open(repo.path())
            .expect("open")
            .status(&StatusOptions::default())
            .expect("status");
        assert_matches_git(&format!("{sources} identical sources"), &repo, &status);
    }
}
