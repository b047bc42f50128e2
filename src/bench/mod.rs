//! `debtor-notify bench …`: throughput measurements (never assertions in tests).

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Intake throughput: publish synthetic batches and measure consumer-to-commit debtors/s.
    Intake {
        #[arg(long, default_value_t = 1_000_000)]
        debtors: usize,
    },
}

/// Runs a benchmark.
///
/// # Errors
/// Infrastructure failures.
pub async fn run(cmd: BenchCommand, _settings: Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Intake { debtors } => {
            println!("bench intake --debtors {debtors}: not implemented yet");
            Ok(ExitCode::FAILURE)
        }
    }
}
