//! The outbox of outbound events: `delivery_event` itself (append-only, ordered by `event_id`) read past the
//! relay's cursor with the facts a subscriber needs, the cursor, the relay's leader lock, and the check that
//! tells a gap in `event_id` that will fill (a transaction still running) from one that never will (rolled back).

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use super::StorageError;

const CURSOR: &str = "notification-event.v1";
/// Session advisory lock key of the relay leader ("DNev" in ASCII).
const LEADER_KEY: i64 = 0x444e_6576;

/// One event with what a subscriber needs (no phone numbers or names).
#[derive(Debug, Clone, FromRow)]
pub struct OutEvent {
    pub event_id: i64,
    pub notification_id: i64,
    pub at: DateTime<Utc>,
    pub local_at: NaiveDateTime,
    pub timezone: String,
    pub state: String,
    pub reason: Option<String>,
    pub attempt_no: Option<i32>,
    pub source: String,
    pub campaign_id: i64,
    pub step_no: i32,
    pub utility_id: String,
    pub account: String,
    pub channel: String,
    pub template_name: String,
    pub template_version: i32,
    pub template_kind: String,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
}

/// The last event id the broker confirmed.
///
/// # Errors
/// Database failures.
pub async fn cursor(pool: &PgPool) -> Result<i64, StorageError> {
    Ok(
        sqlx::query_scalar("select last_event_id from event_cursor where name = $1")
            .bind(CURSOR)
            .fetch_one(pool)
            .await?,
    )
}

/// Moves the cursor forward (never back).
///
/// # Errors
/// Database failures.
pub async fn advance(pool: &PgPool, to: i64) -> Result<(), StorageError> {
    sqlx::query(
        "update event_cursor set last_event_id = greatest(last_event_id, $2), updated_at = now() where name = $1",
    )
    .bind(CURSOR)
    .bind(to)
    .execute(pool)
    .await?;
    Ok(())
}

/// Up to `limit` events after `after`, in id order.
///
/// Event ids are found through a BRIN index (see migration `..._event_keys.sql`), which narrows a bounded range of
/// ids to a few pages but not an open-ended one: so the events are read from a window of ids just past `after`.
/// When that window holds none, the next event past it (if any) starts the window instead; the ids skipped are a
/// gap the relay checks as every gap.
///
/// # Errors
/// Database failures.
pub async fn events_after(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<OutEvent>, StorageError> {
    let window = limit.saturating_mul(4);
    let events = events_in(pool, after, after.saturating_add(window), limit).await?;
    if !events.is_empty() {
        return Ok(events);
    }
    let next: Option<i64> = sqlx::query_scalar("select min(event_id) from delivery_event where event_id > $1")
        .bind(after.saturating_add(window))
        .fetch_one(pool)
        .await?;
    match next {
        Some(next) => events_in(pool, next - 1, (next - 1).saturating_add(window), limit).await,
        None => Ok(events),
    }
}

/// Up to `limit` events with ids in `(after, upto]`, in id order.
async fn events_in(pool: &PgPool, after: i64, upto: i64, limit: i64) -> Result<Vec<OutEvent>, StorageError> {
    Ok(sqlx::query_as(
        "select e.event_id, e.notification_id, e.at, e.local_at, e.timezone, e.state, e.reason, e.attempt_no,
                e.source, n.campaign_id, n.step_no, n.utility_id, d.account, n.channel, n.template_name,
                n.template_version, n.template_kind, n.provider,
                coalesce(e.detail->>'provider_message_id', n.provider_message_id) as provider_message_id
         from delivery_event e
         join notification n on n.notification_id = e.notification_id
         join debtor d on d.debtor_id = n.debtor_id
         where e.event_id > $1 and e.event_id <= $3
         order by e.event_id
         limit $2",
    )
    .bind(after)
    .bind(limit)
    .bind(upto)
    .fetch_all(pool)
    .await?)
}

/// Summarises the BRIN ranges of event ids filled since the last summary (a range not yet summarised is read by
/// every look-up). Gives up after 100 ms waiting for the index (a vacuum of the table holds it, and summarises).
/// Returns how many ranges it summarised.
///
/// # Errors
/// Database failures, the lock timeout included.
pub async fn summarise_new_ranges(pool: &PgPool) -> Result<i32, StorageError> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local lock_timeout = '100ms'")
        .execute(&mut *tx)
        .await?;
    let n: i32 = sqlx::query_scalar("select brin_summarize_new_values('delivery_event_id_brin')")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// The database's clock.
///
/// # Errors
/// Database failures.
pub async fn db_now(pool: &PgPool) -> Result<DateTime<Utc>, StorageError> {
    Ok(sqlx::query_scalar("select clock_timestamp()").fetch_one(pool).await?)
}

/// Whether a gap first seen at `seen_at` can no longer fill: the id was taken before then, so by a transaction
/// that started before then; when no such transaction is still open, it rolled back (a committed one would be
/// visible).
///
/// # Errors
/// Database failures.
pub async fn gap_is_permanent(pool: &PgPool, seen_at: DateTime<Utc>) -> Result<bool, StorageError> {
    let older: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and xact_start is not null and xact_start < $1
           and pid <> pg_backend_pid()
           and backend_type = 'client backend'",
    )
    .bind(seen_at)
    .fetch_one(pool)
    .await?;
    Ok(older == 0)
}

/// Tries to become the one relay publishing (a session lock, held as long as `conn` lives).
///
/// # Errors
/// Database failures.
pub async fn try_lead(conn: &mut PgConnection) -> Result<bool, StorageError> {
    Ok(sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(LEADER_KEY)
        .fetch_one(conn)
        .await?)
}
