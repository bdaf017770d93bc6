//! `--history`: every team the run measures made its claims over time and released them, and
//! each developer holds the time entries; the repository's own team only when asked.

use std::{collections::BTreeSet, fs};

use flowforge_bench::fixture::{Fixture, FixtureOptions};
use flowforge_session::{Namespace, SessionOptions, claim};

const HISTORY: usize = 300;

#[test]
fn a_team_with_history_released_its_claims_and_holds_every_time_entry() {
    let mut fixture = Fixture::create(&FixtureOptions {
        history: HISTORY,
        history_in_repo_team: false,
        ..FixtureOptions::small(2)
    })
    .unwrap();
    assert_eq!(fixture.history(), HISTORY);
    let team = fixture.new_team(3).unwrap();
    let mut ended = 0;
    for (dev, task) in team.developers.iter().zip(&team.tasks) {
        let ns = Namespace::open(&team.layout, dev, SessionOptions::relaxed()).unwrap();
        let time = ns.time_tracking().unwrap().unwrap().value;
        // The bash tools' entries first, in order, then the sessions ended through the store.
        let ids: Vec<String> = time
            .sessions
            .iter()
            .filter_map(|e| e.session_id.clone())
            .collect();
        let history: Vec<String> = (0..HISTORY)
            .map(|k| format!("session-history-{k}"))
            .collect();
        assert_eq!(ids[..HISTORY], history[..], "{dev}");
        let sessions = fs::read_dir(team.layout.session_history_dir(dev))
            .unwrap()
            .count();
        // Its share of the claims (a session each, ended) and the two ended sessions of
        // every fixture team.
        assert_eq!(sessions, HISTORY / 3 + 2, "{dev}");
        assert_eq!(time.sessions.len(), HISTORY + sessions, "{dev}");
        assert_eq!(
            time.total_minutes,
            time.sessions.iter().map(|e| e.minutes).sum::<u64>()
        );
        ended += sessions - 2;
        assert_eq!(ns.session().unwrap().unwrap().task_id.as_ref(), Some(task));
    }
    assert_eq!(ended, HISTORY);
    // Released: only the tasks held now are claimed.
    let held: BTreeSet<_> = claim::list_claims(&team.layout)
        .unwrap()
        .into_iter()
        .map(|c| c.task)
        .collect();
    assert_eq!(held, team.tasks.iter().cloned().collect());

    // A reference team without history, and the repository's own team, asked without it.
    for layout in [
        fixture.new_team_with_history(2, 0).unwrap().layout,
        fixture.layout().clone(),
    ] {
        for dev in &fixture.developers()[..2] {
            let ns = Namespace::open(&layout, dev, SessionOptions::relaxed()).unwrap();
            assert_eq!(ns.time_tracking().unwrap().unwrap().value.sessions.len(), 2);
            assert_eq!(
                fs::read_dir(layout.session_history_dir(dev))
                    .unwrap()
                    .count(),
                2
            );
        }
    }
}
