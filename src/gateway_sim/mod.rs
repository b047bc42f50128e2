//! `debtor-notify gateway-sim`: an HTTP server speaking providers' real wire formats (SMS.ru and SMSC.ru) with
//! configurable latency, error rates, delivery mix and report delay, sending callbacks to a configured URL, and
//! `/stats` counting what it received per phone, so tests and benchmarks count real sends. Outcomes are drawn
//! from a seeded hash of (number, text, how many times that pair came), so runs repeat.

mod smsc;
mod smsru;

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use axum::{Json, Router, extract::State, routing::get, routing::post};
use serde_json::json;

/// What the simulator does.
#[derive(Debug, Clone, clap::Args)]
pub struct SimConfig {
    /// The SMS.ru `api_id` it accepts (also the key of its callback hashes).
    #[arg(long, default_value = "sim-api-id")]
    pub smsru_api_id: String,
    /// Where SMS.ru-style callbacks go (our `/callbacks/smsru/{token}`); none: no callbacks.
    #[arg(long)]
    pub smsru_callback: Option<String>,
    /// The SMSC.ru login it accepts.
    #[arg(long, default_value = "sim")]
    pub smsc_login: String,
    /// The SMSC.ru password it accepts.
    #[arg(long, default_value = "sim-psw")]
    pub smsc_password: String,
    /// Where SMSC.ru-style status callbacks go (our `/callbacks/smsc/{token}`); none: no callbacks.
    #[arg(long)]
    pub smsc_callback: Option<String>,
    /// Delay before answering each request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Percent of sends refused with a retryable error (SMS.ru 220, service unavailable).
    #[arg(long, default_value_t = 0)]
    pub retryable_pct: u32,
    /// Percent refused permanently (SMS.ru 207, no route).
    #[arg(long, default_value_t = 0)]
    pub permanent_pct: u32,
    /// Of the accepted: percent delivered (the rest undelivered or expired).
    #[arg(long, default_value_t = 100)]
    pub delivered_pct: u32,
    /// Of the accepted: percent undelivered (the rest of the non-delivered expire).
    #[arg(long, default_value_t = 0)]
    pub undelivered_pct: u32,
    /// Delay between the accept and its delivery callback, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub report_delay_ms: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl SimConfig {
    /// No latency, no errors, everything delivered at once, no callbacks (set `smsru_callback`).
    #[must_use]
    pub fn default_instant() -> Self {
        Self {
            smsru_api_id: "sim-api-id".into(),
            smsru_callback: None,
            smsc_login: "sim".into(),
            smsc_password: "sim-psw".into(),
            smsc_callback: None,
            latency_ms: 0,
            retryable_pct: 0,
            permanent_pct: 0,
            delivered_pct: 100,
            undelivered_pct: 0,
            report_delay_ms: 0,
            seed: 1,
        }
    }
}

/// One accepted message.
#[derive(Debug, Clone)]
struct Message {
    final_code: i32,
    report_at: std::time::Instant,
}

/// Shared state of the simulator.
pub struct Sim {
    config: SimConfig,
    messages: Mutex<HashMap<String, Message>>,
    per_phone: Mutex<HashMap<String, u64>>,
    sends: Mutex<HashMap<(String, u64), u64>>,
    next_id: AtomicU64,
    received: AtomicU64,
    /// Send requests (one may carry many messages).
    send_requests: AtomicU64,
    /// Requests refused during an outage.
    refused: AtomicU64,
    callbacks_sent: AtomicU64,
    callbacks_acknowledged: AtomicU64,
    /// While set, every provider request gets 503 (an outage).
    outage: AtomicBool,
    callbacks: tokio::sync::mpsc::UnboundedSender<String>,
}

impl Sim {
    /// Draws 0..100 for the `n`-th send of `text` to `phone`.
    fn roll(&self, phone: &str, text: &str, n: u64, salt: u8) -> u32 {
        let mut h = DefaultHasher::new();
        (self.config.seed, phone, text, n, salt).hash(&mut h);
        u32::try_from(h.finish() % 100).unwrap_or(0)
    }

    /// Counts one send of `text` to `phone`; returns how many times this pair came before.
    fn count(&self, phone: &str, text: &str) -> u64 {
        self.received.fetch_add(1, Ordering::Relaxed);
        *self
            .per_phone
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(phone.to_owned())
            .or_default() += 1;
        let mut th = DefaultHasher::new();
        text.hash(&mut th);
        let mut sends = self.sends.lock().unwrap_or_else(PoisonError::into_inner);
        let n = sends.entry((phone.to_owned(), th.finish())).or_default();
        *n += 1;
        *n - 1
    }
}

/// Builds the simulator's router; callbacks go out from a background task.
pub fn router(config: SimConfig) -> Router {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sim = Arc::new(Sim {
        config,
        messages: Mutex::default(),
        per_phone: Mutex::default(),
        sends: Mutex::default(),
        next_id: AtomicU64::new(1),
        received: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        send_requests: AtomicU64::new(0),
        callbacks_sent: AtomicU64::new(0),
        callbacks_acknowledged: AtomicU64::new(0),
        outage: AtomicBool::new(false),
        callbacks: tx,
    });
    tokio::spawn(smsru::send_callbacks(sim.clone(), rx));
    Router::new()
        .merge(smsru::router())
        .merge(smsc::router())
        .route("/stats", get(stats))
        .route("/control/outage/{on}", post(outage))
        .with_state(sim)
}

/// Serves until the listener fails.
///
/// # Errors
/// The server fails.
pub async fn serve(listener: tokio::net::TcpListener, config: SimConfig) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

async fn stats(State(sim): State<Arc<Sim>>) -> Json<serde_json::Value> {
    let per_phone = sim.per_phone.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Json(json!({
        "received": sim.received.load(Ordering::Relaxed),
        "refused": sim.refused.load(Ordering::Relaxed),
        "send_requests": sim.send_requests.load(Ordering::Relaxed),
        "per_phone": per_phone,
        "callbacks": {
            "sent": sim.callbacks_sent.load(Ordering::Relaxed),
            "acknowledged": sim.callbacks_acknowledged.load(Ordering::Relaxed),
        },
    }))
}

async fn outage(State(sim): State<Arc<Sim>>, axum::extract::Path(on): axum::extract::Path<String>) -> &'static str {
    sim.outage.store(on == "on", Ordering::Relaxed);
    "ok"
}
