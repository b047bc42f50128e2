//! `debtor-notify bench …`: throughput measurements, printed beside raw probes of the same machine. Targets
//! live here, never as timed assertions in tests.

mod dispatch;
mod floor;
mod intake;
mod parse;
mod plan;
mod render;
mod seed;
mod sms;
mod synthetic;

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Intake: publish synthetic batches, time the worker from consume to commit, probe RabbitMQ and PostgreSQL.
    Intake {
        #[arg(long, default_value_t = 1_000_000)]
        debtors: usize,
    },
    /// Planning: one pass of a one-step campaign over a region's debtors in eleven zones.
    Plan {
        #[arg(long, default_value_t = 600_000)]
        debtors: usize,
    },
    /// Dispatch on the in-process simulator with full event logging, beside a raw SKIP LOCKED claim probe.
    Dispatch {
        /// Notices due now (dispatched and measured).
        #[arg(long, default_value_t = 200_000)]
        notifications: usize,
        /// Planned notices in the table in all (the rest are due tomorrow); the peak RSS is reported.
        #[arg(long, default_value_t = 1_000_000)]
        pending: usize,
        /// Dispatch rounds, each paired with a claim probe run right after it (each round dispatches
        /// `notifications` notices of its own debtors, so `pending` must hold them all). The ratio is the median
        /// of the rounds' ratios: a pair measured a few seconds apart shares the machine's state.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
        rounds: u8,
    },
    /// SMS through a provider: due → handed over by HTTP → delivered by reports through our callback endpoint.
    Sms {
        /// `kannel` (a real Kannel rig with fakesmsc) or `sim` (the gateway simulator's SMS.ru API).
        #[arg(long, default_value = "sim")]
        provider: String,
        #[arg(long, default_value_t = 20_000)]
        notices: usize,
        /// Requests in flight to the provider.
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
        /// Measure a configured rate limit (per second) on the simulator instead, over --seconds.
        #[arg(long)]
        rate: Option<u32>,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Template rendering: renders/s of a typical SMS template on one core.
    Render {
        #[arg(long, default_value_t = 1_000_000)]
        renders: usize,
    },
    /// Enqueue's file reading: parse and check a synthetic 1C CSV export.
    Parse {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

/// Runs a benchmark.
///
/// # Errors
/// Infrastructure failures.
pub async fn run(cmd: BenchCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Intake { debtors } => intake::run(debtors, settings).await?,
        BenchCommand::Plan { debtors } => plan::run(debtors, settings).await?,
        BenchCommand::Dispatch {
            notifications,
            pending,
            rounds,
        } => {
            dispatch::run(notifications, pending, rounds.into(), settings).await?;
        }
        BenchCommand::Sms {
            provider,
            notices,
            concurrency,
            rate,
            seconds,
        } => {
            let b = sms::SmsBench {
                provider: &provider,
                notices,
                concurrency,
                rate: rate.map(|r| (r, seconds)),
            };
            sms::run(b, settings).await?;
        }
        BenchCommand::Render { renders } => tokio::task::spawn_blocking(move || render::run(renders)).await?,
        BenchCommand::Parse { rows } => tokio::task::spawn_blocking(move || parse::run(rows)).await?,
    }
    Ok(ExitCode::SUCCESS)
}
