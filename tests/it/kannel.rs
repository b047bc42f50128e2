//! The Kannel adapter against a real Kannel (bearerbox + smsbox, `fakesmsc` as the SMSC): Cyrillic arrives intact
//! as UCS-2 in as many parts as we counted, DLRs come back to our callback endpoint and are applied in either
//! order, a rejecting SMSC ends `failed`, an unroutable one fails at hand-over, an SMSC outage queues in Kannel
//! and delivers once the SMSC is back.

use std::time::Duration;

use debtor_notify::config::{KannelSettings, Secret, Settings};
use sqlx::PgPool;

use debtor_notify::kannel_rig::KannelRig;

use crate::{
    api::Api,
    engine::{Engine, debtor_in, engine_settings, sms_campaign},
};

const START: &str = "2026-12-01T05:00:00Z"; // Tuesday, 10:00 in Yekaterinburg
const TOKEN: &str = "kannel-callback-token-0123456789";

pub(crate) fn kannel_settings(pool: &PgPool, rig: Option<&KannelRig>, smsc: Option<&str>) -> Settings {
    let mut s = engine_settings(pool);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    s.http.listen = format!("127.0.0.1:{port}").parse().unwrap();
    s.dispatch.sms_provider = "kannel".into();
    s.gateways.kannel = Some(KannelSettings {
        sendsms_url: rig.map_or("http://127.0.0.1:9/cgi-bin/sendsms".into(), |r| r.sendsms_url.clone()),
        username: "notify".into(),
        password: Secret::new("notify-secret"),
        sender: "DEBTNOTIFY".into(),
        registered_senders: vec!["DEBTNOTIFY".into()],
        smsc: smsc.map(str::to_owned),
        callback_base: format!("http://127.0.0.1:{port}"),
        callback_token: Secret::new(TOKEN),
        concurrency: 32,
        rate_per_second: 500,
        burst: 50,
        timeout_secs: 10,
        price_per_segment: "2.50".parse().unwrap(),
        priority: 2,
    });
    s
}

/// An engine on Kannel with the HTTP server (our DLR endpoint) running.
async fn on_kannel(pool: PgPool, rig: Option<&KannelRig>, smsc: Option<&str>, debtors: usize) -> (Engine, Api) {
    let settings = kannel_settings(&pool, rig, smsc);
    let api = Api::spawn_with(settings.clone()).await;
    let e = Engine::with(pool, settings, START).await;
    e.store(
        (0..debtors)
            .map(|i| {
                debtor_in(
                    &format!("{}", 7001 + i),
                    "Asia/Yekaterinburg",
                    &format!("+7912000{:04}", 701 + i),
                )
            })
            .collect(),
    )
    .await;
    e.campaign(&sms_campaign("Kannel", START)).await;
    (e, api)
}

async fn wait_for_state(e: &Engine, want: &str) -> (i64, String, Option<String>) {
    for _ in 0..300 {
        let row: (i64, String, Option<String>) =
            sqlx::query_as("select notification_id, state, reason from notification")
                .fetch_one(&e.pool)
                .await
                .unwrap();
        if row.1 == want {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events: Vec<(String, Option<String>)> =
        sqlx::query_as("select state, reason from delivery_event order by event_id")
            .fetch_all(&e.pool)
            .await
            .unwrap();
    panic!("the notice never reached {want}; events {events:?}");
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn cyrillic_text_reaches_the_smsc_intact_in_the_parts_we_counted_and_the_final_dlr_marks_it_delivered(
    pool: PgPool,
) {
    let rig = KannelRig::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), true).await;
    let (e, api) = on_kannel(pool, Some(&rig), None, 1).await;
    assert_eq!(e.tick().await, 1);
    let (id, _, _) = wait_for_state(&e, "delivered").await;
    let (text, segments): (String, i32) = sqlx::query_as(
        "select e.rendered_text, n.segments from notification n
             join delivery_event e on e.notification_id = n.notification_id and e.state = 'sending'
             where n.notification_id = $1",
    )
    .bind(id)
    .fetch_one(&e.pool)
    .await
    .unwrap();
    assert!(segments >= 2, "the soft reminder is a long SMS ({segments} segment)");
    let parts = rig.at_smsc();
    assert_eq!(
        parts.len(),
        usize::try_from(segments).unwrap(),
        "one SMS per segment at the SMSC: {parts:?}"
    );
    assert!(
        parts
            .iter()
            .all(|p| p.udh.is_some() && p.to == "79120000701" && p.from == "DEBTNOTIFY")
    );
    let arrived: String = parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(arrived, text, "the text arrived intact");
    let by_provider: Vec<(String, Option<String>)> = sqlx::query_as(
        "select state, reason from delivery_event where notification_id = $1 and source = 'provider' order by event_id",
    )
    .bind(id)
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert!(by_provider.contains(&("delivered".into(), None)), "{by_provider:?}");
    api.stop().await;
}

async fn dlr(api: &Api, token: &str, query: &str) -> reqwest::StatusCode {
    reqwest::get(api.url(&format!("/callbacks/kannel/{token}?{query}")))
        .await
        .unwrap()
        .status()
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn dlrs_in_either_order_end_delivered_and_unknown_or_unauthenticated_ones_are_kept_or_refused(pool: PgPool) {
    let (e, api) = on_kannel(pool, None, None, 2).await;
    e.planner.run_once().await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "update notification set state = 'submitted', attempts = 1, sent_at = $1, provider = 'kannel'
         returning notification_id",
    )
    .bind(crate::engine::at(START))
    .fetch_all(&e.pool)
    .await
    .unwrap();
    let (a, b) = (ids[0], ids[1]);
    // 8 then 1, and 1 then 8 (a late SMSC ACK must not overwrite the final report).
    for (id, order) in [(a, [8, 1]), (b, [1, 8])] {
        for status in order {
            let q = format!("ref={id}&attempt=1&status={status}&ts=1795769809&reply=ACK%2F&smsc=fake&fid=");
            assert_eq!(dlr(&api, TOKEN, &q).await, 200);
        }
    }
    let states: Vec<String> =
        sqlx::query_scalar("select state from notification where notification_id = any($1) order by notification_id")
            .bind(&ids)
            .fetch_all(&e.pool)
            .await
            .unwrap();
    assert_eq!(states, ["delivered", "delivered"]);
    let late_ack: i64 = sqlx::query_scalar(
        "select count(*) from delivery_event where notification_id = $1 and reason = 'report_not_applied'",
    )
    .bind(b)
    .fetch_one(&e.pool)
    .await
    .unwrap();
    assert_eq!(late_ack, 1, "the late ACK is kept as evidence that changed nothing");
    // A wrong token is refused and records nothing; an unknown reference is kept as an orphan.
    assert_eq!(
        dlr(&api, "wrong-token", &format!("ref={a}&attempt=1&status=16")).await,
        404
    );
    assert_eq!(
        dlr(&api, TOKEN, "ref=999999&attempt=1&status=1&ts=1795769809").await,
        200
    );
    assert_eq!(dlr(&api, TOKEN, "ref=1&attempt=1&status=x").await, 400);
    let orphans: Vec<(String, String)> = sqlx::query_as("select client_ref, state from orphan_report")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert_eq!(orphans, [("999999".into(), "delivered".into())]);
    let rejected: Vec<(String, String)> = sqlx::query_as("select provider, problem from rejected_callback")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert_eq!(rejected, [("kannel".into(), "bad or missing field: status".into())]);
    let failed: i64 = sqlx::query_scalar("select count(*) from notification where state = 'failed'")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_rejecting_smsc_ends_the_notice_failed(pool: PgPool) {
    let rig = KannelRig::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), true).await;
    let (e, api) = on_kannel(pool, Some(&rig), Some("reject"), 1).await;
    assert_eq!(e.tick().await, 1);
    let (_, _, reason) = wait_for_state(&e, "failed").await;
    assert_eq!(reason.as_deref(), Some("smsc_rejected"));
    assert!(rig.at_smsc().is_empty());
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_unroutable_message_fails_at_hand_over_with_kannels_answer_kept(pool: PgPool) {
    let rig = KannelRig::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), true).await;
    let (e, api) = on_kannel(pool, Some(&rig), Some("unroutable"), 1).await;
    e.tick().await;
    let (id, _, _) = wait_for_state(&e, "failed").await;
    let code: Option<String> = sqlx::query_scalar("select error_code from attempt where notification_id = $1")
        .bind(id)
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("kannel_not_routable"));
    api.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_smsc_outage_queues_in_kannel_and_the_notice_is_delivered_once_the_smsc_is_back(pool: PgPool) {
    let mut rig = KannelRig::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), true).await;
    rig.stop_fakesmsc().await;
    let (e, api) = on_kannel(pool, Some(&rig), None, 1).await;
    assert_eq!(e.tick().await, 1);
    let (id, _, _) = wait_for_state(&e, "submitted").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rig.at_smsc().is_empty(), "nothing reached the SMSC while it was down");
    rig.start_fakesmsc().await;
    wait_for_state(&e, "delivered").await;
    assert!(!rig.at_smsc().is_empty());
    let attempts = e.attempts(id).await;
    assert_eq!(attempts, 1, "one hand-over: Kannel queued it, we did not re-send");
    api.stop().await;
}
