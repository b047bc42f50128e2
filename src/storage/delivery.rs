//! After the hand-over: expired leases into `in_doubt`, rows to reconcile with the provider, delivery-report
//! lookups, and cancelling pending notices (payment, campaign cancelled or ended).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use super::StorageError;

/// A notification to look up with its provider.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    pub notification_id: i64,
    pub channel: String,
    pub state: String,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's id, when the accept was recorded (providers whose status query needs it).
    pub provider_message_id: Option<String>,
}

/// Moves rows still `sending` after their lease into `in_doubt` (with an event). Returns how many.
///
/// # Errors
/// Database failures.
pub async fn expire_leases(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, StorageError> {
    let done = sqlx::query(
        "with x as (
            update notification set state = 'in_doubt', reason = 'lease_expired', lease_until = null, updated_at = $1
            where notification_id in (select notification_id from notification
                                      where state = 'sending' and lease_until < $1
                                      for update skip locked)
            returning notification_id, timezone, attempts)
         insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source)
         select notification_id, $1, $1 at time zone timezone, timezone, 'in_doubt', 'lease_expired', attempts,
                'reconciler'
         from x",
    )
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// In-doubt rows, and submitted rows with no report since `stale_before`, oldest first.
///
/// # Errors
/// Database failures.
pub async fn to_reconcile(
    pool: &PgPool,
    stale_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Pending>, StorageError> {
    Ok(sqlx::query_as(
        "(select notification_id, channel, state, attempts, sent_at, provider_message_id from notification
          where state = 'in_doubt' order by updated_at limit $2)
         union all
         (select notification_id, channel, state, attempts, sent_at, provider_message_id from notification
          where state = 'submitted' and updated_at < $1 order by updated_at limit $2)",
    )
    .bind(stale_before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Marks rows as looked at (no state change, no event), so the next pass takes others first.
///
/// # Errors
/// Database failures.
pub async fn touch(pool: &PgPool, ids: &[i64], now: DateTime<Utc>) -> Result<(), StorageError> {
    sqlx::query("update notification set updated_at = $2 where notification_id = any($1) and state = 'submitted'")
        .bind(ids)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Notification ids by provider message id (for reports that do not echo our reference).
///
/// # Errors
/// Database failures.
pub async fn ids_by_provider_message(pool: &PgPool, pmids: &[String]) -> Result<Vec<(String, i64)>, StorageError> {
    Ok(sqlx::query_as(
        "select provider_message_id, notification_id from notification where provider_message_id = any($1)",
    )
    .bind(pmids)
    .fetch_all(pool)
    .await?)
}

/// Keeps reports that match no notification.
///
/// # Errors
/// Database failures.
pub async fn record_orphans(
    pool: &PgPool,
    now: DateTime<Utc>,
    reports: &[crate::gateway::DeliveryReport],
) -> Result<(), StorageError> {
    let providers: Vec<&str> = reports.iter().map(|r| r.provider.as_str()).collect();
    let refs: Vec<Option<&str>> = reports.iter().map(|r| r.client_ref.as_deref()).collect();
    let pmids: Vec<&str> = reports.iter().map(|r| r.provider_message_id.as_str()).collect();
    let states: Vec<&str> = reports.iter().map(|r| r.state.as_str()).collect();
    let reasons: Vec<Option<&str>> = reports.iter().map(|r| r.reason.as_deref()).collect();
    let ats: Vec<DateTime<Utc>> = reports.iter().map(|r| r.at).collect();
    let raws: Vec<sqlx::types::Json<&serde_json::Value>> = reports.iter().map(|r| sqlx::types::Json(&r.raw)).collect();
    sqlx::query(
        "insert into orphan_report (provider, client_ref, provider_message_id, state, reason, reported_at, received_at,
                                    raw)
         select t.provider, t.ref, t.pmid, t.state, t.reason, t.at, $8, t.raw
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
              as t(provider, ref, pmid, state, reason, at, raw)",
    )
    .bind(&providers)
    .bind(&refs)
    .bind(&pmids)
    .bind(&states)
    .bind(&reasons)
    .bind(&ats)
    .bind(&raws)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps an authenticated callback that cannot be read, with the problem and the fields as received.
///
/// # Errors
/// Database failures.
pub async fn record_malformed_callback(
    pool: &PgPool,
    now: DateTime<Utc>,
    provider: &str,
    problem: &str,
    raw: &serde_json::Value,
) -> Result<(), StorageError> {
    sqlx::query("insert into rejected_callback (provider, problem, received_at, raw) values ($1, $2, $3, $4)")
        .bind(provider)
        .bind(problem)
        .bind(now)
        .bind(sqlx::types::Json(raw))
        .execute(pool)
        .await?;
    Ok(())
}

/// Orphan reports whose provider id now names a notification (the accept was recorded after the report came):
/// `(orphan_id, notification_id, report)`, the report with our reference filled in. `pmids`: only these ids
/// (none: every waiting orphan).
///
/// # Errors
/// Database failures.
pub async fn adoptable_orphans(
    pool: &PgPool,
    pmids: Option<&[String]>,
) -> Result<Vec<(i64, i64, crate::gateway::DeliveryReport)>, StorageError> {
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        serde_json::Value,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select o.orphan_id, n.notification_id, o.provider, o.provider_message_id, o.state, o.reason, o.reported_at,
                o.raw
         from orphan_report o
         join notification n on n.provider_message_id = o.provider_message_id and n.provider = o.provider
         where o.adopted_by is null and ($1::text[] is null or o.provider_message_id = any($1))
         order by o.orphan_id
         limit 5000",
    )
    .bind(pmids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(orphan, id, provider, pmid, state, reason, at, raw)| {
            let state = crate::gateway::ReportState::parse(&state)?;
            Some((
                orphan,
                id,
                crate::gateway::DeliveryReport {
                    provider,
                    client_ref: Some(id.to_string()),
                    provider_message_id: pmid,
                    state,
                    reason,
                    at,
                    raw,
                },
            ))
        })
        .collect())
}

/// Marks orphans as applied to their notification.
///
/// # Errors
/// Database failures.
pub async fn mark_adopted(pool: &PgPool, orphans: &[i64], notifications: &[i64]) -> Result<(), StorageError> {
    sqlx::query(
        "update orphan_report o set adopted_by = t.n from unnest($1::bigint[], $2::bigint[]) as t(o, n)
         where o.orphan_id = t.o",
    )
    .bind(orphans)
    .bind(notifications)
    .execute(pool)
    .await?;
    Ok(())
}

/// Which pending notices to cancel.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Campaign(i64),
    Debtors(&'a [i64]),
    /// Notices of pre-trial and restriction kinds of these debtors (an agreement became active).
    DebtorsPretrial(&'a [i64]),
}

/// Cancels `planned` notices in scope with `reason`, one event each. Returns how many.
///
/// # Errors
/// Database failures.
pub async fn cancel_pending<'c, E>(
    db: E,
    scope: Scope<'_>,
    state: &str,
    reason: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<u64, StorageError>
where
    E: sqlx::PgExecutor<'c>,
{
    let (campaign, debtors, pretrial_only) = match scope {
        Scope::Campaign(id) => (Some(id), &[][..], false),
        Scope::Debtors(d) => (None, d, false),
        Scope::DebtorsPretrial(d) => (None, d, true),
    };
    let done = sqlx::query(
        "with x as (
            update notification set state = $6, reason = $4, final_at = $5, updated_at = $5
            where state = 'planned'
              and (($1::bigint is not null and campaign_id = $1) or debtor_id = any($2))
              and (not $3 or template_kind in ('pretrial', 'restriction_warning'))
            returning notification_id, timezone, attempts)
         insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source)
         select notification_id, $5, $5 at time zone timezone, timezone, $6, $4, attempts, $7 from x",
    )
    .bind(campaign)
    .bind(debtors)
    .bind(pretrial_only)
    .bind(reason)
    .bind(now)
    .bind(state)
    .bind(source)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What a report needs to know about its notification.
#[derive(Debug, Clone, FromRow)]
pub struct ReportTarget {
    pub notification_id: i64,
    /// The state when the report was matched.
    pub state: String,
    pub channel: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub retry_after_minutes: i32,
}

/// The targets of reports, by notification id.
///
/// # Errors
/// Database failures.
pub async fn report_targets(pool: &PgPool, ids: &[i64]) -> Result<Vec<ReportTarget>, StorageError> {
    Ok(sqlx::query_as(
        "select n.notification_id, n.state, n.channel, n.attempts, s.max_attempts, s.retry_after_minutes
         from notification n join campaign_step s on s.campaign_id = n.campaign_id and s.step_no = n.step_no
         where n.notification_id = any($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// Cancels `planned` notices of earlier rounds of a recurring campaign (reason `superseded`).
///
/// # Errors
/// Database failures.
pub async fn cancel_superseded(
    pool: &PgPool,
    campaign_id: i64,
    round: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let done = sqlx::query(
        "with x as (
            update notification set state = 'cancelled', reason = 'superseded', final_at = $3, updated_at = $3
            where campaign_id = $1 and occurrence < $2 and state = 'planned'
            returning notification_id, timezone, attempts)
         insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source)
         select notification_id, $3, $3 at time zone timezone, timezone, 'cancelled', 'superseded', attempts,
                'planner' from x",
    )
    .bind(campaign_id)
    .bind(round)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The latest batch change: planning passes re-run a step only when new batches arrived.
///
/// # Errors
/// Database failures.
pub async fn batch_mark(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(sqlx::query_scalar("select max(updated_at) from batch")
        .fetch_one(pool)
        .await?)
}
