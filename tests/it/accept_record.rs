//! The narrow record of accepted hand-overs (`storage::accept::record_accepts`): when the notice is no longer in
//! flight, its state stays, its attempt row is written once, and a report folded into the accept is still kept
//! as evidence; when its row moved since the `sending` write, it is found by id and recorded once.

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
        tid: None,
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
    let attempts = e.attempts(id).await;
    assert_eq!(
        attempts, 1,
        "the dispatcher's own record of that attempt is kept, not doubled"
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_accept_of_a_notice_settled_without_its_attempt_still_writes_the_attempt_once(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in("9321", "Asia/Yekaterinburg", "+79120000321")])
        .await;
    e.campaign(&sms_campaign("Отчёт раньше записи", "2026-12-01T05:00:00Z"))
        .await;
    e.planner.run_once().await.unwrap();
    let (id, tid) = sending(&e, "9321").await;
    // A final report settled the notice before the dispatcher recorded the accept, with no attempt row.
    sqlx::query("update notification set state = 'undelivered', lease_until = null where notification_id = $1")
        .bind(id)
        .execute(&e.pool)
        .await
        .unwrap();
    for _ in 0..2 {
        let mut tx = e.pool.begin().await.unwrap();
        let applied = record_accepts(
            &mut tx,
            "dispatcher",
            at("2026-12-01T05:01:00Z"),
            &[accept(id, tid.clone())],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(applied.is_empty(), "an undelivered notice is not in flight");
    }
    let attempts: Vec<(i32, String, Option<String>)> =
        sqlx::query_as("select attempt_no, outcome, provider_message_id from attempt where notification_id = $1")
            .bind(id)
            .fetch_all(&e.pool)
            .await
            .unwrap();
    assert_eq!(attempts, [(1, "submitted".into(), Some(format!("sim-{id}")))]);
    assert_eq!(e.states(1).await, [("9321".into(), "undelivered".into(), None)]);
}

/// Marks the planned notice of `account` `sending` as the dispatcher does, returning its id and `ctid`.
async fn sending(e: &Engine, account: &str) -> (i64, String) {
    sqlx::query_as(
        "update notification n set state = 'sending', attempts = 1, sent_at = now(), lease_until = now()
         from debtor d where d.debtor_id = n.debtor_id and d.account = $1 returning n.notification_id, n.ctid::text",
    )
    .bind(account)
    .fetch_one(&e.pool)
    .await
    .unwrap()
}

fn accept(id: i64, tid: String) -> Accept {
    Accept {
        id,
        tid: Some(tid),
        attempt_no: 1,
        started_at: at("2026-12-01T05:00:00Z"),
        provider: "simulator".into(),
        provider_message_id: format!("sim-{id}"),
        report: None,
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_accept_whose_row_moved_since_the_sending_write_is_found_by_id_and_recorded_once(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![
        debtor_in("9311", "Asia/Yekaterinburg", "+79120000311"),
        debtor_in("9312", "Asia/Yekaterinburg", "+79120000312"),
    ])
    .await;
    e.campaign(&sms_campaign("Сдвинутая строка", "2026-12-01T05:00:00Z"))
        .await;
    e.planner.run_once().await.unwrap();
    let (stays, stays_tid) = sending(&e, "9311").await;
    let (moved, stale_tid) = sending(&e, "9312").await;
    // The reconciler's lease expiry moves the second row to a new version.
    sqlx::query("update notification set state = 'in_doubt' where notification_id = $1")
        .bind(moved)
        .execute(&e.pool)
        .await
        .unwrap();
    let mut tx = e.pool.begin().await.unwrap();
    let mut applied = record_accepts(
        &mut tx,
        "dispatcher",
        at("2026-12-01T05:01:00Z"),
        &[accept(stays, stays_tid), accept(moved, stale_tid)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    applied.sort_unstable();
    assert_eq!(applied, [stays, moved]);
    assert_eq!(
        e.states(1).await,
        [
            ("9311".into(), "submitted".into(), None),
            ("9312".into(), "submitted".into(), None)
        ]
    );
    let written: Vec<(i64, i64, i64)> = sqlx::query_as(
        "select n.notification_id,
                (select count(*) from delivery_event e where e.notification_id = n.notification_id
                 and e.state = 'submitted'),
                (select count(*) from attempt a where a.notification_id = n.notification_id)
         from notification n order by n.notification_id",
    )
    .fetch_all(&e.pool)
    .await
    .unwrap();
    let mut expected = [(stays, 1, 1), (moved, 1, 1)];
    expected.sort_unstable();
    assert_eq!(written, expected, "one submitted event and one attempt each");
}
