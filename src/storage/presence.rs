//! `dispatcher_presence`: which dispatcher processes are alive, so they can share the configured limits.

use sqlx::PgPool;

use super::StorageError;

/// Records that `worker` is alive and returns how many dispatchers (itself included) beat within `window_secs`.
/// Rows silent for an hour are removed. The database's clock is used, so processes on simulated clocks agree.
///
/// # Errors
/// Database failures.
pub async fn beat(pool: &PgPool, worker: &str, window_secs: f64) -> Result<i64, StorageError> {
    Ok(sqlx::query_scalar(
        "with up as (insert into dispatcher_presence (worker, seen_at) values ($1, now())
                     on conflict (worker) do update set seen_at = now()),
              gone as (delete from dispatcher_presence where seen_at < now() - interval '1 hour' and worker <> $1)
         select 1 + count(*) from dispatcher_presence
         where worker <> $1 and seen_at > now() - make_interval(secs => $2)",
    )
    .bind(worker)
    .bind(window_secs)
    .fetch_one(pool)
    .await?)
}

/// Removes `worker` on a clean shutdown, so the others take its share at once.
///
/// # Errors
/// Database failures.
pub async fn leave(pool: &PgPool, worker: &str) -> Result<(), StorageError> {
    sqlx::query("delete from dispatcher_presence where worker = $1")
        .bind(worker)
        .execute(pool)
        .await?;
    Ok(())
}
