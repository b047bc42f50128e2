//! Utilities (tenants): registration and lookup.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use super::StorageError;

/// A registered utility.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Utility {
    pub utility_id: String,
    pub display_name: String,
    pub timezone: String,
    pub contact_phone: Option<String>,
    pub payment_url: Option<String>,
    pub payment_details: Option<String>,
    pub allow_personal_details_in_sms: bool,
    pub created_at: DateTime<Utc>,
}

/// Registers a utility. Returns `false` when one with this id already exists (nothing is changed).
///
/// # Errors
/// Database failures.
pub async fn insert_utility(
    db: impl PgExecutor<'_>,
    utility_id: &str,
    display_name: &str,
    timezone: &str,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "insert into utility (utility_id, display_name, timezone) values ($1, $2, $3)
         on conflict (utility_id) do nothing",
    )
    .bind(utility_id)
    .bind(display_name)
    .bind(timezone)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Looks a utility up by id.
///
/// # Errors
/// Database failures.
pub async fn get_utility(db: impl PgExecutor<'_>, utility_id: &str) -> Result<Option<Utility>, StorageError> {
    let row = sqlx::query_as::<_, Utility>(
        "select utility_id, display_name, timezone, contact_phone, payment_url, payment_details, allow_personal_details_in_sms, created_at from utility where utility_id = $1",
    )
    .bind(utility_id)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// All utilities, by id.
///
/// # Errors
/// Database failures.
pub async fn list_utilities(db: impl PgExecutor<'_>) -> Result<Vec<Utility>, StorageError> {
    let rows = sqlx::query_as::<_, Utility>(
        "select utility_id, display_name, timezone, contact_phone, payment_url, payment_details, allow_personal_details_in_sms, created_at from utility order by utility_id",
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Contact and payment details printed in notices; `None` leaves a value unchanged.
#[derive(Debug, Clone, Default)]
pub struct UtilityContacts {
    pub contact_phone: Option<String>,
    pub payment_url: Option<String>,
    pub payment_details: Option<String>,
    /// Let this tenant's own templates put the full name and address in SMS.
    pub allow_personal_details_in_sms: Option<bool>,
}

/// Updates a utility's contact and payment details. Returns `false` when the utility does not exist.
///
/// # Errors
/// Database failures.
pub async fn set_utility_contacts(
    db: impl PgExecutor<'_>,
    utility_id: &str,
    c: &UtilityContacts,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "update utility set contact_phone = coalesce($2, contact_phone), payment_url = coalesce($3, payment_url),
                payment_details = coalesce($4, payment_details),
                allow_personal_details_in_sms = coalesce($5, allow_personal_details_in_sms)
         where utility_id = $1",
    )
    .bind(utility_id)
    .bind(&c.contact_phone)
    .bind(&c.payment_url)
    .bind(&c.payment_details)
    .bind(c.allow_personal_details_in_sms)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A utility's region code (regional production-calendar overrides), if set.
///
/// # Errors
/// Database failures.
pub async fn utility_region(pool: &sqlx::PgPool, utility_id: &str) -> Result<Option<String>, StorageError> {
    Ok(sqlx::query_scalar("select region from utility where utility_id = $1")
        .bind(utility_id)
        .fetch_optional(pool)
        .await?
        .flatten())
}

/// A utility's own contact rules, never wider than the law's: `None` means the law's default (and, in an update,
/// leaves the stored value unchanged).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct UtilityPolicy {
    pub region: Option<String>,
    pub window_working: Option<String>,
    pub window_day_off: Option<String>,
    pub cap_day: Option<i32>,
    pub cap_week: Option<i32>,
    pub cap_month: Option<i32>,
}

/// Updates a utility's region, windows and caps. Returns `false` when the utility does not exist.
///
/// # Errors
/// Database failures (a malformed value violates a check constraint).
pub async fn set_utility_policy(
    pool: &sqlx::PgPool,
    utility_id: &str,
    p: &UtilityPolicy,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "update utility set region = coalesce($2, region), window_working = coalesce($3, window_working),
                window_day_off = coalesce($4, window_day_off), cap_day = coalesce($5, cap_day),
                cap_week = coalesce($6, cap_week), cap_month = coalesce($7, cap_month)
         where utility_id = $1",
    )
    .bind(utility_id)
    .bind(&p.region)
    .bind(&p.window_working)
    .bind(&p.window_day_off)
    .bind(p.cap_day)
    .bind(p.cap_week)
    .bind(p.cap_month)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
