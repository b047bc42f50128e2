//! Batches published to RabbitMQ end up stored, rejected per record, or dead-lettered — never lost or doubled.

use lapin::BasicProperties;
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Worker, batch_doc, debtor, json_props};

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_published_batch_is_stored_with_normalised_phones_and_exact_amounts(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();
    worker
        .publish_batch(&batch_doc(
            batch_id,
            "2026-11-01",
            vec![debtor("8619000000", "2 726,36"), debtor("8647000001", "7519.24")],
        ))
        .await;

    let report = worker.wait_batch(batch_id, 1).await;

    assert_eq!(
        (
            report.status.as_str(),
            report.received,
            report.accepted,
            report.rejected
        ),
        ("completed", 2, 2, 0)
    );
    let (e164, kind): (String, String) = sqlx::query_as("select e164, kind from phone limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((e164.as_str(), kind.as_str()), ("+79123456789", "mobile"));
    let total: Decimal = sqlx::query_scalar("select debt_total from current_debt where account = '8619000000'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, Decimal::new(272_636, 2));
    let zone: String = sqlx::query_scalar("select timezone from debtor limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(zone, "Asia/Yekaterinburg", "an empty zone takes the utility's default");
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn bad_records_are_rejected_one_by_one_and_the_rest_is_stored(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();
    let mut bad_phone = debtor("2", "10.00");
    bad_phone["phones"] = serde_json::json!(["12345"]);
    let mut float_amount = debtor("3", "10.00");
    float_amount["debt_total"] = serde_json::json!(10.5);
    let mut bad_date = debtor("4", "10.00");
    bad_date["last_payment_date"] = serde_json::json!("31.02.2026");
    let records = vec![
        debtor("1", "1.00"),
        bad_phone,
        float_amount,
        bad_date,
        debtor("1", "2.00"),
        debtor("5", "5,00"),
    ];
    worker.publish_batch(&batch_doc(batch_id, "2026-11-01", records)).await;

    let report = worker.wait_batch(batch_id, 1).await;

    assert_eq!((report.received, report.accepted, report.rejected), (6, 2, 4));
    let got: Vec<(Option<i32>, Option<&str>, Option<&str>)> = report
        .errors
        .iter()
        .map(|e| (e.index, e.account.as_deref(), e.field.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), Some("2"), Some("phones")),
            (Some(2), Some("3"), Some("debt_total")),
            (Some(3), Some("4"), Some("last_payment_date")),
            (Some(4), Some("1"), Some("account")),
        ]
    );
    assert!(
        report.errors[3].reason.contains("duplicate"),
        "{}",
        report.errors[3].reason
    );
    assert_eq!(count(&pool, "select count(*) from debtor").await, 2);
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn redelivering_the_same_batch_changes_nothing(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();
    let mut bad = debtor("9", "1");
    bad["phones"] = serde_json::json!([]);
    let doc = batch_doc(
        batch_id,
        "2026-11-01",
        vec![debtor("1", "1.00"), debtor("2", "2.00"), bad],
    );
    worker.publish_batch(&doc).await;
    let first = worker.wait_batch(batch_id, 1).await;

    worker.publish_batch(&doc).await;
    let marker = Uuid::new_v4();
    worker
        .publish_batch(&batch_doc(marker, "2026-11-01", vec![debtor("7", "1.00")]))
        .await;
    worker.wait_batch(marker, 1).await;

    let again = worker.wait_batch(batch_id, 1).await;
    assert_eq!(
        (again.received, again.accepted, again.rejected, again.parts_received),
        (first.received, first.accepted, first.rejected, 1)
    );
    assert_eq!(count(&pool, "select count(*) from debt_snapshot").await, 3);
    assert_eq!(count(&pool, "select count(*) from intake_error").await, 1);
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_newer_batch_becomes_the_current_debt_and_history_is_kept(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let (october, november) = (Uuid::new_v4(), Uuid::new_v4());
    worker
        .publish_batch(&batch_doc(november, "2026-11-01", vec![debtor("1", "200.00")]))
        .await;
    worker.wait_batch(november, 1).await;
    // An older batch arriving late is kept as history but does not replace the current snapshot.
    worker
        .publish_batch(&batch_doc(october, "2026-10-01", vec![debtor("1", "100.00")]))
        .await;
    worker.wait_batch(october, 1).await;

    let current: Decimal = sqlx::query_scalar("select debt_total from current_debt")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(current, Decimal::new(20_000, 2));
    assert_eq!(count(&pool, "select count(*) from debt_snapshot").await, 2);

    let december = Uuid::new_v4();
    worker
        .publish_batch(&batch_doc(december, "2026-12-01", vec![debtor("1", "0.00")]))
        .await;
    worker.wait_batch(december, 1).await;
    let current: Decimal = sqlx::query_scalar("select debt_total from current_debt")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(current, Decimal::ZERO);
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_undecodable_message_is_dead_lettered_with_a_reason_and_recorded(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;

    worker.publish(b"this is not json", json_props()).await;
    let (body, reason) = worker.take_dead_letter().await;

    assert_eq!(body, b"this is not json");
    assert!(reason.contains("not a valid debtor-batch.v1"), "{reason}");
    let recorded: String = sqlx::query_scalar("select reason from intake_error where severity = 'dead_lettered'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, reason);
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn unknown_schemas_and_wrong_content_types_are_dead_lettered(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let mut v2 = batch_doc(Uuid::new_v4(), "2026-11-01", vec![debtor("1", "1")]);
    v2["schema"] = serde_json::json!("debtor-batch.v2");
    worker
        .publish(
            &serde_json::to_vec(&v2).unwrap(),
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await;
    let (_, reason) = worker.take_dead_letter().await;
    assert!(reason.contains("unknown schema 'debtor-batch.v2'"), "{reason}");

    let doc = batch_doc(Uuid::new_v4(), "2026-11-01", vec![debtor("1", "1")]);
    worker
        .publish(
            &serde_json::to_vec(&doc).unwrap(),
            BasicProperties::default().with_content_type("text/csv".into()),
        )
        .await;
    let (_, reason) = worker.take_dead_letter().await;
    assert!(reason.contains("content-type 'text/csv'"), "{reason}");

    assert_eq!(
        count(
            &pool,
            "select count(*) from intake_error where severity = 'dead_lettered'"
        )
        .await,
        2
    );
    assert_eq!(count(&pool, "select count(*) from debtor").await, 0);
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_batch_of_an_unregistered_utility_is_rejected_not_created(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();
    let mut doc = batch_doc(batch_id, "2026-11-01", vec![debtor("1", "1")]);
    doc["utility"] = serde_json::json!("okk-unknown");

    worker.publish_batch(&doc).await;
    let (_, reason) = worker.take_dead_letter().await;

    assert_eq!(reason, "unknown utility 'okk-unknown'");
    let report = worker.wait_batch(batch_id, 1).await;
    assert_eq!(report.status, "rejected");
    assert_eq!(report.errors[0].reason, reason);
    assert_eq!(
        count(&pool, "select count(*) from utility where utility_id = 'okk-unknown'").await,
        0
    );
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_message_over_the_size_limit_is_dead_lettered_unread(pool: PgPool) {
    let mut settings = crate::helpers::test_settings(&pool);
    settings.intake.max_message_bytes = 1000;
    debtor_notify::storage::utility::insert_utility(&pool, crate::helpers::UTILITY, "ОКК", "Asia/Yekaterinburg")
        .await
        .unwrap();
    crate::helpers::declare(&settings).await;
    let worker = Worker::start_with(pool.clone(), std::sync::Arc::new(settings));
    let batch_id = Uuid::new_v4();
    let many: Vec<_> = (0..20).map(|i| debtor(&i.to_string(), "1")).collect();

    worker.publish_batch(&batch_doc(batch_id, "2026-11-01", many)).await;
    let (_, reason) = worker.take_dead_letter().await;

    assert!(reason.contains("over the limit of 1000"), "{reason}");
    let recorded: Option<Uuid> = sqlx::query_scalar("select batch_id from intake_error")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, Some(batch_id), "the batch id is still read for the operator");
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_batch_in_several_parts_completes_when_every_part_is_in(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();
    // Parts in order, so the second copy of account 2 is the one in part 1.
    for (index, accounts) in [(0u32, ["1", "2"]), (1, ["3", "2"])] {
        let mut doc = batch_doc(
            batch_id,
            "2026-11-01",
            accounts.iter().map(|a| debtor(a, "1")).collect(),
        );
        doc["part"] = serde_json::json!({"index": index, "count": 2, "offset": index * 2});
        worker.publish_batch(&doc).await;
        let received = worker.wait_batch(batch_id, index as i32 + 1).await;
        assert_eq!(received.status, if index == 0 { "receiving" } else { "completed" });
    }

    let report = worker.wait_batch(batch_id, 2).await;

    assert_eq!(
        (
            report.status.as_str(),
            report.received,
            report.accepted,
            report.rejected
        ),
        ("completed", 4, 3, 1)
    );
    assert_eq!(
        report.errors[0].index,
        Some(3),
        "the duplicate in the second part is named by its batch index"
    );
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_batch_the_database_refuses_is_dead_lettered_with_a_row_not_retried_forever(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    sqlx::query("revoke insert on debt_snapshot from current_user")
        .execute(&pool)
        .await
        .unwrap();
    let batch_id = Uuid::new_v4();

    worker
        .publish_batch(&batch_doc(batch_id, "2026-11-01", vec![debtor("1", "1.00")]))
        .await;
    let (_, reason) = worker.take_dead_letter().await;

    assert!(reason.starts_with("database refused the batch"), "{reason}");
    assert!(reason.contains("permission denied"), "{reason}");
    let recorded: (Option<Uuid>, String) =
        sqlx::query_as("select batch_id, reason from intake_error where severity = 'dead_lettered'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, (Some(batch_id), reason));
    assert_eq!(
        count(&pool, "select count(*) from debtor").await,
        0,
        "the failed transaction left nothing behind"
    );
    worker.stop().await;
}
