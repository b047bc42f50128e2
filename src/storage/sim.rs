//! The built-in simulator's provider-side journal (`sim_message`): what the "provider" accepted, so a status
//! query after a dispatcher crash can answer, and so tests can count hand-overs per reference.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StorageError;

/// One accepted reference.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SimEntry {
    pub provider_message_id: String,
    pub outcome: Option<String>,
    pub submissions: i32,
    pub accepted_at: DateTime<Utc>,
}

/// Records an acceptance; a repeated reference keeps its first id and outcome and counts one more submission.
///
/// # Errors
/// Database failures.
pub async fn journal_accept(
    pool: &PgPool,
    client_ref: &str,
    provider_message_id: &str,
    channel: &str,
    outcome: &str,
) -> Result<SimEntry, StorageError> {
    Ok(sqlx::query_as(
        "insert into sim_message (client_ref, provider_message_id, channel, outcome) values ($1, $2, $3, $4)
         on conflict (client_ref) do update set submissions = sim_message.submissions + 1
         returning provider_message_id, outcome, submissions, accepted_at",
    )
    .bind(client_ref)
    .bind(provider_message_id)
    .bind(channel)
    .bind(outcome)
    .fetch_one(pool)
    .await?)
}

/// Looks a reference up.
///
/// # Errors
/// Database failures.
pub async fn journal_get(pool: &PgPool, client_ref: &str) -> Result<Option<SimEntry>, StorageError> {
    Ok(sqlx::query_as(
        "select provider_message_id, outcome, submissions, accepted_at from sim_message where client_ref = $1",
    )
    .bind(client_ref)
    .fetch_optional(pool)
    .await?)
}
