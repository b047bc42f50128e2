//! The delivery log over HTTP: `GET /api/v1/notifications` (filters, keyset pagination with `next_before`) and
//! `GET /api/v1/notifications/{id}` with text, events and attempts. Numbers masked unless `show_phones=true`.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::{
    domain::mask::mask_tail,
    storage::{self, log::LogFilter},
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/summary", get(summary))
        .route("/notifications/{id}", get(show))
}

/// Query of the list and the summary.
#[derive(Debug, Deserialize)]
struct LogQuery {
    campaign: Option<i64>,
    utility: Option<String>,
    account: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    channel: Option<String>,
    since: Option<DateTime<Utc>>,
    before: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    show_phones: bool,
}

impl LogQuery {
    fn filter(&self) -> LogFilter {
        LogFilter {
            campaign: self.campaign,
            utility: self.utility.clone(),
            account: self.account.clone(),
            state: self.state.clone(),
            reason: self.reason.clone(),
            channel: self.channel.clone(),
            since: self.since,
            before_id: self.before,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        }
    }
}

async fn list(State(state): State<AppState>, Query(q): Query<LogQuery>) -> Result<Json<Value>, ApiError> {
    let f = q.filter();
    let mut rows = storage::log::list_log(&state.pool, &f).await?;
    if !q.show_phones {
        rows.iter_mut()
            .for_each(|r| r.e164 = r.e164.as_deref().map(|p| mask_tail(p, 4)));
    }
    let full = i64::try_from(rows.len()).unwrap_or(0) == f.limit;
    let next = rows.last().filter(|_| full).map(|r| r.notification_id);
    Ok(Json(json!({ "notifications": rows, "next_before": next })))
}

async fn summary(State(state): State<AppState>, Query(q): Query<LogQuery>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "summary": storage::log::summarize_log(&state.pool, &q.filter()).await? }),
    ))
}

/// `?utility=ID&show_phones=true`
#[derive(Debug, Deserialize)]
struct ShowQuery {
    utility: Option<String>,
    #[serde(default)]
    show_phones: bool,
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut n = storage::log::get_notification(&state.pool, id, q.utility.as_deref())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no notification {id}")))?;
    if !q.show_phones {
        n.row.e164 = n.row.e164.as_deref().map(|p| mask_tail(p, 4));
    }
    Ok(Json(json!(n)))
}
