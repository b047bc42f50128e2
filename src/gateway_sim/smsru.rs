//! The SMS.ru wire format: `POST /sms/send` and `/sms/status` (form, JSON answers), callbacks with `data[]`
//! entries and a `hash`, retried until the receiver answers `100`.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, atomic::Ordering},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Message, Sim};
use crate::gateway::smsru::callback_hash;

pub(super) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/sms/send", post(send).get(used_get))
        .route("/sms/status", post(status))
}

fn error(code: i32, text: &str) -> Json<Value> {
    Json(json!({"status": "ERROR", "status_code": code, "status_text": text}))
}

async fn used_get() -> Json<Value> {
    error(210, "GET used where POST is required")
}

pub(super) async fn pause(sim: &Sim) -> Option<Response> {
    if sim.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(sim.config.latency_ms)).await;
    }
    if sim.outage.load(Ordering::Relaxed) {
        sim.refused.fetch_add(1, Ordering::Relaxed);
        return Some(StatusCode::SERVICE_UNAVAILABLE.into_response());
    }
    None
}

async fn send(State(sim): State<Arc<Sim>>, axum::Form(f): axum::Form<HashMap<String, String>>) -> Response {
    if let Some(r) = pause(&sim).await {
        return r;
    }
    sim.send_requests.fetch_add(1, Ordering::Relaxed);
    if f.get("api_id") != Some(&sim.config.smsru_api_id) {
        return error(200, "bad api_id").into_response();
    }
    // Either `to=P1,P2&msg=TEXT`, or `to[P1]=TEXT1&to[P2]=TEXT2`.
    let mut recipients: Vec<(String, String)> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("to[")?.strip_suffix(']')?.to_owned(), v.clone())))
        .collect();
    if recipients.is_empty() {
        let text = f.get("msg").cloned().unwrap_or_default();
        recipients = f
            .get("to")
            .map(String::as_str)
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_owned(), text.clone()))
            .collect();
    }
    if recipients.is_empty() || recipients.iter().any(|(_, t)| t.is_empty()) {
        return error(203, "no text").into_response();
    }
    let mut out = serde_json::Map::new();
    for (phone, text) in &recipients {
        let (phone, text) = (phone.as_str(), text.as_str());
        let n = sim.count(phone, text);
        let c = &sim.config;
        let r = sim.roll(phone, text, n, 0);
        if r < c.retryable_pct {
            return error(220, "service temporarily unavailable").into_response();
        }
        if r < c.retryable_pct + c.permanent_pct {
            out.insert(
                phone.into(),
                json!({"status": "ERROR", "status_code": 207, "status_text": "no route"}),
            );
            continue;
        }
        let d = sim.roll(phone, text, n, 1);
        let final_code = if d < c.delivered_pct {
            103
        } else if d < c.delivered_pct + c.undelivered_pct {
            106
        } else {
            104
        };
        let id = format!("{:06}-{}", 0, sim.next_id.fetch_add(1, Ordering::Relaxed));
        let report_at = Instant::now() + Duration::from_millis(c.report_delay_ms);
        sim.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), Message { final_code, report_at });
        schedule_callback(&sim, &id, final_code);
        out.insert(phone.into(), json!({"status": "OK", "status_code": 100, "sms_id": id}));
    }
    Json(json!({"status": "OK", "status_code": 100, "sms": out, "balance": 1000.0})).into_response()
}

fn schedule_callback(sim: &Arc<Sim>, id: &str, code: i32) {
    if sim.config.smsru_callback.is_none() {
        return;
    }
    let entry = format!("sms_status\n{id}\n{code}\n{}", chrono::Utc::now().timestamp());
    let delay = sim.config.report_delay_ms;
    if delay == 0 {
        let _ = sim.callbacks.send(entry);
        return;
    }
    let tx = sim.callbacks.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let _ = tx.send(entry);
    });
}

async fn status(State(sim): State<Arc<Sim>>, axum::Form(f): axum::Form<HashMap<String, String>>) -> Response {
    if let Some(r) = pause(&sim).await {
        return r;
    }
    if f.get("api_id") != Some(&sim.config.smsru_api_id) {
        return error(200, "bad api_id").into_response();
    }
    let messages = sim.messages.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = serde_json::Map::new();
    for id in f.get("sms_id").map(String::as_str).unwrap_or_default().split(',') {
        let code = match messages.get(id) {
            None => -1,
            Some(m) if Instant::now() < m.report_at => 102,
            Some(m) => m.final_code,
        };
        out.insert(id.into(), json!({"status": "OK", "status_code": code}));
    }
    Json(json!({"status": "OK", "status_code": 100, "sms": out})).into_response()
}

/// Sends callbacks in batches of up to 100 entries (as SMS.ru does), up to 32 requests at once, retrying each
/// batch until the receiver answers `100`.
pub(super) async fn send_callbacks(sim: Arc<Sim>, mut rx: UnboundedReceiver<String>) {
    let Some(url) = sim.config.smsru_callback.clone() else {
        return;
    };
    let http = reqwest::Client::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(32));
    let mut entries = Vec::new();
    while rx.recv_many(&mut entries, 100).await > 0 {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (sim, http, url, batch) = (sim.clone(), http.clone(), url.clone(), std::mem::take(&mut entries));
        tokio::spawn(async move {
            let _slot = slot;
            post_batch(&sim, &http, &url, &batch).await;
        });
    }
}

async fn post_batch(sim: &Sim, http: &reqwest::Client, url: &str, entries: &[String]) {
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    let mut form: Vec<(&str, &str)> = refs.iter().map(|e| ("data[]", *e)).collect();
    let hash = callback_hash(&sim.config.smsru_api_id, &refs);
    form.push(("hash", &hash));
    for attempt in 0..10u64 {
        sim.callbacks_sent.fetch_add(1, Ordering::Relaxed);
        let ok = match http.post(url).form(&form).send().await {
            Ok(r) => r.text().await.is_ok_and(|b| b.trim() == "100"),
            Err(_) => false,
        };
        if ok {
            sim.callbacks_acknowledged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
    }
}
