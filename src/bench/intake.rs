//! `bench intake --debtors N`: consumer-to-commit throughput of the intake worker, beside raw probes of the
//! same machine (RabbitMQ consume+ack, PostgreSQL UNNEST insert), in a scratch database and scratch queues.
//!
//! The batch is published first; then `debtor-notify serve` (intake role only) is started as a child process
//! and timed until every part is committed, while its RSS is sampled.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::{
    options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeleteOptions},
    types::FieldTable,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::synthetic::json_record;
use crate::{
    config::{Secret, Settings},
    queue::{
        self,
        message::DEBTOR_BATCH_V1,
        publisher::{Outgoing, Publisher},
        topology,
    },
    storage,
};

pub(super) const UTILITY: &str = "bench-utility";

/// Runs the benchmark and prints the figures.
///
/// # Errors
/// Infrastructure failures (database, broker, child process).
pub async fn run(debtors: usize, base: Settings) -> anyhow::Result<()> {
    let tag = Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (settings, admin, pool) = scratch(&base, &tag).await?;
    let result = measure(debtors, &settings, &pool).await;
    pool.close().await;
    cleanup(&settings, &admin, &tag).await;
    result
}

pub(super) async fn scratch(base: &Settings, tag: &str) -> anyhow::Result<(Settings, PgPool, PgPool)> {
    let admin = storage::connect(&base.database)?;
    let db = format!("debtor_notify_bench_{tag}");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {db}")))
        .execute(&admin)
        .await
        .context("create scratch database")?;
    let mut s = base.clone();
    s.database.url = Secret::new(storage::url_with_database(base.database.url.expose(), &db));
    s.amqp.use_prefix(&format!("bench.{tag}"));
    let pool = storage::connect(&s.database)?;
    storage::migrate(&pool).await?;
    storage::utility::insert_utility(&pool, UTILITY, "Bench", "Asia/Yekaterinburg").await?;
    Ok((s, admin, pool))
}

async fn measure(debtors: usize, settings: &Settings, pool: &PgPool) -> anyhow::Result<()> {
    let chunk = settings.intake.chunk_size;
    let batch_id = Uuid::new_v4();
    let (parts, body_bytes) = publish_batch(settings, batch_id, debtors, chunk).await?;
    println!(
        "bench intake: {debtors} debtors in {parts} messages of {chunk} ({:.0} KB each), concurrency {}, prefetch {}",
        body_bytes as f64 / parts as f64 / 1e3,
        settings.intake.concurrency,
        settings.amqp.prefetch
    );
    let (wall, peak_rss) = run_worker(settings, pool, batch_id, parts).await?;
    let (first, last): (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("select first_received_at, updated_at from batch where batch_id = $1")
            .bind(batch_id)
            .fetch_one(pool)
            .await?;
    let committed: i32 = sqlx::query_scalar("select accepted from batch where batch_id = $1")
        .bind(batch_id)
        .fetch_one(pool)
        .await?;
    let db_secs = (last - first).as_seconds_f64().max(1e-3);
    let rate = debtors as f64 / wall;
    println!(
        "  worker: {committed} debtors committed in {wall:.2} s wall (incl. start-up) = {rate:.0} debtors/s; \
              first→last commit {db_secs:.2} s = {:.0} debtors/s",
        debtors as f64 / db_secs
    );
    println!("  worker peak RSS: {:.1} MB (target <= 200)", peak_rss as f64 / 1024.0);
    let amqp_rate = probe_amqp(settings, parts.min(300), chunk).await?;
    let insert_rate = probe_insert(pool, debtors.min(300_000), settings.intake.concurrency).await?;
    println!(
        "  probe RabbitMQ consume+ack: {:.0} msgs/s = {:.0} debtors/s at {chunk}/message",
        amqp_rate,
        amqp_rate * chunk as f64
    );
    println!("  probe PostgreSQL UNNEST insert: {insert_rate:.0} rows/s");
    let steady = debtors as f64 / db_secs;
    println!(
        "  ratio worker/insert probe: {:.1} % (target >= 25 %); worker/broker probe: {:.1} %",
        100.0 * steady / insert_rate,
        100.0 * steady / (amqp_rate * chunk as f64)
    );
    println!(
        "  target >= 50000 debtors/s: {}",
        if steady >= 50_000.0 { "met" } else { "NOT met" }
    );
    Ok(())
}

async fn publish_batch(
    settings: &Settings,
    batch_id: Uuid,
    debtors: usize,
    chunk: usize,
) -> anyhow::Result<(usize, usize)> {
    let conn = queue::connect(settings.amqp.url.expose()).await?;
    let channel = conn.create_channel().await?;
    topology::declare(&channel, &settings.amqp).await?;
    let mut publisher = Publisher::connect(settings.amqp.url.expose(), &settings.amqp.intake_exchange).await?;
    let parts = debtors.div_ceil(chunk);
    let mut bytes = 0;
    for p in 0..parts {
        let range = p * chunk..((p + 1) * chunk).min(debtors);
        let doc = serde_json::json!({
            "schema": DEBTOR_BATCH_V1, "batch_id": batch_id, "utility": UTILITY, "as_of": "2026-11-01",
            "part": {"index": p, "count": parts, "offset": range.start},
            "debtors": range.map(json_record).collect::<Vec<_>>(),
        });
        let body = serde_json::to_vec(&doc)?;
        bytes += body.len();
        let message_id = format!("{batch_id}/{p}");
        publisher
            .send(Outgoing {
                routing_key: format!("batch.{UTILITY}"),
                message_id,
                schema: DEBTOR_BATCH_V1,
                body,
            })
            .await?;
    }
    publisher.flush().await?;
    let _ = conn.close(200, "done".into()).await;
    Ok((parts, bytes))
}

/// Starts `serve` (intake only) and waits for every part; returns wall seconds and peak RSS in KiB.
async fn run_worker(settings: &Settings, pool: &PgPool, batch_id: Uuid, parts: usize) -> anyhow::Result<(f64, u64)> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .envs(settings.child_env())
        .env("DEBTOR_NOTIFY__SERVE__ROLES", "intake")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start the worker")?;
    let pid = child.id().context("worker pid")?;
    let started = Instant::now();
    let (busy0, total0) = machine_cpu();
    let mut peak = 0;
    loop {
        peak = peak.max(rss_kib(pid));
        let done: Option<i32> = sqlx::query_scalar("select parts_received from batch where batch_id = $1")
            .bind(batch_id)
            .fetch_optional(pool)
            .await?;
        if done.is_some_and(|d| d as usize >= parts) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "worker did not finish within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    peak = peak.max(hwm_kib(pid));
    let (busy, total) = machine_cpu();
    let (busy, total) = (busy - busy0, total - total0);
    println!(
        "  CPU during the run: worker {:.2} s, whole machine {:.0} % busy of {} cores",
        process_cpu_secs(pid),
        100.0 * busy as f64 / total.max(1) as f64,
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    Ok((wall, peak))
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process, seconds (USER_HZ = 100 on Linux).
pub(super) fn process_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of /proc/PID/stat (1-based); after the name, field 3 (state) is at index 0.
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (field(11) + field(12)) as f64 / 100.0
}

/// (busy, total) jiffies of all CPUs from /proc/stat.
fn machine_cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

pub(super) fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

pub(super) fn hwm_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

/// Consume+ack rate of messages of the worker's size on a quorum queue, same prefetch.
async fn probe_amqp(settings: &Settings, messages: usize, chunk: usize) -> anyhow::Result<f64> {
    let queue_name = format!("{}.probe", settings.amqp.batch_queue);
    let conn = queue::connect(settings.amqp.url.expose()).await?;
    let channel = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), topology::text("quorum"));
    channel
        .queue_declare(
            queue_name.as_str().into(),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    let body = serde_json::to_vec(&(0..chunk).map(json_record).collect::<Vec<_>>())?;
    let mut publisher = Publisher::connect(settings.amqp.url.expose(), "").await?;
    for i in 0..messages {
        publisher
            .send(Outgoing {
                routing_key: queue_name.clone(),
                message_id: i.to_string(),
                schema: DEBTOR_BATCH_V1,
                body: body.clone(),
            })
            .await?;
    }
    publisher.flush().await?;
    channel
        .basic_qos(settings.amqp.prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue_name.as_str().into(),
            "probe".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let started = Instant::now();
    for _ in 0..messages {
        let delivery = consumer.next().await.context("probe consumer ended")??;
        delivery.ack(BasicAckOptions::default()).await?;
    }
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    channel
        .queue_delete(queue_name.as_str().into(), QueueDeleteOptions::default())
        .await?;
    let _ = conn.close(200, "done".into()).await;
    Ok(rate)
}

/// Rows/s of UNNEST inserts of snapshot-shaped rows, 1,000 per statement, `concurrency` at once.
async fn probe_insert(pool: &PgPool, rows: usize, concurrency: usize) -> anyhow::Result<f64> {
    sqlx::query("create table insert_probe (id bigint primary key, batch_id uuid not null, total numeric(14,2) not null,
                 penalty numeric(14,2) not null, months int not null, services jsonb not null, paid date, agreement bool not null)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let chunks: Vec<usize> = (0..rows.div_ceil(1000)).collect();
    let mut tasks = futures_util::stream::iter(chunks.into_iter().map(|c| {
        let pool = pool.clone();
        async move {
            let ids: Vec<i64> = (c * 1000..(c + 1) * 1000).map(|i| i as i64).collect();
            let totals: Vec<rust_decimal::Decimal> = ids
                .iter()
                .map(|i| rust_decimal::Decimal::new(*i * 7 % 1_000_000, 2))
                .collect();
            let services: Vec<String> = ids
                .iter()
                .map(|_| r#"[{"service":"ХВС","debt":"2827.82"}]"#.to_owned())
                .collect();
            let months: Vec<i32> = ids.iter().map(|i| (*i % 24) as i32).collect();
            sqlx::query(
                "insert into insert_probe select i, $1, t, t, m, s::jsonb, current_date, false
                         from unnest($2::int8[], $3::numeric[], $4::int4[], $5::text[]) as u(i, t, m, s)",
            )
            .bind(Uuid::new_v4())
            .bind(&ids)
            .bind(&totals)
            .bind(&months)
            .bind(&services)
            .execute(&pool)
            .await
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(r) = tasks.next().await {
        r?;
    }
    let rate = (rows.div_ceil(1000) * 1000) as f64 / started.elapsed().as_secs_f64();
    Ok(rate)
}

pub(super) async fn cleanup(settings: &Settings, admin: &PgPool, tag: &str) {
    if let Ok(conn) = queue::connect(settings.amqp.url.expose()).await
        && let Ok(channel) = conn.create_channel().await
    {
        topology::delete(&channel, &settings.amqp).await;
        let _ = conn.close(200, "done".into()).await;
    }
    let drop = format!("drop database if exists debtor_notify_bench_{tag} with (force)");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(admin).await;
}
