//! SMS.ru-compatible HTTP API: `POST /sms/send` (form, `json=1`) answering per number with an `sms_id` or a
//! code, `POST /sms/status` by `sms_id`, and callbacks (`data[]` entries `sms_status\n<id>\n<code>\n<unix ts>`,
//! `hash = sha256(api_id + every entry)`, answered with the body `100`). Codes are classified here: delivery
//! codes into report states, request codes into retryable or permanent errors (a refused `api_id` is
//! retryable: a configuration fault must not fail every notice).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::http::post_form;
use super::{Accepted, BoxFuture, DeliveryReport, GatewayError, ReportState, SmsGateway, SmsRequest, StatusAnswer};
use crate::config::SmsRuSettings;

/// The adapter.
pub struct SmsRu {
    settings: SmsRuSettings,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    status_code: i32,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    sms: HashMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    status: String,
    status_code: i32,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    sms_id: Option<String>,
}

impl SmsRu {
    /// An adapter over `settings`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(settings: SmsRuSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .pool_max_idle_per_host(settings.concurrency)
            .build()?;
        Ok(Self { settings, http })
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Answer, GatewayError> {
        let url = format!("{}{path}", self.settings.base_url.trim_end_matches('/'));
        post_form(&self.http, url, form, "smsru").await
    }

    async fn send(&self, req: &SmsRequest) -> Result<Accepted, GatewayError> {
        let s = &self.settings;
        let to = req.to.trim_start_matches('+');
        let sender = req.sender.as_deref().unwrap_or(&s.sender);
        let form = [
            ("api_id", s.api_id.expose()),
            ("to", to),
            ("msg", req.text.as_str()),
            ("from", sender),
            ("json", "1"),
        ];
        let a = self.post("/sms/send", &form).await?;
        if a.status != "OK" {
            return Err(request_error(a.status_code, a.status_text.as_deref()));
        }
        entry_result(a.sms.get(to))
    }

    /// Several messages in one request (`to[PHONE]=TEXT`, distinct numbers): one result per message.
    async fn send_many(&self, reqs: &[SmsRequest]) -> Vec<Result<Accepted, GatewayError>> {
        let s = &self.settings;
        let keys: Vec<String> = reqs
            .iter()
            .map(|r| format!("to[{}]", r.to.trim_start_matches('+')))
            .collect();
        let mut form: Vec<(&str, &str)> = vec![("api_id", s.api_id.expose()), ("from", &s.sender), ("json", "1")];
        form.extend(keys.iter().zip(reqs).map(|(k, r)| (k.as_str(), r.text.as_str())));
        let a = match self.post("/sms/send", &form).await {
            Ok(a) if a.status == "OK" => a,
            Ok(a) => {
                return reqs
                    .iter()
                    .map(|_| Err(request_error(a.status_code, a.status_text.as_deref())))
                    .collect();
            }
            Err(e) => return reqs.iter().map(|_| Err(e.clone())).collect(),
        };
        reqs.iter()
            .map(|r| entry_result(a.sms.get(r.to.trim_start_matches('+'))))
            .collect()
    }

    async fn status(&self, sms_id: &str) -> Result<StatusAnswer, GatewayError> {
        let form = [
            ("api_id", self.settings.api_id.expose()),
            ("sms_id", sms_id),
            ("json", "1"),
        ];
        let a = self.post("/sms/status", &form).await?;
        if a.status != "OK" {
            return Err(request_error(a.status_code, a.status_text.as_deref()));
        }
        let code = a.sms.get(sms_id).map_or(-1, |e| e.status_code);
        Ok(match delivery_state(code) {
            None => StatusAnswer::NotFound,
            Some((ReportState::Progress, _)) => StatusAnswer::Accepted {
                provider_message_id: sms_id.to_owned(),
            },
            Some((state, reason)) => StatusAnswer::Final {
                provider_message_id: sms_id.to_owned(),
                state,
                reason: reason.map(str::to_owned),
            },
        })
    }
}

/// A refused connection sent nothing (retryable); a timeout or a connection lost mid-request may have.
/// One number's entry of a send answer.
fn entry_result(e: Option<&Entry>) -> Result<Accepted, GatewayError> {
    match e {
        Some(e) if e.status == "OK" => e
            .sms_id
            .clone()
            .map(|id| Accepted {
                provider: None,
                provider_message_id: id,
            })
            .ok_or_else(|| GatewayError::InDoubt {
                code: "smsru_no_sms_id".into(),
                detail: "accepted without an sms_id".into(),
            }),
        Some(e) => Err(request_error(e.status_code, e.status_text.as_deref())),
        // The request was taken but says nothing of this number: it may have been sent.
        None => Err(GatewayError::InDoubt {
            code: "smsru_bad_answer".into(),
            detail: "no entry for the number".into(),
        }),
    }
}

/// A request/limit code as a retryable or permanent error (code kept as `smsru_<code>`).
#[must_use]
pub fn request_error(code: i32, text: Option<&str>) -> GatewayError {
    let detail = text.unwrap_or_default().chars().take(200).collect();
    let code_s = format!("smsru_{code}");
    match code {
        // Busy or limited for now, or an account/credential fault to fix: try again later.
        200 | 201 | 206 | 220 | 230..=233 | 300..=302 | 500..=508 => GatewayError::Retryable { code: code_s, detail },
        _ => GatewayError::Permanent { code: code_s, detail },
    }
}

/// A delivery code (status answer or callback) as a report state; `None` for −1 (not found) and unknown codes.
#[must_use]
pub fn delivery_state(code: i32) -> Option<(ReportState, Option<&'static str>)> {
    match code {
        100..=102 => Some((ReportState::Progress, Some("operator_in_transit"))),
        103 | 110 => Some((ReportState::Delivered, None)),
        104 => Some((ReportState::Expired, Some("ttl_expired"))),
        105 => Some((ReportState::Failed, Some("deleted_by_operator"))),
        106 => Some((ReportState::Undelivered, Some("phone_failure"))),
        107 => Some((ReportState::Undelivered, Some("unknown_reason"))),
        108 => Some((ReportState::Failed, Some("rejected"))),
        150 => Some((ReportState::Failed, Some("no_route"))),
        _ => None,
    }
}

/// Why a callback was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the hash does not match")]
    BadSignature,
    #[error("entry {0} is malformed")]
    Malformed(usize),
}

/// The signature SMS.ru puts in `hash`: hex SHA-256 of the api_id followed by every `data[]` entry.
#[must_use]
pub fn callback_hash(api_id: &str, entries: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(api_id.as_bytes());
    for e in entries {
        h.update(e.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies and parses a callback's form fields. `sms_status` entries become reports; other kinds (call
/// checks) are ignored; unknown codes are kept as progress with their code.
///
/// # Errors
/// A bad hash, or a malformed entry.
pub fn parse_callback(
    api_id: &str,
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryReport>, CallbackError> {
    let entries: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "data[]" || k.starts_with("data["))
        .map(|(_, v)| v.as_str())
        .collect();
    let given = fields
        .iter()
        .find(|(k, _)| k == "hash")
        .map(|(_, v)| v.to_ascii_lowercase());
    if given.as_deref() != Some(callback_hash(api_id, &entries).as_str()) {
        return Err(CallbackError::BadSignature);
    }
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let parts: Vec<&str> = e.split('\n').map(str::trim).collect();
        if parts.first() != Some(&"sms_status") {
            continue;
        }
        let (Some(id), Some(code)) = (parts.get(1), parts.get(2).and_then(|c| c.parse::<i32>().ok())) else {
            return Err(CallbackError::Malformed(i));
        };
        let at = parts
            .get(3)
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(now);
        let (state, reason) = delivery_state(code).unwrap_or((ReportState::Progress, Some("unknown_code")));
        out.push(DeliveryReport {
            provider: "smsru".into(),
            client_ref: None,
            provider_message_id: (*id).to_owned(),
            state,
            reason: reason.map(str::to_owned),
            at,
            raw: serde_json::json!({"status_code": code, "entry": e}),
        });
    }
    Ok(out)
}

impl SmsGateway for SmsRu {
    fn name(&self) -> &str {
        "smsru"
    }

    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.send(req))
    }

    fn max_batch(&self) -> usize {
        100
    }

    fn send_batch<'a>(&'a self, reqs: &'a [SmsRequest]) -> BoxFuture<'a, Vec<Result<Accepted, GatewayError>>> {
        Box::pin(self.send_many(reqs))
    }

    fn sms_status<'a>(
        &'a self,
        _client_ref: &'a str,
        provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(async move {
            match provider_message_id {
                // SMS.ru knows only its own ids: an accept we never recorded cannot be looked up.
                None => Ok(StatusAnswer::Unsupported),
                Some(id) => self.status(id).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codes_split_into_retryable_and_permanent() {
        for c in [220, 500, 201, 200, 231] {
            assert!(matches!(request_error(c, None), GatewayError::Retryable { .. }), "{c}");
        }
        for c in [202, 204, 205, 207, 209, 215, 216] {
            assert!(matches!(request_error(c, None), GatewayError::Permanent { .. }), "{c}");
        }
    }

    #[test]
    fn a_callback_with_the_right_hash_parses_and_a_wrong_one_is_refused() {
        let now = Utc::now();
        let entries = ["sms_status\n000000-1\n103\n1795769809", "callcheck_status\nx\n401\n1"];
        let hash = callback_hash("KEY", &entries);
        let mut fields: Vec<(String, String)> =
            entries.iter().map(|e| ("data[]".to_owned(), (*e).to_owned())).collect();
        fields.push(("hash".into(), hash));
        let reports = parse_callback("KEY", &fields, now).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].state, ReportState::Delivered);
        assert_eq!(reports[0].provider_message_id, "000000-1");
        assert_eq!(
            parse_callback("OTHER", &fields, now).unwrap_err(),
            CallbackError::BadSignature
        );
    }
}
