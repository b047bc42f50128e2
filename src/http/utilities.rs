//! Utilities (tenants): register and list.

use std::str::FromStr;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::storage::utility::{
    Utility, UtilityContacts, get_utility, insert_utility, list_utilities, set_utility_contacts,
};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/utilities", get(list).post(create))
}

/// Body of `POST /api/v1/utilities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUtility {
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// Phone printed in notices.
    pub phone: Option<String>,
    pub payment_url: Option<String>,
    pub payment_details: Option<String>,
    /// Let this utility's own templates put the full name and address in SMS.
    pub allow_personal_details_in_sms: Option<bool>,
}

/// Checks a new utility's fields; shared with the CLI.
///
/// # Errors
/// A message naming the bad field.
pub fn validate_new_utility(id: &str, name: &str, timezone: &str) -> Result<(), String> {
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !id_ok {
        return Err(format!(
            "id '{id}' must be 1-64 of a-z 0-9 . _ - starting with a letter or digit"
        ));
    }
    if name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    if chrono_tz::Tz::from_str(timezone).is_err() {
        return Err(format!(
            "timezone '{timezone}' is not an IANA time zone (e.g. Asia/Yekaterinburg)"
        ));
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Json(new): Json<NewUtility>,
) -> Result<(StatusCode, Json<Utility>), ApiError> {
    validate_new_utility(&new.id, &new.name, &new.timezone).map_err(ApiError::Unprocessable)?;
    if !insert_utility(&state.pool, &new.id, new.name.trim(), &new.timezone).await? {
        return Err(ApiError::Conflict(format!("utility '{}' already exists", new.id)));
    }
    let contacts = UtilityContacts {
        contact_phone: new.phone,
        payment_url: new.payment_url,
        payment_details: new.payment_details,
        allow_personal_details_in_sms: new.allow_personal_details_in_sms,
    };
    set_utility_contacts(&state.pool, &new.id, &contacts).await?;
    let created = get_utility(&state.pool, &new.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(new.id.clone()))?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<Utility>>, ApiError> {
    Ok(Json(list_utilities(&state.pool).await?))
}
