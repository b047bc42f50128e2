//! The SMS.ru and SMSC.ru adapters against the gateway simulator speaking their wire formats: sends counted once at the
//! provider, delivery by signed callbacks (duplicates and out-of-order absorbed, bad signatures and tokens
//! refused), status polling when no callback comes, error classes, and an outage that drains by retries.

use std::time::Duration;

use debtor_notify::{
    config::{Secret, Settings, SmsRuSettings, SmscSettings},
    gateway::smsru::callback_hash,
    gateway_sim::{self, SimConfig},
    kannel_rig::free_port,
};
use serde_json::Value;
use sqlx::PgPool;

use crate::{
    api::Api,
    engine::{Engine, debtor_in, engine_settings, sms_campaign},
};

const START: &str = "2026-12-01T05:00:00Z";
const TOKEN: &str = "smsru-callback-token-0123456789";
const API_ID: &str = "sim-api-id";

/// SMS.ru settings pointed at the simulator (priority 1).
pub(crate) fn smsru_settings(sim: &str) -> SmsRuSettings {
    SmsRuSettings {
        base_url: sim.to_owned(),
        api_id: Secret::new(API_ID),
        sender: "DEBTNOTIFY".into(),
        registered_senders: vec!["DEBTNOTIFY".into()],
        callback_token: Secret::new(TOKEN),
        concurrency: 16,
        rate_per_second: 1000,
        burst: 100,
        timeout_secs: 5,
        price_per_segment: "2.50".parse().unwrap(),
        priority: 1,
    }
}

/// SMSC.ru settings pointed at the simulator.
pub(crate) fn smsc_settings(sim: &str) -> SmscSettings {
    SmscSettings {
        base_url: sim.to_owned(),
        login: "sim".into(),
        password: Secret::new("sim-psw"),
        sender: "DEBTNOTIFY".into(),
        registered_senders: vec!["DEBTNOTIFY".into()],
        callback_token: Secret::new(TOKEN),
        concurrency: 16,
        rate_per_second: 1000,
        burst: 100,
        timeout_secs: 5,
        price_per_segment: "2.20".parse().unwrap(),
        priority: 3,
    }
}

struct Rig {
    e: Engine,
    api: Api,
    sim: String,
}

/// An engine on SMS.ru pointed at a fresh simulator; `callbacks`: whether the simulator calls us back.
async fn rig(pool: PgPool, provider: &str, debtors: usize, callbacks: bool, tune: impl FnOnce(&mut SimConfig)) -> Rig {
    let port = free_port();
    let mut s: Settings = engine_settings(&pool);
    s.http.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let callback = |kind: &str| callbacks.then(|| format!("http://127.0.0.1:{port}/callbacks/{kind}/{TOKEN}"));
    let mut config = SimConfig::default_instant();
    config.smsru_callback = callback("smsru");
    config.smsc_callback = callback("smsc");
    tune(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(gateway_sim::serve(listener, config));
    s.dispatch.sms_provider = provider.into();
    s.gateways.smsc = Some(smsc_settings(&sim));
    s.gateways.smsru = Some(smsru_settings(&sim));
    let api = Api::spawn_with(s.clone()).await;
    let e = Engine::with(pool, s, START).await;
    e.store(
        (0..debtors)
            .map(|i| {
                debtor_in(
                    &format!("{}", 6001 + i),
                    "Asia/Yekaterinburg",
                    &format!("+7912000{:04}", 601 + i),
                )
            })
            .collect(),
    )
    .await;
    e.campaign(&sms_campaign("SMS.ru", START)).await;
    Rig { e, api, sim }
}

impl Rig {
    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.sim))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn wait_all(&self, state: &str, n: i64) {
        for _ in 0..100 {
            let k: i64 = sqlx::query_scalar("select count(*) from notification where state = $1")
                .bind(state)
                .fetch_one(&self.e.pool)
                .await
                .unwrap();
            if k == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let states: Vec<(String, Option<String>)> = sqlx::query_as("select state, reason from notification")
            .fetch_all(&self.e.pool)
            .await
            .unwrap();
        panic!("not {n} × {state}: {states:?}");
    }

    async fn callback(&self, token: &str, entries: &[&str], key: &str) -> (u16, String) {
        let mut form: Vec<(&str, String)> = entries.iter().map(|e| ("data[]", (*e).to_owned())).collect();
        form.push(("hash", callback_hash(key, entries)));
        let r = reqwest::Client::new()
            .post(self.api.url(&format!("/callbacks/smsru/{token}")))
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn stop(self) {
        self.api.stop().await;
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn notices_go_out_once_each_through_the_smsru_api_and_its_signed_callbacks_deliver_them(pool: PgPool) {
    let r = rig(pool, "smsru", 5, true, |_| {}).await;
    assert_eq!(r.e.tick().await, 5);
    r.wait_all("delivered", 5).await;
    let stats = r.stats().await;
    assert_eq!(stats["received"], 5, "{stats}");
    assert_eq!(
        stats["send_requests"], 1,
        "five numbers in one request (to[PHONE]=TEXT): {stats}"
    );
    assert!(stats["per_phone"].as_object().unwrap().values().all(|v| v == 1));
    let ids: Vec<Option<String>> = sqlx::query_scalar("select provider_message_id from notification")
        .fetch_all(&r.e.pool)
        .await
        .unwrap();
    assert!(
        ids.iter()
            .all(|i| i.as_deref().is_some_and(|i| i.starts_with("000000-")))
    );
    // The campaign's spend: five accepted hand-overs at SMS.ru, priced with its configured 2.50 per segment.
    let segments: i64 = sqlx::query_scalar("select sum(segments)::bigint from notification")
        .fetch_one(&r.e.pool)
        .await
        .unwrap();
    let (status, stats) = r.api.get("/api/v1/campaigns/1/stats").await;
    assert_eq!(status, 200, "{stats}");
    let expected = rust_decimal::Decimal::new(250, 2) * rust_decimal::Decimal::from(segments);
    assert_eq!(
        stats["spend"],
        serde_json::json!([{"provider": "smsru", "channel": "sms", "accepted": 5, "segments": segments,
                            "price_per_segment": "2.50", "cost": expected.to_string()}]),
        "{stats}"
    );
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn duplicate_and_late_callbacks_are_absorbed_and_bad_signatures_or_tokens_are_refused(pool: PgPool) {
    let r = rig(pool, "smsru", 1, false, |_| {}).await;
    assert_eq!(r.e.tick().await, 1);
    r.wait_all("submitted", 1).await;
    let (id, sms_id): (i64, String) = sqlx::query_as("select notification_id, provider_message_id from notification")
        .fetch_one(&r.e.pool)
        .await
        .unwrap();
    let delivered = format!("sms_status\n{sms_id}\n103\n1795769809");
    let in_transit = format!("sms_status\n{sms_id}\n102\n1795769700");
    assert_eq!(r.callback(TOKEN, &[&delivered], "wrong-key").await.0, 403);
    assert_eq!(r.callback("wrong-token", &[&delivered], API_ID).await.0, 404);
    assert_eq!(r.callback(TOKEN, &[&delivered], API_ID).await, (200, "100".into()));
    assert_eq!(r.callback(TOKEN, &[&delivered], API_ID).await, (200, "100".into()));
    assert_eq!(r.callback(TOKEN, &[&in_transit], API_ID).await, (200, "100".into()));
    assert_eq!(
        r.callback(TOKEN, &["sms_status\n999-1\n103\n1795769809"], API_ID)
            .await
            .0,
        200
    );
    r.wait_all("delivered", 1).await;
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from delivery_event where notification_id = $1 and reason = 'report_not_applied'",
    )
    .bind(id)
    .fetch_one(&r.e.pool)
    .await
    .unwrap();
    assert_eq!(
        kept, 2,
        "the duplicate and the late in-transit report are kept, changing nothing"
    );
    let orphans: i64 = sqlx::query_scalar("select count(*) from orphan_report where provider_message_id = '999-1'")
        .fetch_one(&r.e.pool)
        .await
        .unwrap();
    assert_eq!(orphans, 1);
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn without_a_callback_the_status_is_polled_and_the_notice_delivered(pool: PgPool) {
    let r = rig(pool, "smsru", 1, false, |_| {}).await;
    r.e.tick().await;
    r.wait_all("submitted", 1).await;
    // Past the report timeout: the reconciler asks /sms/status by the recorded sms_id.
    r.e.set("2026-12-01T05:20:00Z");
    r.e.dispatcher.reconcile_once().await.unwrap();
    r.wait_all("delivered", 1).await;
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_permanent_refusal_fails_the_notice_with_the_providers_code_kept(pool: PgPool) {
    let r = rig(pool.clone(), "smsru", 1, true, |c| c.permanent_pct = 100).await;
    r.e.tick().await;
    r.wait_all("failed", 1).await;
    let code: Option<String> = sqlx::query_scalar("select error_code from attempt")
        .fetch_one(&r.e.pool)
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("smsru_207"));
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_outage_is_retried_with_backoff_and_drains_without_a_duplicate_send(pool: PgPool) {
    let r = rig(pool, "smsru", 3, true, |_| {}).await;
    let control = |on: &str| format!("{}/control/outage/{on}", r.sim);
    reqwest::Client::new().post(control("on")).send().await.unwrap();
    assert_eq!(r.e.tick().await, 3);
    r.wait_all("planned", 3).await;
    let codes: Vec<Option<String>> = sqlx::query_scalar("select error_code from attempt")
        .fetch_all(&r.e.pool)
        .await
        .unwrap();
    assert!(
        codes.iter().all(|c| c.as_deref() == Some("smsru_http_503")),
        "{codes:?}"
    );
    reqwest::Client::new().post(control("off")).send().await.unwrap();
    // Before the backoff ends nothing is handed over again; after it, everything drains.
    assert_eq!(r.e.tick().await, 0);
    r.e.set("2026-12-01T05:30:00Z");
    assert_eq!(r.e.tick().await, 3);
    r.wait_all("delivered", 3).await;
    assert_eq!(r.stats().await["received"], 3, "each number reached the provider once");
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn notices_go_out_once_each_through_the_smsc_api_and_its_callbacks_deliver_them(pool: PgPool) {
    let r = rig(pool, "smsc", 4, true, |_| {}).await;
    assert_eq!(r.e.tick().await, 4);
    r.wait_all("delivered", 4).await;
    assert_eq!(r.stats().await["received"], 4);
    let ids: Vec<(i64, String)> = sqlx::query_as("select notification_id, provider_message_id from notification")
        .fetch_all(&r.e.pool)
        .await
        .unwrap();
    assert!(
        ids.iter().all(|(id, p)| p.starts_with(&format!("{id}:79"))),
        "our id is SMSC's id: {ids:?}"
    );
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn smsc_is_polled_without_callbacks_and_refuses_the_same_id_twice_as_in_doubt(pool: PgPool) {
    use debtor_notify::gateway::{GatewayError, SmsGateway, SmsRequest, smsc::Smsc};
    let r = rig(pool, "smsc", 1, false, |c| c.permanent_pct = 0).await;
    r.e.tick().await;
    r.wait_all("submitted", 1).await;
    r.e.set("2026-12-01T05:20:00Z");
    r.e.dispatcher.reconcile_once().await.unwrap();
    r.wait_all("delivered", 1).await;
    let smsc = Smsc::new(smsc_settings(&r.sim)).unwrap();
    let req = SmsRequest {
        client_ref: "424242".into(),
        attempt: 1,
        to: "+79120009999".into(),
        text: "Проверка".into(),
        sender: None,
    };
    assert!(smsc.send_sms(&req).await.is_ok());
    let again = smsc.send_sms(&req).await.unwrap_err();
    assert!(
        matches!(&again, GatewayError::InDoubt { code, .. } if code == "smsc_9"),
        "{again:?}"
    );
    r.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_undeliverable_number_at_smsc_fails_with_its_code(pool: PgPool) {
    let r = rig(pool, "smsc", 1, true, |c| c.permanent_pct = 100).await;
    r.e.tick().await;
    r.wait_all("failed", 1).await;
    let code: Option<String> = sqlx::query_scalar("select error_code from attempt")
        .fetch_one(&r.e.pool)
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("smsc_8"));
    r.stop().await;
}
