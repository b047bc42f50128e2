//! The SMSC.ru wire format: `/sys/send.php` and `/sys/status.php` (GET or POST, `fmt=3` JSON), our `id` kept per
//! phone (the same id and phone again is refused with error 9, as SMSC refuses an identical send within a
//! minute), and status callbacks (form `id`, `phone`, `status`, `err`, `ts`) retried until answered 200.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, atomic::Ordering},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{Message, Sim, smsru::pause};

pub(super) fn router() -> Router<Arc<Sim>> {
    Router::new()
        // `Form` reads a GET's query string and a POST's body: SMSC takes either.
        .route("/sys/send.php", get(send).post(send))
        .route("/sys/status.php", get(status).post(status))
}

fn error(code: i32, text: &str) -> Json<Value> {
    Json(json!({"error": text, "error_code": code}))
}

async fn send(State(sim): State<Arc<Sim>>, axum::Form(f): axum::Form<HashMap<String, String>>) -> Response {
    if let Some(r) = pause(&sim).await {
        return r;
    }
    if f.get("login") != Some(&sim.config.smsc_login) || f.get("psw") != Some(&sim.config.smsc_password) {
        return error(2, "invalid login or password").into_response();
    }
    let (Some(phone), Some(text)) = (f.get("phones"), f.get("mes")) else {
        return error(1, "parameters error").into_response();
    };
    let id = f
        .get("id")
        .cloned()
        .unwrap_or_else(|| sim.next_id.fetch_add(1, Ordering::Relaxed).to_string());
    let key = format!("smsc:{id}:{phone}");
    if sim
        .messages
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains_key(&key)
    {
        sim.refused.fetch_add(1, Ordering::Relaxed);
        return error(9, "duplicate request, wait a minute").into_response();
    }
    let n = sim.count(phone, text);
    let c = &sim.config;
    let r = sim.roll(phone, text, n, 0);
    if r < c.retryable_pct {
        return error(4, "IP address temporarily blocked").into_response();
    }
    if r < c.retryable_pct + c.permanent_pct {
        return error(8, "message cannot be delivered to this number").into_response();
    }
    let d = sim.roll(phone, text, n, 1);
    let (status, err) = if d < c.delivered_pct {
        (1, 0)
    } else if d < c.delivered_pct + c.undelivered_pct {
        (20, 6)
    } else {
        (3, 0)
    };
    let report_at = Instant::now() + Duration::from_millis(c.report_delay_ms);
    sim.messages.lock().unwrap_or_else(PoisonError::into_inner).insert(
        key,
        Message {
            final_code: status * 1000 + err,
            report_at,
        },
    );
    schedule_callback(&sim, &id, phone, status, err);
    Json(json!({"id": id.parse::<i64>().unwrap_or_default(), "cnt": 1})).into_response()
}

fn schedule_callback(sim: &Arc<Sim>, id: &str, phone: &str, status: i32, err: i32) {
    let Some(url) = sim.config.smsc_callback.clone() else {
        return;
    };
    let form = vec![
        ("id".to_owned(), id.to_owned()),
        ("phone".to_owned(), phone.to_owned()),
        ("status".to_owned(), status.to_string()),
        ("err".to_owned(), err.to_string()),
        ("ts".to_owned(), chrono::Utc::now().timestamp().to_string()),
    ];
    let (sim, delay) = (sim.clone(), sim.config.report_delay_ms);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let http = reqwest::Client::new();
        for attempt in 0..10u64 {
            sim.callbacks_sent.fetch_add(1, Ordering::Relaxed);
            if http
                .post(&url)
                .form(&form)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                sim.callbacks_acknowledged.fetch_add(1, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
        }
    });
}

async fn status(State(sim): State<Arc<Sim>>, axum::Form(f): axum::Form<HashMap<String, String>>) -> Response {
    if let Some(r) = pause(&sim).await {
        return r;
    }
    if f.get("login") != Some(&sim.config.smsc_login) || f.get("psw") != Some(&sim.config.smsc_password) {
        return error(2, "invalid login or password").into_response();
    }
    let key = format!(
        "smsc:{}:{}",
        f.get("id").map_or("", String::as_str),
        f.get("phone").map_or("", String::as_str)
    );
    let messages = sim.messages.lock().unwrap_or_else(PoisonError::into_inner);
    let (status, err) = match messages.get(&key) {
        None => (-3, 0),
        Some(m) if Instant::now() < m.report_at => (0, 0),
        Some(m) => (m.final_code / 1000, m.final_code % 1000),
    };
    Json(json!({"status": status, "err": err, "last_timestamp": chrono::Utc::now().timestamp()})).into_response()
}
