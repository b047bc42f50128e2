//! Test harness: per-test settings with unique broker names, a running intake worker, publishing and polling.

use std::{sync::Arc, time::Duration};

use debtor_notify::{
    config::Settings,
    intake::consumer::IntakeWorker,
    queue::{self, message::DEBTOR_BATCH_V1, topology},
    storage::{self, batch::BatchReport},
};
use futures_util::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions},
    types::{AMQPValue, FieldTable, LongString},
};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const UTILITY: &str = "okk-test";

/// Settings from the environment with broker names unique to one test.
pub fn test_settings(pool: &PgPool) -> Settings {
    let mut s = Settings::load(None).expect("configuration loads");
    let id = Uuid::new_v4().simple().to_string();
    let tag = &id[..12];
    s.amqp.use_prefix(&format!("test.{tag}"));
    s.amqp.reconnect_initial_ms = 100;
    s.amqp.reconnect_max_ms = 1000;
    s.intake.db_retry_initial_ms = 50;
    s.intake.shutdown_grace_secs = 10;
    s.http.listen = "127.0.0.1:0".parse().expect("static address");
    s.api.admin_token = debtor_notify::config::Secret::new("test-token");
    let url = database_url(pool);
    s.database.url = debtor_notify::config::Secret::new(url);
    s
}

/// The URL of the test's own database (the pool points at it).
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by scripts/test");
    let name = pool
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_owned();
    storage::url_with_database(&base, &name)
}

/// A running intake worker on the test's database and queues.
pub struct Worker {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    token: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Registers the test utility, declares the topology and starts consuming.
    pub async fn start(pool: PgPool) -> Self {
        let settings = Arc::new(test_settings(&pool));
        storage::utility::insert_utility(&pool, UTILITY, "ОКК Тест", "Asia/Yekaterinburg")
            .await
            .unwrap();
        declare(&settings).await;
        Self::start_with(pool, settings)
    }

    /// Starts consuming with given settings (the topology must exist or the worker declares it).
    pub fn start_with(pool: PgPool, settings: Arc<Settings>) -> Self {
        let token = CancellationToken::new();
        let worker = IntakeWorker {
            pool: pool.clone(),
            settings: settings.clone(),
        };
        let handle = tokio::spawn(worker.run(token.clone()));
        Self {
            settings,
            pool,
            token,
            handle: Some(handle),
        }
    }

    /// Stops the worker, waits for it, and deletes the test's queues and exchanges.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
        delete_topology(&self.settings).await;
    }

    /// Publishes a body to the intake exchange with the given properties.
    pub async fn publish(&self, body: &[u8], props: BasicProperties) {
        publish_to(&self.settings, body, props).await;
    }

    /// Publishes a well-formed JSON batch message.
    pub async fn publish_batch(&self, doc: &serde_json::Value) {
        self.publish(&serde_json::to_vec(doc).unwrap(), json_props()).await;
    }

    /// Waits until the batch report has `parts` parts received (or the status is `rejected`).
    pub async fn wait_batch(&self, batch_id: Uuid, parts: i32) -> BatchReport {
        wait_batch(&self.pool, batch_id, parts).await
    }

    /// Reads one message from the dead-letter queue (waits up to 10 s) and returns its body and reason header.
    pub async fn take_dead_letter(&self) -> (Vec<u8>, String) {
        let conn = queue::connect(self.settings.amqp.url.expose()).await.unwrap();
        let channel = conn.create_channel().await.unwrap();
        let mut consumer = channel
            .basic_consume(
                self.settings.amqp.dead_queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .expect("a dead letter within 10 s")
            .unwrap()
            .unwrap();
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        let reason = match delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-rejection-reason"))
        {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            other => panic!("no x-rejection-reason header: {other:?}"),
        };
        let _ = conn.close(200, "done".into()).await;
        (delivery.data, reason)
    }
}

/// Polls the database for a batch report until `parts` parts are in (30 s at most).
pub async fn wait_batch(pool: &PgPool, batch_id: Uuid, parts: i32) -> BatchReport {
    for _ in 0..300 {
        if let Some(r) = storage::batch::get_batch_report(pool, batch_id, 10_000).await.unwrap()
            && (r.parts_received >= parts || r.status == "rejected")
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch {batch_id} did not reach {parts} part(s) within 30 s");
}

/// Declares the test's topology.
pub async fn declare(settings: &Settings) {
    let conn = queue::connect(settings.amqp.url.expose()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    topology::declare(&channel, &settings.amqp).await.unwrap();
    let _ = conn.close(200, "done".into()).await;
}

pub async fn delete_topology(settings: &Settings) {
    let Ok(conn) = queue::connect(settings.amqp.url.expose()).await else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        topology::delete(&channel, &settings.amqp).await;
    }
    let _ = conn.close(200, "done".into()).await;
}

/// Publishes to the test's intake exchange with routing key `batch.okk-test`.
pub async fn publish_to(settings: &Settings, body: &[u8], props: BasicProperties) {
    publish_with_key(settings, &format!("batch.{UTILITY}"), body, props).await;
}

/// Publishes to the test's intake exchange with a routing key.
pub async fn publish_with_key(settings: &Settings, key: &str, body: &[u8], props: BasicProperties) {
    let conn = queue::connect(settings.amqp.url.expose()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    channel
        .basic_publish(
            settings.amqp.intake_exchange.as_str().into(),
            key.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = conn.close(200, "done".into()).await;
}

/// Properties of a well-formed batch message.
pub fn json_props() -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "schema".into(),
        AMQPValue::LongString(LongString::from(DEBTOR_BATCH_V1.as_bytes().to_vec())),
    );
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers)
}

/// A valid debtor record.
pub fn debtor(account: &str, debt: &str) -> serde_json::Value {
    serde_json::json!({
        "account": account,
        "full_name": "Смирнова Ирина Ивановна",
        "phones": ["8 (912) 345-67-89"],
        "address": "ХМАО-Югра, пгт. Приобье, ул. Советская, д. 36, кв. 73",
        "timezone": "",
        "debt_total": debt,
        "penalty": "245.37",
        "months_overdue": 2,
        "services": [{"service": "ХВС", "debt": debt}],
        "last_payment_date": "2026-01-19",
        "agreement_active": false
    })
}

/// A batch document.
pub fn batch_doc(batch_id: Uuid, as_of: &str, debtors: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "schema": DEBTOR_BATCH_V1,
        "batch_id": batch_id,
        "utility": UTILITY,
        "as_of": as_of,
        "debtors": debtors,
    })
}
