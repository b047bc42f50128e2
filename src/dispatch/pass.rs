//! One dispatch pass: claim and gate in one short transaction, hand over outside it, record the outcomes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{
    DispatchError, Dispatcher,
    gate::{self, Decision, Rendered, Rules},
    inbox::Hold,
    outcome::{Recorded, accept_then, closed},
    reports::{self, report_transition},
};
use crate::{
    gateway::{Accepted, DeliveryReport, GatewayError},
    render::sms,
    storage::{
        accept::{Accept, FinalReport},
        claim::{self, Claimed},
        delivery::ReportTarget,
        notification::{self, AttemptRow, Transition, detail},
        sending::{Sending, mark_sending},
    },
};

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub claimed: usize,
    pub handed_over: usize,
    pub submitted: usize,
    pub rescheduled: usize,
    pub suppressed: usize,
    pub cancelled: usize,
    pub failed: usize,
}

/// A hand-over to make.
pub(super) struct Job {
    pub(super) id: i64,
    /// Where its row is (`ctid`): the claimed version until marked `sending`, then the `sending` version.
    pub(super) tid: String,
    pub(super) channel: String,
    pub(super) to: String,
    pub(super) text: String,
    /// Evidence recorded with the `sending` state, before the hand-over.
    pub(super) sha256: Vec<u8>,
    pub(super) segments: i32,
    pub(super) attempt: i32,
    pub(super) max_attempts: i32,
    pub(super) retry_after_minutes: i32,
    pub(super) campaign_id: i64,
    pub(super) rate_per_minute: Option<i32>,
    pub(super) lease_until: DateTime<Utc>,
}

pub(super) enum Outcome {
    Accepted(Accepted),
    Error(GatewayError),
    Timeout,
    /// Not started: too little of the lease left.
    Released,
}

impl Dispatcher {
    /// Claims one batch of due notices, gates, hands over and records. Returns what happened.
    ///
    /// # Errors
    /// Database failures (a failure before the claim commits leaves the rows `planned`; after it, leases
    /// expire and the rows are reconciled).
    pub async fn run_once(&self) -> Result<PassStats, DispatchError> {
        let now = self.clock.now();
        let d = &self.settings.dispatch;
        let t0 = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        let claimed = claim::claim_due(&mut tx, now, d.batch_size).await?;
        let mut stats = PassStats {
            claimed: claimed.len(),
            ..PassStats::default()
        };
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(stats);
        }
        let mut wanted: Vec<(String, i32)> = claimed
            .iter()
            .map(|c| (c.template_name.clone(), c.template_version))
            .collect();
        wanted.sort();
        wanted.dedup();
        self.load_templates(&wanted).await?;
        let debtors: Vec<i64> = claimed.iter().map(|c| c.debtor_id).collect();
        let mut history: HashMap<i64, Vec<(i64, DateTime<Utc>)>> = HashMap::new();
        for c in claim::contacts_since(&mut tx, &debtors, now - Duration::days(40)).await? {
            history
                .entry(c.debtor_id)
                .or_default()
                .push((c.notification_id, c.sent_at));
        }
        let lease_until = now + Duration::seconds(d.lease_secs);
        let (transitions, mut jobs) = self.gate_all(&claimed, now, lease_until, &mut history, &mut stats);
        let t1 = t0.elapsed();
        notification::apply(&mut *tx, "dispatcher", now, &transitions).await?;
        let sending: Vec<Sending<'_>> = jobs
            .iter()
            .map(|j| Sending {
                id: j.id,
                tid: &j.tid,
                provider: self.provider_name(&j.channel),
                text: &j.text,
                sha256: &j.sha256,
                segments: j.segments,
            })
            .collect();
        let marked: HashMap<i64, String> = mark_sending(&mut tx, &self.worker, now, lease_until, &sending)
            .await?
            .into_iter()
            .collect();
        // Rows are locked and `planned`, so all are marked; a job not marked is never handed over (its row stays
        // as it was), and says so.
        jobs.retain_mut(|j| match marked.get(&j.id) {
            Some(tid) => {
                j.tid.clone_from(tid);
                true
            }
            None => {
                tracing::error!(
                    notification_id = j.id,
                    "claimed notice was not marked sending; not handed over"
                );
                false
            }
        });
        tx.commit().await?;
        let t2 = t0.elapsed();
        stats.handed_over = jobs.len();
        // Reports of these notices wait for this pass's record (until `hold` drops, on every way out).
        let hold = self.reports.hold(jobs.iter().map(|j| j.id).collect());
        let outcomes = self.hand_over_all(&jobs).await;
        let done = self.clock.now();
        let mut accepts = Vec::with_capacity(jobs.len());
        let mut results: Vec<Transition> = Vec::new();
        let mut attempts = Vec::new();
        for (job, outcome) in jobs.iter().zip(outcomes) {
            match self.result_of(job, outcome, now, done) {
                Recorded::Accept(a) => accepts.push(a),
                Recorded::Change(t, a) => {
                    results.push(t);
                    attempts.extend(a);
                }
            }
        }
        stats.submitted = accepts.len();
        let t3 = t0.elapsed();
        let mut others = self.merge_reports(&jobs, &hold, &mut accepts, &mut results, &mut attempts, done);
        notification::record_pass(&self.pool, "dispatcher", done, &accepts, &results, &attempts).await?;
        // Reports that came before this record (providers that name only their own id) wait as orphans.
        let accepted: Vec<String> = accepts
            .iter()
            .map(|a| a.provider_message_id.clone())
            .chain(results.iter().filter_map(|t| t.provider_message_id.clone()))
            .collect();
        if !accepted.is_empty() {
            reports::adopt_orphans(&self.pool, done, Some(&accepted)).await?;
        }
        let t4 = t0.elapsed();
        drop(hold);
        others.extend(self.take_reports());
        self.record_reports(others).await?;
        tracing::debug!(claim_gate = ?t1, apply_claim = ?(t2 - t1), send = ?(t3 - t2), record = ?(t4 - t3), reports = ?(t0.elapsed() - t4), n = stats.claimed, "pass");
        Ok(stats)
    }

    /// Takes the reports of this pass's notices that already arrived (`hold` keeps them from everyone else). A
    /// final report of one of this pass's accepts is folded into its record (`submitted`, then the report's
    /// state); a progress report or an unanswered call to try again turns the accept into a generic change with
    /// `submitted` first. Returns the reports not folded.
    fn merge_reports(
        &self,
        jobs: &[Job],
        hold: &Hold<'_>,
        accepts: &mut Vec<Accept>,
        results: &mut Vec<Transition>,
        attempts: &mut Vec<AttemptRow>,
        now: DateTime<Utc>,
    ) -> Vec<DeliveryReport> {
        let reports = self.reports.take_held(hold);
        if reports.is_empty() {
            return reports;
        }
        let jobs: HashMap<i64, &Job> = jobs.iter().map(|j| (j.id, j)).collect();
        let index: HashMap<i64, usize> = accepts.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        let mut changed = vec![false; accepts.len()];
        let mut others = Vec::new();
        for r in reports {
            let slot = r
                .client_ref
                .as_deref()
                .and_then(|c| c.parse::<i64>().ok())
                .and_then(|id| index.get(&id).copied());
            let Some((i, job)) = slot
                .filter(|&i| accepts[i].report.is_none() && !changed[i])
                .and_then(|i| jobs.get(&accepts[i].id).map(|j| (i, j)))
            else {
                others.push(r);
                continue;
            };
            let target = ReportTarget {
                notification_id: job.id,
                state: "sending".into(),
                channel: job.channel.clone(),
                attempts: job.attempt,
                max_attempts: job.max_attempts,
                retry_after_minutes: job.retry_after_minutes,
            };
            // Refused (the notice settled meanwhile), the report is still kept, as every recorded report is.
            let change = Transition {
                on_refusal: Some(r.state.as_str()),
                ..report_transition(&target, &r, now)
            };
            match change.detail {
                Some(detail) if notification::is_final(change.state) => {
                    accepts[i].report = Some(FinalReport {
                        state: change.state,
                        reason: change.reason,
                        detail,
                    });
                }
                _ => {
                    let (t, a) = accept_then(&accepts[i], change);
                    results.push(t);
                    attempts.push(a);
                    changed[i] = true;
                }
            }
        }
        let mut keep = changed.into_iter().map(|c| !c);
        accepts.retain(|_| keep.next().unwrap_or(true));
        others
    }

    fn gate_all(
        &self,
        claimed: &[Claimed],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        history: &mut HashMap<i64, Vec<(i64, DateTime<Utc>)>>,
        stats: &mut PassStats,
    ) -> (Vec<Transition>, Vec<Job>) {
        let calendar = self.calendar();
        let p = &self.settings.policy;
        let rules = Rules {
            window: p.window(),
            caps: p.caps(),
            guard: p.guard(),
            calendar: &calendar,
        };
        let mut transitions = Vec::with_capacity(claimed.len());
        let mut jobs = Vec::new();
        for c in claimed {
            let contacts: Vec<DateTime<Utc>> = history
                .get(&c.debtor_id)
                .map(|h| {
                    h.iter()
                        .filter(|(id, _)| *id != c.notification_id)
                        .map(|(_, at)| *at)
                        .collect()
                })
                .unwrap_or_default();
            let decision = gate::decide(c, now, rules, &contacts, || self.render(c));
            let base = Transition {
                id: c.notification_id,
                guard: "planned",
                ..Transition::default()
            };
            let t = match decision {
                Decision::Send { text, sha256, segments } => {
                    // Marked `sending`, with its text as evidence, by `sending::mark_sending`.
                    history.entry(c.debtor_id).or_default().push((c.notification_id, now));
                    jobs.push(Job {
                        id: c.notification_id,
                        tid: c.tid.clone(),
                        channel: c.channel.clone(),
                        to: c.e164.clone().unwrap_or_default(),
                        text,
                        sha256,
                        segments,
                        attempt: c.attempts + 1,
                        max_attempts: c.step.max_attempts,
                        retry_after_minutes: c.step.retry_after_minutes,
                        campaign_id: c.campaign_id,
                        rate_per_minute: c.step.rate_per_minute,
                        lease_until,
                    });
                    continue;
                }
                Decision::Reschedule { due_at, reason } => {
                    stats.rescheduled += 1;
                    Transition {
                        state: "planned",
                        reason: Some(reason.into()),
                        due_at: Some(due_at),
                        detail: Some(detail(&json!({"rescheduled_to": due_at}))),
                        ..base
                    }
                }
                Decision::Suppress(reason) => {
                    stats.suppressed += 1;
                    closed(base, "suppressed", reason, None)
                }
                Decision::Cancel(reason) => {
                    stats.cancelled += 1;
                    closed(base, "cancelled", reason, None)
                }
                Decision::Fail { reason, detail } => {
                    stats.failed += 1;
                    closed(
                        base,
                        "failed",
                        reason,
                        Some(notification::detail(&json!({"error": detail}))),
                    )
                }
            };
            transitions.push(t);
        }
        (transitions, jobs)
    }

    pub(super) fn provider_name(&self, channel: &str) -> &str {
        if channel == "voice" {
            self.voice.name()
        } else {
            self.sms.name()
        }
    }

    fn render(&self, c: &Claimed) -> Result<Rendered, String> {
        let compiled = self.compiled(&c.template_name, c.template_version).ok_or_else(|| {
            format!(
                "template {}@{} is missing or does not compile",
                c.template_name, c.template_version
            )
        })?;
        let text = compiled
            .engine
            .render_value(&compiled.key, c.facts.context())
            .map_err(|e| crate::telemetry::error_chain(&e))?;
        let m = sms::measure(&text);
        let is_sms = c.channel == "sms";
        let segments = i32::try_from(m.segments).unwrap_or(i32::MAX);
        Ok(Rendered {
            too_long: is_sms && segments > compiled.version.max_segments,
            segments: if is_sms { segments } else { 0 },
            text,
        })
    }
}
