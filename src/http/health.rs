//! Liveness (the process answers) and readiness (PostgreSQL and RabbitMQ answer).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use super::AppState;
use crate::storage;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = storage::ping(&state.pool).await.map_err(|e| e.to_string());
    let broker = state.with_publisher(async |_| Ok(())).await.map_err(|e| e.to_string());
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let ok = database.is_ok() && broker.is_ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if ok { "ok" } else { "unavailable" }, "database": show(&database), "broker": show(&broker) });
    (status, Json(body))
}
