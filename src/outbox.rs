//! The outbox relay: publishes every `delivery_event` as `notification-event.v1` to `amqp.events_exchange`
//! (routing key `notification.<channel>.<state>`, message id = event id, so subscribers deduplicate) and moves
//! its cursor only after the broker confirmed. A broker outage delays events and loses none; a crash after a
//! publish and before the cursor moved re-publishes (at least once). One relay publishes at a time (a
//! PostgreSQL session lock); others wait as hot standbys. Events are taken in id order, and a gap in the ids is
//! waited for until it fills or is known to be a rolled-back insert, so a slow transaction's events are never
//! skipped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    config::Settings,
    queue::{
        QueueError,
        publisher::{Outgoing, Publisher},
    },
    storage::{
        StorageError,
        outbox::{self, OutEvent},
    },
    telemetry::error_chain,
};

/// The schema name of outbound events.
pub const SCHEMA: &str = "notification-event.v1";

/// Relay failures, with the cause kept.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("storage failed")]
    Storage(#[from] StorageError),
    #[error("the broker failed")]
    Queue(#[from] QueueError),
    #[error("database failed")]
    Database(#[from] sqlx::Error),
}

/// The relay of one process.
pub struct Relay {
    pool: sqlx::PgPool,
    settings: std::sync::Arc<Settings>,
    /// A gap in event ids first seen at this database time (waited on until it fills or cannot).
    gap: Option<(i64, DateTime<Utc>)>,
    /// When the relay last summarised the event ids' new BRIN ranges itself.
    summarised_at: Option<std::time::Instant>,
}

/// How often the relay summarises new BRIN ranges of event ids (autovacuum does too, when it runs).
const SUMMARISE_EVERY: Duration = Duration::from_secs(10);

impl Relay {
    #[must_use]
    pub fn new(pool: sqlx::PgPool, settings: std::sync::Arc<Settings>) -> Self {
        Self {
            pool,
            settings,
            gap: None,
            summarised_at: None,
        }
    }

    /// Leads (or waits to lead) and relays until `token` is cancelled; broker and database failures are
    /// retried with backoff.
    pub async fn run(mut self, token: CancellationToken) {
        let (first, max) = self.settings.amqp.reconnect_backoff();
        let mut delay = first;
        while !token.is_cancelled() {
            match self.lead(&token).await {
                Ok(()) => delay = first,
                Err(e) => {
                    warn!(error = %error_chain(&e), retry_in = ?delay, "event relay failed; events wait in the outbox");
                    delay = (delay * 2).min(max);
                }
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn lead(&mut self, token: &CancellationToken) -> Result<(), RelayError> {
        // Detached: closed (never returned to the pool) when this returns, which releases the session lock.
        let mut conn = self.pool.acquire().await?.detach();
        if !outbox::try_lead(&mut conn).await? {
            return Ok(()); // another relay publishes; ask again after the pause
        }
        let amqp = &self.settings.amqp;
        let mut publisher = Publisher::connect_with(amqp.url.expose(), &amqp.events_exchange, false).await?;
        declare(&publisher, &amqp.events_exchange).await?;
        info!(exchange = %amqp.events_exchange, "event relay leading");
        while !token.is_cancelled() {
            if self.relay_once(&mut publisher).await? == 0 {
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }
        drop(conn);
        Ok(())
    }

    /// Publishes the next run of events without a gap and moves the cursor. Returns how many were published.
    ///
    /// # Errors
    /// Database or broker failures (the cursor stays; the same events go again).
    pub async fn relay_once(&mut self, publisher: &mut Publisher) -> Result<usize, RelayError> {
        if self.summarised_at.is_none_or(|at| at.elapsed() >= SUMMARISE_EVERY) {
            self.summarised_at = Some(std::time::Instant::now());
            // Only keeps the reads narrow; on failure (a vacuum holds the index) autovacuum's own does.
            if let Err(e) = outbox::summarise_new_ranges(&self.pool).await {
                tracing::debug!(error = %error_chain(&e), "event id ranges not summarised this time");
            }
        }
        let cursor = outbox::cursor(&self.pool).await?;
        let events = outbox::events_after(&self.pool, cursor, 2000).await?;
        let take = self.contiguous(cursor, &events).await?;
        if take == 0 {
            return Ok(0);
        }
        for e in &events[..take] {
            publisher.send(outgoing(e)).await?;
        }
        publisher.flush().await?;
        outbox::advance(&self.pool, events[take - 1].event_id).await?;
        Ok(take)
    }

    /// How many of `events` follow `cursor` without a gap that may still fill.
    async fn contiguous(&mut self, cursor: i64, events: &[OutEvent]) -> Result<usize, RelayError> {
        let mut expected = cursor + 1;
        for (i, e) in events.iter().enumerate() {
            if e.event_id == expected {
                expected += 1;
                continue;
            }
            // Ids expected..e.event_id are missing: still being inserted, or rolled back.
            let seen_at = match self.gap {
                Some((id, at)) if id == expected => at,
                _ => {
                    let at = outbox::db_now(&self.pool).await?;
                    self.gap = Some((expected, at));
                    return Ok(i);
                }
            };
            if !outbox::gap_is_permanent(&self.pool, seen_at).await? {
                return Ok(i);
            }
            self.gap = None;
            expected = e.event_id + 1;
        }
        Ok(events.len())
    }
}

async fn declare(publisher: &Publisher, exchange: &str) -> Result<(), QueueError> {
    use lapin::{ExchangeKind, options::ExchangeDeclareOptions, types::FieldTable};
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    publisher
        .channel()
        .exchange_declare(exchange.into(), ExchangeKind::Topic, options, FieldTable::default())
        .await
        .map_err(QueueError::amqp("declare the events exchange"))
}

/// The `notification-event.v1` message of one event.
#[must_use]
pub fn outgoing(e: &OutEvent) -> Outgoing {
    let body = json!({
        "schema": SCHEMA,
        "event_id": e.event_id,
        "notification_id": e.notification_id,
        "campaign_id": e.campaign_id,
        "step_no": e.step_no,
        "utility": e.utility_id,
        "account": e.account,
        "channel": e.channel,
        "template": {"name": e.template_name, "version": e.template_version, "kind": e.template_kind},
        "state": e.state,
        "reason": e.reason,
        "attempt_no": e.attempt_no,
        "source": e.source,
        "at": e.at,
        "local_at": e.local_at,
        "timezone": e.timezone,
        "provider": e.provider,
        "provider_message_id": e.provider_message_id,
    });
    Outgoing {
        routing_key: format!("notification.{}.{}", e.channel, e.state),
        message_id: e.event_id.to_string(),
        schema: SCHEMA,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}
