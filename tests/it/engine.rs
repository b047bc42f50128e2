//! Harness for planner and dispatcher tests: a manual clock, the simulator journaling to the test's database
//! (so sends are counted exactly), debtors stored through the real intake path.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use debtor_notify::{
    campaign::{self, Action, planner::Planner},
    clock::ManualClock,
    config::{Settings, SimJournal},
    dispatch::Dispatcher,
    intake::process::{Incoming, Verdict, process_message},
    storage,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{UTILITY, batch_doc, test_settings};

/// Planner + dispatcher on one database, driven step by step.
pub struct Engine {
    pub pool: PgPool,
    pub clock: ManualClock,
    pub settings: Arc<Settings>,
    pub planner: Planner,
    pub dispatcher: Arc<Dispatcher>,
}

/// Settings for deterministic runs: no latency, immediate reports, everything delivered, no failures.
pub fn engine_settings(pool: &PgPool) -> Settings {
    let mut s = test_settings(pool);
    s.simulator.make_instant();
    s.simulator.journal = SimJournal::Database;
    s.dispatch.batch_size = 200;
    s
}

impl Engine {
    /// An engine at `now` with the test utility registered.
    pub async fn start(pool: PgPool, now: &str) -> Self {
        Self::with(pool.clone(), engine_settings(&pool), now).await
    }

    /// An engine with given settings.
    pub async fn with(pool: PgPool, settings: Settings, now: &str) -> Self {
        if storage::utility::get_utility(&pool, UTILITY).await.unwrap().is_none() {
            storage::utility::insert_utility(&pool, UTILITY, "ОКК Тест", "Asia/Yekaterinburg")
                .await
                .unwrap();
        }
        let settings = Arc::new(settings);
        let clock = ManualClock::at(at(now));
        let planner = Planner::new(pool.clone(), settings.clone(), Arc::new(clock.clone()));
        let dispatcher = Dispatcher::new(pool.clone(), settings.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        Self {
            pool,
            clock,
            settings,
            planner,
            dispatcher,
        }
    }

    /// Plans, dispatches until nothing is due, and records reports. Returns notices handed over.
    pub async fn tick(&self) -> usize {
        self.planner.run_once().await.unwrap();
        let mut handed = 0;
        loop {
            let s = self.dispatcher.run_once().await.unwrap();
            handed += s.handed_over;
            if s.claimed == 0 {
                break;
            }
        }
        self.dispatcher.record_pending_reports().await.unwrap();
        // Follow-up steps planned from the reports just recorded.
        self.planner.run_once().await.unwrap();
        handed
    }

    /// Sets the clock.
    pub fn set(&self, now: &str) {
        self.clock.set(at(now));
    }

    /// Stores a batch through the intake path.
    pub async fn store(&self, debtors: Vec<Value>) {
        let doc = batch_doc(Uuid::new_v4(), "2026-11-20", debtors);
        let msg = Incoming {
            body: serde_json::to_vec(&doc).unwrap(),
            content_type: Some("application/json".into()),
            schema_header: None,
            message_id: None,
        };
        let v = process_message(&self.pool, &self.settings.intake, msg).await.unwrap();
        assert!(matches!(v, Verdict::Stored { rejected: 0, .. }), "{v:?}");
    }

    /// Creates and starts a campaign from TOML.
    pub async fn campaign(&self, toml: &str) -> i64 {
        let id = campaign::create(&self.pool, toml, "test").await.unwrap();
        campaign::act(&self.pool, &self.clock, id, Action::Start, "test")
            .await
            .unwrap();
        id
    }

    /// Hand-overs the simulator received (sum of submissions) and distinct references.
    pub async fn sends(&self) -> (i64, i64) {
        sqlx::query_as("select coalesce(sum(submissions), 0)::bigint, count(*) from sim_message")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// (account, state, reason) of every notification of a step, by account.
    pub async fn states(&self, step: i32) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as(
            "select d.account, n.state, n.reason from notification n join debtor d using (debtor_id)
             where n.step_no = $1 order by d.account, n.notification_id",
        )
        .bind(step)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// How many attempt rows a notification has.
    pub async fn attempts(&self, id: i64) -> i64 {
        sqlx::query_scalar("select count(*) from attempt where notification_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Parses an RFC 3339 instant.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A debtor with a zone and a mobile number.
pub fn debtor_in(account: &str, zone: &str, phone: &str) -> Value {
    let mut d = crate::helpers::debtor(account, "4 500,00");
    d["timezone"] = json!(zone);
    d["phones"] = json!([phone]);
    d
}

/// A one-step SMS campaign TOML starting at `start`.
pub fn sms_campaign(name: &str, start: &str) -> String {
    format!(
        "name = \"{name}\"\nutility = \"{UTILITY}\"\nstarts_at = \"{start}\"\n[[steps]]\ntemplate = \"soft-reminder-sms\"\n"
    )
}
