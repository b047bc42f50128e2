//! `debtor-notify batch show ID`: the batch report for operators.

use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use crate::{config::Settings, storage};

/// Batch commands.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Show a batch: status, counts and its intake errors.
    Show {
        batch_id: Uuid,
        /// Errors to list.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a batch command.
///
/// # Errors
/// Database failures.
pub async fn run(cmd: BatchCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    let BatchCommand::Show { batch_id, limit, json } = cmd;
    let Some(r) = storage::batch::get_batch_report(&pool, batch_id, limit).await? else {
        eprintln!("batch {batch_id} has not been received (yet)");
        return Ok(ExitCode::from(1));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("batch     {}", r.batch_id);
    println!(
        "utility   {}   as of {}",
        r.utility,
        r.as_of.map_or_else(|| "-".into(), |d| d.to_string())
    );
    println!(
        "status    {}   parts {}/{}",
        r.status,
        r.parts_received,
        r.parts_expected.map_or_else(|| "?".into(), |p| p.to_string())
    );
    println!(
        "records   received {}   accepted {}   rejected {}",
        r.received, r.accepted, r.rejected
    );
    if r.errors_total > 0 {
        println!("errors    {} (showing {})", r.errors_total, r.errors.len());
        println!(
            "  {:>6} {:>5} {:<14} {:<18} {:<13} reason",
            "record", "row", "account", "field", "severity"
        );
        for e in &r.errors {
            let show = |v: Option<i32>| v.map_or_else(|| "-".into(), |n| n.to_string());
            println!(
                "  {:>6} {:>5} {:<14} {:<18} {:<13} {}",
                show(e.index),
                show(e.source_row),
                e.account.as_deref().unwrap_or("-"),
                e.field.as_deref().unwrap_or("-"),
                e.severity,
                e.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
