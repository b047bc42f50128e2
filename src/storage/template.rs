//! Templates: versions, and the stored facts a template is rendered with.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{FromRow, PgPool, Row as _, postgres::PgRow, types::Json};

use super::StorageError;
use crate::{
    domain::ServiceDebt,
    render::{context::Creditor, lazy::Facts},
};

/// One version of a template.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct TemplateVersion {
    pub name: String,
    pub version: i32,
    pub kind: String,
    pub channel: String,
    pub body: String,
    pub max_segments: i32,
    /// The tenant owning the template; `None` for shared templates.
    pub utility_id: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A version to add.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub channel: &'a str,
    pub body: &'a str,
    pub max_segments: i32,
    pub utility_id: Option<&'a str>,
    pub description: &'a str,
    pub created_by: &'a str,
}

const COLUMNS: &str =
    "name, version, kind, channel, body, max_segments, utility_id, description, created_by, created_at";

/// The latest version of every template.
///
/// # Errors
/// Database failures.
pub async fn list_templates(pool: &PgPool) -> Result<Vec<TemplateVersion>, StorageError> {
    let sql = format!("select distinct on (name) {COLUMNS} from template order by name, version desc");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?)
}

/// A version of a template (the latest when `version` is `None`).
///
/// # Errors
/// Database failures.
pub async fn get_template(
    pool: &PgPool,
    name: &str,
    version: Option<i32>,
) -> Result<Option<TemplateVersion>, StorageError> {
    let sql = format!(
        "select {COLUMNS} from template where name = $1 and ($2::int is null or version = $2) order by version desc limit 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(version)
        .fetch_optional(pool)
        .await?)
}

/// Every version of a template, newest first.
///
/// # Errors
/// Database failures.
pub async fn template_history(pool: &PgPool, name: &str) -> Result<Vec<TemplateVersion>, StorageError> {
    let sql = format!("select {COLUMNS} from template where name = $1 order by version desc");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_all(pool)
        .await?)
}

/// Adds the next version of `new.name` (1 for a new template). With `must_be_new`, refuses (returns `None`)
/// when the template exists. Two concurrent edits get consecutive versions or one of them fails on the unique key.
///
/// # Errors
/// Database failures.
pub async fn insert_version(
    pool: &PgPool,
    new: &NewVersion<'_>,
    must_be_new: bool,
) -> Result<Option<i32>, StorageError> {
    let mut tx = pool.begin().await?;
    let latest: Option<i32> = sqlx::query_scalar("select max(version) from template where name = $1")
        .bind(new.name)
        .fetch_one(&mut *tx)
        .await?;
    if must_be_new && latest.is_some() {
        return Ok(None);
    }
    let version = latest.unwrap_or(0) + 1;
    sqlx::query(
        "insert into template (name, version, kind, channel, body, max_segments, description, created_by, utility_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.name)
    .bind(version)
    .bind(new.kind)
    .bind(new.channel)
    .bind(new.body)
    .bind(new.max_segments)
    .bind(new.description)
    .bind(new.created_by)
    .bind(new.utility_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Whether a utility lets its templates put the full name and address in SMS (`None`: no such utility).
///
/// # Errors
/// Database failures.
pub async fn allows_personal_details(pool: &PgPool, utility_id: &str) -> Result<Option<bool>, StorageError> {
    Ok(
        sqlx::query_scalar("select allow_personal_details_in_sms from utility where utility_id = $1")
            .bind(utility_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// A debtor's render facts, decoded by column name from [`FACTS`].
impl<'r> FromRow<'r, PgRow> for Facts {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        // Decoded here so a malformed stored list fails loudly instead of rendering without services.
        let services: Json<Vec<ServiceDebt>> = r.try_get("services")?;
        Ok(Self {
            creditor: Arc::new(Creditor {
                name: r.try_get("utility_name")?,
                phone: r.try_get("contact_phone")?,
                payment_url: r.try_get("payment_url")?,
                payment_details: r.try_get("payment_details")?,
            }),
            account: r.try_get("account")?,
            full_name: r.try_get("full_name")?,
            address: r.try_get("address")?,
            debt_total: r.try_get("debt_total")?,
            penalty: r.try_get("penalty")?,
            months_overdue: r.try_get("months_overdue")?,
            as_of: r.try_get("as_of")?,
            services: services.0,
        })
    }
}

const FACTS: &str = "select u.display_name as utility_name, u.contact_phone, u.payment_url, u.payment_details,
        c.account, d.full_name, d.address, c.debt_total, c.penalty,
        c.months_overdue, c.as_of, c.services
     from current_debt c join debtor d using (debtor_id) join utility u on u.utility_id = c.utility_id";

/// The facts of one debtor (by account; `utility` narrows when several utilities share an account number).
///
/// # Errors
/// Database failures.
pub async fn render_facts(pool: &PgPool, account: &str, utility: Option<&str>) -> Result<Vec<Facts>, StorageError> {
    let sql = format!("{FACTS} where c.account = $1 and ($2::text is null or c.utility_id = $2) limit 2");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account)
        .bind(utility)
        .fetch_all(pool)
        .await?)
}

/// Streams the facts of every current debtor (of one utility or all) into `visit`.
///
/// # Errors
/// Database failures.
pub async fn each_render_facts(
    pool: &PgPool,
    utility: Option<&str>,
    mut visit: impl FnMut(Facts),
) -> Result<u64, StorageError> {
    let sql = format!("{FACTS} where ($1::text is null or c.utility_id = $1)");
    let mut rows = sqlx::query_as::<_, Facts>(sqlx::AssertSqlSafe(sql))
        .bind(utility)
        .fetch(pool);
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        visit(row);
        n += 1;
    }
    Ok(n)
}
