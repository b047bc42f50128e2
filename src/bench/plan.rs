//! `bench plan`: one planning pass of a one-step campaign over a whole region's debtors (eleven zones), in a
//! scratch database; printed beside a raw INSERT … SELECT of the same number of rows.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Utc};

use super::{intake, seed};
use crate::{campaign::planner::Planner, clock::ManualClock, config::Settings};

const START: &str = "2026-12-01T06:00:00Z";

/// Runs the benchmark.
///
/// # Errors
/// Infrastructure failures.
pub async fn run(debtors: usize, base: Settings) -> anyhow::Result<()> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (settings, admin, pool) = intake::scratch(&base, &tag).await?;
    let result = measure(debtors, settings, &pool).await;
    pool.close().await;
    if std::env::var_os("BENCH_KEEP_DB").is_none() {
        intake::cleanup(&base, &admin, &tag).await;
    }
    result
}

async fn measure(debtors: usize, settings: Settings, pool: &sqlx::PgPool) -> anyhow::Result<()> {
    println!(
        "seeding {debtors} debtors in {} zones (not measured)…",
        seed::ZONES.len()
    );
    seed::debtors(pool, debtors, true).await?;
    seed::campaign(pool, START).await?;
    let now: DateTime<Utc> = START.parse()?;
    let settings = Arc::new(settings);
    let planner = Planner::new(pool.clone(), settings.clone(), Arc::new(ManualClock::at(now)));
    let started = Instant::now();
    let stats = planner.run_once().await?;
    let secs = started.elapsed().as_secs_f64();
    // A fresh planner (as after a new batch or a restart) checks every debtor again and adds nothing.
    let fresh = Planner::new(pool.clone(), settings, Arc::new(ManualClock::at(now)));
    let again = Instant::now();
    let replanned = fresh.run_once().await?;
    let replan_secs = again.elapsed().as_secs_f64();
    let probe = probe(pool).await?;
    println!(
        "bench plan: {debtors} debtors, {} notifications planned (each with its planned event)",
        stats.planned
    );
    println!(
        "  planning pass: {secs:.2} s = {:.0} notifications/s  (target: ≤ 10 s for 600,000)",
        stats.planned as f64 / secs
    );
    println!(
        "  full re-planning pass (new batch or restart): {replan_secs:.2} s, {} added",
        replanned.planned
    );
    println!("  raw probe: INSERT … SELECT of {debtors} bare rows: {probe:.2} s");
    Ok(())
}

/// A bare table of the same width, filled by one INSERT … SELECT.
async fn probe(pool: &sqlx::PgPool) -> anyhow::Result<f64> {
    sqlx::query("create table probe_plan (id bigint generated always as identity primary key, debtor_id bigint, due_at timestamptz, state text)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    sqlx::query("insert into probe_plan (debtor_id, due_at, state) select debtor_id, now(), 'planned' from debtor")
        .execute(pool)
        .await?;
    Ok(started.elapsed().as_secs_f64())
}
