//! The RabbitMQ batch consumer: connect, declare, consume with bounded concurrency, ack after commit.
//!
//! - A lost connection is rebuilt with exponential backoff and jitter; unacked messages are redelivered by the
//!   broker and absorbed by the idempotent store.
//! - While PostgreSQL fails, a message is retried in place with backoff, then requeued (nack) — never dropped.
//! - Undecodable or refused messages are recorded, republished to the dead-letter exchange with an
//!   `x-rejection-reason` header (with confirms), and only then acked, so they never loop.
//! - On cancellation: stop consuming, let in-flight messages finish (bounded), close, return.

use std::{sync::Arc, time::Duration};

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, StreamExt};
use lapin::{
    BasicProperties, Channel, Confirmation,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable},
};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{Instrument, error, info, info_span, warn};

use super::process::{Incoming, Verdict, process_message, record_unprocessable};
use crate::{
    config::Settings,
    queue::{QueueError, connect, topology},
    telemetry::error_chain,
};

/// Everything a consumer needs.
#[derive(Clone)]
pub struct IntakeWorker {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
}

/// Doubles a delay up to `max`, with ±20 % jitter.
#[must_use]
pub fn next_backoff(current: Duration, max: Duration) -> Duration {
    let doubled = current.saturating_mul(2).min(max);
    let jitter = 0.8 + fastrand::f64() * 0.4;
    doubled.mul_f64(jitter).min(max)
}

impl IntakeWorker {
    /// Consumes until `token` is cancelled, reconnecting whenever the broker connection is lost.
    pub async fn run(self, token: CancellationToken) {
        let (initial, max) = self.settings.amqp.reconnect_backoff();
        let mut delay = initial;
        while !token.is_cancelled() {
            match self.consume_until_lost(&token, &mut delay, initial).await {
                Ok(()) => break,
                Err(e) => {
                    warn!(error = %error_chain(&e), retry_in_ms = delay.as_millis() as u64, "intake consumer lost the broker; reconnecting");
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = next_backoff(delay, max);
                }
            }
        }
        info!("intake consumer stopped");
    }

    async fn consume_until_lost(
        &self,
        token: &CancellationToken,
        delay: &mut Duration,
        initial: Duration,
    ) -> Result<(), QueueError> {
        let amqp = &self.settings.amqp;
        let Session {
            connection,
            channel,
            dead_channel,
            tag,
            mut consumer,
        } = open_session(amqp).await?;
        info!(queue = %amqp.batch_queue, "intake consumer started");
        *delay = initial;
        let permits = Arc::new(Semaphore::new(self.settings.intake.concurrency));
        let tracker = TaskTracker::new();
        let result = loop {
            let permit = tokio::select! {
                () = token.cancelled() => break Ok(()),
                p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let next = tokio::select! {
                () = token.cancelled() => break Ok(()),
                d = consumer.next() => d,
            };
            let delivery = match next {
                Some(Ok(d)) => d,
                Some(Err(source)) => break Err(QueueError::Amqp { op: "receive", source }),
                None => {
                    break Err(QueueError::Amqp {
                        op: "receive",
                        source: lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                            lapin::ConnectionState::Closed,
                        )),
                    });
                }
            };
            let worker = self.clone();
            let dead_channel = dead_channel.clone();
            let child = token.clone();
            tracker.spawn(async move {
                worker.handle(delivery, &dead_channel, &child).await;
                drop(permit);
            });
        };
        if result.is_ok() {
            // Stop new deliveries first; unacked prefetched ones return to the queue when the channel closes.
            let _ = channel
                .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                .await;
        }
        tracker.close();
        let grace = Duration::from_secs(self.settings.intake.shutdown_grace_secs);
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!("in-flight batch messages did not finish within the shutdown grace period; they will be redelivered");
        }
        let _ = channel.close(200, "shutdown".into()).await;
        let _ = connection.close(200, "shutdown".into()).await;
        result
    }

    async fn handle(&self, delivery: Delivery, dead_channel: &Channel, token: &CancellationToken) {
        let props = &delivery.properties;
        let incoming = Incoming {
            body: delivery.data.clone(),
            content_type: props.content_type().as_ref().map(ToString::to_string),
            schema_header: header_text(props, "schema"),
            message_id: props.message_id().as_ref().map(ToString::to_string),
        };
        let span = info_span!(
            "batch_message",
            message_id = incoming.message_id.as_deref().unwrap_or(""),
            redelivered = delivery.redelivered
        );
        async {
            match self.process_with_retry(incoming, token).await {
                Some(Verdict::Stored {
                    batch_id,
                    part,
                    accepted,
                    rejected,
                }) => {
                    info!(%batch_id, part, accepted, rejected, "batch part stored");
                    ack(&delivery).await;
                }
                Some(Verdict::Duplicate { batch_id, part }) => {
                    info!(%batch_id, part, "batch part already stored; redelivery ignored");
                    ack(&delivery).await;
                }
                Some(Verdict::Payment { payment_id, cancelled }) => {
                    info!(%payment_id, cancelled, "payment stored");
                    ack(&delivery).await;
                }
                Some(Verdict::PaymentDuplicate { payment_id }) => {
                    info!(%payment_id, "payment already stored; redelivery ignored");
                    ack(&delivery).await;
                }
                Some(Verdict::DeadLetter { reason }) => {
                    warn!(%reason, "batch message dead-lettered");
                    match publish_dead(dead_channel, &self.settings.amqp.dead_exchange, &delivery, &reason).await {
                        Ok(()) => ack(&delivery).await,
                        Err(e) => {
                            error!(error = %e, "dead-letter publish failed; requeueing");
                            nack_requeue(&delivery).await;
                        }
                    }
                }
                None => nack_requeue(&delivery).await,
            }
        }
        .instrument(span)
        .await;
    }

    /// Retries while the database fails transiently; `None` means "requeue".
    async fn process_with_retry(&self, incoming: Incoming, token: &CancellationToken) -> Option<Verdict> {
        let intake = &self.settings.intake;
        let (mut delay, max) = intake.db_retry_backoff();
        for attempt in 1..=intake.db_retry_attempts.max(1) {
            // A panic is a bug in processing this message: dead-letter it (with a row) instead of looping.
            let outcome = AssertUnwindSafe(process_message(&self.pool, intake, incoming.clone()))
                .catch_unwind()
                .await;
            let reason = match outcome {
                Ok(Ok(verdict)) => return Some(verdict),
                Ok(Err(e)) if e.is_transient() => {
                    warn!(attempt, error = %error_chain(&e), "database unavailable while storing a batch part");
                    None
                }
                Ok(Err(e)) => Some(format!("database refused the batch: {}", error_chain(&e))),
                Err(panic) => Some(format!(
                    "internal error while processing the message: {}",
                    panic_text(&panic)
                )),
            };
            if let Some(reason) = reason {
                error!(%reason, "batch message cannot be processed");
                return match record_unprocessable(&self.pool, &incoming, reason).await {
                    Ok(verdict) => Some(verdict),
                    Err(e) => {
                        warn!(error = %error_chain(&e), "cannot record the unprocessable message; requeueing");
                        None
                    }
                };
            }
            tokio::select! {
                () = token.cancelled() => return None,
                () = tokio::time::sleep(delay) => {}
            }
            delay = next_backoff(delay, max);
        }
        None
    }
}

/// One broker connection's worth of consuming state.
struct Session {
    connection: lapin::Connection,
    channel: Channel,
    /// A confirm-mode channel for republishing to the dead-letter exchange.
    dead_channel: Channel,
    tag: String,
    consumer: lapin::Consumer,
}

/// Connects, declares the topology, sets the prefetch and starts consuming.
async fn open_session(amqp: &crate::config::AmqpSettings) -> Result<Session, QueueError> {
    let connection = connect(amqp.url.expose()).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(QueueError::amqp("open channel"))?;
    topology::declare(&channel, amqp).await?;
    channel
        .basic_qos(amqp.prefetch, BasicQosOptions::default())
        .await
        .map_err(QueueError::amqp("set prefetch"))?;
    let dead_channel = connection
        .create_channel()
        .await
        .map_err(QueueError::amqp("open channel"))?;
    dead_channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(QueueError::amqp("enable confirms"))?;
    let tag = format!("debtor-notify-intake-{}", uuid::Uuid::new_v4().simple());
    let queue = amqp.batch_queue.as_str().into();
    let consumer = channel
        .basic_consume(
            queue,
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("start consuming"))?;
    Ok(Session {
        connection,
        channel,
        dead_channel,
        tag,
        consumer,
    })
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

fn header_text(props: &BasicProperties, name: &str) -> Option<String> {
    let headers = props.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

async fn publish_dead(channel: &Channel, exchange: &str, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert("x-rejection-reason".into(), topology::text(reason));
    headers.insert(
        "x-original-routing-key".into(),
        topology::text(delivery.routing_key.as_str()),
    );
    let props = delivery.properties.clone().with_headers(headers);
    let confirm = channel
        .basic_publish(
            exchange.into(),
            delivery.routing_key.clone(),
            BasicPublishOptions::default(),
            &delivery.data,
            props,
        )
        .await
        .map_err(QueueError::amqp("publish dead letter"))?
        .await
        .map_err(QueueError::amqp("confirm dead letter"))?;
    match confirm {
        Confirmation::Nack(_) => Err(QueueError::Nacked {
            exchange: exchange.to_owned(),
            routing_key: delivery.routing_key.to_string(),
        }),
        _ => Ok(()),
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        // The connection is gone; the broker redelivers and the store absorbs the duplicate.
        warn!(error = %e, "ack failed; the message will be redelivered");
    }
}

async fn nack_requeue(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    if let Err(e) = delivery.nack(options).await {
        warn!(error = %e, "nack failed; the message will be redelivered");
    }
}
