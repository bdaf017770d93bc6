//! `flowforge-bench`: the FlowForge baseline run.
//!
//! Builds the fixture (by default a generated repository sized so that one `git status` takes
//! what it took in the original FlowForge baseline, about 270 ms; `--files N` fixes the size;
//! `--repo` clones an existing repository), measures the six operations naive against optimized
//! at each developer count, prints the original's table and each variant's with the improvement
//! per cell, and writes the JSON and the SVG chart. Exit status: 0 when every optimized cell is within its threshold, 1 when one is not
//! or a variant answered wrongly, 2 for bad usage.

use std::{
    io::IsTerminal,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use flowforge_bench::{
    fixture::{Calibrate, Fixture, FixtureOptions},
    report,
    run::{Progress, RunOptions, run},
};
use flowforge_core::score::Operation;
use indicatif::{ProgressBar, ProgressStyle};

/// Reproduce the FlowForge 1/6/10-developer baseline, naive against optimized, in one run.
#[derive(Debug, Parser)]
#[command(name = "flowforge-bench", version, about)]
struct Cli {
    /// Tracked files of the generated repository (50 to a directory); without it the size is
    /// calibrated (see --git-status-ms).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    files: Option<u64>,
    /// Size the generated repository so that one `git status --porcelain` takes about this many
    /// milliseconds here (default: 270, what it took in the original FlowForge baseline).
    #[arg(long, value_name = "MS", conflicts_with_all = ["files", "repo"], value_parser = parse_ms)]
    git_status_ms: Option<f64>,
    /// Developer counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,6,10", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    devs: Vec<u64>,
    /// Measure a clone of this existing repository instead (it is never modified).
    #[arg(long, value_name = "PATH")]
    repo: Option<PathBuf>,
    /// Keep the fixture's temporary directory after the run.
    #[arg(long)]
    keep: bool,
    /// Before measuring, every team has made N claims over time (sessions started and ended,
    /// their claims released) and each developer has N time entries.
    #[arg(long, value_name = "N", default_value_t = 0)]
    history: usize,
    /// Where to write the JSON (default: target/flowforge-baseline/baseline-<time>.json); the
    /// SVG chart is written beside it.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Operations to measure, comma-separated (session, report_generation, cross_dev_queries,
    /// file_io, concurrent_ops, git_sync, and remote_claims: the git-remote costs on a fixture
    /// of its own); e.g. `--devs 1000 --ops cross_dev_queries`.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    ops: Vec<Operation>,
    /// Also measure the CLI path: each developer a `flowforge` process answered by the daemon,
    /// against the bash tools' processes (`git status`, `git rev-parse`, `jq`); its rows go
    /// to `<json>-cli.json` with `"via": "cli"`.
    #[arg(long)]
    cli: bool,
    /// Measure only the CLI path (implies --cli).
    #[arg(long)]
    cli_only: bool,
    /// Measure only `session end` + `session start` as fresh `flowforge` processes, on a team
    /// of each --devs size (with --history), against the smallest.
    #[arg(long)]
    session_cli: bool,
    /// The `flowforge` binary for the CLI path (default: the one beside this executable).
    #[arg(long, value_name = "PATH")]
    flowforge: Option<PathBuf>,
    /// The most timed rounds per cell, after one untimed warm-up round.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    samples: u64,
    /// Once a cell has 3 timed rounds, it takes no more after this many seconds of them.
    #[arg(long, value_name = "SECONDS", default_value_t = 8.0, value_parser = parse_seconds)]
    cell_budget: f64,
}

fn parse_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(ms) if (0.1..=600_000.0).contains(&ms) => Ok(ms),
        _ => Err("expected milliseconds between 0.1 and 600000".to_owned()),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Ok(secs),
        _ => Err("expected seconds between 0 and 86400".to_owned()),
    }
}

fn main() -> ExitCode {
    // `--ops remote_claims` runs on its own fixture (a bare repository and clones of it).
    let (args, remote) = flowforge_bench::remote_claims::take_op(std::env::args_os());
    let cli = Cli::parse_from(args);
    if remote != flowforge_bench::remote_claims::Requested::No {
        let samples = cli.samples as usize;
        match flowforge_bench::remote_claims::run_from_env(samples, &mut |p| eprintln!("{p}")) {
            Ok(table) => println!("{table}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        if remote == flowforge_bench::remote_claims::Requested::Only {
            return ExitCode::SUCCESS;
        }
    }
    match main_inner(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn main_inner(cli: Cli) -> anyhow::Result<ExitCode> {
    let developers: Vec<usize> = cli.devs.iter().map(|&n| n as usize).collect();
    let max_devs = developers.iter().copied().max().unwrap_or(1);
    let calibrate = match (&cli.repo, cli.files) {
        (None, None) => Some(
            cli.git_status_ms
                .map_or_else(Calibrate::default, Calibrate::aiming_at),
        ),
        _ => None,
    };
    let options = FixtureOptions {
        files: cli
            .files
            .map_or(FixtureOptions::default().files, |n| n as usize),
        developers: max_devs,
        repo: cli.repo.clone(),
        keep: cli.keep,
        calibrate: calibrate.clone(),
        history: cli.history,
        // Only the CLI path reads the repository's own team; every other measurement makes
        // teams of its own, each with the history.
        history_in_repo_team: cli.cli || cli.cli_only,
        ..FixtureOptions::default()
    };
    let started = Instant::now();
    match (&cli.repo, &calibrate) {
        (Some(repo), _) => eprintln!(
            "Cloning {} (shared, read-only) and creating {max_devs} developers…",
            repo.display()
        ),
        (None, Some(c)) => eprintln!(
            "Generating the fixture: sizing it so that one git status takes about {} \
             (at most {} files, {} s), then {max_devs} developers…",
            report::format_ms(c.target.as_secs_f64() * 1000.0),
            c.max_files,
            c.budget.as_secs()
        ),
        (None, None) => eprintln!(
            "Generating the fixture: {} files, {max_devs} developers…",
            options.files
        ),
    }
    let mut fixture = Fixture::create(&options)?;
    if let Some(calibration) = fixture.calibration() {
        eprintln!("{}", report::calibration(calibration));
    }
    eprintln!(
        "Fixture ready in {:.1} s at {}{}",
        started.elapsed().as_secs_f64(),
        fixture.dir().display(),
        if fixture.keeps() { " (kept)" } else { "" }
    );

    if cli.session_cli {
        let flowforge = cli
            .flowforge
            .clone()
            .or_else(flowforge_bench::cli::default_flowforge)
            .ok_or_else(|| {
                anyhow::anyhow!("no flowforge binary beside this one: --flowforge PATH")
            })?;
        let options = flowforge_bench::session_cli::SessionCliOptions {
            flowforge,
            developers: developers.clone(),
            samples: cli.samples as usize,
        };
        let rows = flowforge_bench::session_cli::run(&mut fixture, &options)?;
        println!("{}", flowforge_bench::session_cli::table(&rows));
        println!("Total time: {:.1} s", started.elapsed().as_secs_f64());
        return Ok(ExitCode::SUCCESS);
    }
    if cli.cli_only {
        let report = measure_cli(&cli, &mut fixture, &developers)?;
        let json = cli.json.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "target/flowforge-baseline/cli-{}.json",
                jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
            ))
        });
        write_cli_json(&report, &json)?;
        println!("Total time: {:.1} s", started.elapsed().as_secs_f64());
        return Ok(ExitCode::SUCCESS);
    }
    let run_options = RunOptions {
        developers,
        samples: cli.samples as usize,
        cell_budget: Duration::from_secs_f64(cli.cell_budget),
        operations: if cli.ops.is_empty() {
            Operation::ALL.to_vec()
        } else {
            cli.ops.clone()
        },
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let baseline = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:32}] {pos}/{len} {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        let result = run(&mut fixture, &run_options, &mut |p: Progress| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(p.label);
        });
        bar.finish_and_clear();
        result?
    } else {
        run(&mut fixture, &run_options, &mut |p: Progress| {
            eprintln!("[{}/{}] {}", p.done + 1, p.total, p.label);
        })?
    };

    println!("{}", report::text(&baseline));
    let json = cli
        .json
        .clone()
        .unwrap_or_else(|| report::default_json_path(&baseline));
    let chart = report::write(&baseline, &json)?;
    println!("JSON: {}\nChart: {}", json.display(), chart.display());
    if cli.cli {
        let report = measure_cli(&cli, &mut fixture, &run_options.developers)?;
        let stem = json.with_extension("");
        write_cli_json(
            &report,
            &PathBuf::from(format!("{}-cli.json", stem.display())),
        )?;
    }
    println!("Total time: {:.1} s", started.elapsed().as_secs_f64());
    if baseline.optimized_fails() {
        eprintln!("error: an optimized cell is over its threshold");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the CLI path and prints its table.
fn measure_cli(
    cli: &Cli,
    fixture: &mut Fixture,
    developers: &[usize],
) -> anyhow::Result<flowforge_bench::cli::CliReport> {
    let flowforge = cli
        .flowforge
        .clone()
        .or_else(flowforge_bench::cli::default_flowforge)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no flowforge binary beside this one: cargo build --release -p flowforge-cli, or --flowforge PATH"
            )
        })?;
    eprintln!("CLI path with {}…", flowforge.display());
    let options = flowforge_bench::cli::CliOptions {
        flowforge,
        developers: developers.to_vec(),
        samples: cli.samples as usize,
    };
    let report = flowforge_bench::cli::run(fixture, &options)?;
    println!("{}", flowforge_bench::cli::table(&report));
    Ok(report)
}

/// Writes the CLI path's report as JSON.
fn write_cli_json(
    report: &flowforge_bench::cli::CliReport,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")?;
    println!("CLI JSON: {}", path.display());
    Ok(())
}
