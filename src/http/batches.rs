//! Batches: upload (debtor-batch.v1 JSON, CSV, XLSX, raw or multipart) → published like `enqueue`; report.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State},
    http::{StatusCode, header::CONTENT_TYPE},
    routing::{get, post},
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::{
    intake::{
        enqueue::{BatchTarget, CheckSummary, check, derive_batch_id, publish},
        file::{self, FileKind},
    },
    storage::{
        batch::{BatchReport, get_batch_report},
        utility::get_utility,
    },
};

pub(super) fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .route("/batches", post(upload).layer(DefaultBodyLimit::max(max_upload)))
        .route("/batches/{batch_id}", get(report))
}

/// Query of `POST /api/v1/batches`; a JSON document's own fields win when present.
#[derive(Debug, Default, Deserialize)]
pub struct UploadQuery {
    pub utility: Option<String>,
    pub as_of: Option<NaiveDate>,
    pub batch_id: Option<Uuid>,
    pub campaign: Option<String>,
    /// Original file name, used to tell CSV from XLSX when the content type does not.
    pub filename: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// Answer to an upload.
#[derive(Debug, Serialize)]
pub struct UploadAccepted {
    pub batch_id: Uuid,
    pub utility: String,
    pub as_of: NaiveDate,
    pub kind: FileKind,
    pub parts: u32,
    pub published: bool,
    #[serde(flatten)]
    pub check: CheckSummary,
    pub ignored_columns: Vec<String>,
    pub report: String,
}

async fn upload(
    State(state): State<AppState>,
    Query(mut query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<UploadAccepted>), ApiError> {
    let (name, bytes) = read_upload(request, &mut query).await?;
    // Parsing and checking are CPU-bound (seconds for a big export): keep them off the async workers.
    let (parsed, bytes) = tokio::task::spawn_blocking(move || {
        let kind = file::detect_kind(&name, &bytes);
        file::parse(kind, &bytes).map(|p| (p, bytes))
    })
    .await??;
    let utility = match (parsed.meta.utility.clone(), query.utility.clone()) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::Unprocessable(format!(
                "document names utility '{a}' but the query names '{b}'"
            )));
        }
        (Some(u), _) | (None, Some(u)) => u,
        (None, None) => return Err(ApiError::BadRequest("utility is required (?utility=ID)".into())),
    };
    if get_utility(&state.pool, &utility).await?.is_none() {
        return Err(ApiError::Unprocessable(format!(
            "unknown utility '{utility}'; register it first (POST /api/v1/utilities)"
        )));
    }
    let as_of = parsed
        .meta
        .as_of
        .or(query.as_of)
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let batch_id = parsed
        .meta
        .batch_id
        .or(query.batch_id)
        .unwrap_or_else(|| derive_batch_id(&utility, &bytes));
    let target = BatchTarget {
        batch_id,
        utility: utility.clone(),
        as_of,
        campaign: parsed.meta.campaign.clone().or(query.campaign.clone()),
        chunk_size: state.settings.intake.chunk_size,
    };
    let (parsed, summary) = tokio::task::spawn_blocking(move || {
        let summary = check(&parsed, as_of);
        (parsed, summary)
    })
    .await?;
    let parts = if query.dry_run {
        0
    } else {
        state
            .with_publisher(async |p| publish(p, &target, &parsed.records, |_| {}).await)
            .await?
    };
    let status = if query.dry_run {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = UploadAccepted {
        batch_id,
        utility,
        as_of,
        kind: parsed.kind,
        parts,
        published: !query.dry_run,
        check: summary,
        ignored_columns: parsed.ignored_columns,
        report: format!("/api/v1/batches/{batch_id}"),
    };
    Ok((status, Json(body)))
}

/// The file's name (for kind detection) and bytes, from a raw body or the `file` part of a multipart form.
async fn read_upload(request: Request, query: &mut UploadQuery) -> Result<(String, Bytes), ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !content_type.starts_with("multipart/form-data") {
        let bytes = Bytes::from_request(request, &())
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let name = query
            .filename
            .clone()
            .unwrap_or_else(|| name_for_content_type(&content_type).to_owned());
        return Ok((name, bytes));
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut upload = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?
    {
        let field_name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(ToOwned::to_owned);
        let data = field.bytes().await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let text = || String::from_utf8_lossy(&data).trim().to_owned();
        match field_name.as_str() {
            "file" => upload = Some((file_name.unwrap_or_default(), data.clone())),
            "utility" => query.utility = Some(text()),
            "campaign" => query.campaign = Some(text()),
            "as_of" => {
                query.as_of = Some(
                    text()
                        .parse()
                        .map_err(|_| ApiError::BadRequest("as_of must be yyyy-mm-dd".into()))?,
                )
            }
            "batch_id" => {
                query.batch_id = Some(
                    text()
                        .parse()
                        .map_err(|_| ApiError::BadRequest("batch_id must be a UUID".into()))?,
                )
            }
            _ => {}
        }
    }
    upload.ok_or_else(|| ApiError::BadRequest("multipart upload needs a 'file' field".into()))
}

fn name_for_content_type(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/json" => "upload.json",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "upload.xlsx",
        "text/csv" | "text/plain" => "upload.csv",
        _ => "upload",
    }
}

/// Query of `GET /api/v1/batches/{id}`.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// Errors to return (default 1000, at most 10000).
    pub limit: Option<i64>,
}

async fn report(
    State(state): State<AppState>,
    Path(batch_id): Path<Uuid>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<BatchReport>, ApiError> {
    let limit = q.limit.unwrap_or(1000).clamp(0, 10_000);
    get_batch_report(&state.pool, batch_id, limit)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("batch {batch_id} has not been received (yet)")))
}
