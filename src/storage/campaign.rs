//! Campaigns: definitions with their ladder of steps, lifecycle changes (audited), and per-step statistics.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool, types::Json};

use super::StorageError;
use crate::campaign::spec::{Audience, CampaignSpec, Recurrence};

/// A stored campaign.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct CampaignRow {
    pub campaign_id: i64,
    pub name: String,
    pub utility_id: Option<String>,
    pub status: String,
    pub audience: Json<Audience>,
    pub starts_at: DateTime<Utc>,
    pub end_by: Option<DateTime<Utc>>,
    pub recurrence: Option<Json<Recurrence>>,
    pub rate_per_minute: Option<i32>,
    pub priority: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored step (template pinned to a version).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct StepRow {
    pub step_no: i32,
    pub template_name: String,
    pub template_version: i32,
    pub channel: String,
    pub offset_minutes: i32,
    pub offset_from: String,
    pub condition: String,
    pub max_attempts: i32,
    pub retry_after_minutes: i32,
}

/// Count of notifications in one (step, channel, state).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct StatRow {
    pub step_no: i32,
    pub channel: String,
    pub state: String,
    pub count: i64,
}

/// Hand-overs a provider accepted for one channel of a campaign, and their SMS segments (each accepted attempt
/// is billed, a retry too).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct SpendRow {
    pub provider: String,
    pub channel: String,
    pub accepted: i64,
    pub segments: i64,
}

const COLUMNS: &str = "campaign_id, name, utility_id, status, audience, starts_at, end_by, recurrence, rate_per_minute,
    priority, created_by, created_at, updated_at";

/// Stores a new draft campaign and its steps.
///
/// # Errors
/// Database failures (an unknown utility or template version violates a foreign key).
pub async fn insert_campaign(
    pool: &PgPool,
    spec: &CampaignSpec,
    steps: &[StepRow],
    by: &str,
) -> Result<i64, StorageError> {
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "insert into campaign (name, utility_id, audience, starts_at, end_by, recurrence, rate_per_minute, priority,
                               spec, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning campaign_id",
    )
    .bind(&spec.name)
    .bind(&spec.utility)
    .bind(Json(&spec.audience))
    .bind(spec.starts_at.with_timezone(&Utc))
    .bind(spec.end_by.map(|e| e.with_timezone(&Utc)))
    .bind(spec.recurrence.map(Json))
    .bind(spec.rate_per_minute.and_then(|r| i32::try_from(r).ok()))
    .bind(spec.priority)
    .bind(Json(spec))
    .bind(by)
    .fetch_one(&mut *tx)
    .await?;
    for s in steps {
        sqlx::query(
            "insert into campaign_step (campaign_id, step_no, template_name, template_version, channel,
                 offset_minutes, offset_from, condition, max_attempts, retry_after_minutes)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(s.step_no)
        .bind(&s.template_name)
        .bind(s.template_version)
        .bind(&s.channel)
        .bind(s.offset_minutes)
        .bind(&s.offset_from)
        .bind(&s.condition)
        .bind(s.max_attempts)
        .bind(s.retry_after_minutes)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "insert into campaign_audit (campaign_id, action, by_whom, to_status) values ($1, 'create', $2, 'draft')",
    )
    .bind(id)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One campaign.
///
/// # Errors
/// Database failures.
pub async fn get_campaign(pool: &PgPool, id: i64) -> Result<Option<CampaignRow>, StorageError> {
    let sql = format!("select {COLUMNS} from campaign where campaign_id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Campaigns, newest first; `utility` narrows to one tenant's (and the all-utility ones); `status` to a set.
///
/// # Errors
/// Database failures.
pub async fn list_campaigns(
    pool: &PgPool,
    utility: Option<&str>,
    status: &[&str],
) -> Result<Vec<CampaignRow>, StorageError> {
    let sql = format!(
        "select {COLUMNS} from campaign
         where ($1::text is null or utility_id = $1 or utility_id is null)
           and (cardinality($2::text[]) = 0 or status = any($2))
         order by campaign_id desc"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(utility)
        .bind(status)
        .fetch_all(pool)
        .await?)
}

/// The steps of a campaign, in order.
///
/// # Errors
/// Database failures.
pub async fn list_steps(pool: &PgPool, id: i64) -> Result<Vec<StepRow>, StorageError> {
    Ok(sqlx::query_as(
        "select step_no, template_name, template_version, channel, offset_minutes, offset_from, condition,
                max_attempts, retry_after_minutes
         from campaign_step where campaign_id = $1 order by step_no",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Moves a campaign from one of `from` to `to`, audited. `None`: it was not in any of `from` (or is unknown).
///
/// # Errors
/// Database failures.
pub async fn transition(
    pool: &PgPool,
    id: i64,
    from: &[&str],
    to: &str,
    action: &str,
    by: &str,
) -> Result<Option<String>, StorageError> {
    let mut tx = pool.begin().await?;
    let prev: Option<String> =
        sqlx::query_scalar("select status from campaign where campaign_id = $1 and status = any($2) for update")
            .bind(id)
            .bind(from)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(prev) = prev else {
        return Ok(None);
    };
    sqlx::query("update campaign set status = $2, updated_at = now() where campaign_id = $1")
        .bind(id)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into campaign_audit (campaign_id, action, by_whom, from_status, to_status) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(action)
    .bind(by)
    .bind(&prev)
    .bind(to)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(prev))
}

/// Notifications per step, channel and state.
///
/// # Errors
/// Database failures.
pub async fn campaign_stats(pool: &PgPool, id: i64) -> Result<Vec<StatRow>, StorageError> {
    Ok(sqlx::query_as(
        "select step_no, channel, state, count(*) as count from notification where campaign_id = $1
         group by step_no, channel, state order by step_no, channel, state",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Accepted hand-overs and their segments per provider and channel.
///
/// # Errors
/// Database failures.
pub async fn campaign_spend(pool: &PgPool, id: i64) -> Result<Vec<SpendRow>, StorageError> {
    Ok(sqlx::query_as(
        "select a.provider, n.channel, count(*) as accepted, coalesce(sum(n.segments), 0)::bigint as segments
         from notification n join attempt a on a.notification_id = n.notification_id
         where n.campaign_id = $1 and a.outcome in ('submitted', 'reconciled_found')
         group by a.provider, n.channel order by a.provider, n.channel",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}
