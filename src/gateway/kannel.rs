//! Kannel (`smsbox` `/cgi-bin/sendsms`): Cyrillic as UCS-2 (`coding=2&charset=UTF-8`), `dlr-mask=31`, and our
//! own reference inside the `dlr-url` (Kannel's `%I` is a new id per report, useless for matching). Answers:
//! `202 0: Accepted` and `202 3: Queued for later delivery` are both accepts; `403 Not routable` and other 4xx
//! are permanent; 5xx, timeouts and refused connections are retryable; a failed login is retryable too (a
//! configuration fault must not fail every notice). DLR statuses map in [`report_state`]. Kannel has no status
//! query, so in-doubt hand-overs wait for their report (never a blind re-send).

use std::time::Duration;

use super::http::transport_error;
use super::{Accepted, BoxFuture, GatewayError, ReportState, SmsGateway, SmsRequest, StatusAnswer};
use crate::config::KannelSettings;

/// The adapter; one HTTP client with a keep-alive pool as wide as the configured concurrency.
pub struct Kannel {
    settings: KannelSettings,
    http: reqwest::Client,
}

impl Kannel {
    /// An adapter over `settings`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(settings: KannelSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .pool_max_idle_per_host(settings.concurrency)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { settings, http })
    }

    /// The DLR URL Kannel calls for one hand-over: our reference and attempt, then Kannel's escapes
    /// (`%d` status, `%T` unix time, `%A` SMSC reply, `%i` SMSC id, `%F` foreign id). No phone number in it.
    fn dlr_url(&self, req: &SmsRequest) -> String {
        format!(
            "{}/callbacks/kannel/{}?ref={}&attempt={}&status=%d&ts=%T&reply=%A&smsc=%i&fid=%F",
            self.settings.callback_base.trim_end_matches('/'),
            self.settings.callback_token.expose(),
            req.client_ref,
            req.attempt
        )
    }

    async fn send(&self, req: &SmsRequest) -> Result<Accepted, GatewayError> {
        if req.text.trim().is_empty() {
            // Kannel accepts a missing text and sends an empty SMS.
            return Err(GatewayError::Permanent {
                code: "empty_text".into(),
                detail: "refusing to send an empty SMS".into(),
            });
        }
        let s = &self.settings;
        let to = req.to.trim_start_matches('+');
        let sender = req.sender.as_deref().unwrap_or(&s.sender);
        let mut query: Vec<(&str, &str)> = vec![
            ("username", &s.username),
            ("password", s.password.expose()),
            ("from", sender),
            ("to", to),
            ("text", &req.text),
            ("coding", "2"),
            ("charset", "UTF-8"),
            ("dlr-mask", "31"),
        ];
        let dlr = self.dlr_url(req);
        query.push(("dlr-url", &dlr));
        if let Some(smsc) = &s.smsc {
            query.push(("smsc", smsc));
        }
        let response = self
            .http
            .get(&s.sendsms_url)
            .query(&query)
            .send()
            .await
            .map_err(|e| transport_error("kannel", &e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| transport_error("kannel", &e))?;
        classify(status, body.trim()).map(|()| Accepted {
            provider: None,
            provider_message_id: format!("{}.{}", req.client_ref, req.attempt),
        })
    }
}

/// Sorts Kannel's answer into accepted, retryable or permanent.
fn classify(status: u16, body: &str) -> Result<(), GatewayError> {
    let detail = body.chars().take(200).collect::<String>();
    match status {
        202 if body.starts_with("0:") || body.starts_with("3:") => Ok(()),
        202 => Err(GatewayError::Retryable {
            code: "kannel_unexpected_202".into(),
            detail,
        }),
        403 if body.contains("Authorization failed") => Err(GatewayError::Retryable {
            code: "kannel_auth_failed".into(),
            detail,
        }),
        403 if body.contains("Not routable") => Err(GatewayError::Permanent {
            code: "kannel_not_routable".into(),
            detail,
        }),
        400..=499 => Err(GatewayError::Permanent {
            code: format!("kannel_{status}"),
            detail,
        }),
        _ => Err(GatewayError::Retryable {
            code: format!("kannel_{status}"),
            detail,
        }),
    }
}

/// A Kannel DLR status as a report state with its normalised reason: 1 delivered, 2 undelivered (final),
/// 4 buffered and 8 SMSC accepted (progress), 16 SMSC rejected (final failure). `None` for anything else.
#[must_use]
pub fn report_state(status: u32) -> Option<(ReportState, Option<&'static str>)> {
    match status {
        1 => Some((ReportState::Delivered, None)),
        2 => Some((ReportState::Undelivered, Some("network_undelivered"))),
        4 => Some((ReportState::Progress, Some("smsc_buffered"))),
        8 => Some((ReportState::Progress, Some("smsc_accepted"))),
        16 => Some((ReportState::Failed, Some("smsc_rejected"))),
        _ => None,
    }
}

impl SmsGateway for Kannel {
    fn name(&self) -> &str {
        "kannel"
    }

    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.send(req))
    }

    fn sms_status<'a>(
        &'a self,
        _client_ref: &'a str,
        _provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(async { Ok(StatusAnswer::Unsupported) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_queued_are_both_accepts_and_not_routable_is_permanent() {
        assert!(classify(202, "0: Accepted for delivery").is_ok());
        assert!(classify(202, "3: Queued for later delivery").is_ok());
        assert!(matches!(
            classify(403, "Not routable. Do not try again."),
            Err(GatewayError::Permanent { code, .. }) if code == "kannel_not_routable"
        ));
        assert!(matches!(
            classify(403, "Authorization failed for sendsms"),
            Err(GatewayError::Retryable { .. })
        ));
        assert!(matches!(
            classify(400, "Missing receiver number, rejected"),
            Err(GatewayError::Permanent { .. })
        ));
        assert!(matches!(classify(503, ""), Err(GatewayError::Retryable { .. })));
    }

    #[test]
    fn dlr_statuses_map_to_final_and_progress_states() {
        assert_eq!(report_state(1), Some((ReportState::Delivered, None)));
        assert_eq!(report_state(8), Some((ReportState::Progress, Some("smsc_accepted"))));
        assert_eq!(report_state(16), Some((ReportState::Failed, Some("smsc_rejected"))));
        assert_eq!(report_state(3), None);
    }
}
