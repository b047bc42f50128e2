//! Log set-up: human-readable or JSON lines, filtered by `telemetry.filter` or `RUST_LOG`.
//!
//! Personal data is kept out of logs at the source: domain types mask themselves, and log lines carry ids
//! (batch, part, utility), counts and masked values only.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogFormat, TelemetrySettings};

/// Installs the global subscriber. Logs go to stderr so command output on stdout stays clean.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(settings: &TelemetrySettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
    };
    // A subscriber may already be installed (tests); that is fine.
    let _ = result;
}

/// An error and its causes as `outer: inner: root`, using `Display` only.
///
/// `Debug` of database errors carries the failing row (personal data), so logs use this instead.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors already print their source in their own message; do not repeat it.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_chain_lists_every_cause() {
        let io = std::io::Error::other("disk gone");
        let e = crate::storage::StorageError::Database(sqlx::Error::Io(io));
        assert_eq!(
            super::error_chain(&e),
            "database error: error communicating with database: disk gone"
        );
    }
}
