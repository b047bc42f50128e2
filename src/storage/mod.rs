//! PostgreSQL: the pool, migrations, and every SQL statement of the service. No other module writes SQL.
//!
//! Statements are runtime-checked `sqlx::query` calls (no compile-time database needed to build), each in a
//! `verb_noun` function; bulk writes use `UNNEST` over one array per column.

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
