//! The delivery log for operators: notifications filtered and keyset-paginated, one notification's events and
//! attempts, and counts by state and reason.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool, types::Json};

use super::StorageError;

/// Filters of `log` and `GET /api/v1/notifications`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub campaign: Option<i64>,
    pub utility: Option<String>,
    pub account: Option<String>,
    pub state: Option<String>,
    pub reason: Option<String>,
    pub channel: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Keyset cursor: rows with a smaller id than this.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// One notification in the log.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct LogRow {
    pub notification_id: i64,
    pub campaign_id: i64,
    pub step_no: i32,
    pub utility_id: String,
    pub account: String,
    pub channel: String,
    pub e164: Option<String>,
    pub timezone: String,
    pub template_name: String,
    pub template_version: i32,
    pub state: String,
    pub reason: Option<String>,
    pub attempts: i32,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub final_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub segments: Option<i32>,
    pub updated_at: DateTime<Utc>,
}

const WHERE: &str = "($1::bigint is null or n.campaign_id = $1)
    and ($2::text is null or n.utility_id = $2)
    and ($3::text is null or d.account = $3)
    and ($4::text is null or n.state = $4)
    and ($5::text is null or n.reason = $5)
    and ($6::text is null or n.channel = $6)
    and ($7::timestamptz is null or n.updated_at >= $7)";

/// Notifications matching `f`, newest first.
///
/// # Errors
/// Database failures.
pub async fn list_log(pool: &PgPool, f: &LogFilter) -> Result<Vec<LogRow>, StorageError> {
    let sql = format!(
        "select n.notification_id, n.campaign_id, n.step_no, n.utility_id, d.account, n.channel, n.e164, n.timezone,
                n.template_name, n.template_version, n.state, n.reason, n.attempts, n.due_at, n.sent_at, n.final_at,
                n.provider, n.provider_message_id, n.segments, n.updated_at
         from notification n join debtor d on d.debtor_id = n.debtor_id
         where {WHERE} and ($8::bigint is null or n.notification_id < $8)
         order by n.notification_id desc limit $9"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.campaign)
        .bind(&f.utility)
        .bind(&f.account)
        .bind(&f.state)
        .bind(&f.reason)
        .bind(&f.channel)
        .bind(f.since)
        .bind(f.before_id)
        .bind(f.limit)
        .fetch_all(pool)
        .await?)
}

/// Count of notifications per (channel, state, reason).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct SummaryRow {
    pub channel: String,
    pub state: String,
    pub reason: Option<String>,
    pub count: i64,
}

/// Counts of the notifications matching `f` (cursor and limit ignored).
///
/// # Errors
/// Database failures.
pub async fn summarize_log(pool: &PgPool, f: &LogFilter) -> Result<Vec<SummaryRow>, StorageError> {
    let sql = format!(
        "select n.channel, n.state, n.reason, count(*) as count
         from notification n join debtor d on d.debtor_id = n.debtor_id
         where {WHERE}
         group by 1, 2, 3 order by 1, 2, 3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.campaign)
        .bind(&f.utility)
        .bind(&f.account)
        .bind(&f.state)
        .bind(&f.reason)
        .bind(&f.channel)
        .bind(f.since)
        .fetch_all(pool)
        .await?)
}

/// One event of the evidence trail.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct EventRow {
    pub event_id: i64,
    pub at: DateTime<Utc>,
    pub local_at: NaiveDateTime,
    pub timezone: String,
    pub state: String,
    pub reason: Option<String>,
    pub attempt_no: Option<i32>,
    pub source: String,
    pub detail: Option<Json<serde_json::Value>>,
    /// A `sending` event: the exact text that attempt handed over, and its SHA-256 (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
}

/// One provider hand-over or reconciliation.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AttemptView {
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub provider: String,
    pub outcome: String,
    pub provider_message_id: Option<String>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
}

/// A notification with its text, events and attempts.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationDetail {
    #[serde(flatten)]
    pub row: LogRow,
    pub rendered_text: Option<String>,
    pub text_sha256: Option<String>,
    /// Restriction warnings: the delivery day in the debtor's zone and the earliest restriction day.
    pub delivered_on: Option<chrono::NaiveDate>,
    pub restriction_earliest: Option<chrono::NaiveDate>,
    pub events: Vec<EventRow>,
    pub attempts: Vec<AttemptView>,
}

/// One notification in full; `utility` limits it to a tenant.
///
/// # Errors
/// Database failures.
pub async fn get_notification(
    pool: &PgPool,
    id: i64,
    utility: Option<&str>,
) -> Result<Option<NotificationDetail>, StorageError> {
    let f = LogFilter {
        utility: utility.map(ToOwned::to_owned),
        before_id: Some(id + 1),
        limit: 1,
        ..LogFilter::default()
    };
    let Some(row) = list_log(pool, &f).await?.into_iter().find(|r| r.notification_id == id) else {
        return Ok(None);
    };
    type Extra = (
        Option<String>,
        Option<String>,
        Option<chrono::NaiveDate>,
        Option<chrono::NaiveDate>,
    );
    // The latest attempt's text (kept on its `sending` event; on the row for notices sent before that).
    let (text, sha, delivered_on, restriction_earliest): Extra = sqlx::query_as(
        "select coalesce(e.rendered_text, n.rendered_text), encode(coalesce(e.text_sha256, n.text_sha256), 'hex'),
                n.delivered_on, n.restriction_earliest
         from notification n
         left join lateral (select rendered_text, text_sha256 from delivery_event
                            where notification_id = n.notification_id and state = 'sending'
                              and rendered_text is not null
                            order by event_id desc limit 1) e on true
         where n.notification_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let events = sqlx::query_as(
        "select event_id, at, local_at, timezone, state, reason, attempt_no, source, detail, rendered_text,
                encode(text_sha256, 'hex') as text_sha256
         from delivery_event where notification_id = $1 order by event_id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let attempts = sqlx::query_as(
        "select attempt_no, started_at, finished_at, provider, outcome, provider_message_id, error_code, error_detail
         from attempt where notification_id = $1 order by attempt_no, finished_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some(NotificationDetail {
        row,
        rendered_text: text,
        text_sha256: sha,
        delivered_on,
        restriction_earliest,
        events,
        attempts,
    }))
}
