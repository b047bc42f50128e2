//! Delivery reports and call results: matched to notifications by our reference (or the provider's id),
//! applied only forward (a final state is never downgraded; duplicates and late reports are kept as events
//! that changed nothing), and unanswered voice calls re-planned while the step has attempts left.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{DispatchError, Dispatcher};
use crate::{
    gateway::{DeliveryReport, FinalState},
    storage::{
        delivery::{self, ReportTarget},
        notification::{self, IN_FLIGHT, REPORTABLE, Transition},
    },
    telemetry::error_chain,
};

impl Dispatcher {
    /// Records every report waiting in the channel. Returns how many were read.
    ///
    /// # Errors
    /// Database failures (the reports read are lost only if the process dies; providers resend, and the
    /// reconciler asks for report-less notices).
    pub async fn record_pending_reports(&self) -> Result<usize, DispatchError> {
        let batch = self.take_reports().await;
        let n = batch.len();
        self.record_reports(batch).await?;
        Ok(n)
    }

    pub(super) async fn report_loop(&self, token: CancellationToken) {
        // Polls rather than waits on the channel, so dispatch passes can take the reports of their own
        // hand-overs and record accept and report in one change.
        while !token.is_cancelled() {
            let batch = self.take_reports().await;
            if batch.is_empty() {
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                continue;
            }
            if let Err(e) = self.record_reports(batch).await {
                warn!(error = %error_chain(&e), "recording delivery reports failed");
            }
        }
        // Whatever arrived before the stop.
        let rest = self.take_reports().await;
        if let Err(e) = self.record_reports(rest).await {
            warn!(error = %error_chain(&e), "recording delivery reports failed");
        }
    }

    /// Takes up to 5,000 waiting reports.
    pub(super) async fn take_reports(&self) -> Vec<DeliveryReport> {
        let mut batch = Vec::new();
        let mut rx = self.reports.lock().await;
        while batch.len() < 5000 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        batch
    }

    /// Applies reports (from the simulator or, later, provider callbacks).
    ///
    /// # Errors
    /// Database failures.
    pub async fn record_reports(&self, reports: Vec<DeliveryReport>) -> Result<(), DispatchError> {
        if reports.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let unresolved: Vec<String> = reports
            .iter()
            .filter(|r| r.client_ref.as_deref().and_then(|c| c.parse::<i64>().ok()).is_none())
            .map(|r| r.provider_message_id.clone())
            .collect();
        let by_pmid: HashMap<String, i64> = if unresolved.is_empty() {
            HashMap::new()
        } else {
            delivery::ids_by_provider_message(&self.pool, &unresolved)
                .await?
                .into_iter()
                .collect()
        };
        let resolved: Vec<(i64, DeliveryReport)> = reports
            .into_iter()
            .filter_map(|r| {
                let id = r.client_ref.as_deref().and_then(|c| c.parse().ok()).or_else(|| by_pmid.get(&r.provider_message_id).copied());
                if id.is_none() {
                    warn!(provider = %r.provider, provider_message_id = %r.provider_message_id, "report for an unknown message");
                }
                id.map(|id| (id, r))
            })
            .collect();
        let ids: Vec<i64> = resolved.iter().map(|(id, _)| *id).collect();
        let targets: HashMap<i64, ReportTarget> = delivery::report_targets(&self.pool, &ids)
            .await?
            .into_iter()
            .map(|t| (t.notification_id, t))
            .collect();
        let transitions: Vec<Transition> = resolved
            .iter()
            .filter_map(|(id, r)| targets.get(id).map(|t| report_transition(t, r, now)))
            .collect();
        // A report can overtake the dispatcher's record of the accept (another pass took it first): the accept
        // is recorded from the report, so the evidence keeps its `submitted` step. If the dispatcher's record
        // lands first, the guard skips this stage.
        let accepts: Vec<Transition> = resolved
            .iter()
            .filter(|(id, _)| {
                targets
                    .get(id)
                    .is_some_and(|t| IN_FLIGHT.split(',').any(|s| s == t.state))
            })
            .map(|(id, r)| accept_from_report(*id, r))
            .collect();
        let applied = notification::record_stages(&self.pool, "provider", now, &[&accepts, &transitions], &[]).await?;
        let mut not_applied = (Vec::new(), Vec::new(), Vec::new());
        for (id, r) in &resolved {
            if !applied.contains(id) {
                not_applied.0.push(*id);
                not_applied.1.push(r.state.as_str());
                not_applied
                    .2
                    .push(json!({"provider_message_id": r.provider_message_id, "reported_at": r.at, "raw": r.raw}));
            }
        }
        delivery::record_unapplied_reports(&self.pool, now, &not_applied.0, &not_applied.1, &not_applied.2).await?;
        Ok(())
    }
}

/// The provider's accept, learnt from its report before the dispatcher recorded it.
fn accept_from_report(id: i64, r: &DeliveryReport) -> Transition {
    Transition {
        id,
        guard: IN_FLIGHT,
        state: "submitted",
        provider: Some(r.provider.clone()),
        provider_message_id: Some(r.provider_message_id.clone()),
        detail: Some(
            json!({"provider": r.provider, "provider_message_id": r.provider_message_id,
                            "recorded_from": "delivery_report"}),
        ),
        ..Transition::default()
    }
}

/// The change a report makes: its final state, or another try for an unanswered call with attempts left.
pub(super) fn report_transition(t: &ReportTarget, r: &DeliveryReport, now: DateTime<Utc>) -> Transition {
    let detail = json!({"provider_message_id": r.provider_message_id, "reported_at": r.at, "raw": r.raw});
    let base = Transition {
        id: t.notification_id,
        guard: REPORTABLE,
        provider_message_id: Some(r.provider_message_id.clone()),
        reason: r.reason.clone(),
        detail: Some(detail),
        ..Transition::default()
    };
    if t.channel == "voice" && r.state == FinalState::Undelivered && t.attempts < t.max_attempts {
        return Transition {
            state: "planned",
            due_at: Some(now + chrono::Duration::minutes(i64::from(t.retry_after_minutes))),
            ..base
        };
    }
    Transition {
        state: r.state.as_str(),
        ..base
    }
}
