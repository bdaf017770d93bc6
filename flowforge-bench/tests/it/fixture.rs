//! The fixture against the real git CLI.

use flowforge_testkit::git::run as git;
use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    time::{Duration, SystemTime},
};

use flowforge_bench::fixture::{Calibrate, Fixture, FixtureOptions, Source};

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_generated_fixture_is_a_clean_repository_with_branches_and_a_team() {
    let mut fixture = Fixture::create(&FixtureOptions::small(3)).unwrap();
    let repo = fixture.repo().to_owned();
    let files = text(git(&repo, ["ls-files"]).unwrap());
    assert_eq!(files.lines().count(), 500);
    let dirs: std::collections::BTreeSet<_> = files
        .lines()
        .map(|l| l.rsplit_once('/').unwrap().0)
        .collect();
    assert_eq!(dirs.len(), 10);
    assert_eq!(fixture.description().directories, 10);
    assert_eq!(
        text(git(&repo, ["status", "--porcelain"]).unwrap()),
        "",
        "clean, and .flowforge/ is excluded"
    );
    let branches = text(
        git(
            &repo,
            ["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
        )
        .unwrap(),
    );
    for name in [
        "main",
        "dev-dev1/work",
        "dev-dev3/review",
        "feature/1002-work",
    ] {
        assert!(
            branches.lines().any(|b| b == name),
            "{name} missing from {branches}"
        );
    }
    assert_eq!(fixture.description().branches, 1 + 3 * 3);

    let layout = fixture.layout().clone();
    for dev in fixture.developers() {
        assert!(layout.current_session(dev).is_file());
        assert!(layout.time_tracking(dev).is_file());
        assert_eq!(
            fs::read_dir(layout.session_history_dir(dev))
                .unwrap()
                .count(),
            2
        );
    }
    let members = flowforge_session::namespace::members(&layout).unwrap();
    assert_eq!(members.len(), 3);

    let edited = fixture.edit_next_file().unwrap();
    let second = fixture.edit_next_file().unwrap();
    assert_ne!(edited, second);
    let status = text(git(&repo, ["status", "--porcelain"]).unwrap());
    assert_eq!(status, format!(" M {edited}\n M {second}\n"));

    let dir = fixture.dir().to_owned();
    drop(fixture);
    assert!(!dir.exists(), "dropping the fixture removes it");
}

#[test]
fn keep_leaves_the_directory() {
    let fixture = Fixture::create(&FixtureOptions {
        files: 20,
        developers: 1,
        keep: true,
        ..Default::default()
    })
    .unwrap();
    let dir = fixture.dir().to_owned();
    drop(fixture);
    assert!(dir.join("repo/.git").is_dir());
    fs::remove_dir_all(&dir).unwrap();
}

fn snapshot(root: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let key = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            out.insert(key, (meta.len(), meta.modified().unwrap()));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

#[test]
fn an_existing_repository_is_cloned_and_never_modified() {
    let origin = Fixture::create(&FixtureOptions {
        files: 60,
        developers: 1,
        ..Default::default()
    })
    .unwrap();
    let before = snapshot(origin.repo());
    let mut fixture = Fixture::create(&FixtureOptions {
        repo: Some(origin.repo().join("m000")),
        developers: 2,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(fixture.tracked_files(), 60);
    assert!(matches!(fixture.description().source, Source::Clone { .. }));
    let edited = fixture.edit_next_file().unwrap();
    let status = text(git(fixture.repo(), ["status", "--porcelain"]).unwrap());
    assert_eq!(status, format!(" M {edited}\n"));
    assert_eq!(snapshot(origin.repo()), before, "the origin is untouched");
    assert_eq!(
        text(git(origin.repo(), ["status", "--porcelain"]).unwrap()),
        ""
    );
}

#[test]
fn bad_options_are_refused() {
    let no_devs = Fixture::create(&FixtureOptions {
        developers: 0,
        ..FixtureOptions::small(1)
    });
    assert!(
        no_devs
            .unwrap_err()
            .to_string()
            .contains("at least one developer")
    );
    let not_repo = tempfile::tempdir().unwrap();
    let err = Fixture::create(&FixtureOptions {
        repo: Some(not_repo.path().to_owned()),
        ..FixtureOptions::small(1)
    })
    .unwrap_err();
    assert!(err.to_string().starts_with("not a git work tree"), "{err}");
}

fn calibrated(calibrate: Calibrate) -> Fixture {
    Fixture::create(&FixtureOptions {
        developers: 1,
        calibrate: Some(calibrate),
        ..Default::default()
    })
    .unwrap()
}

fn assert_clean_with(fixture: &Fixture, files: usize) {
    let listed = text(git(fixture.repo(), ["ls-files"]).unwrap());
    assert_eq!(listed.lines().count(), files);
    assert_eq!(fixture.tracked_files(), files);
    assert_eq!(
        text(git(fixture.repo(), ["status", "--porcelain"]).unwrap()),
        "",
        "every size is committed"
    );
    let dirs: std::collections::BTreeSet<_> = listed
        .lines()
        .map(|l| l.rsplit_once('/').unwrap().0)
        .collect();
    assert_eq!(fixture.description().directories, dirs.len());
}

#[test]
fn calibration_grows_the_repository_up_to_its_cap() {
    // No repository this small takes ten minutes to `git status`: every step grows it as far
    // as allowed (8 times), until the cap stops it.
    let fixture = calibrated(Calibrate {
        start_files: 20,
        max_files: 300,
        // A loaded machine must not end the run by the clock: the steps are what is tested.
        budget: Duration::from_secs(3_600),
        ..Calibrate::aiming_at(600_000.0)
    });
    let c = fixture.calibration().unwrap().clone();
    let sizes: Vec<usize> = c.steps.iter().map(|s| s.files).collect();
    assert_eq!(sizes, [20, 160, 300]);
    assert_eq!(c.files, 300);
    assert!(!c.reached);
    assert_eq!(c.stopped_by.as_deref(), Some("max_files"));
    assert_eq!(c.target_ms, 600_000.0);
    assert_clean_with(&fixture, 300);
    assert_eq!(fixture.description().directories, 6);
}

#[test]
fn calibration_shrinks_the_repository_and_removes_emptied_directories() {
    // Every `git status` is a process, far over 0.1 ms, so the first step shrinks the
    // repository 8 times. Only one step is taken: later steps follow the line through two
    // timed steps, and on a loaded machine that line is noise.
    let fixture = calibrated(Calibrate {
        start_files: 2_100,
        max_steps: 2,
        budget: Duration::from_secs(3_600),
        ..Calibrate::aiming_at(0.1)
    });
    let c = fixture.calibration().unwrap().clone();
    let sizes: Vec<usize> = c.steps.iter().map(|s| s.files).collect();
    assert_eq!(sizes, [2_100, 263]);
    assert_eq!(c.stopped_by.as_deref(), Some("max steps"));
    assert_clean_with(&fixture, 263);
    // 2,100 files filled m000/d0000 … d0039 and m001/d0040, d0041 (50 a directory); 263
    // files fill d0000 … d0005 and nothing else is left.
    let names = |dir: &Path| -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    assert_eq!(names(fixture.repo()), ["m000"]);
    let mut dirs = names(&fixture.repo().join("m000"));
    dirs.sort();
    assert_eq!(dirs, ["d0000", "d0001", "d0002", "d0003", "d0004", "d0005"]);
    // Edits still land on tracked files.
    let mut fixture = fixture;
    let edited = fixture.edit_next_file().unwrap();
    assert_eq!(
        text(git(fixture.repo(), ["status", "--porcelain"]).unwrap()),
        format!(" M {edited}\n")
    );
}
