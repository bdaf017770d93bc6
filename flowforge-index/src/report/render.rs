//! Rendering a [`Report`] as markdown, JSON or CSV.

use std::fmt::Write;

use super::Report;
use crate::query::ConflictKind;

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// Appends `text` as a markdown table cell: pipes escaped, line breaks made spaces (either
/// would break the table).
fn push_cell(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['|', '\n', '\r']) {
        out.push_str(&rest[..at]);
        out.push_str(if rest.as_bytes()[at] == b'|' {
            "\\|"
        } else {
            " "
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

fn kind(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::SameTask => "same task",
        ConflictKind::SamePath => "same path",
    }
}

fn table(out: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "\n## {title}\n");
    if rows.is_empty() {
        out.push_str("_none_\n");
        return;
    }
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        out.push('|');
        for text in &row {
            out.push(' ');
            push_cell(out, text);
            out.push_str(" |");
        }
        out.push('\n');
    }
}

pub(super) fn markdown(r: &Report) -> String {
    let mut out = String::with_capacity(1024);
    let _ = writeln!(out, "# FlowForge team report: {}\n", r.period);
    let _ = writeln!(out, "- Period: {} to {}", r.from, r.to);
    let _ = writeln!(out, "- Time zone: {}", r.timezone);
    let _ = writeln!(out, "- Generated: {}", r.generated_at);
    let _ = writeln!(
        out,
        "- Developers: {}, active: {}, minutes recorded: {}",
        r.developers,
        r.active.len(),
        r.total_minutes
    );
    let s = |o: &Option<String>| or_dash(o.as_deref()).to_owned();
    let id = |o: Option<&dyn std::fmt::Display>| o.map_or("-".to_owned(), |v| v.to_string());
    table(
        &mut out,
        "Active developers",
        &["Developer", "Task", "Branch", "Since"],
        (r.active.iter())
            .map(|a| {
                let task = a.task.as_ref().map(|t| t as &dyn std::fmt::Display);
                vec![
                    a.developer.to_string(),
                    id(task),
                    s(&a.branch),
                    a.since.clone(),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "Sessions",
        &["Developer", "Session", "Task", "Branch", "Start", "End"],
        (r.sessions.iter())
            .map(|x| {
                let task = x.task.as_ref().map(|t| t as &dyn std::fmt::Display);
                let end = if x.active {
                    "active".to_owned()
                } else {
                    s(&x.end)
                };
                let row = [x.developer.to_string(), x.session_id.clone(), id(task)];
                let mut row = row.to_vec();
                row.extend([s(&x.branch), x.start.clone(), end]);
                row
            })
            .collect(),
    );
    table(
        &mut out,
        "Tasks",
        &["Task", "Holder", "Status", "Claimed", "Working on it"],
        (r.tasks.iter())
            .map(|t| {
                let holder = t.holder.as_ref().map(|h| h as &dyn std::fmt::Display);
                let working: Vec<String> = t.working.iter().map(ToString::to_string).collect();
                vec![
                    t.task.to_string(),
                    id(holder),
                    s(&t.status),
                    s(&t.claimed_at),
                    if working.is_empty() {
                        "-".to_owned()
                    } else {
                        working.join(", ")
                    },
                ]
            })
            .collect(),
    );
    for (title, lines) in [
        ("Time per developer", &r.time_per_developer),
        ("Time per task", &r.time_per_task),
    ] {
        table(
            &mut out,
            title,
            &["Name", "Minutes"],
            (lines.iter())
                .map(|m| vec![m.name.clone(), m.minutes.to_string()])
                .collect(),
        );
    }
    table(
        &mut out,
        "Conflicts",
        &["Kind", "Task or path", "Developers"],
        (r.conflicts.iter())
            .map(|c| {
                let devs: Vec<String> = c.developers.iter().map(ToString::to_string).collect();
                vec![kind(c.kind).to_owned(), c.subject.clone(), devs.join(", ")]
            })
            .collect(),
    );
    table(
        &mut out,
        "Problems",
        &["Path", "Developer", "Problem"],
        (r.problems.iter())
            .map(|p| {
                let dev = p.developer.as_ref().map(|d| d as &dyn std::fmt::Display);
                vec![p.path.clone(), id(dev), p.message.clone()]
            })
            .collect(),
    );
    out
}

pub(super) fn json(r: &Report) -> String {
    let mut out = serde_json::to_string_pretty(r).expect("a report always serialises");
    out.push('\n');
    out
}

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub(super) fn csv(r: &Report) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("section,developer,task,branch,start,end,minutes,detail\n");
    let mut row = |cells: [&str; 8]| {
        let cells: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    };
    let detail = format!(
        "period {}; timezone {}; generated {}; developers {}",
        r.period, r.timezone, r.generated_at, r.developers
    );
    row([
        "report",
        "",
        "",
        "",
        &r.from,
        &r.to,
        &r.total_minutes.to_string(),
        &detail,
    ]);
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    for a in &r.active {
        let task = a.task.as_ref().map(|t| t.to_string()).unwrap_or_default();
        row([
            "active",
            a.developer.as_str(),
            &task,
            &opt(&a.branch),
            &a.since,
            "",
            "",
            "",
        ]);
    }
    for x in &r.sessions {
        let task = x.task.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let state = if x.active { "active" } else { "ended" };
        let detail = format!("{} {state}", x.session_id);
        let (branch, end) = (opt(&x.branch), opt(&x.end));
        row([
            "session",
            x.developer.as_str(),
            &task,
            &branch,
            &x.start,
            &end,
            "",
            &detail,
        ]);
    }
    for t in &r.tasks {
        let holder = t.holder.as_ref().map(|h| h.to_string()).unwrap_or_default();
        let working: Vec<&str> = t.working.iter().map(|w| w.as_str()).collect();
        let detail = format!("{}; working: {}", opt(&t.status), working.join(" "));
        let claimed = opt(&t.claimed_at);
        row([
            "task",
            &holder,
            t.task.as_str(),
            "",
            &claimed,
            "",
            "",
            &detail,
        ]);
    }
    for m in &r.time_per_developer {
        row([
            "time_developer",
            &m.name,
            "",
            "",
            "",
            "",
            &m.minutes.to_string(),
            "",
        ]);
    }
    for m in &r.time_per_task {
        row([
            "time_task",
            "",
            &m.name,
            "",
            "",
            "",
            &m.minutes.to_string(),
            "",
        ]);
    }
    for c in &r.conflicts {
        let devs: Vec<&str> = c.developers.iter().map(|d| d.as_str()).collect();
        let detail = format!("{}: {}", kind(c.kind), c.subject);
        row(["conflict", &devs.join(" "), "", "", "", "", "", &detail]);
    }
    for p in &r.problems {
        let dev = p
            .developer
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let detail = format!("{}: {}", p.path, p.message);
        row(["problem", &dev, "", "", "", "", "", &detail]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn markdown_cells_escape_pipes_and_flatten_line_breaks() {
        let cell = |text: &str| {
            let mut out = String::new();
            push_cell(&mut out, text);
            out
        };
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("|\r\n|"), "\\|  \\|");
        assert_eq!(cell("plain é"), "plain é");
        assert_eq!(cell(""), "");
        let mut out = String::new();
        table(
            &mut out,
            "T",
            &["A", "B"],
            vec![vec!["x|y".to_owned(), String::new()]],
        );
        assert_eq!(out, "\n## T\n\n| A | B |\n|---|---|\n| x\\|y |  |\n");
    }
}
