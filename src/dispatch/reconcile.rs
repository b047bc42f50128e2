//! Reconciliation: a notice still `sending` after its lease (the process died between the provider's accept
//! and our record) becomes `in_doubt` and is looked up with the provider by our reference before anything
//! else happens: found means submitted (or finished), not found means safe to hand over again. Submitted
//! notices with no report for too long are looked up too, and expire after the validity period. Delivered
//! restriction warnings get their delivery day and earliest restriction day here.

use chrono::Duration;
use serde_json::json;

use super::{DispatchError, Dispatcher, reports::report_transition};
use crate::{
    gateway::{DeliveryReport, StatusAnswer},
    storage::{
        delivery::{self, Pending, ReportTarget},
        notification::{self, AttemptRow, Transition, detail},
        restriction,
    },
};

/// What one reconciliation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileStats {
    pub leases_expired: u64,
    pub found: usize,
    pub not_found: usize,
    pub expired: usize,
    /// Orphan reports applied to notices whose accept was recorded after them.
    pub orphans_adopted: usize,
    /// Delivered restriction warnings given their delivery and earliest restriction days.
    pub restriction_dated: u64,
}

impl Dispatcher {
    /// Expires leases, then looks up in-doubt and stale submitted notices with their provider.
    ///
    /// # Errors
    /// Database failures. Provider errors leave the notice as it was, for the next pass.
    pub async fn reconcile_once(&self) -> Result<ReconcileStats, DispatchError> {
        let now = self.clock.now();
        let d = &self.settings.dispatch;
        let mut stats = ReconcileStats {
            leases_expired: delivery::expire_leases(&self.pool, now).await?,
            ..ReconcileStats::default()
        };
        stats.restriction_dated = self.date_restriction_warnings().await?;
        stats.orphans_adopted = super::reports::adopt_orphans(&self.pool, now, None).await?;
        let stale_before = now - Duration::seconds(d.report_timeout_secs);
        let rows = delivery::to_reconcile(&self.pool, stale_before, d.batch_size).await?;
        if rows.is_empty() {
            return Ok(stats);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.notification_id).collect();
        let targets = delivery::report_targets(&self.pool, &ids).await?;
        let mut transitions = Vec::new();
        let mut attempts = Vec::new();
        let mut untouched = Vec::new();
        for row in &rows {
            let Some(target) = targets.iter().find(|t| t.notification_id == row.notification_id) else {
                continue;
            };
            let answer = self.ask(row).await;
            match self.settle(row, target, answer, now, &mut stats) {
                Some((t, a)) => {
                    transitions.push(t);
                    attempts.extend(a);
                }
                None => untouched.push(row.notification_id),
            }
        }
        notification::record_outcomes(&self.pool, "reconciler", now, &transitions, &attempts).await?;
        delivery::touch(&self.pool, &untouched, now).await?;
        Ok(stats)
    }

    /// Stamps delivered restriction warnings with the delivery day in the debtor's zone and the earliest
    /// restriction day (delivery + 20 days, moved to a working day of the debtor's region).
    async fn date_restriction_warnings(&self) -> Result<u64, DispatchError> {
        let rows = restriction::undated(&self.pool, 1000).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let calendar = self.calendar();
        let mut ids = Vec::with_capacity(rows.len());
        let (mut delivered, mut earliest) = (Vec::new(), Vec::new());
        for r in &rows {
            let zone: chrono_tz::Tz = r.timezone.parse().unwrap_or(chrono_tz::Europe::Moscow);
            let day = r.delivered_at.with_timezone(&zone).date_naive();
            ids.push(r.notification_id);
            delivered.push(day);
            earliest.push(calendar.restriction_earliest(day, r.region.as_deref()));
        }
        Ok(restriction::stamp(&self.pool, &ids, &delivered, &earliest).await?)
    }

    async fn ask(&self, row: &Pending) -> Option<StatusAnswer> {
        let client_ref = row.notification_id.to_string();
        let answer = if row.channel == "voice" {
            self.voice.call_status(&client_ref).await
        } else {
            self.sms
                .sms_status(&client_ref, row.provider_message_id.as_deref())
                .await
        };
        // The notice stays `in_doubt` (or `submitted`) and is asked again on the next pass.
        answer
            .inspect_err(|e| {
                tracing::warn!(notification_id = row.notification_id, error = %e, "provider status query failed");
            })
            .ok()
    }

    fn settle(
        &self,
        row: &Pending,
        target: &ReportTarget,
        answer: Option<StatusAnswer>,
        now: chrono::DateTime<chrono::Utc>,
        stats: &mut ReconcileStats,
    ) -> Option<(Transition, Option<AttemptRow>)> {
        let provider = self.provider_name(&row.channel).to_owned();
        let attempt = |outcome, pmid: Option<String>| AttemptRow {
            notification_id: row.notification_id,
            attempt_no: row.attempts,
            started_at: now,
            outcome,
            provider: provider.clone(),
            provider_message_id: pmid,
            error_code: None,
            error_detail: None,
        };
        let validity = Duration::hours(self.settings.dispatch.validity_hours);
        match answer? {
            StatusAnswer::NotFound if row.state == "in_doubt" => {
                stats.not_found += 1;
                let t = Transition {
                    id: row.notification_id,
                    guard: "in_doubt",
                    state: "planned",
                    reason: Some("reconciled_not_found".into()),
                    due_at: Some(now),
                    detail: Some(detail(&json!({"status_query": "not_found"}))),
                    ..Transition::default()
                };
                Some((t, Some(attempt("reconciled_not_found", None))))
            }
            StatusAnswer::Accepted { provider_message_id } if row.state == "in_doubt" => {
                stats.found += 1;
                let t = Transition {
                    id: row.notification_id,
                    guard: "in_doubt",
                    state: "submitted",
                    reason: Some("reconciled_found".into()),
                    provider_message_id: Some(provider_message_id.clone()),
                    detail: Some(detail(
                        &json!({"status_query": "accepted", "provider_message_id": provider_message_id}),
                    )),
                    ..Transition::default()
                };
                Some((t, Some(attempt("reconciled_found", Some(provider_message_id)))))
            }
            StatusAnswer::Final {
                provider_message_id,
                state,
                reason,
            } => {
                stats.found += 1;
                let report = DeliveryReport {
                    provider: provider.clone(),
                    client_ref: Some(row.notification_id.to_string()),
                    provider_message_id: provider_message_id.clone(),
                    state,
                    reason,
                    at: now,
                    raw: json!({"status_query": state.as_str()}),
                };
                let a = (row.state == "in_doubt").then(|| attempt("reconciled_found", Some(provider_message_id)));
                Some((report_transition(target, &report, now), a))
            }
            // No final report within the validity (and no status query, or it knows nothing final): closed as
            // undelivered. An in-doubt hand-over to a provider without a status query ends here too, never
            // re-sent blindly.
            _ if matches!(row.state.as_str(), "submitted" | "in_doubt")
                && row.sent_at.is_some_and(|s| s + validity < now) =>
            {
                stats.expired += 1;
                let t = Transition {
                    id: row.notification_id,
                    guard: "submitted,in_doubt",
                    state: "undelivered",
                    reason: Some("no_report".into()),
                    detail: Some(detail(
                        &json!({"validity_hours": self.settings.dispatch.validity_hours}),
                    )),
                    ..Transition::default()
                };
                Some((t, None))
            }
            _ => None,
        }
    }
}
