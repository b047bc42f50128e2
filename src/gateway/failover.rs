//! Failover across SMS providers by priority, with a circuit breaker per provider. A hand-over goes to the first
//! provider whose breaker is closed; a retryable refusal (nothing was accepted) counts against that provider and
//! moves on to the next; an in-doubt outcome never moves on (the first provider may have taken it); a permanent
//! refusal is the answer. After `failures` retryable refusals in a row a provider is skipped for `cooldown`,
//! then tried again. Each member keeps its own rate and concurrency limits.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Accepted, BoxFuture, GatewayError, SmsGateway, SmsRequest, StatusAnswer, limits::ProviderLimits};

/// A circuit breaker: closed, open until an instant, then half-open (one failure opens it again).
pub struct Breaker {
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    #[must_use]
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// Whether a request may go to the provider now.
    pub fn allows(&self) -> bool {
        let open = self.open_until.lock().unwrap_or_else(PoisonError::into_inner);
        open.is_none_or(|until| Instant::now() >= until)
    }

    pub fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        *self.open_until.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub fn failed(&self) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.threshold {
            *self.open_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + self.cooldown);
            tracing::warn!(failures = n, cooldown = ?self.cooldown, "provider circuit opened");
        }
    }
}

/// One provider of the failover list.
pub struct Member {
    pub name: String,
    pub gateway: std::sync::Arc<dyn SmsGateway>,
    pub limits: ProviderLimits,
    pub breaker: Breaker,
}

/// Providers in priority order.
pub struct Failover {
    members: Vec<Member>,
}

impl Failover {
    #[must_use]
    pub fn new(members: Vec<Member>) -> Self {
        Self { members }
    }

    async fn send(&self, req: &SmsRequest) -> Result<Accepted, GatewayError> {
        let mut last = None;
        for m in self.members.iter().filter(|m| m.breaker.allows()) {
            let _slot = m.limits.acquire().await;
            match m.gateway.send_sms(req).await {
                Ok(mut a) => {
                    m.breaker.succeeded();
                    a.provider = Some(m.name.clone());
                    return Ok(a);
                }
                Err(e @ GatewayError::Retryable { .. }) => {
                    m.breaker.failed();
                    tracing::warn!(provider = %m.name, code = e.code(), "provider refused; trying the next");
                    last = Some(e);
                }
                Err(e) => {
                    m.breaker.succeeded();
                    return Err(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| GatewayError::Retryable {
            code: "all_providers_open".into(),
            detail: "every provider's circuit is open".into(),
        }))
    }

    /// Asks every provider that can answer: a found message wins; not found only when every one says so.
    async fn status(&self, client_ref: &str, pmid: Option<&str>) -> Result<StatusAnswer, GatewayError> {
        let mut all_not_found = true;
        for m in &self.members {
            match m.gateway.sms_status(client_ref, pmid).await {
                Ok(StatusAnswer::NotFound) => {}
                Ok(StatusAnswer::Unsupported) | Err(_) => all_not_found = false,
                Ok(found) => return Ok(found),
            }
        }
        Ok(if all_not_found {
            StatusAnswer::NotFound
        } else {
            StatusAnswer::Unsupported
        })
    }
}

impl SmsGateway for Failover {
    fn name(&self) -> &str {
        "failover"
    }

    fn send_sms<'a>(&'a self, req: &'a SmsRequest) -> BoxFuture<'a, Result<Accepted, GatewayError>> {
        Box::pin(self.send(req))
    }

    fn sms_status<'a>(
        &'a self,
        client_ref: &'a str,
        provider_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<StatusAnswer, GatewayError>> {
        Box::pin(self.status(client_ref, provider_message_id))
    }
}

#[cfg(test)]
mod tests {
    use super::Breaker;
    use std::time::Duration;

    #[test]
    fn a_breaker_opens_after_the_threshold_and_half_opens_after_the_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(30));
        b.failed();
        b.failed();
        assert!(b.allows());
        b.failed();
        assert!(!b.allows());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allows());
        b.succeeded();
        b.failed();
        assert!(b.allows(), "one failure after a success does not open it");
    }
}
