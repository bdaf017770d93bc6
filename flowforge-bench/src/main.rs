//! The FlowForge baseline run.
//!
//! Until the measured run lands, this prints the seed's baseline table scored by
//! flowforge-core, so `cargo run --release -p flowforge-bench` already shows the model at work.

use flowforge_core::score::{Operation, SEED_BASELINE, Scorecard};

fn main() -> anyhow::Result<()> {
    let card = Scorecard::new(SEED_BASELINE);
    println!("FlowForge seed baseline (2025-09-18), scored by flowforge-core\n");
    println!(
        "| {:<18} | {:>9} | {:>9} | {:>9} | {:>9} | {:<8} |",
        "Operation", "1 Dev", "6 Devs", "10 Devs", "Threshold", "Status"
    );
    println!(
        "|{:-<20}|{:-<11}|{:-<11}|{:-<11}|{:-<11}|{:-<10}|",
        "", "", "", "", "", ""
    );
    for op in Operation::ALL {
        let cells: Vec<_> = card.cells().iter().filter(|c| c.operation == op).collect();
        let mut line = format!("| {:<18} |", op.label());
        for cell in &cells {
            let level = cell.level();
            let mark = if level == flowforge_core::score::Level::Ok {
                ""
            } else {
                "!"
            };
            line.push_str(&format!(" {:>8.1}{mark:<1}|", cell.ms));
        }
        let status = if cells.iter().all(|c| c.passes()) {
            "PASS"
        } else {
            "FAIL"
        };
        line.push_str(&format!(" {:>7} ms | {status:<8} |", op.threshold_ms()));
        println!("{line}");
    }
    println!("\nPerformance score: {}/100", card.score());
    println!("Status: {}", card.status());
    Ok(())
}
