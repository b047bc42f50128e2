//! `debtor-notify enqueue FILE --utility ID`: check a billing export, then publish it as one batch.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::{
    config::Settings,
    intake::{
        enqueue::{BatchTarget, CheckSummary, check, derive_batch_id, publish},
        file,
    },
    queue::publisher::Publisher,
};

/// Arguments of `enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// CSV (UTF-8 or Windows-1251), XLSX or JSON file.
    pub file: PathBuf,
    /// Utility the debtors belong to (must be registered; a JSON document may name it itself).
    #[arg(long)]
    pub utility: Option<String>,
    /// Date the debts are as of (default: the document's, else today).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Batch id (default: the document's, else derived from the utility and the file content, so the same
    /// file enqueued twice is stored once).
    #[arg(long)]
    pub batch_id: Option<Uuid>,
    /// Campaign code to attach.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Validate and report only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `enqueue`. Exit 0 when published (or checked, for `--dry-run`), 1 on a broker failure, 2 on an unusable
/// file or arguments.
///
/// # Errors
/// Unexpected I/O failures.
pub async fn run(args: EnqueueArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let kind = file::detect_kind(&args.file.to_string_lossy(), &bytes);
    let parsed = match file::parse(kind, &bytes) {
        Ok(p) => p,
        Err(e) => {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            eprintln!("error: {}: {e}{cause}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let utility = match (parsed.meta.utility.clone(), args.utility.clone()) {
        (Some(a), Some(b)) if a != b => {
            eprintln!("error: the file names utility '{a}' but --utility is '{b}'");
            return Ok(ExitCode::from(2));
        }
        (Some(u), _) | (None, Some(u)) => u,
        (None, None) => {
            eprintln!("error: --utility is required for this file");
            return Ok(ExitCode::from(2));
        }
    };
    let as_of = parsed
        .meta
        .as_of
        .or(args.as_of)
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let batch_id = parsed
        .meta
        .batch_id
        .or(args.batch_id)
        .unwrap_or_else(|| derive_batch_id(&utility, &bytes));
    let summary = check(&parsed, as_of);
    let parse_secs = started.elapsed().as_secs_f64();
    print_summary(&args, &parsed, &summary, batch_id, &utility, as_of, parse_secs);
    if args.dry_run {
        println!("dry run: nothing published");
        return Ok(ExitCode::SUCCESS);
    }
    let target = BatchTarget {
        batch_id,
        utility,
        as_of,
        campaign: parsed.meta.campaign.clone().or(args.campaign),
        chunk_size: settings.intake.chunk_size,
    };
    publish_file(settings, &target, &parsed.records, started).await
}

/// Publishes the records with a progress bar; exit 1 on a broker failure (re-running is safe).
async fn publish_file(
    settings: &Settings,
    target: &BatchTarget,
    records: &[file::Record],
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let amqp = &settings.amqp;
    let result = async {
        let mut publisher = Publisher::connect(amqp.url.expose(), &amqp.intake_exchange).await?;
        let bar = progress_bar(records.len() as u64);
        let parts = publish(&mut publisher, target, records, |n| bar.set_position(n as u64)).await;
        bar.finish_and_clear();
        parts
    }
    .await;
    match result {
        Ok(parts) => {
            let secs = started.elapsed().as_secs_f64();
            println!("published {parts} message(s) to {} in {secs:.2}s", amqp.intake_exchange);
            let id = target.batch_id;
            println!("report: debtor-notify batch show {id}   (or GET /api/v1/batches/{id})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}", crate::telemetry::error_chain(&e));
            eprintln!("re-running the same command is safe: parts already stored are ignored");
            Ok(ExitCode::from(1))
        }
    }
}

fn print_summary(
    args: &EnqueueArgs,
    parsed: &file::ParsedFile,
    s: &CheckSummary,
    batch_id: Uuid,
    utility: &str,
    as_of: NaiveDate,
    secs: f64,
) {
    let encoding = parsed.encoding.map(|e| format!(", {e}")).unwrap_or_default();
    println!("file      {} ({:?}{encoding})", args.file.display(), parsed.kind);
    println!("batch     {batch_id}   utility {utility}   as of {as_of}");
    let rate = if secs > 0.0 { s.rows_read as f64 / secs } else { 0.0 };
    println!(
        "rows      read {}   valid {}   rejected {}   warnings {}   ({secs:.2}s, {rate:.0} rows/s)",
        s.rows_read, s.valid, s.rejected, s.warnings
    );
    if !parsed.ignored_columns.is_empty() {
        println!("ignored columns: {}", parsed.ignored_columns.join(", "));
    }
    if !s.first_reasons.is_empty() {
        println!("first problems:");
        for r in &s.first_reasons {
            println!("  {r}");
        }
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} publishing [{bar:40}] {pos}/{len} debtors ({per_sec}, {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
