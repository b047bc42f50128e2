//! The built-in gateway simulator, in process: configurable latency, retryable and permanent failure rates,
//! and a delivered / undelivered / expired mix reported after a delay. Outcomes are a pure function of the seed
//! and the reference, so runs repeat exactly. Its journal (memory, or the `sim_message` table so it survives a
//! dispatcher crash) answers status queries and counts hand-overs per reference.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{
    Accepted, BoxFuture, CallRequest, DeliveryReport, GatewayError, ReportSink, ReportState, SmsGateway, SmsRequest,
    StatusAnswer, VoiceGateway,
};
use crate::{
    config::{SimJournal, SimulatorSettings},
    storage::sim,
};

/// The simulator; one instance serves both SMS and voice.
pub struct Simulator {
    settings: SimulatorSettings,
    memory: Mutex<HashMap<String, Entry>>,
    pool: Option<PgPool>,
    reports: Option<ReportSink>,
    /// Message ids: a time-ordered random base drawn once, plus a counter (no random draw per message).
    id_base: u128,
    id_seq: AtomicU64,
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    outcome: String,
    accepted_at: DateTime<Utc>,
}

impl Simulator {
    /// A simulator; `pool` is required for the database journal.
    #[must_use]
    pub fn new(settings: SimulatorSettings, pool: Option<PgPool>, reports: Option<ReportSink>) -> Arc<Self> {
        let pool = if settings.journal == SimJournal::Database {
            pool
        } else {
            None
        };
        Arc::new(Self {
            settings,
            memory: Mutex::new(HashMap::new()),
            pool,
            reports,
            id_base: uuid::Uuid::now_v7().as_u128(),
            id_seq: AtomicU64::new(0),
        })
    }

    /// A message id no other message of this simulator (or of another process's) has.
    fn next_id(&self) -> String {
        let seq = self.id_seq.fetch_add(1, Ordering::Relaxed);
        format!(
            "sim-{}",
            uuid::Uuid::from_u128(self.id_base.wrapping_add(u128::from(seq))).simple()
        )
    }

    fn roll(&self, client_ref: &str, salt: u64) -> u32 {
        let mut h = DefaultHasher::new();
        (self.settings.seed, client_ref, salt).hash(&mut h);
        u32::try_from(h.finish() % 100).unwrap_or(0)
    }

    fn outcome(&self, client_ref: &str, voice: bool) -> String {
        let r = self.roll(client_ref, u64::MAX);
        let s = &self.settings;
        if r < s.delivered_pct {
            "delivered".into()
        } else if r < s.delivered_pct + s.undelivered_pct {
            if voice {
                "undelivered:no_answer"
            } else {
                "undelivered:network_rejected"
            }
            .into()
        } else {
            "expired".into()
        }
    }

    async fn submit(&self, client_ref: &str, attempt: u32, voice: bool) -> Result<Accepted, GatewayError> {
        let r = self.roll(client_ref, u64::from(attempt));
        let s = &self.settings;
        if r < s.retryable_pct {
            return Err(GatewayError::Retryable {
                code: "sim_throttled".into(),
                detail: "simulated temporary failure".into(),
            });
        }
        if r < s.retryable_pct + s.permanent_pct {
            return Err(GatewayError::Permanent {
                code: "sim_rejected".into(),
                detail: "simulated permanent rejection".into(),
            });
        }
        let entry = self.accept(client_ref, voice).await?;
        self.schedule_report(client_ref, &entry);
        // The crash window: the provider has the message, we have not heard back yet.
        if s.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(s.latency_ms)).await;
        }
        Ok(Accepted {
            provider: None,
            provider_message_id: entry.id,
        })
    }

    async fn accept(&self, client_ref: &str, voice: bool) -> Result<Entry, GatewayError> {
        let fresh = Entry {
            id: self.next_id(),
            outcome: self.outcome(client_ref, voice),
            accepted_at: Utc::now(),
        };
        if let Some(pool) = &self.pool {
            let channel = if voice { "voice" } else { "sms" };
            let e = sim::journal_accept(pool, client_ref, &fresh.id, channel, &fresh.outcome)
                .await
                .map_err(|e| GatewayError::Retryable {
                    code: "sim_journal".into(),
                    detail: crate::telemetry::error_chain(&e),
                })?;
            return Ok(Entry {
                id: e.provider_message_id,
                outcome: e.outcome.unwrap_or_default(),
                accepted_at: e.accepted_at,
            });
        }
        let mut map = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.entry(client_ref.to_owned()).or_insert(fresh).clone())
    }

    fn schedule_report(&self, client_ref: &str, entry: &Entry) {
        let Some(sink) = self.reports.clone() else {
            return;
        };
        let report = report_of(client_ref, entry);
        let delay = self.settings.report_delay_ms;
        if delay == 0 {
            let _ = sink.send(report);
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _ = sink.send(report);
            });
        }
    }

    async fn status(&self, client_ref: &str) -> Result<StatusAnswer, GatewayError> {
        let entry = if let Some(pool) = &self.pool {
            sim::journal_get(pool, client_ref)
                .await
                .map_err(|e| GatewayError::Retryable {
                    code: "sim_journal".into(),
                    detail: crate::telemetry::error_chain(&e),
                })?
                .map(|e| Entry {
                    id: e.provider_message_id,
                    outcome: e.outcome.unwrap_or_default(),
                    accepted_at: e.accepted_at,
                })
        } else {
            let map = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(client_ref).cloned()
        };
        let Some(entry) = entry else {
            return Ok(StatusAnswer::NotFound);
        };
        let delay = chrono::Duration::milliseconds(i64::try_from(self.settings.report_delay_ms).unwrap_or(0));
        if Utc::now() < entry.accepted_at + delay {
            return Ok(StatusAnswer::Accepted {
                provider_message_id: entry.id,
            });
        }
        let (state, reason) = parse_outcome(&entry.outcome);
        Ok(StatusAnswer::Final {
            provider_message_id: entry.id,
            state,
            reason,
        })
    }
}

fn parse_outcome(outcome: &str) -> (ReportState, Option<String>) {
    let (state, reason) = outcome.split_once(':').unwrap_or((outcome, ""));
    let state = match state {
        "delivered" => ReportState::Delivered,
        "undelivered" => ReportState::Undelivered,
        _ => ReportState::Expired,
    };
    (state, (!reason.is_empty()).then(|| reason.to_owned()))
}

fn report_of(client_ref: &str, entry: &Entry) -> DeliveryReport {
    let (state, reason) = parse_outcome(&entry.outcome);
    DeliveryReport {
        provider: "simulator".into(),
        client_ref: Some(client_ref.to_owned()),
        provider_message_id: entry.id.clone(),
        state,
        reason,
        at: Utc::now(),
        raw: json!({"id": entry.id, "ref": client_ref, "status": entry.outcome}),
    }
}

impl SmsGateway for Simulator {
    fn name(&self) -> &str {
        "simulator"
    }

    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.submit(&req.client_ref, req.attempt, false))
    }

    fn sms_status<'a>(
        &'a self,
        client_ref: &'a str,
        _provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(self.status(client_ref))
    }
}

impl VoiceGateway for Simulator {
    fn name(&self) -> &str {
        "simulator"
    }

    fn place_call<'a>(&'a self, req: &'a CallRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.submit(&req.client_ref, req.attempt, true))
    }

    fn call_status<'a>(&'a self, client_ref: &'a str) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(self.status(client_ref))
    }
}
