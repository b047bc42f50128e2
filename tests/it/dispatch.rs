//! The planner and the dispatcher on the real database, driven by a manual clock: contact windows per zone,
//! the production calendar, caps across channels, opt-out at dispatch, ladders, re-planning, reconciliation.

use chrono::{Duration, Timelike};
use chrono_tz::Tz;
use sqlx::PgPool;

use crate::engine::{Engine, at, debtor_in, sms_campaign};

async fn sent_times(e: &Engine) -> Vec<(String, String, chrono::DateTime<chrono::Utc>)> {
    sqlx::query_as(
        "select d.account, n.timezone, n.sent_at from notification n join debtor d using (debtor_id)
         where n.sent_at is not null order by d.account",
    )
    .fetch_all(&e.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn one_campaign_start_reaches_three_zones_each_only_inside_its_own_window(pool: PgPool) {
    // Tuesday 1 December 2026, 00:00 UTC: 02:00 in Kaliningrad, 05:00 in Yekaterinburg, 12:00 in Kamchatka.
    let e = Engine::start(pool, "2026-12-01T00:00:00Z").await;
    e.store(vec![
        debtor_in("1001", "Europe/Kaliningrad", "+79120000001"),
        debtor_in("1002", "Asia/Yekaterinburg", "+79120000002"),
        debtor_in("1003", "Asia/Kamchatka", "+79120000003"),
    ])
    .await;
    e.campaign(&sms_campaign("Три пояса", "2026-12-01T00:00:00Z")).await;
    // Walk the day in 10-minute steps.
    let mut handed = Vec::new();
    for i in 0..=144 {
        e.clock.set(at("2026-12-01T00:00:00Z") + Duration::minutes(10 * i));
        handed.push(e.tick().await);
    }
    assert_eq!(handed.iter().sum::<usize>(), 3, "each debtor exactly once");
    assert_eq!(e.sends().await, (3, 3));
    let sent = sent_times(&e).await;
    let expected = [
        ("1001", "2026-12-01T06:00:00Z"),
        ("1002", "2026-12-01T03:00:00Z"),
        ("1003", "2026-12-01T00:00:00Z"),
    ];
    for ((account, zone, sent_at), (want_account, want_at)) in sent.iter().zip(expected) {
        assert_eq!(account, want_account);
        assert_eq!(
            *sent_at,
            at(want_at),
            "{account} is sent at its local 08:00 (or at once if open)"
        );
        let local = sent_at.with_timezone(&zone.parse::<Tz>().unwrap());
        assert!((8..22).contains(&local.hour()), "{account} at {local}");
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn on_5_january_2026_08_30_local_is_refused_at_dispatch_and_09_00_is_allowed(pool: PgPool) {
    // 5 January 2026 is a non-working holiday: the window is 09:00–20:00.
    let e = Engine::start(pool, "2026-01-05T03:30:00Z").await; // 08:30 in Yekaterinburg
    e.store(vec![debtor_in("2001", "Asia/Yekaterinburg", "+79120000011")])
        .await;
    e.campaign(&sms_campaign("Праздники", "2026-01-05T03:30:00Z")).await;
    e.planner.run_once().await.unwrap();
    let due: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select due_at from notification")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(due, at("2026-01-05T04:00:00Z"), "planned at 09:00 local");
    // A row that reaches dispatch at 08:30 anyway (planned under an older calendar) is re-scheduled, not sent.
    sqlx::query("update notification set due_at = $1")
        .bind(at("2026-01-05T03:30:00Z"))
        .execute(&e.pool)
        .await
        .unwrap();
    assert_eq!(e.tick().await, 0);
    assert_eq!(
        e.states(1).await,
        [("2001".into(), "planned".into(), Some("outside_window".into()))]
    );
    let (due, events): (chrono::DateTime<chrono::Utc>, i64) = sqlx::query_as(
        "select n.due_at, (select count(*) from delivery_event v where v.notification_id = n.notification_id
                           and v.reason = 'outside_window') from notification n",
    )
    .fetch_one(&e.pool)
    .await
    .unwrap();
    assert_eq!((due, events), (at("2026-01-05T04:00:00Z"), 1));
    e.set("2026-01-05T04:00:00Z");
    assert_eq!(e.tick().await, 1);
    assert_eq!(e.sends().await, (1, 1));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn caps_count_sms_and_voice_together_in_the_debtors_local_day(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await; // 10:00 in Yekaterinburg, Tuesday
    e.store(vec![debtor_in("3001", "Asia/Yekaterinburg", "+79120000021")])
        .await;
    let start = "2026-12-01T05:00:00Z";
    e.campaign(&sms_campaign("Первая", start)).await;
    e.campaign(&sms_campaign("Вторая", start).replace("soft-reminder-sms", "soft-reminder-voice"))
        .await;
    e.campaign(&sms_campaign("Третья", start).replace("soft-reminder-sms", "pretrial-sms"))
        .await;
    assert_eq!(e.tick().await, 2, "two messages a day, SMS and robocall together");
    let deferred: Vec<(String, Option<String>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select state, reason, due_at from notification where sent_at is null")
            .fetch_all(&e.pool)
            .await
            .unwrap();
    assert_eq!(
        deferred,
        [("planned".into(), Some("cap_day".into()), at("2026-12-02T03:00:00Z"))]
    );
    e.set("2026-12-01T16:50:00Z"); // 21:50 local: still the same local day
    assert_eq!(e.tick().await, 0);
    e.set("2026-12-02T03:00:00Z"); // 08:00 local next day
    assert_eq!(e.tick().await, 1);
    assert_eq!(e.sends().await, (3, 3));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_opt_out_added_after_planning_suppresses_the_notice_at_dispatch(pool: PgPool) {
    use debtor_notify::storage::opt_out::{Subject, add_opt_out};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![
        debtor_in("4001", "Asia/Yekaterinburg", "+79120000031"),
        debtor_in("4002", "Asia/Yekaterinburg", "+79120000032"),
        debtor_in("4003", "Asia/Yekaterinburg", "+79120000033"),
    ])
    .await;
    e.campaign(&sms_campaign("Отказы", "2026-12-01T05:00:00Z")).await;
    e.planner.run_once().await.unwrap();
    let u = crate::helpers::UTILITY;
    add_opt_out(&e.pool, u, &Subject::Phone("+79120000031".into()), "отказ", "test")
        .await
        .unwrap();
    add_opt_out(&e.pool, u, &Subject::Account("4002".into()), "отказ", "test")
        .await
        .unwrap();
    assert_eq!(e.tick().await, 1);
    assert_eq!(
        e.sends().await,
        (1, 1),
        "no attempt reaches the provider for an opted-out debtor"
    );
    assert_eq!(
        e.states(1).await,
        [
            ("4001".into(), "suppressed".into(), Some("opt_out".into())),
            ("4002".into(), "suppressed".into(), Some("opt_out".into())),
            ("4003".into(), "delivered".into(), None),
        ]
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_second_step_goes_only_to_debtors_whose_sms_was_not_delivered(pool: PgPool) {
    let mut s = crate::engine::engine_settings(&pool);
    s.simulator.delivered_pct = 50;
    s.simulator.undelivered_pct = 50;
    let e = Engine::with(pool, s, "2026-12-01T05:00:00Z").await;
    let debtors = (0..40)
        .map(|i| debtor_in(&format!("50{i:02}"), "Asia/Yekaterinburg", &format!("+791200001{i:02}")))
        .collect();
    e.store(debtors).await;
    let toml = sms_campaign("Лестница", "2026-12-01T05:00:00Z")
        + "[[steps]]\ntemplate = \"soft-reminder-voice\"\noffset_minutes = 30\ncondition = \"previous_not_delivered\"\n";
    e.campaign(&toml).await;
    assert_eq!(e.tick().await, 40);
    let step1 = e.states(1).await;
    let undelivered: Vec<&String> = step1.iter().filter(|s| s.1 == "undelivered").map(|s| &s.0).collect();
    assert!(
        !undelivered.is_empty() && undelivered.len() < 40,
        "the mix gives both outcomes"
    );
    let step2 = e.states(2).await;
    assert_eq!(
        step2.iter().map(|s| &s.0).collect::<Vec<_>>(),
        undelivered,
        "one follow-up per undelivered SMS"
    );
    assert!(step2.iter().all(|s| s.1 == "planned"));
    // 30 minutes later the calls go out; re-planning adds nothing.
    e.set("2026-12-01T05:31:00Z");
    e.tick().await;
    e.planner.run_once().await.unwrap();
    let calls: i64 = sqlx::query_scalar("select count(*) from notification where step_no = 2 and sent_at is not null")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(usize::try_from(calls).unwrap(), undelivered.len());
    assert_eq!(e.states(2).await.len(), undelivered.len());
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn debtors_of_a_later_batch_join_a_running_campaign_and_replanning_never_duplicates(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in("6001", "Asia/Yekaterinburg", "+79120000041")])
        .await;
    e.campaign(&sms_campaign("Догоняющие", "2026-12-01T05:00:00Z")).await;
    for _ in 0..3 {
        e.planner.run_once().await.unwrap();
    }
    e.store(vec![
        debtor_in("6001", "Asia/Yekaterinburg", "+79120000041"),
        debtor_in("6002", "Asia/Yekaterinburg", "+79120000042"),
    ])
    .await;
    for _ in 0..3 {
        e.planner.run_once().await.unwrap();
    }
    let n: i64 = sqlx::query_scalar("select count(*) from notification")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(e.tick().await, 2);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_batch_showing_the_debt_paid_cancels_pending_notices_with_reason_paid(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T00:00:00Z").await; // 05:00 local: nothing goes out yet
    e.store(vec![
        debtor_in("7001", "Asia/Yekaterinburg", "+79120000051"),
        debtor_in("7002", "Asia/Yekaterinburg", "+79120000052"),
    ])
    .await;
    e.campaign(&sms_campaign("Оплата", "2026-12-01T00:00:00Z")).await;
    assert_eq!(e.tick().await, 0);
    let mut paid = debtor_in("7001", "Asia/Yekaterinburg", "+79120000051");
    paid["debt_total"] = serde_json::json!("0");
    paid["services"] = serde_json::json!([]);
    e.store(vec![paid]).await;
    e.set("2026-12-01T05:00:00Z");
    assert_eq!(e.tick().await, 1);
    assert_eq!(
        e.states(1).await,
        [
            ("7001".into(), "cancelled".into(), Some("paid".into())),
            ("7002".into(), "delivered".into(), None)
        ]
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn delivery_events_cannot_be_updated_or_deleted(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in("8001", "Asia/Yekaterinburg", "+79120000061")])
        .await;
    e.campaign(&sms_campaign("Журнал", "2026-12-01T05:00:00Z")).await;
    e.tick().await;
    let events: Vec<String> = sqlx::query_scalar("select state from delivery_event order by event_id")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert_eq!(events, ["planned", "sending", "submitted", "delivered"]);
    for sql in [
        "update delivery_event set state = 'x'",
        "delete from delivery_event",
        "truncate delivery_event",
    ] {
        let err = sqlx::query(sql).execute(&e.pool).await.unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_notice_left_sending_by_a_crash_is_reconciled_with_the_provider_and_never_resent_blindly(pool: PgPool) {
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![
        debtor_in("9001", "Asia/Yekaterinburg", "+79120000071"),
        debtor_in("9002", "Asia/Yekaterinburg", "+79120000072"),
    ])
    .await;
    e.campaign(&sms_campaign("Сбой", "2026-12-01T05:00:00Z")).await;
    e.planner.run_once().await.unwrap();
    // A dispatcher claimed both and died: the provider accepted 9001 (it is in its journal), never saw 9002.
    sqlx::query(
        "update notification set state = 'sending', attempts = 1, sent_at = $1, lease_until = $1 + interval '60 seconds',
                rendered_text = 'текст'",
    )
    .bind(at("2026-12-01T05:00:00Z"))
    .execute(&e.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into sim_message (client_ref, provider_message_id, channel, outcome)
         select notification_id::text, 'sim-crash', 'sms', 'delivered' from notification n
         join debtor d using (debtor_id) where d.account = '9001'",
    )
    .execute(&e.pool)
    .await
    .unwrap();
    // Before the lease ends nothing moves.
    let r = e.dispatcher.reconcile_once().await.unwrap();
    assert_eq!(r.leases_expired, 0);
    e.set("2026-12-01T05:01:01Z");
    let r = e.dispatcher.reconcile_once().await.unwrap();
    assert_eq!((r.leases_expired, r.found, r.not_found), (2, 1, 1));
    assert_eq!(
        e.states(1).await,
        [
            ("9001".into(), "delivered".into(), None),
            ("9002".into(), "planned".into(), Some("reconciled_not_found".into())),
        ]
    );
    e.tick().await;
    assert_eq!(e.sends().await, (2, 2), "9001 was not handed over again; 9002 once");
    let in_doubt: i64 = sqlx::query_scalar("select count(*) from delivery_event where state = 'in_doubt'")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(in_doubt, 2);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_late_or_duplicate_report_never_downgrades_a_final_state_but_is_kept_as_evidence(pool: PgPool) {
    use debtor_notify::gateway::{DeliveryReport, ReportState};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in("9101", "Asia/Yekaterinburg", "+79120000081")])
        .await;
    e.campaign(&sms_campaign("Отчёты", "2026-12-01T05:00:00Z")).await;
    e.tick().await;
    let (id, pmid): (i64, String) = sqlx::query_as("select notification_id, provider_message_id from notification")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    let late = DeliveryReport {
        provider: "simulator".into(),
        client_ref: None,
        provider_message_id: pmid,
        state: ReportState::Expired,
        reason: None,
        at: at("2026-12-01T05:10:00Z"),
        raw: serde_json::json!({"status": "expired"}),
    };
    e.dispatcher.record_reports(vec![late.clone(), late]).await.unwrap();
    assert_eq!(e.states(1).await, [("9101".into(), "delivered".into(), None)]);
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from delivery_event where notification_id = $1 and reason = 'report_not_applied'",
    )
    .bind(id)
    .fetch_one(&e.pool)
    .await
    .unwrap();
    assert_eq!(kept, 2);
}

/// One debtor (account, phone) in Yekaterinburg, an SMS campaign named `campaign` planned for it, and its notice
/// left `sending` as if handed over at 05:00 (through `provider`, when given) with no accept recorded yet.
async fn one_in_flight(e: &Engine, (account, phone): (&str, &str), campaign: &str, provider: Option<&str>) -> i64 {
    e.store(vec![debtor_in(account, "Asia/Yekaterinburg", phone)]).await;
    e.campaign(&sms_campaign(campaign, "2026-12-01T05:00:00Z")).await;
    e.planner.run_once().await.unwrap();
    sqlx::query_scalar(
        "update notification set state = 'sending', attempts = 1, provider = coalesce($2, provider), sent_at = $1,
             lease_until = $1 + interval '60 seconds'
         returning notification_id",
    )
    .bind(at("2026-12-01T05:00:00Z"))
    .bind(provider)
    .fetch_one(&e.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_report_that_overtakes_the_record_of_the_accept_still_leaves_a_submitted_event(pool: PgPool) {
    use debtor_notify::gateway::{DeliveryReport, ReportState};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    // Claimed and handed over; the dispatcher has not recorded the accept when the report comes in.
    let id = one_in_flight(&e, ("9201", "+79120000091"), "Обгон", None).await;
    let report = DeliveryReport {
        provider: "simulator".into(),
        client_ref: Some(id.to_string()),
        provider_message_id: "sim-overtaken".into(),
        state: ReportState::Delivered,
        reason: None,
        at: at("2026-12-01T05:00:01Z"),
        raw: serde_json::json!({"status": "delivered"}),
    };
    e.dispatcher.record_reports(vec![report]).await.unwrap();
    let events: Vec<(String, Option<String>)> = sqlx::query_as(
        "select state, detail->>'recorded_from' from delivery_event where notification_id = $1 and source = 'provider'
         order by event_id",
    )
    .bind(id)
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("submitted".into(), Some("delivery_report".into())),
            ("delivered".into(), None)
        ]
    );
    let pmid: Option<String> =
        sqlx::query_scalar("select provider_message_id from notification where notification_id = $1")
            .bind(id)
            .fetch_one(&e.pool)
            .await
            .unwrap();
    assert_eq!(pmid.as_deref(), Some("sim-overtaken"));
    // The accepted (billed) hand-over has its attempt row, and only one.
    let attempts: Vec<(i32, String, String, Option<String>)> = sqlx::query_as(
        "select attempt_no, outcome, provider, provider_message_id from attempt where notification_id = $1",
    )
    .bind(id)
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert_eq!(
        attempts,
        [(1, "submitted".into(), "simulator".into(), Some("sim-overtaken".into()))]
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_progress_report_that_overtakes_the_accept_names_the_provider_and_bills_the_attempt(pool: PgPool) {
    use debtor_notify::gateway::{DeliveryReport, ReportState};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    // Handed over through failover; Kannel's "SMSC accepted" report comes before our record of the accept.
    let id = one_in_flight(&e, ("9211", "+79120000092"), "Обгон-8", Some("failover")).await;
    let report = |state| DeliveryReport {
        provider: "kannel".into(),
        client_ref: Some(id.to_string()),
        provider_message_id: "kannel-77".into(),
        state,
        reason: None,
        at: at("2026-12-01T05:00:01Z"),
        raw: serde_json::json!({"status": 8}),
    };
    e.dispatcher
        .record_reports(vec![report(ReportState::Progress)])
        .await
        .unwrap();
    e.dispatcher
        .record_reports(vec![report(ReportState::Delivered)])
        .await
        .unwrap();
    let (state, provider): (String, String) =
        sqlx::query_as("select state, provider from notification where notification_id = $1")
            .bind(id)
            .fetch_one(&e.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), provider.as_str()), ("delivered", "kannel"));
    let attempts: Vec<(i32, String, String)> =
        sqlx::query_as("select attempt_no, outcome, provider from attempt where notification_id = $1")
            .bind(id)
            .fetch_all(&e.pool)
            .await
            .unwrap();
    assert_eq!(attempts, [(1, "submitted".into(), "kannel".into())]);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_failed_report_before_the_hand_over_is_recorded_proves_no_accept_and_bills_nothing(pool: PgPool) {
    use debtor_notify::gateway::{DeliveryReport, ReportState};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    // Kannel answers `403 Not routable` and also reports 16: the report may come before our record of the 403.
    let id = one_in_flight(&e, ("9221", "+79120000095"), "Отказ", Some("kannel")).await;
    let report = DeliveryReport {
        provider: "kannel".into(),
        client_ref: Some(id.to_string()),
        provider_message_id: "kannel-16".into(),
        state: ReportState::Failed,
        reason: Some("kannel_dlr_16".into()),
        at: at("2026-12-01T05:00:01Z"),
        raw: serde_json::json!({"status": 16}),
    };
    e.dispatcher.record_reports(vec![report]).await.unwrap();
    let states: Vec<String> =
        sqlx::query_scalar("select state from delivery_event where notification_id = $1 and source = 'provider'")
            .bind(id)
            .fetch_all(&e.pool)
            .await
            .unwrap();
    assert_eq!(states, ["failed"]);
    let attempts = e.attempts(id).await;
    assert_eq!(
        attempts, 0,
        "no accept was proven, so nothing is billed from the report"
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn two_reports_for_one_notice_in_one_batch_are_applied_in_arrival_order(pool: PgPool) {
    use debtor_notify::gateway::{DeliveryReport, ReportState};
    let e = Engine::start(pool, "2026-12-01T05:00:00Z").await;
    e.store(vec![
        debtor_in("9301", "Asia/Yekaterinburg", "+79120000093"),
        debtor_in("9302", "Asia/Yekaterinburg", "+79120000094"),
    ])
    .await;
    e.campaign(&sms_campaign("Пара", "2026-12-01T05:00:00Z")).await;
    e.planner.run_once().await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "update notification set state = 'submitted', attempts = 1, sent_at = $1 returning notification_id",
    )
    .bind(at("2026-12-01T05:00:00Z"))
    .fetch_all(&e.pool)
    .await
    .unwrap();
    let report = |id: i64, state| DeliveryReport {
        provider: "kannel".into(),
        client_ref: Some(id.to_string()),
        provider_message_id: format!("{id}.1"),
        state,
        reason: None,
        at: at("2026-12-01T05:00:01Z"),
        raw: serde_json::json!({}),
    };
    let (a, b) = (ids[0], ids[1]);
    let batch = vec![
        report(a, ReportState::Progress),
        report(b, ReportState::Delivered),
        report(a, ReportState::Delivered),
        report(b, ReportState::Progress),
    ];
    let r = e.dispatcher.record_reports(batch).await.unwrap();
    assert_eq!((r.applied, r.not_applied, r.orphans), (3, 1, 0));
    let events: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "select notification_id, state, reason from delivery_event where source = 'provider' order by event_id",
    )
    .fetch_all(&e.pool)
    .await
    .unwrap();
    let of = |id| {
        events
            .iter()
            .filter(|e| e.0 == id)
            .map(|e| (e.1.as_str(), e.2.as_deref()))
            .collect::<Vec<_>>()
    };
    assert_eq!(of(a), [("submitted", None), ("delivered", None)]);
    assert_eq!(of(b), [("delivered", None), ("submitted", Some("report_not_applied"))]);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_delivered_restriction_warning_keeps_its_local_delivery_day_and_the_earliest_restriction_day(pool: PgPool) {
    use debtor_notify::{
        gateway::{DeliveryReport, ReportState},
        policy::calendar::ProductionCalendar,
    };
    let e = Engine::start(pool, "2026-12-12T05:00:00Z").await;
    e.store(vec![debtor_in("9401", "Asia/Yekaterinburg", "+79120000095")])
        .await;
    let toml =
        sms_campaign("Предупреждение", "2026-12-12T05:00:00Z").replace("soft-reminder-sms", "restriction-warning-sms");
    e.campaign(&toml).await;
    e.planner.run_once().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "update notification set state = 'submitted', attempts = 1, sent_at = $1 returning notification_id",
    )
    .bind(at("2026-12-12T05:00:00Z"))
    .fetch_one(&e.pool)
    .await
    .unwrap();
    // Delivered at 00:30 on 13 December in Yekaterinburg (still the 12th in UTC).
    let delivered = DeliveryReport {
        provider: "kannel".into(),
        client_ref: Some(id.to_string()),
        provider_message_id: format!("{id}.1"),
        state: ReportState::Delivered,
        reason: None,
        at: at("2026-12-12T19:30:00Z"),
        raw: serde_json::json!({"status": "1"}),
    };
    e.dispatcher.record_reports(vec![delivered]).await.unwrap();
    let r = e.dispatcher.reconcile_once().await.unwrap();
    assert_eq!(r.restriction_dated, 1);
    let (on, earliest): (chrono::NaiveDate, chrono::NaiveDate) =
        sqlx::query_as("select delivered_on, restriction_earliest from notification where notification_id = $1")
            .bind(id)
            .fetch_one(&e.pool)
            .await
            .unwrap();
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    assert_eq!(on, day("2026-12-13"));
    // +20 days is 2 January 2027, inside the New Year holidays: the first working day after them.
    let cal = ProductionCalendar::federal();
    assert!(earliest > day("2027-01-02") && !cal.is_day_off(earliest, None));
    assert!(
        day("2027-01-02")
            .iter_days()
            .take_while(|d| *d < earliest)
            .all(|d| cal.is_day_off(d, None))
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn retryable_provider_errors_back_off_and_permanent_ones_fail_with_the_code_kept(pool: PgPool) {
    let e = first_try_refused(pool, ("9201", "+79120000091"), "Ошибки").await;
    let (state, reason, attempts, due): (String, Option<String>, i32, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select state, reason, attempts, due_at from notification")
            .fetch_one(&e.pool)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), reason.as_deref(), attempts),
        ("planned", Some("provider_retryable"), 1)
    );
    let wait = due - at("2026-12-01T05:00:00Z");
    assert!(
        wait >= Duration::seconds(48) && wait <= Duration::seconds(72),
        "60 s ± 20 %: {wait}"
    );
    // Two more tries exhaust the step's three attempts.
    for t in ["2026-12-01T05:10:00Z", "2026-12-01T05:30:00Z"] {
        e.set(t);
        e.tick().await;
    }
    let (state, reason, attempts): (String, Option<String>, i32) =
        sqlx::query_as("select state, reason, attempts from notification")
            .fetch_one(&e.pool)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), reason.as_deref(), attempts),
        ("failed", Some("retries_exhausted"), 3)
    );
    let codes: Vec<Option<String>> = sqlx::query_scalar("select error_code from attempt order by attempt_no")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert_eq!(codes, vec![Some("sim_throttled".to_owned()); 3]);
    assert_eq!(e.sends().await, (0, 0), "the provider accepted nothing");
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_utility_can_narrow_its_window_and_caps_but_never_widen_them(pool: PgPool) {
    use debtor_notify::storage::utility::{UtilityPolicy, set_utility_policy};
    let e = Engine::start(pool, "2026-12-01T04:30:00Z").await; // 09:30 in Yekaterinburg
    let wide = UtilityPolicy {
        window_working: Some("06:00-23:30".into()),
        cap_day: Some(1),
        ..UtilityPolicy::default()
    };
    assert!(
        set_utility_policy(&e.pool, crate::helpers::UTILITY, &wide)
            .await
            .unwrap()
    );
    e.store(vec![debtor_in("9301", "Asia/Yekaterinburg", "+79120000093")])
        .await;
    e.campaign(&sms_campaign("Узкое окно", "2026-12-01T01:30:00Z")).await; // 06:30 local
    e.campaign(&sms_campaign("Второе", "2026-12-01T01:30:00Z")).await;
    e.set("2026-12-01T01:30:00Z");
    assert_eq!(
        e.tick().await,
        0,
        "06:30 is inside the utility's window but not the law's"
    );
    let narrow = UtilityPolicy {
        window_working: Some("10:00-18:00".into()),
        ..UtilityPolicy::default()
    };
    set_utility_policy(&e.pool, crate::helpers::UTILITY, &narrow)
        .await
        .unwrap();
    e.set("2026-12-01T04:30:00Z");
    assert_eq!(
        e.tick().await,
        0,
        "09:30 is inside the law's window but not the utility's"
    );
    e.set("2026-12-01T05:00:00Z");
    assert_eq!(
        e.tick().await,
        1,
        "the utility's cap of one a day holds the second campaign"
    );
    let reasons: Vec<Option<String>> = sqlx::query_scalar("select reason from notification where sent_at is null")
        .fetch_all(&e.pool)
        .await
        .unwrap();
    assert_eq!(reasons, [Some("cap_day".to_owned())]);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn each_attempt_keeps_the_exact_text_it_handed_over_on_its_own_sending_event(pool: PgPool) {
    use sha2::Digest as _;
    let e = first_try_refused(pool, ("9211", "+79120000092"), "Две попытки").await;
    // Between the attempts the debt changes (as a new batch would change it): the second attempt says so.
    sqlx::query("update debt_snapshot set debt_total = 7000.00")
        .execute(&e.pool)
        .await
        .unwrap();
    e.set("2026-12-01T05:10:00Z");
    e.tick().await;
    let sent: Vec<(i32, String, Vec<u8>)> = sqlx::query_as(
        "select attempt_no, rendered_text, text_sha256 from delivery_event where state = 'sending' order by event_id",
    )
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2]);
    assert!(
        sent[0].1.contains("4 500,00") || sent[0].1.contains("4\u{a0}500,00"),
        "{}",
        sent[0].1
    );
    assert!(
        sent[1].1.contains("7 000,00") || sent[1].1.contains("7\u{a0}000,00"),
        "{}",
        sent[1].1
    );
    for (_, text, sha) in &sent {
        assert_eq!(sha.as_slice(), &sha2::Sha256::digest(text.as_bytes())[..]);
    }
    let on_row: Option<String> = sqlx::query_scalar("select rendered_text from notification")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(on_row, None, "the row no longer carries a copy of the text");
    let id: i64 = sqlx::query_scalar("select notification_id from notification")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    let detail = debtor_notify::storage::log::get_notification(&e.pool, id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        detail.rendered_text.as_deref(),
        Some(sent[1].1.as_str()),
        "the latest attempt's text"
    );
    let texts: Vec<Option<&str>> = detail.events.iter().map(|ev| ev.rendered_text.as_deref()).collect();
    assert_eq!(
        texts.iter().flatten().copied().collect::<Vec<_>>(),
        [sent[0].1.as_str(), sent[1].1.as_str()],
        "the evidence trail shows both"
    );
}

/// An engine whose provider refuses every hand-over as retryable, after the first try of one SMS campaign to one
/// debtor in Yekaterinburg (`(account, phone)`), started 2026-12-01 10:00 local.
async fn first_try_refused(pool: PgPool, (account, phone): (&str, &str), campaign: &str) -> Engine {
    let mut s = crate::engine::engine_settings(&pool);
    s.simulator.retryable_pct = 100;
    let e = Engine::with(pool, s, "2026-12-01T05:00:00Z").await;
    e.store(vec![debtor_in(account, "Asia/Yekaterinburg", phone)]).await;
    e.campaign(&sms_campaign(campaign, "2026-12-01T05:00:00Z")).await;
    e.tick().await;
    e
}
