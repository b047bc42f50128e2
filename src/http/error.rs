//! API errors: precise for client faults, opaque (and logged with their cause chain) for internal ones.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{intake::file::FileError, queue::QueueError, storage::StorageError};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("template refused by lint")]
    Lint(Vec<String>),
    #[error("message broker unavailable")]
    Broker(#[from] QueueError),
    #[error("internal error")]
    Storage(#[from] StorageError),
    #[error("internal error")]
    Task(#[from] tokio::task::JoinError),
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        let detail = std::error::Error::source(&e).map(ToString::to_string);
        Self::Unprocessable(match detail {
            Some(d) => format!("{e}: {d}"),
            None => e.to_string(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) | Self::Lint(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Broker(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) | Self::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %crate::telemetry::error_chain(&self), "request failed");
        }
        let body = match &self {
            Self::Lint(problems) => json!({ "error": self.to_string(), "problems": problems }),
            _ => json!({ "error": self.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header value"));
        }
        response
    }
}
