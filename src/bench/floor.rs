//! The write floor of dispatch: the database writes the engine makes for each notice (claim to `sending` with
//! its event; the accept and the delivery report as two events, the attempt row and the final state), issued as
//! raw SQL on the same tables, indexes and batch, with no engine around them. The ratio of dispatch to this floor
//! is the engine's own overhead; the ratio of this floor to the bare claim probe is the price of the evidence.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sha2::Digest as _;

const TEXT: &str = "ОКК Тест: задолженность 12 345,67 руб. по л/с 0000000001. Оплатите до 15.12: okk.example/pay";

/// Seeds `rows` due notices of a second round of `campaign` and pushes them through the raw writes with `loops`
/// concurrent loops of `batch`. Returns notices per second.
///
/// # Errors
/// Database failures.
pub async fn measure(
    pool: &sqlx::PgPool,
    campaign: i64,
    now: DateTime<Utc>,
    rows: usize,
    loops: usize,
    batch: i64,
) -> anyhow::Result<f64> {
    seed_due(pool, campaign, "2026-12-02", now, (1, rows)).await?;
    let pool = pool.clone();
    // The fixed text's hash, once for the whole run (the engine hashes each rendered text once too).
    let sha: std::sync::Arc<[u8]> = sha2::Sha256::digest(TEXT.as_bytes()).to_vec().into();
    drain(rows, loops, move || {
        let (pool, sha) = (pool.clone(), std::sync::Arc::clone(&sha));
        async move { one_batch(&pool, now, batch, &sha).await }
    })
    .await
}

/// The bare claim on the engine's own table: `rows` due notices of round `occurrence` (a date no other phase
/// uses), claimed `batch` at a time by `loops` loops with the engine's SKIP LOCKED order and marked `sending`
/// with a lease — and nothing else (no debt facts, no gate, no render, no event, no send). Returns rows per
/// second and the WAL bytes the claims wrote.
///
/// # Errors
/// Database failures.
pub async fn claim_probe(
    pool: &sqlx::PgPool,
    (campaign, occurrence): (i64, &str),
    now: DateTime<Utc>,
    rows: usize,
    loops: usize,
    batch: i64,
) -> anyhow::Result<(f64, i64)> {
    seed_due(pool, campaign, occurrence, now, (1, rows)).await?;
    let wal = wal_position(pool).await?;
    let shared = pool.clone();
    let rate = drain(rows, loops, move || {
        let pool = shared.clone();
        async move {
            let done = sqlx::query(
                "update notification n set state = 'sending', lease_until = $1 + interval '60 seconds',
                     updated_at = $1
                 where n.notification_id in (select notification_id from notification
                     where state = 'planned' and due_at <= $1
                     order by priority desc, due_at limit $2 for update skip locked)",
            )
            .bind(now)
            .bind(batch)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected())
        }
    })
    .await?;
    Ok((rate, wal_position(pool).await? - wal))
}

/// Where the server's WAL is now, in bytes: the difference of two is the WAL written between them (by the
/// whole cluster; nothing else runs during a bench phase).
///
/// # Errors
/// Database failures.
pub(super) async fn wal_position(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        .fetch_one(pool)
        .await
}

/// Runs `loops` copies of `step` at once, each until a step does nothing, and returns `rows` per second up to
/// the end of the last step that did something (each loop's final empty step is not timed, as a dispatch round
/// ends with its last notice's events, not with its loops' last empty claims).
///
/// # Errors
/// The first database failure of a step.
pub(super) async fn drain<F, Fut>(rows: usize, loops: usize, step: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let step = step.clone();
            tokio::spawn(async move {
                let mut last = started;
                while step().await? > 0 {
                    last = Instant::now();
                }
                Ok::<_, sqlx::Error>(last)
            })
        })
        .collect();
    let mut end = started;
    for t in tasks {
        end = end.max(t.await??);
    }
    Ok(rows as f64 / (end - started).as_secs_f64().max(1e-6))
}

/// Inserts planned notices of round `occurrence`, due at `now`, for the debtors `first..first + rows` (ids
/// count from 1).
pub(super) async fn seed_due(
    pool: &sqlx::PgPool,
    campaign: i64,
    occurrence: &str,
    now: DateTime<Utc>,
    (first, rows): (usize, usize),
) -> anyhow::Result<()> {
    sqlx::query(
        "insert into notification (campaign_id, occurrence, step_no, debtor_id, utility_id, channel, e164, phone_kind,
             timezone, template_name, template_version, template_kind, priority, state, due_at)
         select $1, $4::date, 1, d.debtor_id, d.utility_id, 'sms', p.e164, 'mobile', d.timezone,
                'soft-reminder-sms', 1, 'soft_reminder', 0, 'planned', $3
         from debtor d join phone p using (debtor_id) where d.debtor_id >= $2 and d.debtor_id < $2 + $5",
    )
    .bind(campaign)
    .bind(i64::try_from(first).unwrap_or(i64::MAX))
    .bind(now)
    .bind(occurrence)
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    sqlx::query("analyze notification").execute(pool).await?;
    Ok(())
}

async fn one_batch(pool: &sqlx::PgPool, now: DateTime<Utc>, batch: i64, sha: &[u8]) -> Result<u64, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "with c as (select notification_id from notification where state = 'planned' and due_at <= $1
                    order by priority desc, due_at limit $2 for update skip locked),
              u as (update notification n set state = 'sending', lease_until = $1 + interval '60 seconds',
                        sent_at = $1, provider = 'simulator', segments = 2, attempts = n.attempts + 1,
                        updated_at = $1
                    from c where n.notification_id = c.notification_id returning n.notification_id, n.timezone),
              e as (insert into delivery_event (notification_id, at, local_at, timezone, state, attempt_no, source, detail,
                                                rendered_text, text_sha256)
                    select notification_id, $1, $1 at time zone timezone, timezone, 'sending', 1, 'dispatcher',
                           jsonb_build_object('provider', 'simulator', 'segments', 2), $3, $4
                    from u)
         select notification_id from u order by notification_id",
    )
    .bind(now)
    .bind(batch)
    .bind(TEXT)
    .bind(sha)
    .fetch_all(pool)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "with u as (update notification n set state = 'delivered', lease_until = null,
                        provider_message_id = 'floor-' || n.notification_id, final_at = $2, updated_at = $2
                    where n.notification_id = any($1) returning n.notification_id, n.timezone),
              e as (insert into delivery_event (notification_id, at, local_at, timezone, state, attempt_no, source, detail)
                    select u.notification_id, $2, $2 at time zone u.timezone, u.timezone, v.state, 1, 'dispatcher',
                           jsonb_build_object('provider_message_id', 'floor-' || u.notification_id)
                    from u cross join (values ('submitted'), ('delivered')) as v(state)
                    order by u.notification_id)
         insert into attempt (notification_id, attempt_no, started_at, finished_at, provider, outcome,
                              provider_message_id)
         select notification_id, 1, $2, $2, 'simulator', 'submitted', 'floor-' || notification_id from u",
    )
    .bind(&ids)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}
