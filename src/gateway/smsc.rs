//! SMSC.ru-compatible HTTP API: `/sys/send.php` (`fmt=3` JSON answers `{"id","cnt"}` or `{"error","error_code"}`)
//! with our notification id as SMSC's `id` (1..2147483647), `/sys/status.php` by id and phone, and status
//! callbacks (form fields `id`, `phone`, `status`, `err`, `ts`). The provider id we keep is `<id>:<phone>`, what
//! the status query needs. SMSC's callback signature was not verified for this build: the unguessable path
//! token authenticates callbacks.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::http::post_form;
use super::{Accepted, BoxFuture, DeliveryReport, GatewayError, ReportState, SmsGateway, SmsRequest, StatusAnswer};
use crate::config::SmscSettings;

/// The adapter.
pub struct Smsc {
    settings: SmscSettings,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct SendAnswer {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_code: Option<i32>,
}

#[derive(Debug, Deserialize)]
struct StatusJson {
    #[serde(default)]
    status: Option<i32>,
    #[serde(default)]
    err: Option<i32>,
    #[serde(default)]
    error_code: Option<i32>,
    #[serde(default)]
    error: Option<String>,
}

impl Smsc {
    /// An adapter over `settings`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(settings: SmscSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .pool_max_idle_per_host(settings.concurrency)
            .build()?;
        Ok(Self { settings, http })
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, path: &str, form: &[(&str, &str)]) -> Result<T, GatewayError> {
        let url = format!("{}{path}", self.settings.base_url.trim_end_matches('/'));
        post_form(&self.http, url, form, "smsc").await
    }

    async fn send(&self, req: &SmsRequest) -> Result<Accepted, GatewayError> {
        let s = &self.settings;
        let phone = req.to.trim_start_matches('+');
        let sender = req.sender.as_deref().unwrap_or(&s.sender);
        let form = [
            ("login", s.login.as_str()),
            ("psw", s.password.expose()),
            ("phones", phone),
            ("mes", req.text.as_str()),
            ("sender", sender),
            ("id", req.client_ref.as_str()),
            ("charset", "utf-8"),
            ("fmt", "3"),
        ];
        let a: SendAnswer = self.call("/sys/send.php", &form).await?;
        match (a.id, a.error_code) {
            (_, Some(code)) => Err(send_error(code, a.error.as_deref())),
            (Some(id), None) => Ok(Accepted {
                provider_message_id: format!("{id}:{phone}"),
                provider: None,
            }),
            (None, None) => Err(GatewayError::Retryable {
                code: "smsc_bad_answer".into(),
                detail: "neither id nor error".into(),
            }),
        }
    }

    async fn status(&self, pmid: &str) -> Result<StatusAnswer, GatewayError> {
        let Some((id, phone)) = pmid.split_once(':') else {
            return Ok(StatusAnswer::Unsupported);
        };
        let s = &self.settings;
        let form = [
            ("login", s.login.as_str()),
            ("psw", s.password.expose()),
            ("phone", phone),
            ("id", id),
            ("fmt", "3"),
        ];
        let a: StatusJson = self.call("/sys/status.php", &form).await?;
        if let Some(code) = a.error_code {
            return Err(send_error(code, a.error.as_deref()));
        }
        Ok(match a.status.and_then(|st| delivery_state(st, a.err.unwrap_or(0))) {
            None => StatusAnswer::NotFound,
            Some((ReportState::Progress, _)) => StatusAnswer::Accepted {
                provider_message_id: pmid.to_owned(),
            },
            Some((state, reason)) => StatusAnswer::Final {
                provider_message_id: pmid.to_owned(),
                state,
                reason,
            },
        })
    }
}

/// A send error code: 2 login, 3 funds, 4 IP blocked → retryable; 9 (the same send within a minute: the first
/// may have been taken) → in doubt, reconciled; the rest (1 parameters, 5 date, 6 forbidden text or sender,
/// 7 phone format, 8 undeliverable number) → permanent. The code is kept as `smsc_<code>`.
#[must_use]
pub fn send_error(code: i32, text: Option<&str>) -> GatewayError {
    let detail = text.unwrap_or_default().chars().take(200).collect();
    let code_s = format!("smsc_{code}");
    match code {
        2..=4 => GatewayError::Retryable { code: code_s, detail },
        9 => GatewayError::InDoubt { code: code_s, detail },
        _ => GatewayError::Permanent { code: code_s, detail },
    }
}

/// A status (with its `err`) as a report state; `None` for −3 (not found) and unknown statuses. The reason
/// names the `err` where it says more (busy, answering machine, time restriction, unregistered sender…).
#[must_use]
pub fn delivery_state(status: i32, err: i32) -> Option<(ReportState, Option<String>)> {
    let why = |default: &str| {
        Some(if err == 0 {
            default.to_owned()
        } else {
            format!("smsc_err_{err}")
        })
    };
    match status {
        -1 | 0 => Some((ReportState::Progress, Some("operator_in_transit".into()))),
        1 | 2 | 4 => Some((ReportState::Delivered, None)),
        3 => Some((ReportState::Expired, why("ttl_expired"))),
        20 | 25 => Some((ReportState::Undelivered, why("undeliverable"))),
        22..=24 => Some((ReportState::Failed, why("rejected"))),
        _ => None,
    }
}

/// A status callback's form fields as a report.
///
/// # Errors
/// The name of a missing or bad field.
pub fn parse_callback(f: &HashMap<String, String>, now: DateTime<Utc>) -> Result<DeliveryReport, &'static str> {
    let id = f.get("id").filter(|v| !v.is_empty()).ok_or("id")?;
    let phone = f.get("phone").filter(|v| !v.is_empty()).ok_or("phone")?;
    let status: i32 = f.get("status").and_then(|v| v.parse().ok()).ok_or("status")?;
    let err: i32 = f.get("err").and_then(|v| v.parse().ok()).unwrap_or(0);
    let (state, reason) = delivery_state(status, err).ok_or("status")?;
    let at = f
        .get("ts")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or(now);
    Ok(DeliveryReport {
        provider: "smsc".into(),
        client_ref: Some(id.clone()),
        provider_message_id: format!("{id}:{}", phone.trim_start_matches('+')),
        state,
        reason,
        at,
        raw: serde_json::json!({"status": status, "err": err, "ts": f.get("ts")}),
    })
}

impl SmsGateway for Smsc {
    fn name(&self) -> &str {
        "smsc"
    }

    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.send(req))
    }

    fn sms_status<'a>(
        &'a self,
        _client_ref: &'a str,
        provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(async move {
            match provider_message_id {
                None => Ok(StatusAnswer::Unsupported),
                Some(p) => self.status(p).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_errors_split_into_retryable_in_doubt_and_permanent() {
        assert!(matches!(send_error(3, None), GatewayError::Retryable { .. }));
        assert!(matches!(send_error(9, None), GatewayError::InDoubt { .. }));
        for c in [1, 5, 6, 7, 8] {
            assert!(matches!(send_error(c, None), GatewayError::Permanent { .. }), "{c}");
        }
    }

    #[test]
    fn statuses_map_with_the_err_as_reason() {
        assert_eq!(delivery_state(1, 0), Some((ReportState::Delivered, None)));
        assert_eq!(
            delivery_state(20, 240),
            Some((ReportState::Undelivered, Some("smsc_err_240".into())))
        );
        assert_eq!(delivery_state(0, 0).map(|s| s.0), Some(ReportState::Progress));
        assert_eq!(delivery_state(-3, 0), None);
    }
}
