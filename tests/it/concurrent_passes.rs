//! Several dispatch passes of one process at once, as its claim loops run them, with the report loop polling
//! beside them: each pass records the reports of its own hand-overs together with their accepts, so no notice
//! is recorded from a report that another pass (or the report loop) took before its own pass recorded it.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use sqlx::PgPool;

use crate::engine::{Engine, debtor_in, engine_settings, sms_campaign};

const NOTICES: usize = 120;

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn concurrent_passes_record_each_report_with_its_own_accept(pool: PgPool) {
    let mut settings = engine_settings(&pool);
    settings.dispatch.batch_size = 10;
    // Tuesday 1 December 2026, 10:00 in Yekaterinburg: every notice is due and inside its window.
    let e = Engine::with(pool, settings, "2026-12-01T05:00:00Z").await;
    let debtors = (0..NOTICES)
        .map(|i| debtor_in(&format!("{}", 3000 + i), "Asia/Yekaterinburg", &format!("+7912{i:07}")))
        .collect();
    e.store(debtors).await;
    e.campaign(&sms_campaign("Параллельно", "2026-12-01T05:00:00Z")).await;
    e.planner.run_once().await.unwrap();
    let d = &e.dispatcher;
    let passes = || async {
        let mut handed = 0;
        loop {
            let s = d.run_once().await.unwrap();
            handed += s.handed_over;
            if s.claimed == 0 {
                return handed;
            }
        }
    };
    let done = AtomicBool::new(false);
    let all_passes = async {
        let handed = tokio::join!(passes(), passes(), passes());
        done.store(true, Ordering::Relaxed);
        handed
    };
    let report_loop = async {
        while !done.load(Ordering::Relaxed) {
            d.record_pending_reports().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let ((a, b, c), ()) = tokio::join!(all_passes, report_loop);
    d.record_pending_reports().await.unwrap();
    assert_eq!(a + b + c, NOTICES, "every notice handed over once");
    assert_eq!(e.sends().await, (NOTICES as i64, NOTICES as i64));
    let submitted: Vec<(String, i64)> = sqlx::query_as(
        "select source, count(*) from delivery_event where state = 'submitted' group by source order by source",
    )
    .fetch_all(&e.pool)
    .await
    .unwrap();
    assert_eq!(
        submitted,
        [("dispatcher".to_owned(), NOTICES as i64)],
        "each accept recorded by its own pass, none from an overtaking report"
    );
    let delivered: i64 = sqlx::query_scalar("select count(*) from notification where state = 'delivered'")
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(delivered, NOTICES as i64);
}
