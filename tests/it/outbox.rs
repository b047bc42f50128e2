//! The outbox relay against the real broker: every delivery event published once, in order, as
//! `notification-event.v1`; the cursor moves only after confirms; a broker outage delays and loses nothing; a gap
//! in event ids is waited for while its transaction runs and skipped once it rolled back.

use std::time::Duration;

use debtor_notify::{
    config::Secret,
    outbox::Relay,
    queue::{self, publisher::Publisher},
};
use futures_util::StreamExt;
use lapin::{
    ExchangeKind,
    options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, debtor_in, sms_campaign};

const START: &str = "2026-12-01T05:00:00Z";

/// A subscriber: an exclusive queue bound to the events exchange (gone when the connection closes).
struct Subscriber {
    _conn: lapin::Connection,
    consumer: lapin::Consumer,
}

impl Subscriber {
    async fn bind(e: &Engine) -> Self {
        let conn = queue::connect(e.settings.amqp.url.expose()).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        let exchange = e.settings.amqp.events_exchange.as_str();
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(exchange.into(), ExchangeKind::Topic, durable, FieldTable::default())
            .await
            .unwrap();
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await
            .unwrap();
        ch.queue_bind(
            q.name().clone(),
            exchange.into(),
            "notification.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = ch
            .basic_consume(q.name().clone(), "".into(), no_ack, FieldTable::default())
            .await
            .unwrap();
        Self { _conn: conn, consumer }
    }

    /// Message ids of the next `n` messages (10 s at most), and their bodies.
    async fn take(&mut self, n: usize) -> Vec<(i64, serde_json::Value)> {
        let mut out = Vec::new();
        while out.len() < n {
            let d = tokio::time::timeout(Duration::from_secs(10), self.consumer.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()))
                .unwrap()
                .unwrap();
            let id = d.properties.message_id().as_ref().unwrap().as_str().parse().unwrap();
            out.push((id, serde_json::from_slice(&d.data).unwrap()));
        }
        out
    }

    async fn nothing_more(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(500), self.consumer.next()).await;
        assert!(next.is_err(), "an event was published twice");
    }
}

async fn event_ids(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("select event_id from delivery_event order by event_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn cursor(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select last_event_id from event_cursor")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn engine_with_events(pool: PgPool) -> Engine {
    let e = Engine::start(pool, START).await;
    e.store(vec![
        debtor_in("8001", "Asia/Yekaterinburg", "+79120000801"),
        debtor_in("8002", "Asia/Yekaterinburg", "+79120000802"),
    ])
    .await;
    e.campaign(&sms_campaign("События", START)).await;
    assert_eq!(e.tick().await, 2);
    e
}

async fn publisher(e: &Engine) -> Publisher {
    Publisher::connect_with(e.settings.amqp.url.expose(), &e.settings.amqp.events_exchange, false)
        .await
        .unwrap()
}

async fn drain(relay: &mut Relay, p: &mut Publisher) -> usize {
    let mut n = 0;
    loop {
        match relay.relay_once(p).await.unwrap() {
            0 => return n,
            k => n += k,
        }
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn every_delivery_event_is_published_once_in_order_and_the_cursor_follows_the_confirms(pool: PgPool) {
    let e = engine_with_events(pool).await;
    let mut sub = Subscriber::bind(&e).await;
    let ids = event_ids(&e.pool).await;
    assert_eq!(
        ids.len(),
        8,
        "planned, sending, submitted, delivered for each of two notices"
    );
    let mut relay = Relay::new(e.pool.clone(), e.settings.clone());
    let mut p = publisher(&e).await;
    assert_eq!(drain(&mut relay, &mut p).await, 8);
    let got = sub.take(8).await;
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ids);
    let last = &got[7].1;
    assert_eq!(last["schema"], "notification-event.v1");
    assert_eq!(last["state"], "delivered");
    assert_eq!(last["utility"], crate::helpers::UTILITY);
    assert!(last["account"].is_string() && last["timezone"] == "Asia/Yekaterinburg");
    assert!(!last.to_string().contains("+7912"), "no phone numbers in events");
    assert_eq!(cursor(&e.pool).await, *ids.last().unwrap());
    assert_eq!(drain(&mut relay, &mut p).await, 0);
    sub.nothing_more().await;
    crate::helpers::delete_topology(&e.settings).await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_broker_outage_delays_the_events_and_loses_none(pool: PgPool) {
    let e = engine_with_events(pool).await;
    let mut sub = Subscriber::bind(&e).await;
    let mut down = (*e.settings).clone();
    down.amqp.url = Secret::new("amqp://guest:guest@127.0.0.1:1/%2f");
    let token = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(e.pool.clone(), std::sync::Arc::new(down)).run(token.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    token.cancel();
    relay.await.unwrap();
    assert_eq!(
        cursor(&e.pool).await,
        0,
        "nothing counted as published while the broker was away"
    );
    let token = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(e.pool.clone(), e.settings.clone()).run(token.clone()));
    let got = sub.take(8).await;
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), event_ids(&e.pool).await);
    token.cancel();
    relay.await.unwrap();
    crate::helpers::delete_topology(&e.settings).await;
}

async fn insert_event(db: impl sqlx::PgExecutor<'_>, notification_id: i64) -> i64 {
    sqlx::query_scalar(
        "insert into delivery_event (notification_id, at, local_at, timezone, state, source)
         values ($1, now(), now(), 'Asia/Yekaterinburg', 'submitted', 'operator') returning event_id",
    )
    .bind(notification_id)
    .fetch_one(db)
    .await
    .unwrap()
}

/// An engine whose eight events are all relayed and received, with its subscriber, relay and publisher.
async fn all_relayed(pool: PgPool) -> (Engine, Subscriber, Relay, Publisher) {
    let e = engine_with_events(pool).await;
    let mut sub = Subscriber::bind(&e).await;
    let mut relay = Relay::new(e.pool.clone(), e.settings.clone());
    let mut p = publisher(&e).await;
    assert_eq!(drain(&mut relay, &mut p).await, 8);
    sub.take(8).await;
    (e, sub, relay, p)
}

async fn first_notification(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select min(notification_id) from notification")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A gap before `after` that never fills: first waited for, then crossed; `after` is published and counted.
async fn crosses_a_rolled_back_gap_to(
    e: &Engine,
    (sub, relay, p): (&mut Subscriber, &mut Relay, &mut Publisher),
    after: i64,
) {
    assert_eq!(drain(relay, p).await, 0, "a fresh gap is first waited for");
    assert_eq!(drain(relay, p).await, 1);
    assert_eq!(sub.take(1).await[0].0, after);
    assert_eq!(cursor(&e.pool).await, after);
    crate::helpers::delete_topology(&e.settings).await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_gap_in_event_ids_is_waited_for_while_its_insert_runs_and_skipped_once_it_rolled_back(pool: PgPool) {
    let (e, mut sub, mut relay, mut p) = all_relayed(pool).await;
    let n = first_notification(&e.pool).await;
    // A slow transaction holds the next id; a later event commits first.
    let mut slow = e.pool.begin().await.unwrap();
    let held = insert_event(&mut *slow, n).await;
    let later = insert_event(&e.pool, n).await;
    assert_eq!(
        drain(&mut relay, &mut p).await,
        0,
        "the later event waits behind the running insert"
    );
    assert_eq!(drain(&mut relay, &mut p).await, 0);
    slow.commit().await.unwrap();
    assert_eq!(drain(&mut relay, &mut p).await, 2);
    assert_eq!(sub.take(2).await.iter().map(|g| g.0).collect::<Vec<_>>(), [held, later]);
    // A rolled-back insert leaves a gap that never fills: skipped once no older transaction is open.
    let mut doomed = e.pool.begin().await.unwrap();
    insert_event(&mut *doomed, n).await;
    doomed.rollback().await.unwrap();
    let after = insert_event(&e.pool, n).await;
    crosses_a_rolled_back_gap_to(&e, (&mut sub, &mut relay, &mut p), after).await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_gap_wider_than_the_relays_read_window_is_crossed_once_it_rolled_back(pool: PgPool) {
    let (e, mut sub, mut relay, mut p) = all_relayed(pool).await;
    let n = first_notification(&e.pool).await;
    // Fifty thousand ids taken and rolled back (far more than one read of the relay spans), then one event.
    sqlx::query("select nextval(pg_get_serial_sequence('delivery_event', 'event_id')) from generate_series(1, 50000)")
        .execute(&e.pool)
        .await
        .unwrap();
    let after = insert_event(&e.pool, n).await;
    assert!(after > cursor(&e.pool).await + 50_000);
    crosses_a_rolled_back_gap_to(&e, (&mut sub, &mut relay, &mut p), after).await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_relay_can_summarise_the_event_ids_new_brin_ranges_itself(pool: PgPool) {
    let e = engine_with_events(pool).await;
    // Enough events to fill a few 16-page ranges.
    let n = first_notification(&e.pool).await;
    sqlx::query(
        "insert into delivery_event (notification_id, at, local_at, timezone, state, source, detail)
         select $1, now(), now(), 'Asia/Yekaterinburg', 'submitted', 'operator', jsonb_build_object('pad', repeat('x', 200))
         from generate_series(1, 20000)",
    )
    .bind(n)
    .execute(&e.pool)
    .await
    .unwrap();
    let summarised = debtor_notify::storage::outbox::summarise_new_ranges(&e.pool)
        .await
        .unwrap();
    assert!(summarised >= 3, "{summarised} ranges summarised");
    assert_eq!(
        debtor_notify::storage::outbox::summarise_new_ranges(&e.pool)
            .await
            .unwrap(),
        0,
        "nothing new to summarise"
    );
}
