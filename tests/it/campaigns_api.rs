//! Campaigns and the delivery log over the HTTP API, and payments over RabbitMQ.

use debtor_notify::config::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    api::Api,
    engine::{Engine, debtor_in, engine_settings},
    helpers::{UTILITY, Worker, batch_doc, publish_with_key},
};

fn campaign_json(start: &str) -> Value {
    json!({
        "name": "API",
        "utility": UTILITY,
        "starts_at": start,
        "audience": {"min_debt": "100.00"},
        "steps": [{"template": "soft-reminder-sms"}]
    })
}

async fn api_only(pool: &PgPool) -> Api {
    let mut s = engine_settings(pool);
    s.serve.roles = vec![Role::Api];
    Api::spawn_with(s).await
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_campaign_is_created_started_paused_resumed_and_reported_over_the_api(pool: PgPool) {
    let e = Engine::start(pool.clone(), "2026-12-01T05:00:00Z").await;
    e.store(vec![
        debtor_in("1101", "Asia/Yekaterinburg", "+79120001101"),
        debtor_in("1102", "Asia/Yekaterinburg", "+79120001102"),
    ])
    .await;
    let api = api_only(&pool).await;
    let mut bad = campaign_json("2026-12-01T05:00:00Z");
    bad["steps"][0]["template"] = json!("no-such-template");
    let (status, body) = api.call(Method::POST, "/api/v1/campaigns", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("steps[0].template"), "{body}");

    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(campaign_json("2026-12-01T05:00:00Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["campaign_id"].as_i64().unwrap();
    let path = |a: &str| format!("/api/v1/campaigns/{id}/{a}");
    assert_eq!(
        api.call(Method::POST, &path("start"), None).await.1["status"],
        "running"
    );
    assert_eq!(
        api.call(Method::POST, &path("start"), None).await.0,
        StatusCode::CONFLICT
    );
    e.planner.run_once().await.unwrap();
    assert_eq!(api.call(Method::POST, &path("pause"), None).await.1["status"], "paused");
    assert_eq!(e.tick().await, 0, "a paused campaign hands nothing over");
    assert_eq!(
        api.call(Method::POST, &path("resume"), None).await.1["status"],
        "running"
    );
    assert_eq!(e.tick().await, 2);

    let (_, stats) = api.get(&path("stats")).await;
    assert_eq!(
        stats["stats"],
        json!([{"step_no": 1, "channel": "sms", "state": "delivered", "count": 2}])
    );
    let (_, page1) = api.get(&format!("/api/v1/notifications?campaign={id}&limit=1")).await;
    let first = &page1["notifications"][0];
    assert_eq!(first["e164"], "+*******1102", "numbers are masked by default");
    let next = page1["next_before"].as_i64().unwrap();
    let (_, page2) = api
        .get(&format!(
            "/api/v1/notifications?campaign={id}&limit=1&before={next}&show_phones=true"
        ))
        .await;
    assert_eq!(page2["notifications"][0]["e164"], "+79120001101");
    let (_, page3) = api
        .get(&format!(
            "/api/v1/notifications?campaign={id}&limit=1&before={}",
            page2["notifications"][0]["notification_id"]
        ))
        .await;
    assert_eq!(page3["notifications"], json!([]));
    assert_eq!(page3["next_before"], Value::Null);

    let (status, detail) = api
        .get(&format!("/api/v1/notifications/{}", first["notification_id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let states: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["planned", "sending", "submitted", "delivered"]);
    assert_eq!(
        detail["events"][1]["local_at"], "2026-12-01T10:00:00",
        "debtor-local time beside UTC"
    );
    assert_eq!(detail["text_sha256"].as_str().unwrap().len(), 64);
    let (_, filtered) = api.get("/api/v1/notifications?state=delivered&reason=opt_out").await;
    assert_eq!(filtered["notifications"], json!([]));
    assert_eq!(api.get("/api/v1/notifications/999999").await.0, StatusCode::NOT_FOUND);
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn cancelling_a_campaign_cancels_its_pending_notices(pool: PgPool) {
    let e = Engine::start(pool.clone(), "2026-12-01T00:00:00Z").await; // 05:00 local: closed
    e.store(vec![debtor_in("1201", "Asia/Yekaterinburg", "+79120001201")])
        .await;
    let api = api_only(&pool).await;
    let (_, body) = api
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(campaign_json("2026-12-01T00:00:00Z")),
        )
        .await;
    let id = body["campaign_id"].as_i64().unwrap();
    api.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(e.tick().await, 0);
    assert_eq!(
        api.call(Method::POST, &format!("/api/v1/campaigns/{id}/cancel"), None)
            .await
            .1["status"],
        "cancelled"
    );
    e.set("2026-12-01T05:00:00Z");
    assert_eq!(e.tick().await, 0);
    assert_eq!(
        e.states(1).await,
        [("1201".into(), "cancelled".into(), Some("campaign_cancelled".into()))]
    );
    api.stop().await;
}

fn payment_props() -> lapin::BasicProperties {
    use lapin::types::{AMQPValue, FieldTable, LongString};
    let mut headers = FieldTable::default();
    headers.insert(
        "schema".into(),
        AMQPValue::LongString(LongString::from(b"payment.v1".to_vec())),
    );
    lapin::BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers)
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_payment_on_the_intake_exchange_cancels_pending_notices_once_and_unknown_accounts_are_dead_lettered(
    pool: PgPool,
) {
    let worker = Worker::start(pool.clone()).await;
    let batch = Uuid::new_v4();
    let debtors = vec![
        debtor_in("1301", "Asia/Yekaterinburg", "+79120001301"),
        debtor_in("1302", "Asia/Yekaterinburg", "+79120001302"),
    ];
    worker.publish_batch(&batch_doc(batch, "2026-11-20", debtors)).await;
    worker.wait_batch(batch, 1).await;
    let e = Engine::start(pool.clone(), "2026-12-01T00:00:00Z").await;
    e.campaign(&crate::engine::sms_campaign("Платежи", "2026-12-01T00:00:00Z"))
        .await;
    assert_eq!(e.tick().await, 0);
    let payment = json!({"schema": "payment.v1", "payment_id": "pay-1", "utility": UTILITY, "account": "1301",
                         "amount": "4500.00", "paid_on": "2026-11-30", "full": true});
    let body = serde_json::to_vec(&payment).unwrap();
    for _ in 0..2 {
        publish_with_key(&worker.settings, &format!("payment.{UTILITY}"), &body, payment_props()).await;
    }
    let mut unknown = payment.clone();
    unknown["payment_id"] = json!("pay-2");
    unknown["account"] = json!("9999");
    publish_with_key(
        &worker.settings,
        "payment.x",
        &serde_json::to_vec(&unknown).unwrap(),
        payment_props(),
    )
    .await;
    let (_, reason) = worker.take_dead_letter().await;
    assert!(reason.contains("no debtor"), "{reason}");
    let mut cancelled = None;
    for _ in 0..100 {
        cancelled = sqlx::query_scalar::<_, i32>("select cancelled from payment where payment_id = 'pay-1'")
            .fetch_optional(&pool)
            .await
            .unwrap();
        if cancelled.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cancelled, Some(1));
    let payments: i64 = sqlx::query_scalar("select count(*) from payment")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(payments, 1, "the redelivered payment is stored once");
    e.set("2026-12-01T05:00:00Z");
    assert_eq!(e.tick().await, 1);
    assert_eq!(
        e.states(1).await,
        [
            ("1301".into(), "cancelled".into(), Some("paid".into())),
            ("1302".into(), "delivered".into(), None)
        ]
    );
    worker.stop().await;
}
