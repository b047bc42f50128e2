//! Delivery dates of restriction warnings: which delivered warnings still lack them (with the instant the
//! provider reported delivery, the debtor's zone and region), and stamping them.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgPool};

use super::StorageError;

/// A delivered restriction warning without its dates.
#[derive(Debug, Clone, FromRow)]
pub struct Undated {
    pub notification_id: i64,
    pub timezone: String,
    pub region: Option<String>,
    /// When the provider says it was delivered (its report's time), else when we recorded it.
    pub delivered_at: DateTime<Utc>,
}

/// Up to `limit` delivered restriction warnings without dates.
///
/// # Errors
/// Database failures.
pub async fn undated(pool: &PgPool, limit: i64) -> Result<Vec<Undated>, StorageError> {
    Ok(sqlx::query_as(
        "select n.notification_id, n.timezone, u.region,
                coalesce((select coalesce((e.detail->>'reported_at')::timestamptz, e.at) from delivery_event e
                          where e.notification_id = n.notification_id and e.state = 'delivered'
                            and e.reason is distinct from 'report_not_applied'
                          order by e.event_id limit 1), n.final_at, n.updated_at) as delivered_at
         from notification n join utility u on u.utility_id = n.utility_id
         where n.state = 'delivered' and n.template_kind = 'restriction_warning' and n.delivered_on is null
         limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Stamps the dates (only where none are set yet).
///
/// # Errors
/// Database failures.
pub async fn stamp(
    pool: &PgPool,
    ids: &[i64],
    delivered: &[NaiveDate],
    earliest: &[NaiveDate],
) -> Result<u64, StorageError> {
    Ok(sqlx::query(
        "update notification n set delivered_on = t.delivered, restriction_earliest = t.earliest
         from unnest($1::bigint[], $2::date[], $3::date[]) as t(id, delivered, earliest)
         where n.notification_id = t.id and n.delivered_on is null",
    )
    .bind(ids)
    .bind(delivered)
    .bind(earliest)
    .execute(pool)
    .await?
    .rows_affected())
}
