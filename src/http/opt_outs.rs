//! The opt-out list over HTTP: add, lift, list (numbers masked unless `show_phones=true`).

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::{
    domain::{PhoneNumber, mask::mask_tail},
    storage::{
        opt_out::{OptOut, Subject, add_opt_out, list_opt_outs, remove_opt_out},
        utility::get_utility,
    },
};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/opt-outs", get(list).post(add).delete(remove))
}

/// Body of `POST` and `DELETE /api/v1/opt-outs`: one of `phone` and `account`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    pub utility: String,
    pub phone: Option<String>,
    pub account: Option<String>,
    pub reason: String,
    pub by: Option<String>,
}

impl OptOutRequest {
    fn subject(&self) -> Result<Subject, ApiError> {
        match (&self.phone, &self.account) {
            (Some(phone), None) => PhoneNumber::parse(phone)
                .map(|p| Subject::Phone(p.e164().to_owned()))
                .map_err(ApiError::Unprocessable),
            (None, Some(account)) => Ok(Subject::Account(account.trim().to_owned())),
            _ => Err(ApiError::Unprocessable("give exactly one of phone and account".into())),
        }
    }
}

/// `?utility=ID&all=true&show_phones=true`
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub utility: Option<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub show_phones: bool,
}

async fn add(
    State(state): State<AppState>,
    Json(req): Json<OptOutRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let subject = req.subject()?;
    if req.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("reason must not be empty".into()));
    }
    if get_utility(&state.pool, &req.utility).await?.is_none() {
        return Err(ApiError::Unprocessable(format!("unknown utility '{}'", req.utility)));
    }
    let by = req.by.clone().unwrap_or_else(|| "api".into());
    match add_opt_out(&state.pool, &req.utility, &subject, req.reason.trim(), &by).await? {
        Some(id) => Ok((StatusCode::CREATED, Json(json!({ "opt_out_id": id })))),
        None => Err(ApiError::Conflict("already opted out".into())),
    }
}

async fn remove(State(state): State<AppState>, Json(req): Json<OptOutRequest>) -> Result<StatusCode, ApiError> {
    let subject = req.subject()?;
    let by = req.by.clone().unwrap_or_else(|| "api".into());
    if remove_opt_out(&state.pool, &req.utility, &subject, &req.reason, &by).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no active opt-out for that subject".into()))
    }
}

async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Vec<OptOut>>, ApiError> {
    let mut entries = list_opt_outs(&state.pool, q.utility.as_deref(), q.all).await?;
    if !q.show_phones {
        for e in &mut entries {
            e.e164 = e.e164.as_deref().map(|p| mask_tail(p, 4));
        }
    }
    Ok(Json(entries))
}
