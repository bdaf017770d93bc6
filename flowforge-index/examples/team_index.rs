//! A team of 1,000 generated developers: build the namespace index, query it, change a few
//! namespaces, refresh, and show that only those were reloaded.
//!
//! ```sh
//! cargo run --release -p flowforge-index --example team_index [-- DEVELOPERS]
//! ```

use std::time::Instant;

use anyhow::Context as _;
use flowforge_core::{
    DeveloperId, Layout, TaskId,
    model::{Session, TaskAssignment, TaskAssignments, TimeEntry, TimeTracking},
};
use flowforge_index::{
    Index, Pattern, StartedFrom, TimeRange,
    report::{Format, Period, Report, ReportOptions, Zone},
};
use flowforge_session::{Namespace, SessionOptions, StartOptions};
use flowforge_testkit::bash_tools::{create_dir_all as create_private_dir_all, write, write_json};
use jiff::{Timestamp, ToSpan};

fn session(dev: &DeveloperId, task: &TaskId, start: Timestamp) -> Session {
    Session {
        active: true,
        session_id: format!("s-{dev}-1"),
        start_time: start,
        task_id: Some(task.clone()),
        developer_id: dev.clone(),
        branch: Some(format!("feature/{task}")),
        provider: Some("github".into()),
        metadata: Default::default(),
        end_time: None,
        extra: Default::default(),
    }
}

/// Writes the namespaces the way FlowForge's tools leave them: a current session, time
/// tracking, and a claim per developer; every tenth developer shares a task area with the next.
fn generate(
    layout: &Layout,
    developers: usize,
    now: Timestamp,
) -> anyhow::Result<Vec<DeveloperId>> {
    let mut ids = Vec::with_capacity(developers);
    let mut claims = TaskAssignments::default();
    for i in 0..developers {
        let dev = DeveloperId::new(&format!("dev{i:04}"))?;
        let task = TaskId::new(&format!("feature-area{}-{i}", i / 10))?;
        for dir in layout.namespace_dirs(&dev) {
            create_private_dir_all(&dir)?;
        }
        write_json(
            &layout.current_session(&dev),
            &session(&dev, &task, now - 2.hours()),
        )?;
        let entry = TimeEntry {
            session_id: None,
            task_id: Some(task.clone()),
            minutes: 30 + (i as u64 % 60),
            recorded_at: now - 1.hour(),
            extra: Default::default(),
        };
        let tracking = TimeTracking {
            total_minutes: entry.minutes,
            sessions: vec![entry],
            extra: Default::default(),
        };
        write_json(&layout.time_tracking(&dev), &tracking)?;
        let assignment = TaskAssignment {
            assignee: dev.clone(),
            status: "in_progress".into(),
            claimed_at: now - 2.hours(),
            extra: Default::default(),
        };
        claims.tasks.insert(task, assignment);
        ids.push(dev);
    }
    create_private_dir_all(&layout.team_dir())?;
    write_json(&layout.task_assignments(), &claims)?;
    Ok(ids)
}

fn main() -> anyhow::Result<()> {
    let developers: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("DEVELOPERS must be a number")?,
        None => 1000,
    };
    let tmp = tempfile::tempdir()?;
    let layout = Layout::for_repo(tmp.path());
    let now = Timestamp::now();
    let started = Instant::now();
    let ids = generate(&layout, developers, now)?;
    println!(
        "generated {developers} namespaces in {:.0?}",
        started.elapsed()
    );

    let started = Instant::now();
    let mut index = Index::build(&layout)?;
    println!(
        "built the index of {} namespaces in {:.1?}",
        index.namespace_count(),
        started.elapsed()
    );

    let task = TaskId::new("feature-area42-420")?;
    let started = Instant::now();
    let who = index.who(&task);
    let matches = index.tasks(&Pattern::new("feature-area42-*"));
    let active = index.active().len();
    let minutes = index.time_of(&ids[7], &TimeRange::all());
    println!("four queries answered in {:.1?}:", started.elapsed());
    println!(
        "  who holds {task}: {}",
        who.holder.as_ref().map_or("nobody", |d| d.as_str())
    );
    println!(
        "  feature-area42-*: {} tasks, developers {:?}, parallel work: {}",
        matches.tasks.len(),
        matches.developers,
        matches.parallel
    );
    println!(
        "  active developers: {active}; {} recorded {minutes} minutes",
        ids[7]
    );

    index.save_snapshot()?;
    let started = Instant::now();
    let opened = Index::open(&layout)?;
    assert_eq!(opened.started_from, StartedFrom::Snapshot);
    println!(
        "cold start from the snapshot in {:.1?} ({} namespaces reloaded)",
        started.elapsed(),
        opened.refresh.reloaded.len()
    );

    // Three developers change: one starts a session through the session store (claiming
    // a task), one switches task the way the bash tools write it, one file is corrupted.
    flowforge_session::namespace::init(&layout, &ids[1], &Default::default())?;
    let ns = Namespace::open(&layout, &ids[1], SessionOptions::relaxed())?;
    let hotfix = TaskId::new("hotfix-1")?;
    let options = StartOptions {
        replace: true,
        ..Default::default()
    };
    ns.start_session(&hotfix, &options)?;
    let switched = session(&ids[500], &task, now);
    write_json(&layout.current_session(&ids[500]), &switched)?;
    write(&layout.time_tracking(&ids[999 % developers]), b"{oops")?;

    let stats = index.refresh()?;
    println!(
        "refresh after 3 changes: checked {}, reloaded {:?} in {:.1?}",
        stats.checked, stats.reloaded, stats.elapsed
    );
    println!("  who works on {task} now: {:?}", index.who(&task).working);
    println!("  who holds {hotfix}: {:?}", index.who(&hotfix).holder);
    println!(
        "  problems: {:?}",
        index
            .problems()
            .iter()
            .map(|p| &p.message)
            .collect::<Vec<_>>()
    );
    let stats = index.refresh_developers(&ids[..1]);
    println!(
        "targeted refresh of one namespace: checked {} in {:.1?}",
        stats.checked, stats.elapsed
    );

    let options = ReportOptions {
        period: Period::Daily,
        zone: Zone::utc(),
        now,
    };
    let started = Instant::now();
    let report = Report::generate(&index, &options)?.render(Format::Markdown);
    println!(
        "daily report ({} bytes of markdown) in {:.1?}",
        report.len(),
        started.elapsed()
    );
    Ok(())
}
