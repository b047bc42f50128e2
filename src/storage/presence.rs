//! `dispatcher_presence`: which dispatcher processes are alive, so they can share the configured limits.

use sqlx::PgPool;

use super::StorageError;

/// Transaction advisory lock key that serialises beats ("DNpr" in ASCII).
const BEAT_LOCK: i64 = 0x444e_7072;

/// Records that `worker` is alive and returns how many dispatchers (itself included) beat within `window_secs`.
/// Beats are serialised, so of dispatchers beating at the same instant each counts the ones that beat before it
/// (none starts alone at the whole limits). Rows silent for an hour are removed. The database's clock is used,
/// so processes on simulated clocks agree.
///
/// # Errors
/// Database failures.
pub async fn beat(pool: &PgPool, worker: &str, window_secs: f64) -> Result<i64, StorageError> {
    let mut tx = pool.begin().await?;
    // Taken in its own statement: the count below then reads a snapshot taken after the beat before it committed.
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(BEAT_LOCK)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query_scalar(
        "with up as (insert into dispatcher_presence (worker, seen_at) values ($1, now())
                     on conflict (worker) do update set seen_at = now()),
              gone as (delete from dispatcher_presence where seen_at < now() - interval '1 hour' and worker <> $1)
         select 1 + count(*) from dispatcher_presence
         where worker <> $1 and seen_at > now() - make_interval(secs => $2)",
    )
    .bind(worker)
    .bind(window_secs)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
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
