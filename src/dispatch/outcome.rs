//! What a hand-over's outcome does to its notice: submitted, retried later with backoff and jitter, failed,
//! in doubt (reconciled, never re-sent blindly), or released unsent.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tracing::warn;

use super::{
    Dispatcher,
    pass::{Job, Outcome},
};
use crate::{
    domain::mask::mask_tail,
    gateway::GatewayError,
    storage::{
        accept::Accept,
        notification::{AttemptRow, Detail, IN_FLIGHT, Transition, detail},
    },
};

impl Dispatcher {
    /// What one hand-over's outcome records: an accept (the common case, recorded by its own narrow
    /// statement), or a change with its attempt row.
    pub(super) fn result_of(
        &self,
        job: &Job,
        outcome: Outcome,
        started: DateTime<Utc>,
        done: DateTime<Utc>,
    ) -> Recorded {
        let (t, a) = match outcome {
            Outcome::Accepted(a) => {
                return Recorded::Accept(Accept {
                    id: job.id,
                    tid: Some(job.tid.clone()),
                    attempt_no: job.attempt,
                    started_at: started,
                    provider: a
                        .provider
                        .unwrap_or_else(|| self.provider_name(&job.channel).to_owned()),
                    provider_message_id: a.provider_message_id,
                    report: None,
                });
            }
            Outcome::Error(e) => self.change_of(job, Unaccepted::Error(e), started, done),
            Outcome::Timeout => self.change_of(job, Unaccepted::Timeout, started, done),
            Outcome::Released => self.change_of(job, Unaccepted::Released, started, done),
        };
        Recorded::Change(t, a)
    }

    /// The change and the attempt row of an outcome other than an accept.
    fn change_of(
        &self,
        job: &Job,
        outcome: Unaccepted,
        started: DateTime<Utc>,
        done: DateTime<Utc>,
    ) -> (Transition, Option<AttemptRow>) {
        let base = Transition {
            id: job.id,
            guard: IN_FLIGHT,
            ..Transition::default()
        };
        let provider = self.provider_name(&job.channel).to_owned();
        let attempt = |outcome, pmid: Option<String>, err: Option<&GatewayError>| AttemptRow {
            notification_id: job.id,
            attempt_no: job.attempt,
            started_at: started,
            outcome,
            provider: provider.clone(),
            provider_message_id: pmid,
            error_code: err.map(|e| e.code().to_owned()),
            error_detail: err.map(ToString::to_string),
        };
        match outcome {
            Unaccepted::Error(e @ GatewayError::InDoubt { .. }) => (
                Transition {
                    state: "in_doubt",
                    reason: Some("provider_outcome_unknown".into()),
                    detail: Some(detail(&json!({"code": e.code(), "error": e.to_string()}))),
                    ..base
                },
                None,
            ),
            Unaccepted::Error(e @ GatewayError::Retryable { .. }) if job.attempt < job.max_attempts => {
                let due = done + self.backoff(job.attempt);
                let info = json!({"code": e.code(), "error": e.to_string(), "retry_at": due});
                let t = Transition {
                    state: "planned",
                    reason: Some("provider_retryable".into()),
                    due_at: Some(due),
                    detail: Some(detail(&info)),
                    ..base
                };
                (t, Some(attempt("retryable_error", None, Some(&e))))
            }
            Unaccepted::Error(e) => {
                let permanent = matches!(e, GatewayError::Permanent { .. });
                let reason = if permanent {
                    "provider_rejected"
                } else {
                    "retries_exhausted"
                };
                warn!(notification_id = job.id, to = %mask_tail(&job.to, 4), code = e.code(), reason, "notice failed at the provider");
                let info = json!({"code": e.code(), "error": e.to_string()});
                let outcome = if permanent {
                    "permanent_error"
                } else {
                    "retryable_error"
                };
                (
                    closed(base, "failed", reason, Some(detail(&info))),
                    Some(attempt(outcome, None, Some(&e))),
                )
            }
            Unaccepted::Timeout => (
                Transition {
                    state: "in_doubt",
                    reason: Some("provider_timeout".into()),
                    ..base
                },
                None,
            ),
            Unaccepted::Released => (
                Transition {
                    guard: "sending",
                    state: "planned",
                    reason: Some("lease_short".into()),
                    due_at: Some(done),
                    ..base
                },
                None,
            ),
        }
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let d = &self.settings.dispatch;
        let exp = d
            .retry_initial_secs
            .saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1));
        let secs = exp.min(d.retry_max_secs).max(1);
        // ±20 % jitter so retries of one burst do not return together.
        let jitter = fastrand::i64(-(secs / 5)..=secs / 5);
        Duration::seconds(secs + jitter)
    }
}

/// An outcome other than an accept.
enum Unaccepted {
    Error(GatewayError),
    Timeout,
    Released,
}

/// What a hand-over records.
pub(super) enum Recorded {
    Accept(Accept),
    Change(Transition, Option<AttemptRow>),
}

/// The detail of a `submitted` event (as [`crate::storage::accept::record_accepts`] builds it in SQL).
#[derive(serde::Serialize)]
struct Submitted<'a> {
    provider_message_id: &'a str,
    provider: &'a str,
}

/// The change an accept makes when its report, already here, is not final (a progress report, or an
/// unanswered call to try again): `submitted` first, then the report's change, through the generic path.
pub(super) fn accept_then(accept: &Accept, report: Transition) -> (Transition, AttemptRow) {
    let submitted = detail(&Submitted {
        provider_message_id: &accept.provider_message_id,
        provider: &accept.provider,
    });
    let change = Transition {
        guard: IN_FLIGHT,
        passed: Some(("submitted", submitted)),
        provider: Some(accept.provider.clone()),
        ..report
    };
    let attempt = AttemptRow {
        notification_id: accept.id,
        attempt_no: accept.attempt_no,
        started_at: accept.started_at,
        outcome: "submitted",
        provider: accept.provider.clone(),
        provider_message_id: Some(accept.provider_message_id.clone()),
        error_code: None,
        error_detail: None,
    };
    (change, attempt)
}

pub(super) fn closed(base: Transition, state: &'static str, reason: &str, detail: Option<Detail>) -> Transition {
    Transition {
        state,
        reason: Some(reason.to_owned()),
        detail,
        ..base
    }
}
