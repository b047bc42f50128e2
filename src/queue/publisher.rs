//! Publishing with publisher confirms and `mandatory`, so a message counts as sent only when the broker has
//! routed it to a queue and taken responsibility for it.

use std::collections::VecDeque;

use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};

use super::{QueueError, message::CONTENT_TYPE_JSON, topology::text};

/// Confirms awaited at once while pipelining; bounds memory and keeps the broker busy.
const CONFIRM_WINDOW: usize = 32;

/// One message to publish.
#[derive(Debug)]
pub struct Outgoing {
    pub routing_key: String,
    pub message_id: String,
    pub schema: &'static str,
    pub body: Vec<u8>,
}

/// A channel in confirm mode on its own connection.
pub struct Publisher {
    channel: Channel,
    _connection: Connection,
    exchange: String,
    /// Whether an unroutable message is an error (intake: yes; outbound events nobody subscribed to: no).
    mandatory: bool,
    in_flight: VecDeque<(String, PublisherConfirm)>,
}

impl Publisher {
    /// Connects and enables confirms. Declares nothing: producers publish to an existing exchange.
    ///
    /// # Errors
    /// Connection or channel failures.
    pub async fn connect(url: &str, exchange: &str) -> Result<Self, QueueError> {
        Self::connect_with(url, exchange, true).await
    }

    /// Like [`Publisher::connect`]; with `mandatory = false` a message no queue is bound for is confirmed and
    /// dropped by the broker instead of refused.
    ///
    /// # Errors
    /// Connection or channel failures.
    pub async fn connect_with(url: &str, exchange: &str, mandatory: bool) -> Result<Self, QueueError> {
        let connection = super::connect(url).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(QueueError::amqp("open channel"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(QueueError::amqp("enable publisher confirms"))?;
        Ok(Self {
            channel,
            _connection: connection,
            exchange: exchange.to_owned(),
            mandatory,
            in_flight: VecDeque::new(),
        })
    }

    /// Whether the connection is still open (a dropped one must be replaced).
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self._connection.status().connected() && self.channel.status().connected()
    }

    /// The channel, for declarations by callers that own the topology (the worker and tests).
    #[must_use]
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes without waiting for its confirm unless the window is full.
    ///
    /// # Errors
    /// Channel failures, or a refusal of an earlier message of the window.
    pub async fn send(&mut self, message: Outgoing) -> Result<(), QueueError> {
        if self.in_flight.len() >= CONFIRM_WINDOW {
            self.await_oldest().await?;
        }
        let mut headers = FieldTable::default();
        headers.insert("schema".into(), text(message.schema));
        let props = BasicProperties::default()
            .with_content_type(CONTENT_TYPE_JSON.into())
            .with_message_id(message.message_id.as_str().into())
            .with_type(message.schema.into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let options = BasicPublishOptions {
            mandatory: self.mandatory,
            ..BasicPublishOptions::default()
        };
        let confirm = self
            .channel
            .basic_publish(
                self.exchange.as_str().into(),
                message.routing_key.as_str().into(),
                options,
                &message.body,
                props,
            )
            .await
            .map_err(QueueError::amqp("publish"))?;
        self.in_flight.push_back((message.routing_key, confirm));
        Ok(())
    }

    /// Waits until every published message is confirmed.
    ///
    /// # Errors
    /// The first refusal (nack or unroutable).
    pub async fn flush(&mut self) -> Result<(), QueueError> {
        while !self.in_flight.is_empty() {
            self.await_oldest().await?;
        }
        Ok(())
    }

    async fn await_oldest(&mut self) -> Result<(), QueueError> {
        let Some((routing_key, confirm)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let confirmation = confirm.await.map_err(QueueError::amqp("await publisher confirm"))?;
        let exchange = self.exchange.clone();
        match confirmation {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(QueueError::Unroutable { exchange, routing_key }),
            Confirmation::Nack(_) => Err(QueueError::Nacked { exchange, routing_key }),
        }
    }
}
