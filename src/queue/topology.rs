//! Idempotent declaration of the exchanges and queues the service uses.
//!
//! - topic exchange `intake_exchange` → quorum queue `batch_queue` bound with `batch_binding`;
//! - the batch queue dead-letters to the fanout exchange `dead_exchange`, bound to `dead_queue`.
//!
//! Re-declaring with the same arguments is a no-op in AMQP 0-9-1, so every process declares at start.

use lapin::{
    Channel, ExchangeKind,
    options::{
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};

use super::QueueError;
use crate::config::AmqpSettings;

/// Declares everything intake needs.
///
/// # Errors
/// Fails when the broker refuses a declaration (e.g. a queue exists with other arguments).
pub async fn declare(channel: &Channel, amqp: &AmqpSettings) -> Result<(), QueueError> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            amqp.intake_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("declare intake exchange"))?;
    channel
        .exchange_declare(
            amqp.dead_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("declare dead-letter exchange"))?;
    let queue_options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), text("quorum"));
    channel
        .queue_declare(amqp.dead_queue.as_str().into(), queue_options, dead_args)
        .await
        .map_err(QueueError::amqp("declare dead-letter queue"))?;
    channel
        .queue_bind(
            amqp.dead_queue.as_str().into(),
            amqp.dead_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("bind dead-letter queue"))?;
    let mut args = FieldTable::default();
    // Quorum queues replicate and survive broker restarts; https://www.rabbitmq.com/docs/quorum-queues
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert("x-dead-letter-exchange".into(), text(&amqp.dead_exchange));
    channel
        .queue_declare(amqp.batch_queue.as_str().into(), queue_options, args)
        .await
        .map_err(QueueError::amqp("declare batch queue"))?;
    channel
        .queue_bind(
            amqp.batch_queue.as_str().into(),
            amqp.intake_exchange.as_str().into(),
            amqp.batch_binding.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("bind batch queue"))?;
    channel
        .queue_bind(
            amqp.batch_queue.as_str().into(),
            amqp.intake_exchange.as_str().into(),
            amqp.payment_binding.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp("bind batch queue for payments"))?;
    Ok(())
}

/// Deletes the queues and exchanges [`declare`] creates, and the events exchange the relay declares (scratch
/// topologies of tests and benchmarks).
/// Failures are ignored: what is already gone needs no deleting.
pub async fn delete(channel: &Channel, amqp: &AmqpSettings) {
    for queue in [&amqp.batch_queue, &amqp.dead_queue] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for exchange in [&amqp.intake_exchange, &amqp.dead_exchange, &amqp.events_exchange] {
        let _ = channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
}

/// An AMQP long-string header value.
pub(crate) fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}
