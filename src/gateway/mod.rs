//! Provider abstraction: the [`SmsGateway`] and [`VoiceGateway`] traits, their typed outcomes (accepted with the
//! provider's id, retryable or permanent errors), status queries for reconciliation, and delivery reports.
//! Adapters map their own codes to these and keep the raw code. This issue ships the in-process
//! [`simulator`] and the [`kannel`] adapter; SMS.ru, SMSC.ru and telephony implement the same traits.

pub mod failover;
mod http;
pub mod kannel;
pub mod limits;
pub mod simulator;
pub mod smsc;
pub mod smsru;

use std::{future::Future, pin::Pin};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A boxed future, so the traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One SMS to hand over.
#[derive(Debug, Clone)]
pub struct SmsRequest {
    /// Our idempotency key (the notification id); providers that support it deduplicate on it.
    pub client_ref: String,
    /// Our attempt number (1 for the first hand-over).
    pub attempt: u32,
    pub to: String,
    pub text: String,
    pub sender: Option<String>,
}

/// One automated call (a text-to-speech script) to place.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub client_ref: String,
    pub attempt: u32,
    pub to: String,
    pub script: String,
    pub caller_id: Option<String>,
}

/// The provider took the message or call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_message_id: String,
    /// The provider that took it, when a composite (failover) gateway chose one.
    pub provider: Option<String>,
}

/// Why a hand-over failed. The code is the provider's own, kept for evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Worth retrying later (busy, throttled, timeout, 5xx).
    #[error("retryable provider error {code}: {detail}")]
    Retryable { code: String, detail: String },
    /// Will fail again the same way (bad number, stop list, unregistered sender, no funds).
    #[error("permanent provider error {code}: {detail}")]
    Permanent { code: String, detail: String },
    /// The request may have reached the provider (a timeout or a dropped connection after sending): the notice
    /// is in doubt and is reconciled, never re-sent blindly or failed over.
    #[error("provider outcome unknown {code}: {detail}")]
    InDoubt { code: String, detail: String },
}

impl GatewayError {
    /// The provider's code.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::Retryable { code, .. } | Self::Permanent { code, .. } | Self::InDoubt { code, .. } => code,
        }
    }
}

/// What a provider reports: a final outcome, or progress (the SMSC took it, it is buffered) that moves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// SMS: final delivered report. Voice: answered and played to the end.
    Delivered,
    /// Not delivered (rejected by the network, busy, no answer, answering machine).
    Undelivered,
    /// The validity period ran out.
    Expired,
    /// Refused by the SMSC or the provider after accepting the request.
    Failed,
    /// Not final: the SMSC accepted or buffered it. Recorded as a `submitted` event; never overwrites a final state.
    Progress,
}

impl ReportState {
    /// The notification state it leads to.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Progress => "submitted",
        }
    }

    /// The state of [`ReportState::as_str`] back (a report's stored state).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "delivered" => Self::Delivered,
            "undelivered" => Self::Undelivered,
            "expired" => Self::Expired,
            "failed" => Self::Failed,
            "submitted" => Self::Progress,
            _ => return None,
        })
    }

    /// Whether the report shows the provider had accepted the message. Not `Failed`: Kannel also reports 16
    /// for a message it refused at hand-over (`403 Not routable`), so only our record of the answer can tell.
    #[must_use]
    pub fn proves_accept(self) -> bool {
        !matches!(self, Self::Failed)
    }

    /// Whether it ends the notice.
    #[must_use]
    pub fn is_final(self) -> bool {
        self != Self::Progress
    }
}

/// A delivery report or call result.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryReport {
    pub provider: String,
    /// Our reference, when the provider echoes it.
    pub client_ref: Option<String>,
    pub provider_message_id: String,
    pub state: ReportState,
    /// Normalised detail such as `no_answer`, `busy`, `network_rejected`.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// The provider's payload as received.
    pub raw: serde_json::Value,
}

/// What a provider knows about one of our references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAnswer {
    /// It never received it: safe to hand over again.
    NotFound,
    /// Accepted, no final outcome yet.
    Accepted { provider_message_id: String },
    /// The provider has no status query (Kannel): wait for the report, never re-send blindly.
    Unsupported,
    /// Accepted and finished.
    Final {
        provider_message_id: String,
        state: ReportState,
        reason: Option<String>,
    },
}

/// Where providers push delivery reports.
pub type ReportSink = tokio::sync::mpsc::UnboundedSender<DeliveryReport>;

/// An SMS provider.
pub trait SmsGateway: Send + Sync {
    /// The provider's name as stored on notifications.
    fn name(&self) -> &str;
    /// Hands one SMS over.
    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>>;
    /// How many SMS one request may carry (1: no batches).
    fn max_batch(&self) -> usize {
        1
    }
    /// Hands several SMS (distinct numbers) over in one request; one result per request, in order. Called
    /// only when [`SmsGateway::max_batch`] is above 1.
    fn send_batch<'a>(&'a self, reqs: &'a [SmsRequest]) -> BoxFuture<'a, Vec<Result<Accepted, GatewayError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(reqs.len());
            for r in reqs {
                out.push(self.send_sms(r).await);
            }
            out
        })
    }
    /// Looks up one of our references (reconciliation of in-doubt hand-overs), or the provider's id when the
    /// accept was recorded (providers that only know their own ids).
    fn sms_status<'a>(
        &'a self,
        client_ref: &'a str,
        provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>>;
}

/// An automated-call provider.
pub trait VoiceGateway: Send + Sync {
    /// The provider's name as stored on notifications.
    fn name(&self) -> &str;
    /// Originates one call.
    fn place_call<'a>(&'a self, req: &'a CallRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>>;
    /// Looks up one of our references.
    fn call_status<'a>(&'a self, client_ref: &'a str) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>>;
}
