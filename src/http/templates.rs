//! Templates over HTTP: list, show, versions, create, edit (new version), preview.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::{
    render::{Channel, RenderContext, TemplateKind},
    storage::template::{self, TemplateVersion},
    templates::{self, Draft, Preview, TemplateError},
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{name}", get(show).put(edit))
        .route("/templates/{name}/versions", get(versions))
        .route("/templates/{name}/preview", post(preview))
        .route("/templates/{name}/check", post(check))
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::NotFound(_) | TemplateError::NoDebtor(_) => Self::NotFound(e.to_string()),
            TemplateError::Exists(_) => Self::Conflict(e.to_string()),
            TemplateError::Lint(problems) => Self::Lint(problems),
            TemplateError::Invalid(reason) => Self::Unprocessable(reason),
            TemplateError::Storage(s) => Self::Storage(s),
        }
    }
}

/// Body of `POST /api/v1/templates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub name: String,
    pub kind: TemplateKind,
    pub channel: Channel,
    pub body: String,
    pub max_segments: Option<i32>,
    pub description: Option<String>,
    /// The tenant owning the template (its permissions apply); shared when absent.
    pub utility: Option<String>,
}

/// Body of `PUT /api/v1/templates/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateEdit {
    pub body: String,
    pub max_segments: Option<i32>,
    pub description: Option<String>,
}

/// Body of `POST /api/v1/templates/{name}/preview`: one of `account` or `data`; neither = the sample debtor.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub version: Option<i32>,
    pub account: Option<String>,
    pub utility: Option<String>,
    pub data: Option<RenderContext>,
}

/// `?version=N`
#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    pub version: Option<i32>,
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<TemplateVersion>>, ApiError> {
    Ok(Json(template::list_templates(&state.pool).await?))
}

async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<TemplateVersion>, ApiError> {
    let t = template::get_template(&state.pool, &name, q.version).await?;
    t.map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("template '{name}' not found")))
}

async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<TemplateVersion>>, ApiError> {
    Ok(Json(template::template_history(&state.pool, &name).await?))
}

async fn create(
    State(state): State<AppState>,
    Json(t): Json<NewTemplate>,
) -> Result<(StatusCode, Json<TemplateVersion>), ApiError> {
    let draft = Draft {
        name: t.name,
        kind: Some(t.kind),
        channel: Some(t.channel),
        body: t.body,
        max_segments: t.max_segments,
        description: t.description,
        utility: t.utility,
        author: "api".into(),
    };
    Ok((
        StatusCode::CREATED,
        Json(templates::save(&state.pool, &draft, true).await?),
    ))
}

async fn edit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(t): Json<TemplateEdit>,
) -> Result<(StatusCode, Json<TemplateVersion>), ApiError> {
    let draft = Draft {
        name,
        kind: None,
        channel: None,
        body: t.body,
        max_segments: t.max_segments,
        description: t.description,
        utility: None,
        author: "api".into(),
    };
    Ok((
        StatusCode::CREATED,
        Json(templates::save(&state.pool, &draft, false).await?),
    ))
}

async fn preview(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(req): Json<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    let t = template::get_template(&state.pool, &name, req.version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("template '{name}' not found")))?;
    let ctx = match (req.account, req.data) {
        (Some(account), _) => templates::context_for_account(&state.pool, &account, req.utility.as_deref()).await?,
        (None, Some(data)) => data,
        (None, None) => RenderContext::sample(),
    };
    let (engine, key) =
        templates::compile(&t).map_err(|e| ApiError::Unprocessable(crate::telemetry::error_chain(&e)))?;
    let price = state.settings.sms_price_per_segment();
    templates::preview(&engine, &key, &t, &ctx, price)
        .map(Json)
        .map_err(|e| ApiError::Unprocessable(crate::telemetry::error_chain(&e)))
}

/// Body of `POST /api/v1/templates/{name}/check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub version: Option<i32>,
    pub utility: Option<String>,
}

/// Lint of a stored version plus its worst case over stored debtors.
#[derive(Debug, serde::Serialize)]
pub struct CheckAnswer {
    pub template: String,
    pub version: i32,
    pub lint_problems: Vec<String>,
    #[serde(flatten)]
    pub report: templates::CheckReport,
}

async fn check(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Option<Json<CheckRequest>>,
) -> Result<Json<CheckAnswer>, ApiError> {
    let req = body.map(|Json(r)| r).unwrap_or_default();
    let t = template::get_template(&state.pool, &name, req.version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("template '{name}' not found")))?;
    let lint_problems = templates::lint_stored(&state.pool, &t).await?.err().unwrap_or_default();
    let price = state.settings.sms_price_per_segment();
    let report = templates::check_stored(&state.pool, &t, req.utility.as_deref(), price).await?;
    Ok(Json(CheckAnswer {
        template: t.name,
        version: t.version,
        lint_problems,
        report,
    }))
}
