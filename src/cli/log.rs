//! `debtor-notify log`: the delivery log, filtered, as a table, CSV or JSON; `--summary` counts by state and
//! reason; `--id N` shows one notification with its text, events and attempts. Numbers are masked unless
//! `--show-phones`.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::{
    config::Settings,
    domain::mask::mask_tail,
    storage::{
        self,
        log::{LogFilter, LogRow},
    },
};

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Filters and output of `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    #[arg(long)]
    pub campaign: Option<i64>,
    #[arg(long)]
    pub utility: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    /// planned, sending, in_doubt, submitted, delivered, undelivered, expired, failed, suppressed, cancelled.
    #[arg(long)]
    pub state: Option<String>,
    /// Machine-readable reason, e.g. outside_window, cap_day, opt_out, paid, too_long, landline.
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub channel: Option<String>,
    /// Changed at or after this instant (RFC 3339).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Keyset cursor: notifications with a smaller id.
    #[arg(long)]
    pub before: Option<i64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Counts by channel, state and reason instead of rows.
    #[arg(long)]
    pub summary: bool,
    /// One notification with its text, events and attempts.
    #[arg(long)]
    pub id: Option<i64>,
    #[arg(long)]
    pub show_phones: bool,
}

/// Runs `log`.
///
/// # Errors
/// Database failures.
pub async fn run(args: LogArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    let filter = LogFilter {
        campaign: args.campaign,
        utility: args.utility.clone(),
        account: args.account.clone(),
        state: args.state.clone(),
        reason: args.reason.clone(),
        channel: args.channel.clone(),
        since: args.since,
        before_id: args.before,
        limit: args.limit.clamp(1, 100_000),
    };
    if let Some(id) = args.id {
        let Some(mut n) = storage::log::get_notification(&pool, id, args.utility.as_deref()).await? else {
            eprintln!("error: no notification {id}");
            return Ok(ExitCode::from(1));
        };
        mask(&mut n.row, args.show_phones);
        println!("{}", serde_json::to_string_pretty(&n)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.summary {
        let rows = storage::log::summarize_log(&pool, &filter).await?;
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
            _ => {
                println!("{:<7} {:<12} {:<24} {:>8}", "CHANNEL", "STATE", "REASON", "COUNT");
                for r in rows {
                    println!(
                        "{:<7} {:<12} {:<24} {:>8}",
                        r.channel,
                        r.state,
                        r.reason.as_deref().unwrap_or("-"),
                        r.count
                    );
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = storage::log::list_log(&pool, &filter).await?;
    rows.iter_mut().for_each(|r| mask(r, args.show_phones));
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            for r in &rows {
                w.serialize(r)?;
            }
            w.flush()?;
        }
        Format::Table => {
            println!(
                "{:>8} {:>4} {:>4} {:<14} {:<6} {:<13} {:<12} {:<20} {:>3} {:<20}",
                "ID", "CAMP", "STEP", "ACCOUNT", "CHAN", "PHONE", "STATE", "REASON", "ATT", "UPDATED (UTC)"
            );
            for r in &rows {
                println!(
                    "{:>8} {:>4} {:>4} {:<14} {:<6} {:<13} {:<12} {:<20} {:>3} {:<20}",
                    r.notification_id,
                    r.campaign_id,
                    r.step_no,
                    r.account,
                    r.channel,
                    r.e164.as_deref().unwrap_or("-"),
                    r.state,
                    r.reason.as_deref().unwrap_or("-"),
                    r.attempts,
                    r.updated_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
            if let Some(last) = rows.last()
                && i64::try_from(rows.len()).unwrap_or(0) == filter.limit
            {
                println!("more: --before {}", last.notification_id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mask(r: &mut LogRow, show: bool) {
    if !show {
        r.e164 = r.e164.as_deref().map(|p| mask_tail(p, 4));
    }
}
