//! Real `debtor-notify serve` processes (planner + dispatch roles) against one database: three at once send
//! every notification exactly once; one killed with SIGKILL mid-send loses nothing and re-sends nothing blindly.
//! The simulator journals to the database, so the provider's side of every hand-over is counted.

use std::{process::Stdio, time::Duration};

use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::engine::{Engine, debtor_in, sms_campaign};

const BIN: &str = env!("CARGO_BIN_EXE_debtor-notify");
const START: &str = "2026-12-01T05:00:00Z"; // Tuesday, 10:00 in Yekaterinburg

fn dispatcher(e: &Engine, name: &str, start: &str, env: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(format!("{}/{name}.log", env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .envs(e.settings.child_env())
        .env("DEBTOR_NOTIFY__SERVE__ROLES", "planner,dispatch")
        .env("DEBTOR_NOTIFY__SERVE__SIMULATED_START", start)
        .env("DEBTOR_NOTIFY__PLANNER__INTERVAL_SECS", "1")
        .env("DEBTOR_NOTIFY__DISPATCH__POLL_INTERVAL_MS", "50")
        .env("DEBTOR_NOTIFY__SIMULATOR__JOURNAL", "database")
        .env("DEBTOR_NOTIFY__SIMULATOR__REPORT_DELAY_MS", "0")
        .env("DEBTOR_NOTIFY__SIMULATOR__RETRYABLE_PCT", "0")
        .env("DEBTOR_NOTIFY__SIMULATOR__PERMANENT_PCT", "0")
        .env("DEBTOR_NOTIFY__SIMULATOR__DELIVERED_PCT", "100")
        .env("DEBTOR_NOTIFY__SIMULATOR__UNDELIVERED_PCT", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    cmd.spawn().unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for(pool: &PgPool, sql: &str, want: i64, secs: u64) {
    for _ in 0..secs * 10 {
        if count(pool, sql).await >= want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states: Vec<(String, i64)> =
        sqlx::query_as("select state, count(*) from notification group by state order by state")
            .fetch_all(pool)
            .await
            .unwrap();
    let journal = count(pool, "select count(*) from sim_message").await;
    panic!(
        "`{sql}` did not reach {want} within {secs} s (now {}); notification states {states:?}, \
         simulator journal {journal}; process logs in {}",
        count(pool, sql).await,
        env!("CARGO_TARGET_TMPDIR")
    );
}

async fn seed(pool: PgPool, n: usize) -> Engine {
    let e = Engine::start(pool, START).await;
    let debtors = (0..n)
        .map(|i| {
            debtor_in(
                &format!("{:06}", 100_000 + i),
                "Asia/Yekaterinburg",
                &format!("+7912{:07}", i),
            )
        })
        .collect();
    e.store(debtors).await;
    e.campaign(&sms_campaign("Процессы", START)).await;
    e
}

async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(15), child.wait()).await;
    let _ = child.kill().await;
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn three_dispatcher_processes_on_one_database_send_every_notification_exactly_once(pool: PgPool) {
    let e = seed(pool.clone(), 300).await;
    // 30 hand-overs a second for the three together: the work outlasts the beat a joining process waits before
    // its first hand-over, so every process gets some of it.
    let env = [
        ("DEBTOR_NOTIFY__DISPATCH__BATCH_SIZE", "10"),
        ("DEBTOR_NOTIFY__SIMULATOR__LATENCY_MS", "5"),
        ("DEBTOR_NOTIFY__SIMULATOR__RATE_PER_SECOND", "30"),
        ("DEBTOR_NOTIFY__SIMULATOR__BURST", "5"),
    ];
    let procs: Vec<Child> = (0..3)
        .map(|i| dispatcher(&e, &format!("three-{i}"), START, &env))
        .collect();
    wait_for(
        &pool,
        "select count(*) from notification where state = 'delivered'",
        300,
        90,
    )
    .await;
    for p in procs {
        stop(p).await;
    }
    assert_eq!(count(&pool, "select count(*) from notification").await, 300);
    assert_eq!(e.sends().await, (300, 300), "300 hand-overs for 300 notifications");
    let workers = count(
        &pool,
        "select count(distinct detail->>'worker') from delivery_event where state = 'sending'",
    )
    .await;
    assert!(workers >= 2, "the work was shared between processes ({workers})");
    // Each process beat into the presence table and left it on its clean stop.
    assert_eq!(count(&pool, "select count(*) from dispatcher_presence").await, 0);
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_dispatcher_killed_mid_send_loses_nothing_and_resends_nothing_blindly_after_restart(pool: PgPool) {
    let e = seed(pool.clone(), 100).await;
    // The killed process's provider accepts each hand-over and then holds it, and its report, for ten minutes:
    // whatever it has accepted when the kill comes is certainly unrecorded, however slow the machine is (an
    // instant report would record the accept through the report path, as a report overtaking its accept does).
    let killed_env = [
        ("DEBTOR_NOTIFY__SIMULATOR__REPORT_DELAY_MS", "600000"),
        ("DEBTOR_NOTIFY__DISPATCH__BATCH_SIZE", "25"),
        ("DEBTOR_NOTIFY__DISPATCH__LEASE_SECS", "1200"),
        ("DEBTOR_NOTIFY__DISPATCH__PROVIDER_TIMEOUT_SECS", "900"),
        ("DEBTOR_NOTIFY__SIMULATOR__LATENCY_MS", "600000"),
        ("DEBTOR_NOTIFY__SIMULATOR__CONCURRENCY", "25"),
    ];
    let env = [
        ("DEBTOR_NOTIFY__DISPATCH__BATCH_SIZE", "25"),
        ("DEBTOR_NOTIFY__DISPATCH__LEASE_SECS", "20"),
        ("DEBTOR_NOTIFY__DISPATCH__PROVIDER_TIMEOUT_SECS", "10"),
    ];
    let mut first = dispatcher(&e, "killed", START, &killed_env);
    // Kill it while the provider holds hand-overs we have not recorded yet.
    wait_for(
        &pool,
        "select count(*) from notification n join sim_message s on s.client_ref = n.notification_id::text
         where n.state = 'sending'",
        1,
        60,
    )
    .await;
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let accepted_unrecorded = count(
        &pool,
        "select count(*) from notification n join sim_message s on s.client_ref = n.notification_id::text
         where n.state = 'sending'",
    )
    .await;
    assert!(accepted_unrecorded >= 1);
    // The restarted process's clock starts half an hour later, past every lease of the killed one.
    let second = dispatcher(&e, "restarted", "2026-12-01T05:30:00Z", &env);
    wait_for(
        &pool,
        "select count(*) from notification where state = 'delivered'",
        100,
        120,
    )
    .await;
    stop(second).await;
    assert_eq!(
        e.sends().await,
        (100, 100),
        "every notification handed over exactly once"
    );
    assert!(count(&pool, "select count(*) from delivery_event where state = 'in_doubt'").await >= accepted_unrecorded);
    assert!(
        count(&pool, "select count(*) from attempt where outcome = 'reconciled_found'").await >= accepted_unrecorded
    );
}
