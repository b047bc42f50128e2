//! What the HTTP adapters share: a transport failure sorted by whether the request may have reached the provider,
//! and a form POST answered with JSON.

use serde::de::DeserializeOwned;

use super::GatewayError;

/// A refused connection sent nothing (retryable); a timeout or a connection lost mid-request may have (in
/// doubt). Codes are `<prefix>_unreachable`, `<prefix>_timeout`, `<prefix>_transport`.
pub fn transport_error(prefix: &str, e: &reqwest::Error) -> GatewayError {
    let detail = crate::telemetry::error_chain(e);
    if e.is_connect() {
        GatewayError::Retryable {
            code: format!("{prefix}_unreachable"),
            detail,
        }
    } else {
        let what = if e.is_timeout() { "timeout" } else { "transport" };
        GatewayError::InDoubt {
            code: format!("{prefix}_{what}"),
            detail,
        }
    }
}

/// POSTs `form` and reads the JSON answer. A non-200 status is retryable (`<prefix>_http_<status>`: nothing was
/// taken); a 200 whose body cannot be read is in doubt (`<prefix>_bad_answer`: it may have been taken).
///
/// # Errors
/// As above.
pub async fn post_form<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
    form: &[(&str, &str)],
    prefix: &str,
) -> Result<T, GatewayError> {
    let r = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| transport_error(prefix, &e))?;
    let status = r.status().as_u16();
    if status != 200 {
        return Err(GatewayError::Retryable {
            code: format!("{prefix}_http_{status}"),
            detail: String::new(),
        });
    }
    r.json().await.map_err(|e| GatewayError::InDoubt {
        code: format!("{prefix}_bad_answer"),
        detail: crate::telemetry::error_chain(&e),
    })
}
