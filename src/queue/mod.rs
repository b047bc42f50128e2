//! RabbitMQ: connection, topology, the wire contract and a confirming publisher. AMQP details stay here.

pub mod message;
pub mod publisher;
pub mod topology;

use lapin::{Connection, ConnectionProperties};

/// Broker failures, with the cause kept.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot connect to RabbitMQ at {url}")]
    Connect {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ operation failed: {op}")]
    Amqp {
        op: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ refused the message (nack) on {exchange}/{routing_key}")]
    Nacked { exchange: String, routing_key: String },
    #[error("no queue is bound for routing key '{routing_key}' on exchange '{exchange}' (message returned)")]
    Unroutable { exchange: String, routing_key: String },
}

impl QueueError {
    pub(crate) fn amqp(op: &'static str) -> impl FnOnce(lapin::Error) -> Self {
        move |source| Self::Amqp { op, source }
    }
}

/// Opens a connection. The URL may name a vhost; the password never appears in errors.
///
/// # Errors
/// [`QueueError::Connect`] when the broker is unreachable or refuses the login.
pub async fn connect(url: &str) -> Result<Connection, QueueError> {
    let props = ConnectionProperties::default().with_connection_name("debtor-notify".into());
    Connection::connect(url, props)
        .await
        .map_err(|source| QueueError::Connect {
            url: redact_url(url),
            source,
        })
}

/// `amqp://user:secret@host/vhost` → `amqp://user:***@host/vhost`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_removed_from_urls() {
        assert_eq!(
            super::redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(super::redact_url("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
