//! The planner: for every running campaign, expands the steps of the current round into notification rows
//! with `due_at` placed inside each debtor's contact window. Steps counted from the start cover every eligible
//! debtor (re-run when new batches arrive, so late debtors join); steps counted from the previous one follow
//! each debtor's previous notice once it is final. Campaigns past `end_by` are completed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use futures_util::{StreamExt, TryStreamExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::spec::current_round;
use crate::{
    clock::SharedClock,
    config::Settings,
    policy::{calendar::ProductionCalendar, window::ContactWindow},
    storage::{
        self, StorageError,
        campaign::{CampaignRow, StepRow},
        delivery::{self, Scope},
        plan::{self, StepPlan},
    },
    telemetry::error_chain,
};

/// (campaign, round, step).
type StepKey = (i64, chrono::NaiveDate, i32);

/// What one planning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanStats {
    pub campaigns: usize,
    pub planned: u64,
    pub completed: usize,
}

/// The planner of one process (any number may run; rows are unique).
pub struct Planner {
    pool: sqlx::PgPool,
    settings: Arc<Settings>,
    clock: SharedClock,
    /// (campaign, round, step) → the batch mark it was last planned at.
    marks: Mutex<HashMap<StepKey, Option<DateTime<Utc>>>>,
}

impl Planner {
    /// A planner.
    #[must_use]
    pub fn new(pool: sqlx::PgPool, settings: Arc<Settings>, clock: SharedClock) -> Self {
        Self {
            pool,
            settings,
            clock,
            marks: Mutex::new(HashMap::new()),
        }
    }

    /// Plans until cancelled.
    pub async fn run(self, token: CancellationToken) {
        info!("planner running");
        while !token.is_cancelled() {
            match self.run_once().await {
                Ok(s) if s.planned > 0 || s.completed > 0 => {
                    info!(planned = s.planned, completed = s.completed, "planning pass");
                }
                Ok(_) => {}
                Err(e) => warn!(error = %error_chain(&e), "planning pass failed"),
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(self.settings.planner.interval()) => {}
            }
        }
    }

    /// One pass over every running campaign.
    ///
    /// # Errors
    /// Database failures.
    pub async fn run_once(&self) -> Result<PlanStats, StorageError> {
        let now = self.clock.now();
        let calendar = storage::calendar::load_calendar(&self.pool).await?;
        let mark = delivery::batch_mark(&self.pool).await?;
        let mut stats = PlanStats::default();
        for c in storage::campaign::list_campaigns(&self.pool, None, &["running"]).await? {
            stats.campaigns += 1;
            if c.end_by.is_some_and(|e| e <= now) {
                self.complete(&c, now).await?;
                stats.completed += 1;
                continue;
            }
            let Some(round) = current_round(c.starts_at, c.recurrence.as_ref().map(|r| r.0), c.end_by, now) else {
                continue;
            };
            delivery::cancel_superseded(&self.pool, c.campaign_id, round.date_naive(), now).await?;
            for step in storage::campaign::list_steps(&self.pool, c.campaign_id).await? {
                stats.planned += self.plan_step(&c, &step, round, now, mark, &calendar).await?;
            }
        }
        if stats.planned >= 10_000 {
            plan::analyze_notifications(&self.pool).await?;
        }
        Ok(stats)
    }

    async fn complete(&self, c: &CampaignRow, now: DateTime<Utc>) -> Result<(), StorageError> {
        delivery::cancel_pending(
            &self.pool,
            Scope::Campaign(c.campaign_id),
            "cancelled",
            "campaign_ended",
            "planner",
            now,
        )
        .await?;
        storage::campaign::transition(
            &self.pool,
            c.campaign_id,
            &["running"],
            "completed",
            "complete",
            "planner",
        )
        .await?;
        info!(campaign = c.campaign_id, "campaign completed (end_by reached)");
        Ok(())
    }

    async fn plan_step(
        &self,
        c: &CampaignRow,
        step: &StepRow,
        round: DateTime<Utc>,
        now: DateTime<Utc>,
        mark: Option<DateTime<Utc>>,
        calendar: &ProductionCalendar,
    ) -> Result<u64, StorageError> {
        let Some(template) =
            storage::template::get_template(&self.pool, &step.template_name, Some(step.template_version)).await?
        else {
            warn!(
                campaign = c.campaign_id,
                step = step.step_no,
                "pinned template version is missing"
            );
            return Ok(0);
        };
        let p = StepPlan {
            campaign_id: c.campaign_id,
            occurrence: round.date_naive(),
            step_no: step.step_no,
            utility: c.utility_id.as_deref(),
            channel: &step.channel,
            template_name: &step.template_name,
            template_version: step.template_version,
            template_kind: &template.kind,
            priority: c.priority,
            condition: &step.condition,
        };
        let offset = Duration::minutes(i64::from(step.offset_minutes));
        let region = self.region_of(c).await?;
        let placer = Placer {
            window: self.settings.policy.window(),
            guard: self.settings.policy.guard(),
            calendar,
            region: region.as_deref(),
        };
        if step.offset_from == "start" {
            let key = (c.campaign_id, p.occurrence, step.step_no);
            if self.marks.lock().unwrap_or_else(PoisonError::into_inner).get(&key) == Some(&mark) {
                return Ok(0);
            }
            let base = (round + offset).max(now);
            let rows = plan::candidates(&self.pool, &p, &c.audience, now).await?;
            let mut per_zone: HashMap<&str, DateTime<Utc>> = HashMap::new();
            let size = self.settings.planner.chunk.max(1);
            let chunks: Vec<(usize, Vec<DateTime<Utc>>)> = rows
                .chunks(size)
                .enumerate()
                .map(|(i, chunk)| {
                    let due = chunk
                        .iter()
                        .map(|r| {
                            *per_zone
                                .entry(r.timezone.as_str())
                                .or_insert_with(|| placer.place(base, &r.timezone))
                        })
                        .collect();
                    (i * size, due)
                })
                .collect();
            // Two statements at a time: PostgreSQL does the work, on as many cores as we give it.
            let (rows, p) = (&rows, &p);
            let n: u64 = futures_util::stream::iter(chunks)
                .map(|(start, due)| async move {
                    let chunk = &rows[start..(start + due.len())];
                    plan::plan_debtors(&self.pool, p, chunk, &due, now).await
                })
                .buffer_unordered(self.settings.planner.concurrency.max(1))
                .try_fold(0, |acc, k| async move { Ok(acc + k) })
                .await?;
            self.marks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, mark);
            return Ok(n);
        }
        let (rows, due): (Vec<plan::Candidate>, Vec<DateTime<Utc>>) =
            plan::follow_ups(&self.pool, &p, &c.audience, now)
                .await?
                .into_iter()
                .map(|f| {
                    let due = placer.place(
                        (f.previous_final_at + offset).max(round + offset).max(now),
                        &f.debtor.timezone,
                    );
                    (f.debtor, due)
                })
                .unzip();
        let mut n = 0;
        let size = self.settings.planner.chunk.max(1);
        for (chunk, due) in rows.chunks(size).zip(due.chunks(size)) {
            n += plan::plan_debtors(&self.pool, &p, chunk, due, now).await?;
        }
        Ok(n)
    }

    async fn region_of(&self, c: &CampaignRow) -> Result<Option<String>, StorageError> {
        match &c.utility_id {
            Some(u) => storage::utility::utility_region(&self.pool, u).await,
            None => Ok(None),
        }
    }
}

/// Places a moment inside the contact window of a zone.
struct Placer<'a> {
    window: ContactWindow,
    guard: Duration,
    calendar: &'a ProductionCalendar,
    region: Option<&'a str>,
}

impl Placer<'_> {
    fn place(&self, at: DateTime<Utc>, zone: &str) -> DateTime<Utc> {
        match zone.parse::<Tz>() {
            Ok(tz) => self.window.next_allowed(at, tz, self.calendar, self.region, self.guard),
            // Unknown zones are planned as they are; dispatch suppresses them with a reason.
            Err(_) => at,
        }
    }
}
