//! Delivery reports and call results: matched to notifications by our reference (or the provider's id),
//! applied only forward (a final state is never downgraded; duplicates and late reports are kept as events
//! that changed nothing), and unanswered voice calls re-planned while the step has attempts left.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{DispatchError, Dispatcher};
use crate::{
    gateway::{DeliveryReport, ReportState},
    storage::{
        delivery::{self, ReportTarget},
        notification::{self, IN_FLIGHT, REPORTABLE, Transition, detail},
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
        let batch = self.take_reports();
        let n = batch.len();
        self.record_reports(batch).await?;
        Ok(n)
    }

    pub(super) async fn report_loop(&self, token: CancellationToken) {
        // Polls rather than waits on the channel, so dispatch passes can take the reports of their own
        // hand-overs and record accept and report in one change.
        while !token.is_cancelled() {
            let batch = self.take_reports();
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
        let rest = self.take_reports();
        if let Err(e) = self.record_reports(rest).await {
            warn!(error = %error_chain(&e), "recording delivery reports failed");
        }
    }

    /// Takes up to 5,000 waiting reports that no pass holds for its own record.
    pub(super) fn take_reports(&self) -> Vec<DeliveryReport> {
        self.reports.take_free()
    }

    /// Applies reports from the in-process simulator.
    ///
    /// # Errors
    /// Database failures.
    pub async fn record_reports(&self, reports: Vec<DeliveryReport>) -> Result<Recorded, DispatchError> {
        record(&self.pool, self.clock.now(), reports).await
    }
}

/// What recording a batch of reports did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Changed a notice's state.
    pub applied: usize,
    /// Matched a notice that had moved on (duplicates, late progress): kept as `report_not_applied` events.
    pub not_applied: usize,
    /// Matched no notice: kept in `orphan_report`.
    pub orphans: usize,
}

/// Applies reports (the simulator's, provider callbacks'): matched by our reference or the provider's id, then
/// applied forward only. Every report leaves a row: an event that changed the state, an event that changed
/// nothing, or an orphan.
///
/// # Errors
/// Database failures.
pub async fn record(
    pool: &PgPool,
    now: DateTime<Utc>,
    reports: Vec<DeliveryReport>,
) -> Result<Recorded, DispatchError> {
    if reports.is_empty() {
        return Ok(Recorded::default());
    }
    let unresolved: Vec<String> = reports
        .iter()
        .filter(|r| r.client_ref.as_deref().and_then(|c| c.parse::<i64>().ok()).is_none())
        .map(|r| r.provider_message_id.clone())
        .collect();
    let by_pmid: HashMap<String, i64> = if unresolved.is_empty() {
        HashMap::new()
    } else {
        delivery::ids_by_provider_message(pool, &unresolved)
            .await?
            .into_iter()
            .collect()
    };
    let ids: Vec<i64> = reports.iter().filter_map(|r| reference(r, &by_pmid)).collect();
    let targets: HashMap<i64, ReportTarget> = delivery::report_targets(pool, &ids)
        .await?
        .into_iter()
        .map(|t| (t.notification_id, t))
        .collect();
    let (resolved, orphans): (Vec<_>, Vec<_>) = reports
        .into_iter()
        .map(|r| (reference(&r, &by_pmid).filter(|id| targets.contains_key(id)), r))
        .partition(|(id, _)| id.is_some());
    let resolved: Vec<(i64, DeliveryReport)> = resolved
        .into_iter()
        .map(|(id, r)| (id.unwrap_or_default(), r))
        .collect();
    let orphans: Vec<DeliveryReport> = orphans.into_iter().map(|(_, r)| r).collect();
    if !orphans.is_empty() {
        warn!(n = orphans.len(), provider = %orphans[0].provider, "delivery reports for unknown messages kept as orphans");
        delivery::record_orphans(pool, now, &orphans).await?;
        // The accept may have been recorded between our lookup and the orphans' insert (and its own check
        // for waiting orphans ran before they existed): look again now that they are committed.
        let pmids: Vec<String> = orphans.iter().map(|o| o.provider_message_id.clone()).collect();
        Box::pin(adopt_orphans(pool, now, Some(&pmids))).await?;
    }
    // Several reports for one notice in a batch (Kannel's 8 and 1 arrive together) are applied one after
    // another, in arrival order: one stage per report of the same notice, each with its guard and event.
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (i, (id, _)) in resolved.iter().enumerate() {
        let k = seen.entry(*id).or_default();
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(i);
        *k += 1;
    }
    // A report can overtake the dispatcher's record of the accept (another pass took it first): the accept
    // is recorded from the first final report, so the evidence keeps its `submitted` step. If the
    // dispatcher's record lands first, the guard skips it.
    let in_flight = |id: &i64| {
        targets
            .get(id)
            .is_some_and(|t| IN_FLIGHT.split(',').any(|s| s == t.state))
    };
    let mut first_final = std::collections::HashSet::new();
    let accepts: Vec<Transition> = resolved
        .iter()
        .filter(|(id, r)| r.state.is_final() && r.state.proves_accept() && in_flight(id) && first_final.insert(*id))
        .map(|(id, r)| accept_from_report(*id, r))
        .collect();
    // A report the guard refuses (a duplicate, a late one) is still kept, as an event that changed nothing.
    let stages: Vec<Vec<Transition>> = rounds
        .iter()
        .map(|round| {
            round
                .iter()
                .filter_map(|&i| {
                    let r = &resolved[i].1;
                    targets.get(&resolved[i].0).map(|t| Transition {
                        on_refusal: Some(r.state.as_str()),
                        ..report_transition(t, r, now)
                    })
                })
                .collect()
        })
        .collect();
    // A report that proves the accept, on a notice still in flight, means the provider took (and bills) it:
    // its attempt row is written here; if the dispatcher records the same attempt, the primary key keeps one.
    let mut first_report = std::collections::HashSet::new();
    let billed: Vec<notification::AttemptRow> = resolved
        .iter()
        .filter(|(id, r)| r.state.proves_accept() && in_flight(id) && first_report.insert(*id))
        .filter_map(|(id, r)| {
            let t = targets.get(id)?;
            Some(notification::AttemptRow {
                notification_id: *id,
                attempt_no: t.attempts,
                started_at: now,
                outcome: "submitted",
                provider: r.provider.clone(),
                provider_message_id: Some(r.provider_message_id.clone()),
                error_code: None,
                error_detail: None,
            })
        })
        .collect();
    let mut all: Vec<&[Transition]> = vec![&accepts];
    all.extend(stages.iter().map(Vec::as_slice));
    let applied = notification::record_stages(pool, "provider", now, &all, &billed).await?;
    let applied_n: usize = rounds
        .iter()
        .zip(applied.iter().skip(1))
        .map(|(round, ids)| round.iter().filter(|&&i| ids.contains(&resolved[i].0)).count())
        .sum();
    Ok(Recorded {
        applied: applied_n,
        not_applied: resolved.len() - applied_n,
        orphans: orphans.len(),
    })
}

/// Applies orphan reports whose accept has been recorded since (all waiting ones, or those of `pmids`).
/// Returns how many were adopted.
///
/// # Errors
/// Database failures.
pub async fn adopt_orphans(
    pool: &PgPool,
    now: DateTime<Utc>,
    pmids: Option<&[String]>,
) -> Result<usize, DispatchError> {
    let found = delivery::adoptable_orphans(pool, pmids).await?;
    if found.is_empty() {
        return Ok(0);
    }
    let orphans: Vec<i64> = found.iter().map(|f| f.0).collect();
    let notifications: Vec<i64> = found.iter().map(|f| f.1).collect();
    let n = found.len();
    record(pool, now, found.into_iter().map(|f| f.2).collect()).await?;
    delivery::mark_adopted(pool, &orphans, &notifications).await?;
    Ok(n)
}

/// The notification a report names: our reference, else the provider's id.
fn reference(r: &DeliveryReport, by_pmid: &HashMap<String, i64>) -> Option<i64> {
    r.client_ref
        .as_deref()
        .and_then(|c| c.parse().ok())
        .or_else(|| by_pmid.get(&r.provider_message_id).copied())
}

/// The provider's accept, learnt from its report before the dispatcher recorded it.
fn accept_from_report(id: i64, r: &DeliveryReport) -> Transition {
    Transition {
        id,
        guard: IN_FLIGHT,
        state: "submitted",
        provider: Some(r.provider.clone()),
        provider_message_id: Some(r.provider_message_id.clone()),
        detail: Some(detail(
            &json!({"provider": r.provider, "provider_message_id": r.provider_message_id,
                                     "recorded_from": "delivery_report"}),
        )),
        ..Transition::default()
    }
}

/// The detail of a report's event.
#[derive(serde::Serialize)]
struct ReportDetail<'a> {
    provider_message_id: &'a str,
    reported_at: DateTime<Utc>,
    raw: &'a serde_json::Value,
}

/// The change a report makes: its final state, or another try for an unanswered call with attempts left.
pub(super) fn report_transition(t: &ReportTarget, r: &DeliveryReport, now: DateTime<Utc>) -> Transition {
    let report = detail(&ReportDetail {
        provider_message_id: &r.provider_message_id,
        reported_at: r.at,
        raw: &r.raw,
    });
    // A report on a notice whose accept is not recorded yet (a progress report can overtake it too) names the
    // provider that took it.
    let in_flight = IN_FLIGHT.split(',').any(|s| s == t.state);
    let base = Transition {
        id: t.notification_id,
        guard: REPORTABLE,
        provider: in_flight.then(|| r.provider.clone()),
        provider_message_id: Some(r.provider_message_id.clone()),
        reason: r.reason.clone(),
        detail: Some(report),
        ..Transition::default()
    };
    if t.channel == "voice" && r.state == ReportState::Undelivered && t.attempts < t.max_attempts {
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
