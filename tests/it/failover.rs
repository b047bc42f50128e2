//! Failover by priority: the first provider (SMS.ru, on the simulator) is down, so every notice goes out
//! through the next one (a real Kannel), exactly once; the first provider's circuit opens and it is skipped.

use std::time::Duration;

use debtor_notify::{
    config::SmsRuSettings,
    gateway_sim::{self, SimConfig},
};
use sqlx::PgPool;

use debtor_notify::kannel_rig::KannelRig;

use crate::{
    api::Api,
    engine::{Engine, debtor_in, sms_campaign},
    kannel::kannel_settings,
    sms_apis::smsru_settings,
};

const START: &str = "2026-12-01T05:00:00Z";

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn with_the_first_provider_down_every_notice_goes_once_through_the_next_and_its_circuit_opens(pool: PgPool) {
    let rig = KannelRig::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), true).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = format!("http://{}", listener.local_addr().unwrap());
    let config = SimConfig::default_instant();
    tokio::spawn(gateway_sim::serve(listener, config));
    reqwest::Client::new()
        .post(format!("{sim}/control/outage/on"))
        .send()
        .await
        .unwrap();
    let mut s = kannel_settings(&pool, Some(&rig), None);
    s.dispatch.sms_provider = "failover".into();
    s.dispatch.breaker_failures = 2;
    s.dispatch.breaker_cooldown_secs = 600;
    s.dispatch.batch_size = 1;
    s.gateways.smsru = Some(SmsRuSettings {
        concurrency: 4,
        rate_per_second: 100,
        burst: 10,
        ..smsru_settings(&sim)
    });
    let api = Api::spawn_with(s.clone()).await;
    let e = Engine::with(pool, s, START).await;
    e.store(
        (0..4)
            .map(|i| {
                debtor_in(
                    &format!("{}", 5001 + i),
                    "Asia/Yekaterinburg",
                    &format!("+7912000{:04}", 501 + i),
                )
            })
            .collect(),
    )
    .await;
    e.campaign(&sms_campaign("Резерв", START)).await;
    assert_eq!(e.tick().await, 4);
    for _ in 0..100 {
        let delivered: i64 = sqlx::query_scalar("select count(*) from notification where state = 'delivered'")
            .fetch_one(&e.pool)
            .await
            .unwrap();
        if delivered == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let providers: Vec<(String, String)> = sqlx::query_as("select state, provider from notification order by 1")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert!(
        providers
            .iter()
            .all(|p| p == &("delivered".to_owned(), "kannel".to_owned())),
        "{providers:?}"
    );
    assert_eq!(
        rig.at_smsc()
            .iter()
            .filter(|m| m.udh.as_ref().is_none_or(|u| u.last() == Some(&1)))
            .count(),
        4
    );
    // Two refusals opened SMS.ru's circuit: the last two notices did not ask it.
    let stats: serde_json::Value = reqwest::get(format!("{sim}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["refused"], 2, "{stats}");
    assert_eq!(stats["received"], 0);
    api.stop().await;
}
