//! Production-calendar overrides: stored per (region, day), loaded into a [`ProductionCalendar`].

use chrono::NaiveDate;
use sqlx::PgPool;

use super::StorageError;
use crate::policy::calendar::ProductionCalendar;

/// One override row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Override {
    /// `""` = federal (every region), else a region code such as `"16"`.
    pub region: String,
    pub day: NaiveDate,
    pub day_off: bool,
    pub note: String,
}

/// Sets overrides (insert or replace) in one transaction.
///
/// # Errors
/// Database failures (e.g. a malformed region code).
pub async fn upsert_overrides(pool: &PgPool, rows: &[Override], by: &str) -> Result<u64, StorageError> {
    let mut tx = pool.begin().await?;
    for r in rows {
        sqlx::query(
            "insert into calendar_override (region, day, day_off, note, added_by) values ($1, $2, $3, $4, $5)
             on conflict (region, day) do update set day_off = excluded.day_off, note = excluded.note,
               added_by = excluded.added_by, created_at = now()",
        )
        .bind(&r.region)
        .bind(r.day)
        .bind(r.day_off)
        .bind(&r.note)
        .bind(by)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// Every override, by day.
///
/// # Errors
/// Database failures.
pub async fn list_overrides(pool: &PgPool) -> Result<Vec<Override>, StorageError> {
    Ok(
        sqlx::query_as("select region, day, day_off, note from calendar_override order by day, region")
            .fetch_all(pool)
            .await?,
    )
}

/// The federal calendar with every stored override applied.
///
/// # Errors
/// Database failures.
pub async fn load_calendar(pool: &PgPool) -> Result<ProductionCalendar, StorageError> {
    let mut calendar = ProductionCalendar::federal();
    for o in list_overrides(pool).await? {
        let region = (!o.region.is_empty()).then_some(o.region.as_str());
        calendar.set_override(region, o.day, o.day_off);
    }
    Ok(calendar)
}
