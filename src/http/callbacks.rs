//! Provider callbacks: delivery reports pushed by gateways, on a path per provider with an unguessable token
//! (a wrong token gets 404 and a log line without personal data). Reports are handed to one recorder task that
//! commits them in batches, so hundreds of concurrent callbacks (Kannel opens up to ~512) cost a few
//! transactions; each request is answered only after its report is committed.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::{AppState, constant_time_eq};
use crate::{
    clock::SharedClock,
    config::Secret,
    dispatch::reports,
    gateway::{DeliveryReport, kannel, smsc, smsru},
    storage::delivery,
    telemetry::error_chain,
};

type Job = (DeliveryReport, oneshot::Sender<bool>);

/// The batching recorder's inbox.
#[derive(Clone)]
pub struct ReportInbox(mpsc::Sender<Job>);

impl ReportInbox {
    /// Starts the recorder task; it ends when the last inbox handle is dropped.
    #[must_use]
    pub fn start(pool: sqlx::PgPool, clock: SharedClock) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        // A few recorders, so one batch's commit does not hold up the callbacks queued behind it.
        for _ in 0..RECORDERS {
            tokio::spawn(record_batches(pool.clone(), clock.clone(), rx.clone()));
        }
        Self(tx)
    }

    /// Records one report; true once it is committed.
    pub async fn submit(&self, report: DeliveryReport) -> bool {
        let (done, wait) = oneshot::channel();
        if self.0.send((report, done)).await.is_err() {
            return false;
        }
        wait.await.unwrap_or(false)
    }
}

/// Recorder tasks per process.
const RECORDERS: usize = 4;

async fn record_batches(pool: sqlx::PgPool, clock: SharedClock, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs = Vec::with_capacity(1024);
    while rx.lock().await.recv_many(&mut jobs, 2000).await > 0 {
        let (batch, waiters): (Vec<_>, Vec<_>) = jobs.drain(..).unzip();
        let ok = match reports::record(&pool, clock.now(), batch).await {
            Ok(_) => true,
            Err(e) => {
                warn!(error = %error_chain(&e), "recording provider callbacks failed; the provider will resend");
                false
            }
        };
        for w in waiters {
            let _ = w.send(ok);
        }
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/callbacks/kannel/{token}", get(kannel_dlr).post(kannel_dlr))
        .route("/callbacks/smsru/{token}", post(smsru_callback))
        // `Form` reads the query string of a GET and the body of a POST: SMSC may call either way.
        .route("/callbacks/smsc/{token}", post(smsc_callback).get(smsc_callback))
}

/// Whether `token` is the provider's callback token (a provider without a section has none). A wrong one is
/// logged without personal data.
fn authorised(provider: &str, expected: Option<&Secret>, token: &str) -> bool {
    let ok = expected.is_some_and(|e| constant_time_eq(token.as_bytes(), e.expose().as_bytes()));
    if !ok {
        warn!(provider, "callback with a wrong path token refused");
    }
    ok
}

/// Records the reports; `answer` once all are committed, 503 (the provider resends) otherwise.
async fn submit(state: &AppState, reports: Vec<DeliveryReport>, answer: &'static str) -> Response {
    let inbox = state.report_inbox();
    let done = futures_util::future::join_all(reports.into_iter().map(|r| inbox.submit(r))).await;
    if done.iter().all(|ok| *ok) {
        (StatusCode::OK, answer).into_response()
    } else {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

/// An authenticated callback that cannot be read: kept in `rejected_callback`, answered 400.
async fn malformed(state: &AppState, provider: &str, problem: &str, raw: serde_json::Value) -> Response {
    warn!(provider, problem, "malformed callback kept and refused");
    match delivery::record_malformed_callback(&state.pool, state.clock.now(), provider, problem, &raw).await {
        Ok(()) => (StatusCode::BAD_REQUEST, format!("{problem}\n")).into_response(),
        Err(e) => {
            warn!(provider, error = %error_chain(&e), "recording a malformed callback failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `GET /callbacks/kannel/{token}?ref=&attempt=&status=%d&ts=%T&reply=%A&smsc=%i&fid=%F` (the dlr-url we give).
async fn kannel_dlr(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.settings.gateways.kannel.as_ref().map(|k| &k.callback_token);
    if !authorised("kannel", expected, &token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match kannel_report(&q, state.clock.now()) {
        Ok(r) => submit(&state, vec![r], "OK\n").await,
        Err(field) => malformed(&state, "kannel", &format!("bad or missing field: {field}"), json!(q)).await,
    }
}

/// `POST /callbacks/smsru/{token}` (form `data[]` entries and `hash`); answered `100` once recorded, as SMS.ru
/// expects (any other answer makes it resend). A wrong hash is refused with 403 and not kept.
async fn smsru_callback(
    State(state): State<AppState>,
    Path(token): Path<String>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let Some(k) = state.settings.gateways.smsru.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorised("smsru", Some(&k.callback_token), &token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match smsru::parse_callback(k.api_id.expose(), &fields, state.clock.now()) {
        Ok(reports) => submit(&state, reports, "100").await,
        Err(e @ smsru::CallbackError::BadSignature) => {
            warn!(provider = "smsru", error = %e, "callback refused");
            (StatusCode::FORBIDDEN, format!("{e}\n")).into_response()
        }
        Err(e) => malformed(&state, "smsru", &e.to_string(), json!(fields)).await,
    }
}

/// `POST` or `GET /callbacks/smsc/{token}` (`id`, `phone`, `status`, `err`, `ts`), answered `OK` once recorded.
async fn smsc_callback(
    State(state): State<AppState>,
    Path(token): Path<String>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Response {
    let expected = state.settings.gateways.smsc.as_ref().map(|k| &k.callback_token);
    if !authorised("smsc", expected, &token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match smsc::parse_callback(&f, state.clock.now()) {
        Ok(r) => submit(&state, vec![r], "OK\n").await,
        Err(field) => malformed(&state, "smsc", &format!("bad or missing field: {field}"), json!(f)).await,
    }
}

/// A Kannel DLR as a report; `Err(field)` names what is missing or bad.
fn kannel_report(q: &HashMap<String, String>, now: DateTime<Utc>) -> Result<DeliveryReport, &'static str> {
    let client_ref = q.get("ref").filter(|r| !r.is_empty()).ok_or("ref")?;
    let attempt: u32 = q.get("attempt").and_then(|a| a.parse().ok()).ok_or("attempt")?;
    let status: u32 = q.get("status").and_then(|s| s.parse().ok()).ok_or("status")?;
    let (state, reason) = kannel::report_state(status).ok_or("status")?;
    let at = q
        .get("ts")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or(now);
    let raw: serde_json::Map<String, serde_json::Value> = ["status", "ts", "reply", "smsc", "fid", "attempt"]
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .map(|v| ((*k).to_owned(), serde_json::Value::from(v.as_str())))
        })
        .collect();
    Ok(DeliveryReport {
        provider: "kannel".into(),
        client_ref: Some(client_ref.clone()),
        provider_message_id: format!("{client_ref}.{attempt}"),
        state,
        reason: reason.map(str::to_owned),
        at,
        raw: serde_json::Value::Object(raw),
    })
}

/// Keeps the type in one place for `AppState`.
pub(super) type SharedInbox = Arc<std::sync::OnceLock<ReportInbox>>;
