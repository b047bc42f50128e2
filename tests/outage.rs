//! Outages of the real services: PostgreSQL stopped and restarted, RabbitMQ stopped and restarted while the
//! intake worker runs. A separate test binary (cargo runs test binaries one after another), and one test
//! function, because stopping a shared service would break tests running beside it.

use std::{sync::Arc, time::Duration};

use debtor_notify::{
    config::{Secret, Settings},
    intake::consumer::IntakeWorker,
    queue::{self, message::DEBTOR_BATCH_V1, topology},
    storage,
};
use lapin::{
    BasicProperties,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, LongString},
};
use sqlx::PgPool;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const UTILITY: &str = "okk-outage";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_rides_out_a_database_outage_and_a_broker_restart_without_losing_a_batch() {
    let (settings, admin, db) = scratch().await;
    let pool = storage::connect(&settings.database).unwrap();
    storage::migrate(&pool).await.unwrap();
    storage::utility::insert_utility(&pool, UTILITY, "ОКК", "Asia/Yekaterinburg")
        .await
        .unwrap();
    declare(&settings).await;
    let settings = Arc::new(settings);
    let token = CancellationToken::new();
    let worker = tokio::spawn(
        IntakeWorker {
            pool: pool.clone(),
            settings: settings.clone(),
        }
        .run(token.clone()),
    );

    let before = publish(&settings, 3).await;
    assert_eq!(wait_accepted(&pool, before).await, 3);

    // PostgreSQL goes away while a batch is waiting in the queue.
    postgres("stop").await;
    let during_db_outage = publish(&settings, 4).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !worker.is_finished(),
        "the worker keeps running while the database is down"
    );
    postgres("start").await;
    assert_eq!(wait_accepted(&pool, during_db_outage).await, 4);

    // RabbitMQ restarts: the consumer reconnects and the next batch is stored.
    rabbitmq(&["stop_app"]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmq(&["start_app"]).await;
    rabbitmq(&["await_startup"]).await;
    let after_restart = publish(&settings, 5).await;
    assert_eq!(wait_accepted(&pool, after_restart).await, 5);

    let snapshots: i64 = sqlx::query_scalar("select count(*) from debt_snapshot")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(snapshots, 12, "every debtor stored exactly once");
    token.cancel();
    worker.await.unwrap();
    pool.close().await;
    cleanup(&settings, &admin, &db).await;
}

async fn scratch() -> (Settings, PgPool, String) {
    let mut s = Settings::load(None).expect("configuration loads");
    let tag = Uuid::new_v4().simple().to_string()[..10].to_owned();
    let db = format!("debtor_notify_outage_{tag}");
    let admin = storage::connect(&s.database).unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {db}")))
        .execute(&admin)
        .await
        .unwrap();
    s.database.url = Secret::new(storage::url_with_database(s.database.url.expose(), &db));
    s.database.acquire_timeout_secs = 2;
    s.amqp.use_prefix(&format!("outage.{tag}"));
    s.amqp.reconnect_initial_ms = 200;
    s.amqp.reconnect_max_ms = 2000;
    s.intake.db_retry_initial_ms = 200;
    s.intake.db_retry_max_ms = 1000;
    s.intake.db_retry_attempts = 3;
    (s, admin, db)
}

async fn declare(settings: &Settings) {
    let conn = queue::connect(settings.amqp.url.expose()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    topology::declare(&channel, &settings.amqp).await.unwrap();
    let _ = conn.close(200, "done".into()).await;
}

/// Publishes a batch of `n` debtors (with confirms, retrying while the broker is starting) and returns its id.
async fn publish(settings: &Settings, n: usize) -> Uuid {
    let batch_id = Uuid::new_v4();
    let debtors: Vec<_> = (0..n)
        .map(|i| {
            let account = format!("{}{i}", &batch_id.simple().to_string()[..12]);
            serde_json::json!({"account": account, "phones": ["+7 912 345 67 89"], "debt_total": "10.00"})
        })
        .collect();
    let doc = serde_json::json!({"schema": DEBTOR_BATCH_V1, "batch_id": batch_id, "utility": UTILITY,
        "as_of": "2026-11-01", "debtors": debtors});
    let body = serde_json::to_vec(&doc).unwrap();
    let mut headers = FieldTable::default();
    headers.insert(
        "schema".into(),
        AMQPValue::LongString(LongString::from(DEBTOR_BATCH_V1.as_bytes().to_vec())),
    );
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers);
    for _ in 0..60 {
        if let Ok(conn) = queue::connect(settings.amqp.url.expose()).await {
            let channel = conn.create_channel().await.unwrap();
            channel.confirm_select(Default::default()).await.unwrap();
            let confirm = channel
                .basic_publish(
                    settings.amqp.intake_exchange.as_str().into(),
                    format!("batch.{UTILITY}").as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    props.clone(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
            let _ = conn.close(200, "done".into()).await;
            return batch_id;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("broker not reachable for 30 s");
}

/// Waits (60 s at most) until the batch is completed; returns its accepted count.
async fn wait_accepted(pool: &PgPool, batch_id: Uuid) -> i32 {
    for _ in 0..600 {
        let row: Result<Option<(String, i32)>, _> =
            sqlx::query_as("select status, accepted from batch where batch_id = $1")
                .bind(batch_id)
                .fetch_optional(pool)
                .await;
        if let Ok(Some((status, accepted))) = row
            && status == "completed"
        {
            return accepted;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch {batch_id} not completed within 60 s");
}

async fn postgres(action: &str) {
    let script =
        format!("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -1) main {action}");
    let status = Command::new("bash").args(["-c", &script]).status().await.unwrap();
    assert!(
        status.success(),
        "pg_ctlcluster {action} failed (the test needs root, as in scripts/test)"
    );
}

async fn rabbitmq(args: &[&str]) {
    let status = Command::new("rabbitmqctl").arg("-q").args(args).status().await.unwrap();
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

async fn cleanup(settings: &Settings, admin: &PgPool, db: &str) {
    if let Ok(conn) = queue::connect(settings.amqp.url.expose()).await {
        let channel = conn.create_channel().await.unwrap();
        topology::delete(&channel, &settings.amqp).await;
        let _ = conn.close(200, "done".into()).await;
    }
    let drop = format!("drop database if exists {db} with (force)");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(admin).await;
}
