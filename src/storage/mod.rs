//! PostgreSQL: the pool, migrations, and every SQL statement of the service. No other module writes SQL.
//!
//! Statements are runtime-checked `sqlx::query` calls (no compile-time database needed to build), each in a
//! `verb_noun` function; bulk writes use `UNNEST` over one array per column.

pub mod accept;
pub mod batch;
pub mod calendar;
pub mod campaign;
pub mod claim;
pub mod delivery;
pub mod intake;
pub mod log;
pub mod notification;
pub mod opt_out;
pub mod outbox;
pub mod payment;
pub mod plan;
pub mod presence;
pub mod restriction;
pub mod sending;
pub mod sim;
pub mod template;
pub mod utility;

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::config::DatabaseSettings;

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Storage failures, with the cause kept.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StorageError {
    /// Whether retrying later may succeed (connection lost, pool exhausted, server shutting down, deadlock),
    /// as opposed to a statement that will fail again the same way.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(e) => is_transient_sqlx(e),
            Self::Migrate(_) => false,
        }
    }
}

fn is_transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P: operator intervention (shutdown); 53: insufficient resources;
            // 40001/40P01: serialization failure / deadlock.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

/// Opens a lazily connecting pool, so a process can start while PostgreSQL is still down.
///
/// # Errors
/// Fails only when the URL cannot be parsed.
pub fn connect(settings: &DatabaseSettings) -> Result<PgPool, StorageError> {
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .connect_lazy(settings.url.expose())?;
    Ok(pool)
}

/// Applies pending migrations (PostgreSQL takes an advisory lock, so concurrent starts are safe).
///
/// # Errors
/// Fails when the database is unreachable or a migration fails.
pub async fn migrate(pool: &PgPool) -> Result<(), StorageError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Checks that the database answers.
///
/// # Errors
/// Fails when it does not.
pub async fn ping(pool: &PgPool) -> Result<(), StorageError> {
    sqlx::query("select 1").execute(pool).await?;
    Ok(())
}

/// `url` naming database `db` instead (scratch, bench and test databases); the query (`sslmode`,
/// `host=/socket/dir`, …) is kept.
#[must_use]
pub fn url_with_database(url: &str, db: &str) -> String {
    let (path, query) = url.split_once('?').map_or((url, None), |(p, q)| (p, Some(q)));
    let root = path.rsplit_once('/').map_or(path, |(r, _)| r);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{root}/{db}{query}")
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn a_scratch_database_url_keeps_the_query_of_the_configured_one() {
        assert_eq!(
            url_with_database("postgres://u:p@127.0.0.1:5432/debtor_notify?sslmode=disable", "scratch"),
            "postgres://u:p@127.0.0.1:5432/scratch?sslmode=disable"
        );
        assert_eq!(
            url_with_database("postgres://u:p@%2Fvar%2Frun%2Fpostgresql/debtor_notify", "scratch"),
            "postgres://u:p@%2Fvar%2Frun%2Fpostgresql/scratch"
        );
        assert_eq!(
            url_with_database(
                "postgres://u:p@localhost/debtor_notify?host=/var/run/postgresql",
                "scratch"
            ),
            "postgres://u:p@localhost/scratch?host=/var/run/postgresql"
        );
    }
}
