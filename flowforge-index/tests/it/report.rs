//! Team reports from the index: deterministic, in the time zone asked for.

use crate::common;

use common::*;
use flowforge_index::{
    Index,
    report::{Format, Period, Report, ReportOptions, Zone},
};
use jiff::ToSpan;

fn report_options(zone: &str) -> ReportOptions {
    ReportOptions {
        period: Period::Daily,
        zone: Zone::named(zone).unwrap(),
        now: base() + 4.hours(),
    }
}

#[test]
fn reports_are_deterministic_and_show_their_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = team(tmp.path());
    let mut dave = spec("z-1", &[], &[]);
    dave.corrupt = true;
    write_dev(&layout, &dev("dave"), &dave);
    let index = Index::build(&layout).unwrap();
    let options = report_options("Europe/Paris");
    let report = Report::generate(&index, &options).unwrap();
    assert_eq!(
        report,
        Report::generate(&Index::build(&layout).unwrap(), &options).unwrap()
    );
    assert_eq!(report.timezone, "Europe/Paris");
    assert_eq!(report.from, "2025-09-18T00:00:00+02:00");
    assert_eq!(report.to, "2025-09-19T00:00:00+02:00");
    // The entry 30 hours after base falls on the next day; the others are inside.
    assert_eq!(report.total_minutes, 30 + 20 + 60);
    assert_eq!(
        report.sessions.len(),
        3,
        "carol's history starts the day before: {:?}",
        report.sessions
    );
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].developer, Some(dev("dave")));

    let markdown = report.render(Format::Markdown);
    assert!(markdown.contains("- Time zone: Europe/Paris"), "{markdown}");
    assert!(markdown.contains("## Problems"));
    assert!(
        markdown.contains("| same path | src/lib.rs | alice, bob |"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    assert_eq!(json["timezone"], "Europe/Paris");
    assert_eq!(json["problems"][0]["developer"], "dave");
    let csv = report.render(Format::Csv);
    assert!(csv.starts_with("section,developer,task,branch,start,end,minutes,detail\n"));
    assert!(csv.contains("time_developer,alice,,,,,30,"), "{csv}");
    assert!(csv.lines().all(|l| !l.is_empty()));

    let tokyo = Report::generate(&index, &report_options("Asia/Tokyo")).unwrap();
    assert_eq!(tokyo.from, "2025-09-18T00:00:00+09:00");
    let weekly = Report::generate(
        &index,
        &ReportOptions {
            period: Period::Weekly,
            ..options.clone()
        },
    )
    .unwrap();
    assert_eq!(
        weekly.from, "2025-09-15T00:00:00+02:00",
        "the Monday of the week"
    );
    let monthly = Report::generate(
        &index,
        &ReportOptions {
            period: Period::Monthly,
            ..options
        },
    )
    .unwrap();
    assert_eq!(
        (monthly.from.as_str(), monthly.to.as_str()),
        ("2025-09-01T00:00:00+02:00", "2025-10-01T00:00:00+02:00")
    );
    assert_eq!(monthly.total_minutes, 30 + 45 + 20 + 60);
    assert!(Zone::named("Mars/Olympus").is_err());
}
