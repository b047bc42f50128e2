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
    storage::notification::{AttemptRow, Detail, IN_FLIGHT, Transition, detail},
};

impl Dispatcher {
    /// The change and the attempt row one hand-over's outcome makes.
    pub(super) fn result_of(
        &self,
        job: &Job,
        outcome: Outcome,
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
            Outcome::Accepted(a) => {
                let mut row = attempt("submitted", Some(a.provider_message_id.clone()), None);
                row.provider = a.provider.clone().unwrap_or(row.provider);
                (
                    Transition {
                        state: "submitted",
                        detail: Some(detail(&Submitted {
                            provider_message_id: &a.provider_message_id,
                            provider: &row.provider,
                        })),
                        provider_message_id: Some(a.provider_message_id),
                        provider: a.provider,
                        ..base
                    },
                    Some(row),
                )
            }
            Outcome::Error(e @ GatewayError::InDoubt { .. }) => (
                Transition {
                    state: "in_doubt",
                    reason: Some("provider_outcome_unknown".into()),
                    detail: Some(detail(&json!({"code": e.code(), "error": e.to_string()}))),
                    ..base
                },
                None,
            ),
            Outcome::Error(e @ GatewayError::Retryable { .. }) if job.attempt < job.max_attempts => {
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
            Outcome::Error(e) => {
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
            Outcome::Timeout => (
                Transition {
                    state: "in_doubt",
                    reason: Some("provider_timeout".into()),
                    ..base
                },
                None,
            ),
            Outcome::Released => (
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

/// The detail of a `submitted` event.
#[derive(serde::Serialize)]
struct Submitted<'a> {
    provider_message_id: &'a str,
    provider: &'a str,
}

pub(super) fn closed(base: Transition, state: &'static str, reason: &str, detail: Option<Detail>) -> Transition {
    Transition {
        state,
        reason: Some(reason.to_owned()),
        detail,
        ..base
    }
}
