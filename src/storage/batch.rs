//! Reads of batch reports: status, counts and the intake errors of one batch.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::StorageError;

/// What happened to a batch, as shown by the API and `batch show`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub batch_id: Uuid,
    pub utility: String,
    pub status: String,
    pub as_of: Option<NaiveDate>,
    pub parts_expected: Option<i32>,
    pub parts_received: i32,
    pub received: i32,
    pub accepted: i32,
    pub rejected: i32,
    pub first_received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Errors returned (the first `limit` by record index); `errors_total` counts them all.
    pub errors_total: i64,
    pub errors: Vec<BatchError>,
}

/// One intake error of a batch.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BatchError {
    pub index: Option<i32>,
    pub source_row: Option<i32>,
    pub account: Option<String>,
    pub field: Option<String>,
    pub severity: String,
    pub reason: String,
}

#[derive(FromRow)]
struct BatchRow {
    batch_id: Uuid,
    utility_id: String,
    status: String,
    as_of: Option<NaiveDate>,
    parts_expected: Option<i32>,
    parts_received: i32,
    received: i32,
    accepted: i32,
    rejected: i32,
    first_received_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The report of one batch with up to `limit` errors, or `None` if no part of it has arrived yet.
///
/// # Errors
/// Database failures.
pub async fn get_batch_report(pool: &PgPool, batch_id: Uuid, limit: i64) -> Result<Option<BatchReport>, StorageError> {
    let Some(b) = sqlx::query_as::<_, BatchRow>(
        "select batch_id, utility_id, status, as_of, parts_expected, parts_received, received, accepted, rejected,
                first_received_at, updated_at
         from batch where batch_id = $1",
    )
    .bind(batch_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let errors_total: i64 = sqlx::query_scalar("select count(*) from intake_error where batch_id = $1")
        .bind(batch_id)
        .fetch_one(pool)
        .await?;
    let errors = sqlx::query_as::<_, BatchError>(
        "select record_index as index, source_row, account, field, severity, reason
         from intake_error where batch_id = $1
         order by record_index nulls first, intake_error_id limit $2",
    )
    .bind(batch_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(Some(BatchReport {
        batch_id: b.batch_id,
        utility: b.utility_id,
        status: b.status,
        as_of: b.as_of,
        parts_expected: b.parts_expected,
        parts_received: b.parts_received,
        received: b.received,
        accepted: b.accepted,
        rejected: b.rejected,
        first_received_at: b.first_received_at,
        updated_at: b.updated_at,
        errors_total,
        errors,
    }))
}

/// Messages dead-lettered without a readable batch id, newest first (for operators).
///
/// # Errors
/// Database failures.
pub async fn list_orphan_dead_letters(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(DateTime<Utc>, Option<String>, String)>, StorageError> {
    let rows = sqlx::query_as(
        "select created_at, message_id, reason from intake_error
         where batch_id is null and severity = 'dead_lettered' order by created_at desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}
