//! The opt-out list: add, remove (history kept), list, and the check dispatch makes before every contact.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use super::StorageError;

/// Who or what is opted out: a number (E.164) or a debtor's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Phone(String),
    Account(String),
}

impl Subject {
    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Phone(p) => (Some(p.as_str()), None),
            Self::Account(a) => (None, Some(a.as_str())),
        }
    }
}

/// One entry of the list.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct OptOut {
    pub opt_out_id: i64,
    pub utility_id: String,
    /// Personal data: mask before showing unless asked for explicitly.
    pub e164: Option<String>,
    pub account: Option<String>,
    pub reason: String,
    pub added_by: String,
    pub created_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_by: Option<String>,
    pub remove_reason: Option<String>,
}

/// Adds an entry. Returns `None` when the subject is already opted out (nothing changes).
///
/// # Errors
/// Database failures (an unknown utility is a foreign-key error).
pub async fn add_opt_out(
    pool: &PgPool,
    utility: &str,
    subject: &Subject,
    reason: &str,
    by: &str,
) -> Result<Option<i64>, StorageError> {
    let (e164, account) = subject.columns();
    let id = sqlx::query_scalar(
        "insert into opt_out (utility_id, e164, account, reason, added_by) values ($1, $2, $3, $4, $5)
         on conflict do nothing returning opt_out_id",
    )
    .bind(utility)
    .bind(e164)
    .bind(account)
    .bind(reason)
    .bind(by)
    .fetch_optional(pool)
    .await?;
    Ok(id)
}

/// Ends the active entry for a subject. Returns `false` when there is none.
///
/// # Errors
/// Database failures.
pub async fn remove_opt_out(
    pool: &PgPool,
    utility: &str,
    subject: &Subject,
    reason: &str,
    by: &str,
) -> Result<bool, StorageError> {
    let (e164, account) = subject.columns();
    let done = sqlx::query(
        "update opt_out set removed_at = now(), removed_by = $5, remove_reason = $4
         where utility_id = $1 and removed_at is null
           and e164 is not distinct from $2 and account is not distinct from $3",
    )
    .bind(utility)
    .bind(e164)
    .bind(account)
    .bind(reason)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Entries of one utility (or all), newest first; removed ones only with `include_removed`.
///
/// # Errors
/// Database failures.
pub async fn list_opt_outs(
    pool: &PgPool,
    utility: Option<&str>,
    include_removed: bool,
) -> Result<Vec<OptOut>, StorageError> {
    Ok(sqlx::query_as(
        "select opt_out_id, utility_id, e164, account, reason, added_by, created_at, removed_at, removed_by, remove_reason
         from opt_out where ($1::text is null or utility_id = $1) and ($2 or removed_at is null)
         order by created_at desc, opt_out_id desc",
    )
    .bind(utility)
    .bind(include_removed)
    .fetch_all(pool)
    .await?)
}

/// Whether a contact of `account` at `e164` for `utility` is opted out (by number or by debtor).
///
/// # Errors
/// Database failures.
pub async fn is_opted_out(pool: &PgPool, utility: &str, account: &str, e164: &str) -> Result<bool, StorageError> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from opt_out where utility_id = $1 and removed_at is null
                          and (account = $2 or e164 = $3))",
    )
    .bind(utility)
    .bind(account)
    .bind(e164)
    .fetch_one(pool)
    .await?)
}
