//! State transitions of notification rows, each appended to `delivery_event` in the same statement, and the
//! attempt rows of hand-overs. Final states are never left except by a guard that names them. (Claiming due
//! rows is [`super::claim`].)

use chrono::{DateTime, Utc};
use sqlx::{PgPool, types::Json};

use super::{
    StorageError,
    accept::{Accept, record_accepts},
};

/// States that may move on; everything else is final.
pub const OPEN: &str = "planned,sending,in_doubt,submitted";
/// Guard for results of a hand-over.
pub const IN_FLIGHT: &str = "sending,in_doubt";
/// Guard for delivery reports (a report may overtake the record of the hand-over).
pub const REPORTABLE: &str = "sending,in_doubt,submitted";

/// An event's detail, serialized once where it is made (typed structs on the hot paths, no `Value` tree).
pub type Detail = Box<serde_json::value::RawValue>;

/// Serializes an event detail (`null` if it cannot be: the details are maps with string keys, so it can).
pub fn detail<T: serde::Serialize + ?Sized>(value: &T) -> Detail {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned())
}

/// A state change of one notification.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    pub id: i64,
    /// Comma-separated states the row must be in for the change to apply.
    pub guard: &'static str,
    pub state: &'static str,
    pub reason: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub detail: Option<Detail>,
    /// An intermediate state passed through in the same change (e.g. `submitted` when the provider's accept
    /// and its delivery report are recorded together): appended as its own event first.
    pub passed: Option<(&'static str, Detail)>,
    /// When the guard refuses the change (a duplicate or late report), still append an event in this state, with
    /// reason `report_not_applied` and the change's own reason in the detail: evidence that changed nothing.
    pub on_refusal: Option<&'static str>,
}

/// An attempt row (one provider hand-over or reconciliation).
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub notification_id: i64,
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub outcome: &'static str,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
}

/// Whether `state` is final (never left except by a guard that names it).
#[must_use]
pub fn is_final(state: &str) -> bool {
    !OPEN.split(',').any(|s| s == state)
}

/// Applies transitions whose guard holds (any lease ends: a hand-over starts only through
/// [`super::claim::mark_sending`]), appending one event each (and one `report_not_applied` event for each
/// refused transition with an `on_refusal` state, in the same statement); returns the ids applied.
///
/// # Errors
/// Database failures.
pub async fn apply<'c, E>(db: E, source: &str, now: DateTime<Utc>, ts: &[Transition]) -> Result<Vec<i64>, StorageError>
where
    E: sqlx::PgExecutor<'c>,
{
    if ts.is_empty() {
        return Ok(Vec::new());
    }
    // In id order: concurrent recorders (passes, reports, reconciliation) then lock rows in the same order
    // (the update walks the array through the primary key), so they do not deadlock.
    let mut sorted: Vec<&Transition> = ts.iter().collect();
    sorted.sort_by_key(|t| t.id);
    let ts = sorted;
    let col = |f: fn(&Transition) -> Option<&str>| ts.iter().map(|t| f(t)).collect::<Vec<_>>();
    let ids: Vec<i64> = ts.iter().map(|t| t.id).collect();
    let guards: Vec<&str> = ts.iter().map(|t| t.guard).collect();
    let states: Vec<&str> = ts.iter().map(|t| t.state).collect();
    let finals: Vec<bool> = ts.iter().map(|t| is_final(t.state)).collect();
    let dues: Vec<Option<DateTime<Utc>>> = ts.iter().map(|t| t.due_at).collect();
    let details: Vec<Option<Json<&serde_json::value::RawValue>>> =
        ts.iter().map(|t| t.detail.as_deref().map(Json)).collect();
    let passed: Vec<Option<&str>> = ts.iter().map(|t| t.passed.as_ref().map(|p| p.0)).collect();
    let passed_details: Vec<Option<Json<&serde_json::value::RawValue>>> =
        ts.iter().map(|t| t.passed.as_ref().map(|p| Json(&*p.1))).collect();
    let refusals: Vec<Option<&str>> = ts.iter().map(|t| t.on_refusal).collect();
    Ok(sqlx::query_scalar(
        "with d as (
            select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                $7::text[], $8::bool[], $9::jsonb[], $12::text[], $13::jsonb[], $14::text[])
            as d(id, guard, state, reason, due_at, provider, pmid, final, detail, passed, passed_detail,
                 on_refusal)),
         upd as (
            update notification n set state = d.state, reason = d.reason,
                due_at = coalesce(d.due_at, n.due_at), lease_until = null,
                provider = coalesce(d.provider, n.provider),
                provider_message_id = coalesce(d.pmid, n.provider_message_id),
                final_at = case when d.final then $10 else null end, updated_at = $10
            from d where n.notification_id = d.id and n.state = any(string_to_array(d.guard, ','))
            returning n.notification_id, n.timezone, n.state, n.reason, n.attempts, d.detail, d.passed,
                      d.passed_detail),
         ev as (
            insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source,
                                        detail)
            select u.notification_id, $10, $10 at time zone u.timezone, u.timezone, v.state, v.reason, u.attempts,
                   $11, v.detail
            from upd u cross join lateral (values (1, u.passed, null::text, u.passed_detail),
                                                  (2, u.state, u.reason, u.detail)) as v(ord, state, reason, detail)
            where v.state is not null
            order by u.notification_id, v.ord),
         refused as (
            insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source,
                                        detail)
            select n.notification_id, $10, $10 at time zone n.timezone, n.timezone, d.on_refusal, 'report_not_applied',
                   n.attempts, $11, coalesce(d.detail, '{}'::jsonb) || jsonb_build_object('reason', d.reason)
            from d join notification n on n.notification_id = d.id
            where d.on_refusal is not null and d.id not in (select notification_id from upd)
            order by d.id)
         select notification_id from upd",
    )
    .bind(&ids)
    .bind(&guards)
    .bind(&states)
    .bind(col(|t| t.reason.as_deref()))
    .bind(&dues)
    .bind(col(|t| t.provider.as_deref()))
    .bind(col(|t| t.provider_message_id.as_deref()))
    .bind(&finals)
    .bind(&details)
    .bind(now)
    .bind(source)
    .bind(&passed)
    .bind(&passed_details)
    .bind(&refusals)
    .fetch_all(db)
    .await?)
}

/// Records attempt rows (idempotent).
///
/// # Errors
/// Database failures.
pub async fn insert_attempts<'c, E>(db: E, now: DateTime<Utc>, rows: &[AttemptRow]) -> Result<(), StorageError>
where
    E: sqlx::PgExecutor<'c>,
{
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.notification_id).collect();
    let nos: Vec<i32> = rows.iter().map(|r| r.attempt_no).collect();
    let started: Vec<DateTime<Utc>> = rows.iter().map(|r| r.started_at).collect();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome).collect();
    let providers: Vec<&str> = rows.iter().map(|r| r.provider.as_str()).collect();
    let pmids: Vec<Option<&str>> = rows.iter().map(|r| r.provider_message_id.as_deref()).collect();
    let codes: Vec<Option<&str>> = rows.iter().map(|r| r.error_code.as_deref()).collect();
    let details: Vec<Option<&str>> = rows.iter().map(|r| r.error_detail.as_deref()).collect();
    sqlx::query(
        "insert into attempt (notification_id, attempt_no, started_at, finished_at, provider, outcome,
                              provider_message_id, error_code, error_detail)
         select t.id, t.no, t.started, $9, t.provider, t.outcome, t.pmid, t.code, t.detail
         from unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[]) as t(id, no, started, outcome, provider, pmid, code, detail)
         on conflict do nothing",
    )
    .bind(&ids)
    .bind(&nos)
    .bind(&started)
    .bind(&outcomes)
    .bind(&providers)
    .bind(&pmids)
    .bind(&codes)
    .bind(&details)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Records what happened after a hand-over (outcomes, reports, reconciliations) with their attempt rows, in one
/// transaction committed without waiting for the WAL flush: if the server crashes before the flush, the rows
/// are back in `sending`/`submitted`, and reconciliation re-derives the outcome from the provider. (Claims are
/// never recorded this way: a lost claim could mean a second hand-over.)
///
/// # Errors
/// Database failures.
pub async fn record_outcomes(
    pool: &PgPool,
    source: &str,
    now: DateTime<Utc>,
    ts: &[Transition],
    attempts: &[AttemptRow],
) -> Result<Vec<i64>, StorageError> {
    let mut applied = record_stages(pool, source, now, &[ts], attempts).await?;
    Ok(applied.pop().unwrap_or_default())
}

/// Like [`record_outcomes`], with the transitions applied in stages in one transaction (a row may change in
/// more than one stage, each with its own guard and event; within a stage, one transition per row). Returns the
/// ids applied by each stage.
///
/// # Errors
/// Database failures.
pub async fn record_stages(
    pool: &PgPool,
    source: &str,
    now: DateTime<Utc>,
    stages: &[&[Transition]],
    attempts: &[AttemptRow],
) -> Result<Vec<Vec<i64>>, StorageError> {
    let outcomes = Outcomes {
        accepts: &[],
        stages,
        attempts,
    };
    record(pool, source, now, &outcomes).await
}

/// A dispatch pass's results: the accepted hand-overs through [`super::accept::record_accepts`], the rest as
/// transitions with their attempt rows, in one transaction as [`record_outcomes`] does.
///
/// # Errors
/// Database failures.
pub async fn record_pass(
    pool: &PgPool,
    source: &str,
    now: DateTime<Utc>,
    accepts: &[Accept],
    ts: &[Transition],
    attempts: &[AttemptRow],
) -> Result<(), StorageError> {
    let outcomes = Outcomes {
        accepts,
        stages: &[ts],
        attempts,
    };
    record(pool, source, now, &outcomes).await?;
    Ok(())
}

/// What one recording transaction writes.
struct Outcomes<'a> {
    accepts: &'a [Accept],
    stages: &'a [&'a [Transition]],
    attempts: &'a [AttemptRow],
}

/// Records `outcomes`, retrying transient failures a few times. Returns the ids each stage applied.
async fn record(
    pool: &PgPool,
    source: &str,
    now: DateTime<Utc>,
    outcomes: &Outcomes<'_>,
) -> Result<Vec<Vec<i64>>, StorageError> {
    let mut tries = 0;
    loop {
        match try_record(pool, source, now, outcomes).await {
            Err(e) if e.is_transient() && tries < 3 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
            }
            other => return other,
        }
    }
}

async fn try_record(
    pool: &PgPool,
    source: &str,
    now: DateTime<Utc>,
    outcomes: &Outcomes<'_>,
) -> Result<Vec<Vec<i64>>, StorageError> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    record_accepts(&mut tx, source, now, outcomes.accepts).await?;
    let mut applied = Vec::with_capacity(outcomes.stages.len());
    for ts in outcomes.stages {
        applied.push(apply(&mut *tx, source, now, ts).await?);
    }
    insert_attempts(&mut *tx, now, outcomes.attempts).await?;
    tx.commit().await?;
    Ok(applied)
}
