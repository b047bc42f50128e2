//! The narrow record of accepted hand-overs (`storage::accept::record_accepts`) when the notice is no longer in
//! flight: nothing changes, and a report folded into the accept is still kept as evidence.

use sqlx::PgPool;

use debtor_notify::storage::{
    accept::{Accept, FinalReport, record_accepts},
    notification::detail,
};

use crate::engine::{Engine, at, debtor_in, sms_campaign};

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_folded_report_of_a_notice_settled_meanwhile_is_kept_as_a_report_not_applied_event(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in("9301", "Asia/Yekaterinburg", "+79120000093")])
        .await;
    e.campaign(&sms_campaign("Уже решено", "2026-12-01T05:00:00Z")).await;
    e.tick().await;
    let id: i64 = sqlx::query_scalar("select notification_id from notification where state = 'delivered'")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    let late = Accept {
        id,
        attempt_no: 1,
        started_at: at("2026-12-01T05:00:00Z"),
        provider: "simulator".into(),
        provider_message_id: "sim-late".into(),
        report: Some(FinalReport {
            state: "expired",
            reason: None,
            detail: detail(&serde_json::json!({"provider_message_id": "sim-late"})),
        }),
    };
    let mut tx = e.pool.begin().await.unwrap();
    let applied = record_accepts(&mut tx, "dispatcher", at("2026-12-01T05:01:00Z"), &[late])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(applied.is_empty(), "a delivered notice is not in flight");
    assert_eq!(e.states(1).await, [("9301".into(), "delivered".into(), None)]);
    let kept: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select state, reason, detail->>'provider_message_id' from delivery_event
         where notification_id = $1 and reason = 'report_not_applied'",
    )
    .bind(id)
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        [("expired".into(), "report_not_applied".into(), Some("sim-late".into()))]
    );
}
