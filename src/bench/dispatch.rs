//! `bench dispatch`: the dispatcher on the in-process simulator with full event logging (sending, submitted,
//! delivered events and attempt rows), over `notifications` due notices among `pending` planned ones; printed
//! beside a raw SKIP LOCKED claim probe with the same batch size and concurrency, and the process's peak RSS.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{floor, intake, seed};
use crate::{
    clock::ManualClock,
    config::{Settings, SimJournal},
    dispatch::Dispatcher,
};

const NOW: &str = "2026-12-01T05:00:00Z"; // Tuesday 10:00 in Yekaterinburg
// Rounds (occurrence dates): the dispatcher's first 2026-12-01, its next ones 2026-12-11.., the claim probe's
// 2026-12-20.., the floor's 2026-12-02.

/// Runs the benchmark.
///
/// # Errors
/// Infrastructure failures.
pub async fn run(notifications: usize, pending: usize, rounds: usize, base: Settings) -> anyhow::Result<()> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (settings, admin, pool) = intake::scratch(&base, &tag).await?;
    let pending = pending.max(notifications);
    // Each round dispatches to its own debtors (the caps count per debtor), so the table must hold them all.
    let rounds = rounds.clamp(1, pending / notifications.max(1));
    let result = measure(notifications, pending, rounds, settings, &pool).await;
    pool.close().await;
    // BENCH_KEEP_DB keeps the scratch database for a look afterwards, as `bench plan` does.
    if std::env::var_os("BENCH_KEEP_DB").is_none() {
        intake::cleanup(&base, &admin, &tag).await;
    }
    result
}

/// One dispatch round and the claim probe run right after it.
struct Round {
    rate: f64,
    secs: f64,
    /// Seconds the bench took after the end to confirm it (not in `secs`).
    confirm: f64,
    claim: f64,
    /// WAL bytes per notice dispatched, and per row the probe claimed.
    wal: (f64, f64),
    /// This process's CPU (the engine and the simulator) per notice dispatched, microseconds.
    cpu_us: f64,
}

async fn measure(
    due: usize,
    pending: usize,
    rounds: usize,
    mut settings: Settings,
    pool: &sqlx::PgPool,
) -> anyhow::Result<()> {
    println!("seeding {pending} debtors and planned notifications, {due} of them due (not measured)…");
    seed::debtors(pool, pending, false).await?;
    let campaign = seed::campaign(pool, NOW).await?;
    seed_notifications(pool, campaign, due).await?;
    let sim = &mut settings.simulator;
    sim.make_instant();
    sim.journal = SimJournal::Memory;
    sim.concurrency = 4096;
    let (workers, batch) = (settings.dispatch.workers, settings.dispatch.batch_size);
    let now: DateTime<Utc> = NOW.parse()?;
    let settings = Arc::new(settings);
    let rss_before = intake::rss_kib(std::process::id());
    let mut runs = Vec::with_capacity(rounds);
    for k in 0..rounds {
        if k > 0 {
            // The next round: as many notices again, due now, for the next `due` debtors (not measured).
            let occurrence = format!("2026-12-{:02}", 10 + k);
            floor::seed_due(pool, campaign, &occurrence, now, (k * due + 1, due)).await?;
        }
        settle(pool).await?;
        let (wal, cpu) = (
            floor::wal_position(pool).await?,
            intake::process_cpu_secs(std::process::id()),
        );
        let (secs, confirm) = dispatch_round(pool, &settings, now, i64::try_from((k + 1) * due)?).await?;
        let cpu = intake::process_cpu_secs(std::process::id()) - cpu;
        let wal = floor::wal_position(pool).await? - wal;
        settle(pool).await?;
        let probe_round = format!("2026-12-{:02}", 20 + k);
        let (claim, probe_wal) = floor::claim_probe(pool, (campaign, &probe_round), now, due, workers, batch).await?;
        // The probe leaves its rows `sending`; the next round waits for nothing to be `sending` (not measured).
        sqlx::query("delete from notification where campaign_id = $1 and occurrence = $2::date")
            .bind(campaign)
            .bind(&probe_round)
            .execute(pool)
            .await?;
        runs.push(Round {
            rate: due as f64 / secs,
            secs,
            confirm,
            claim,
            wal: (wal as f64 / due as f64, probe_wal as f64 / due as f64),
            cpu_us: cpu * 1e6 / due as f64,
        });
    }
    let hwm = intake::hwm_kib(std::process::id());
    let events: i64 = sqlx::query_scalar("select count(*) from delivery_event")
        .fetch_one(pool)
        .await?;
    settle(pool).await?;
    let floor = floor::measure(pool, campaign, now, due, workers, batch).await?;
    let probe = probe(pool, due, workers, batch).await?;
    println!(
        "bench dispatch: {due} notifications × {rounds} round(s) on the simulator, {pending} pending in the table, \
         {workers} claim loops × {batch}"
    );
    report(&runs, events, (floor, probe), (rss_before, hwm));
    Ok(())
}

/// Runs the dispatcher until `target` notices in all are delivered. Returns the seconds it took, and the seconds
/// the bench then took to confirm it.
async fn dispatch_round(
    pool: &sqlx::PgPool,
    settings: &Arc<Settings>,
    now: DateTime<Utc>,
    target: i64,
) -> anyhow::Result<(f64, f64)> {
    let dispatcher = Dispatcher::new(pool.clone(), Arc::clone(settings), Arc::new(ManualClock::at(now))).await?;
    let token = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(dispatcher.run(token.clone()));
    let took = wait_until_delivered(pool, now, target, started).await?;
    token.cancel();
    task.await?;
    Ok(took)
}

/// Prints every round, the medians, the floor and the bare probe beside them, and the memory.
fn report(runs: &[Round], events: i64, (floor, probe): (f64, f64), (rss_before, hwm): (u64, u64)) {
    for (k, r) in runs.iter().enumerate() {
        println!(
            "  round {}: dispatched to delivered: {:.2} s = {:.0} notifications/s; claim probe right after: {:.0} \
             rows/s; dispatch = {:.1} % of it",
            k + 1,
            r.secs,
            r.rate,
            r.claim,
            100.0 * r.rate / r.claim
        );
        println!(
            "    WAL {:.0} bytes per notice (the probe: {:.0} per row); this process's CPU {:.1} µs per notice; the \
             end confirmed {:.2} s after it (not timed)",
            r.wal.0, r.wal.1, r.cpu_us, r.confirm
        );
    }
    let rate = median(runs.iter().map(|r| r.rate));
    let claim = median(runs.iter().map(|r| r.claim));
    let ratio = median(runs.iter().map(|r| r.rate / r.claim));
    println!("  dispatched to delivered (median of the rounds): {rate:.0} notifications/s  (target ≥ 10,000/s)");
    println!("  events appended: {events}; attempt rows: one per hand-over");
    println!(
        "  raw SKIP LOCKED claim probe (the engine's claim order on the same notification table, due rows marked \
         `sending` with a lease, nothing else; same loops and batch; one run after each round, median): {claim:.0} \
         rows/s; dispatch = {:.1} % of it (median of the rounds' ratios; target ≥ 25 %)",
        100.0 * ratio
    );
    println!(
        "  bare-table probe (a three-column table with one partial index, claim + mark done): {probe:.0} rows/s; \
         dispatch = {:.1} % of it",
        100.0 * rate / probe
    );
    println!(
        "  write floor (the same writes per notice as raw SQL on the same tables, no engine): {floor:.0} notices/s; \
         dispatch = {:.0} % of it; the floor = {:.1} % of the claim probe",
        100.0 * rate / floor,
        100.0 * floor / claim
    );
    println!(
        "  process RSS: {:.0} MB before the dispatcher started, peak {:.0} MB  (target ≤ 200 MB with 1,000,000 pending)",
        rss_before as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

/// The median (the mean of the middle two for an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Puts every measured phase on the same footing (not measured): the dead rows of the phase before are
/// vacuumed away (autovacuum may be off, and its timing would be noise anyway), and a checkpoint is taken so no
/// phase pays for one that the phase before triggered. Without the right to checkpoint (superuser or
/// `pg_checkpoint`), that part is skipped with a note.
async fn settle(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::query("vacuum (analyze) notification, delivery_event, attempt")
        .execute(pool)
        .await?;
    if let Err(e) = sqlx::query("checkpoint").execute(pool).await {
        println!("  (no checkpoint between phases: {e})");
    }
    Ok(())
}

/// Waits until `target` notices are delivered and returns when they were, as time since `started`. The bench's
/// own polling must not steal the database's CPU from the dispatcher, nor its confirmation count as dispatch: it
/// reads the event sequence (every notice appends three events) every 200 ms, and every 10 ms in the last 5 %,
/// and takes the time when the last events exist; then it confirms through the partial indexes (nothing due left
/// `planned`, nothing `sending`) and one full count, untimed (these walk the round's dead index entries: a few
/// hundred milliseconds). A confirmation that fails polls on and takes the time again. The events exist inside
/// the record's statement, which commits right after, so the time is early by at most one commit. Returns the
/// seconds to the end and the seconds the confirmation took.
async fn wait_until_delivered(
    pool: &sqlx::PgPool,
    now: DateTime<Utc>,
    target: i64,
    started: Instant,
) -> anyhow::Result<(f64, f64)> {
    let (coarse, fine) = (
        std::time::Duration::from_millis(200),
        std::time::Duration::from_millis(10),
    );
    let last_event = 3 * target;
    loop {
        let events: Option<i64> =
            sqlx::query_scalar("select pg_sequence_last_value(pg_get_serial_sequence('delivery_event', 'event_id'))")
                .fetch_one(pool)
                .await?;
        let events = events.unwrap_or(0);
        if events < last_event {
            tokio::time::sleep(if events < last_event * 95 / 100 { coarse } else { fine }).await;
            continue;
        }
        let secs = started.elapsed().as_secs_f64();
        let busy: bool = sqlx::query_scalar(
            "select exists (select 1 from notification where state = 'planned' and due_at <= $1)
                 or exists (select 1 from notification where state = 'sending')",
        )
        .bind(now)
        .fetch_one(pool)
        .await?;
        if !busy {
            let delivered: i64 = sqlx::query_scalar("select count(*) from notification where state = 'delivered'")
                .fetch_one(pool)
                .await?;
            if delivered >= target {
                return Ok((secs, started.elapsed().as_secs_f64() - secs));
            }
        }
        tokio::time::sleep(fine).await;
    }
}

pub(super) async fn seed_notifications(pool: &sqlx::PgPool, campaign: i64, due: usize) -> anyhow::Result<()> {
    sqlx::query(
        "insert into notification (campaign_id, occurrence, step_no, debtor_id, utility_id, channel, e164, phone_kind,
             timezone, template_name, template_version, template_kind, priority, state, due_at)
         select $1, '2026-12-01', 1, d.debtor_id, d.utility_id, 'sms', p.e164, 'mobile', d.timezone,
                'soft-reminder-sms', 1, 'soft_reminder', 0, 'planned',
                case when d.debtor_id <= $2 then $3::timestamptz else $3::timestamptz + interval '1 day' end
         from debtor d join phone p using (debtor_id)",
    )
    .bind(campaign)
    .bind(i64::try_from(due).unwrap_or(i64::MAX))
    .bind(NOW.parse::<DateTime<Utc>>()?)
    .execute(pool)
    .await?;
    sqlx::query("analyze notification").execute(pool).await?;
    Ok(())
}

/// Claims and completes `rows` bare jobs with SKIP LOCKED, `loops` at a time, `batch` per claim.
async fn probe(pool: &sqlx::PgPool, rows: usize, loops: usize, batch: i64) -> anyhow::Result<f64> {
    sqlx::query(
        "create table probe_job (id bigint generated always as identity primary key, state text not null,
                                 due_at timestamptz not null)",
    )
    .execute(pool)
    .await?;
    sqlx::query("insert into probe_job (state, due_at) select 'planned', now() from generate_series(1, $1)")
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .execute(pool)
        .await?;
    sqlx::query("create index on probe_job (due_at) where state = 'planned'")
        .execute(pool)
        .await?;
    sqlx::query("analyze probe_job").execute(pool).await?;
    let pool = pool.clone();
    floor::drain(rows, loops, move || {
        let pool = pool.clone();
        async move {
            let done = sqlx::query(
                "update probe_job set state = 'done' where id in (select id from probe_job
                 where state = 'planned' and due_at <= now() order by due_at limit $1 for update skip locked)",
            )
            .bind(batch)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected())
        }
    })
    .await
}
