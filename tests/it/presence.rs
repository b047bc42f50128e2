//! Dispatchers on one database share the configured limits: each counts the live ones through its presence beat.

use std::sync::Arc;

use debtor_notify::{clock::ManualClock, dispatch::Dispatcher};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, at};

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn dispatchers_on_one_database_divide_the_limits_and_a_stopped_or_silent_one_stops_counting(pool: PgPool) {
    let e = Engine::start(pool.clone(), "2026-12-01T05:00:00Z").await;
    let clock = Arc::new(ManualClock::at(at("2026-12-01T05:00:00Z")));
    let other = Dispatcher::new(pool.clone(), e.settings.clone(), clock).await.unwrap();
    assert_eq!(e.dispatcher.beat().await.unwrap(), 1, "alone at first");
    assert_eq!(other.beat().await.unwrap(), 2);
    assert_eq!(e.dispatcher.beat().await.unwrap(), 2);
    assert_eq!((e.dispatcher.share(), other.share()), (2, 2));

    // A process killed a minute ago no longer counts.
    sqlx::query("insert into dispatcher_presence (worker, seen_at) values ('dead:1', now() - interval '1 minute')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(e.dispatcher.beat().await.unwrap(), 2);

    // One that stops cleanly leaves at once, and the other takes the whole limits back.
    let token = CancellationToken::new();
    let running = tokio::spawn(other.clone().run(token.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    token.cancel();
    running.await.unwrap();
    assert_eq!(e.dispatcher.beat().await.unwrap(), 1);
    assert_eq!(e.dispatcher.share(), 1);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn dispatchers_beating_at_the_same_instant_each_count_the_ones_before_them(pool: PgPool) {
    let e = Engine::start(pool.clone(), "2026-12-01T05:00:00Z").await;
    let clock = Arc::new(ManualClock::at(at("2026-12-01T05:00:00Z")));
    let mut dispatchers = Vec::new();
    for _ in 0..8 {
        dispatchers.push(
            Dispatcher::new(pool.clone(), e.settings.clone(), clock.clone())
                .await
                .unwrap(),
        );
    }
    // Beats are serialised: however they interleave, the k-th to commit counts k, so none of the later ones
    // starts alone at the whole limits.
    let mut counts: Vec<u32> = futures_util::future::join_all(dispatchers.iter().map(|d| d.beat()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=8).collect::<Vec<u32>>());
}
