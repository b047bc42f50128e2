//! Campaigns over HTTP: create (TOML or JSON body), list, show, lifecycle actions, stats.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::{
    campaign::{self, Action, CampaignError},
    clock::SystemClock,
    storage,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list).post(create))
        .route("/campaigns/{id}", get(show))
        .route("/campaigns/{id}/stats", get(stats))
        .route("/campaigns/{id}/{action}", post(act))
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::Invalid(m) => Self::Unprocessable(m),
            e @ CampaignError::NotFound(_) => Self::NotFound(e.to_string()),
            e @ CampaignError::WrongState { .. } => Self::Conflict(e.to_string()),
            CampaignError::Storage(s) => Self::Storage(s),
        }
    }
}

fn by(headers: &HeaderMap) -> String {
    headers
        .get("x-operator")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("api")
        .to_owned()
}

/// `POST /api/v1/campaigns`: the body is the campaign file (JSON, or TOML with `content-type: application/toml`).
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = campaign::create(&state.pool, &body, &by(&headers)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "campaign_id": id, "status": "draft" })),
    ))
}

/// `?utility=ID&status=running,paused`
#[derive(Debug, Deserialize)]
struct ListQuery {
    utility: Option<String>,
    status: Option<String>,
}

async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let status: Vec<&str> = q.status.as_deref().map(|s| s.split(',').collect()).unwrap_or_default();
    let rows = storage::campaign::list_campaigns(&state.pool, q.utility.as_deref(), &status).await?;
    Ok(Json(json!({ "campaigns": rows })))
}

async fn show(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        campaign::show(&state.pool, id).await?.priced(&state.settings)
    )))
}

async fn stats(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let v = campaign::show(&state.pool, id).await?.priced(&state.settings);
    Ok(Json(
        json!({ "campaign_id": id, "status": v.campaign.status, "stats": v.stats, "spend": v.spend }),
    ))
}

/// `POST /api/v1/campaigns/{id}/start|pause|resume|cancel`
async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "start" => Action::Start,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "cancel" => Action::Cancel,
        other => {
            return Err(ApiError::NotFound(format!(
                "no action '{other}' (start, pause, resume, cancel)"
            )));
        }
    };
    let status = campaign::act(&state.pool, &SystemClock, id, action, &by(&headers)).await?;
    Ok(Json(json!({ "campaign_id": id, "status": status })))
}
