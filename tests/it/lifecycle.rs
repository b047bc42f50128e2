//! The real binary and the real broker: `enqueue` from the command line, SIGTERM, and a dropped connection.

use std::{process::Stdio, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::process::Command;
use uuid::Uuid;

use crate::helpers::{UTILITY, Worker, batch_doc, debtor, declare, test_settings, wait_batch};

const BIN: &str = env!("CARGO_BIN_EXE_debtor-notify");

/// The binary with the test's database and broker names in its environment.
fn command(settings: &debtor_notify::config::Settings) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.envs(settings.child_env())
        .env("DEBTOR_NOTIFY__SERVE__ROLES", "intake")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn enqueue_publishes_a_file_in_parts_that_the_worker_stores_as_one_batch(pool: PgPool) {
    let worker = Worker::start(pool.clone()).await;
    let batch_id = Uuid::new_v4();

    let out = command(&worker.settings)
        .env("DEBTOR_NOTIFY__INTAKE__CHUNK_SIZE", "15")
        .args([
            "enqueue",
            "data/sample/debtors.cp1251.csv",
            "--utility",
            UTILITY,
            "--as-of",
            "2026-11-01",
        ])
        .args(["--batch-id", &batch_id.to_string()])
        .output()
        .await
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read 40   valid 37   rejected 3"), "{stdout}");
    assert!(stdout.contains("published 3 message(s)"), "{stdout}");
    let report = worker.wait_batch(batch_id, 3).await;
    assert_eq!(
        (
            report.status.as_str(),
            report.received,
            report.accepted,
            report.rejected
        ),
        ("completed", 40, 37, 3)
    );
    worker.stop().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn enqueue_fails_clearly_on_an_unreachable_broker_or_an_unreadable_file(pool: PgPool) {
    let settings = test_settings(&pool);

    let down = command(&settings)
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .args(["enqueue", "data/sample/debtors.csv", "--utility", UTILITY])
        .output()
        .await
        .unwrap();
    let missing = command(&settings)
        .args(["enqueue", "no/such.csv", "--utility", UTILITY])
        .output()
        .await
        .unwrap();
    let dry = command(&settings)
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .args(["enqueue", "data/sample/debtors.csv", "--utility", UTILITY, "--dry-run"])
        .output()
        .await
        .unwrap();

    assert_eq!(down.status.code(), Some(1));
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(
        err.contains("cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:1"),
        "{err}"
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such.csv"));
    assert!(dry.status.success(), "a dry run needs no broker");
    assert!(String::from_utf8_lossy(&dry.stdout).contains("dry run: nothing published"));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn serve_finishes_its_work_and_exits_zero_on_sigterm(pool: PgPool) {
    let settings = test_settings(&pool);
    debtor_notify::storage::utility::insert_utility(&pool, UTILITY, "ОКК", "Asia/Yekaterinburg")
        .await
        .unwrap();
    declare(&settings).await;
    let mut child = command(&settings).arg("serve").spawn().unwrap();
    let batch_id = Uuid::new_v4();
    let body = serde_json::to_vec(&batch_doc(batch_id, "2026-11-01", vec![debtor("1", "1.00")])).unwrap();
    crate::helpers::publish_to(&settings, &body, crate::helpers::json_props()).await;
    wait_batch(&pool, batch_id, 1).await;

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s")
        .unwrap();

    assert_eq!(status.code(), Some(0));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_consumer_reconnects_after_the_broker_drops_its_connection(pool: PgPool) {
    let vhost = format!("dn-test-{}", &Uuid::new_v4().simple().to_string()[..8]);
    rabbitmqctl(&["add_vhost", &vhost]).await;
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]).await;
    let mut settings = test_settings(&pool);
    settings.amqp.url = debtor_notify::config::Secret::new(format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"));
    debtor_notify::storage::utility::insert_utility(&pool, UTILITY, "ОКК", "Asia/Yekaterinburg")
        .await
        .unwrap();
    declare(&settings).await;
    let worker = Worker::start_with(pool.clone(), Arc::new(settings));
    let first = Uuid::new_v4();
    worker
        .publish_batch(&batch_doc(first, "2026-11-01", vec![debtor("1", "1.00")]))
        .await;
    worker.wait_batch(first, 1).await;

    rabbitmqctl(&["close_all_connections", "--vhost", &vhost, "test: connection dropped"]).await;
    let second = Uuid::new_v4();
    worker
        .publish_batch(&batch_doc(second, "2026-11-01", vec![debtor("2", "2.00")]))
        .await;

    let report = worker.wait_batch(second, 1).await;
    assert_eq!(report.accepted, 1);
    worker.stop().await;
    rabbitmqctl(&["delete_vhost", &vhost]).await;
}

async fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_cli_previews_and_checks_a_template(pool: PgPool) {
    let settings = test_settings(&pool);

    let preview = command(&settings)
        .args(["template", "preview", "restriction-warning-sms", "--sample"])
        .output()
        .await
        .unwrap();
    let data = command(&settings)
        .args([
            "template",
            "preview",
            "pretrial-voice",
            "--data",
            "docs/examples/render-context.json",
        ])
        .output()
        .await
        .unwrap();
    let check = command(&settings)
        .args(["template", "check", "restriction-warning-sms"])
        .output()
        .await
        .unwrap();

    let out = String::from_utf8_lossy(&preview.stdout);
    assert!(
        preview.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    assert!(out.contains("в течение 20 дней со дня доставки"), "{out}");
    assert!(
        out.contains("Ucs2, 218 characters (218 units), 4 segment(s) of max 4, cost 10.00 ₽"),
        "{out}"
    );
    let out = String::from_utf8_lossy(&data.stdout);
    assert!(
        out.contains("три тысячи шестьсот семьдесят три рубля пятьдесят четыре копейки"),
        "{out}"
    );
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("lint      ok"), "{out}");
    assert!(out.contains("debtors   0 rendered, 0 failed"), "{out}");
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_cli_adds_lists_and_lifts_an_opt_out_with_the_number_masked(pool: PgPool) {
    let settings = test_settings(&pool);
    debtor_notify::storage::utility::insert_utility(&pool, UTILITY, "ОКК", "Asia/Yekaterinburg")
        .await
        .unwrap();
    let target = [
        "--utility",
        UTILITY,
        "--phone",
        "8 (912) 345-67-89",
        "--reason",
        "отказ абонента",
        "--by",
        "test",
    ];

    let add = command(&settings)
        .args(["opt-out", "add"])
        .args(target)
        .output()
        .await
        .unwrap();
    let list = command(&settings).args(["opt-out", "list"]).output().await.unwrap();
    let remove = command(&settings)
        .args(["opt-out", "remove"])
        .args(target)
        .output()
        .await
        .unwrap();
    let bad = command(&settings)
        .args([
            "opt-out",
            "add",
            "--utility",
            UTILITY,
            "--phone",
            "12345",
            "--reason",
            "x",
        ])
        .output()
        .await
        .unwrap();

    assert!(add.status.success() && remove.status.success());
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(out.contains("+*******6789") && !out.contains("+79123456789"), "{out}");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'12345' is not a phone number"));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn calendar_overrides_load_from_a_file_and_apply_to_their_region_only(pool: PgPool) {
    let settings = test_settings(&pool);
    let file = std::env::temp_dir().join(format!("calendar-{}.csv", Uuid::new_v4()));
    std::fs::write(
        &file,
        "# regional day off\n31.08.2026;выходной;16;День Республики Татарстан\n",
    )
    .unwrap();

    let load = command(&settings)
        .args(["calendar", "load"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let tatarstan = command(&settings)
        .args(["calendar", "show", "2026-08", "--region", "16"])
        .output()
        .await
        .unwrap();
    let yugra = command(&settings)
        .args(["calendar", "show", "2026-08", "--region", "86"])
        .output()
        .await
        .unwrap();
    let calendar = debtor_notify::storage::calendar::load_calendar(&pool).await.unwrap();

    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert!(String::from_utf8_lossy(&tatarstan.stdout).contains("2026-08-31 Mon day off (Override)"));
    assert!(!String::from_utf8_lossy(&yugra.stdout).contains("2026-08-31"));
    let day = chrono::NaiveDate::from_ymd_opt(2026, 8, 31).unwrap();
    assert!(calendar.is_day_off(day, Some("16")) && !calendar.is_day_off(day, Some("86")));
    let _ = std::fs::remove_file(file);
}
