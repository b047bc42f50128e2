//! Typed configuration: `config/default.toml` compiled in, then `--config FILE`, then environment overrides
//! (`DEBTOR_NOTIFY__SECTION__KEY`, plus `DATABASE_URL` and `AMQP_URL` as they are).
//!
//! Parsed once at start into the structs below; a bad value fails start-up with the key named. Secrets are
//! [`Secret`]s whose `Debug` never shows them.

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

pub mod dispatch;
pub use dispatch::{DispatchSettings, PlannerSettings, PolicySettings, SimJournal, SimulatorSettings};
pub mod gateways;
pub use gateways::{GatewaySettings, KannelSettings, SmsRuSettings, SmscSettings};

/// The defaults shipped with the binary; identical to `config/default.toml`.
const DEFAULTS: &str = include_str!("../../config/default.toml");

/// Everything the service can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub intake: IntakeSettings,
    pub http: HttpSettings,
    pub api: ApiSettings,
    pub telemetry: TelemetrySettings,
    pub serve: ServeSettings,
    pub templates: TemplateSettings,
    pub policy: PolicySettings,
    pub planner: PlannerSettings,
    pub dispatch: DispatchSettings,
    pub simulator: SimulatorSettings,
    #[serde(default)]
    pub gateways: GatewaySettings,
}

/// Template previews.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateSettings {
    #[serde(with = "rust_decimal::serde::str")]
    pub sms_price_per_segment: rust_decimal::Decimal,
}

/// PostgreSQL connection and pool.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub migrate_on_start: bool,
}

/// RabbitMQ connection and topology names.
#[derive(Debug, Clone, Deserialize)]
pub struct AmqpSettings {
    pub url: Secret,
    pub intake_exchange: String,
    pub batch_queue: String,
    pub batch_binding: String,
    pub payment_binding: String,
    pub dead_exchange: String,
    pub dead_queue: String,
    pub events_exchange: String,
    pub prefetch: u16,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
}

/// The batch intake worker.
#[derive(Debug, Clone, Deserialize)]
pub struct IntakeSettings {
    pub concurrency: usize,
    pub max_message_bytes: usize,
    pub chunk_size: usize,
    pub db_retry_attempts: u32,
    pub db_retry_initial_ms: u64,
    pub db_retry_max_ms: u64,
    pub shutdown_grace_secs: u64,
}

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub max_upload_bytes: usize,
}

/// API access.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub admin_token: Secret,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    pub filter: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which parts of the service `serve` runs.
#[derive(Debug, Clone, Deserialize)]
pub struct ServeSettings {
    pub roles: Vec<Role>,
    /// Rehearsal: run the planner and dispatchers on a clock starting at this instant (RFC 3339); empty: the
    /// real clock. Refused unless every provider is the simulator.
    #[serde(default)]
    pub simulated_start: String,
}

/// One part of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Intake,
    Api,
    Planner,
    Dispatch,
    /// The outbox relay: delivery events to `amqp.events_exchange`.
    Events,
}

/// A string that must not be printed: tokens, and URLs that may carry passwords.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is handed to a client library.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Errors while loading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
    #[error("invalid configuration: {0}")]
    InvalidOwned(String),
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment.
    ///
    /// # Errors
    /// Fails when the file cannot be read or a value has the wrong type; the message names the key.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("DEBTOR_NOTIFY")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("serve.roles"),
        );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        if let Ok(url) = std::env::var("AMQP_URL") {
            builder = builder.set_override("amqp.url", url)?;
        }
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.check()?;
        settings.policy.check()?;
        settings.dispatch.check()?;
        settings.simulator.check()?;
        settings.gateways.check()?;
        let g = &settings.gateways;
        let configured = match settings.dispatch.sms_provider.as_str() {
            "kannel" => g.kannel.is_some(),
            "smsru" => g.smsru.is_some(),
            "smsc" => g.smsc.is_some(),
            "failover" => g.kannel.is_some() || g.smsru.is_some() || g.smsc.is_some(),
            _ => true,
        };
        if !configured {
            return Err(ConfigError::InvalidOwned(format!(
                "dispatch.sms_provider = \"{0}\" needs a [gateways.{0}] section",
                settings.dispatch.sms_provider
            )));
        }
        if !settings.serve.simulated_start.is_empty() {
            if settings
                .serve
                .simulated_start
                .parse::<chrono::DateTime<chrono::Utc>>()
                .is_err()
            {
                return Err(ConfigError::Invalid(
                    "serve.simulated_start must be an RFC 3339 instant",
                ));
            }
            if settings.dispatch.sms_provider != "simulator" || settings.dispatch.voice_provider != "simulator" {
                return Err(ConfigError::Invalid(
                    "serve.simulated_start is only allowed with the simulator providers",
                ));
            }
        }
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.intake.concurrency == 0 {
            return Err(ConfigError::Invalid("intake.concurrency must be at least 1"));
        }
        if self.intake.chunk_size == 0 || self.intake.chunk_size > 10_000 {
            return Err(ConfigError::Invalid("intake.chunk_size must be 1..=10000"));
        }
        if (self.database.max_connections as usize) <= self.intake.concurrency {
            return Err(ConfigError::Invalid(
                "database.max_connections must be > intake.concurrency",
            ));
        }
        if usize::from(self.amqp.prefetch) < self.intake.concurrency {
            return Err(ConfigError::Invalid("amqp.prefetch must be >= intake.concurrency"));
        }
        Ok(())
    }
}

impl Settings {
    /// The price of one SMS segment used for previews: the configured SMS provider's (under failover, the first
    /// by priority), else `templates.sms_price_per_segment`.
    #[must_use]
    pub fn sms_price_per_segment(&self) -> rust_decimal::Decimal {
        let g = &self.gateways;
        let provider = match self.dispatch.sms_provider.as_str() {
            "failover" => [
                g.kannel.as_ref().map(|k| (k.priority, "kannel")),
                g.smsru.as_ref().map(|k| (k.priority, "smsru")),
                g.smsc.as_ref().map(|k| (k.priority, "smsc")),
            ]
            .into_iter()
            .flatten()
            .min()
            .map_or("simulator", |p| p.1),
            p => p,
        };
        self.price_per_segment(provider)
            .unwrap_or(self.templates.sms_price_per_segment)
    }

    /// The price of one SMS segment at `provider` as recorded on attempts: a real provider's
    /// `price_per_segment`, `templates.sms_price_per_segment` for the built-in simulator, none for others.
    #[must_use]
    pub fn price_per_segment(&self, provider: &str) -> Option<rust_decimal::Decimal> {
        match provider {
            "simulator" => Some(self.templates.sms_price_per_segment),
            p => self.gateways.price_per_segment(p),
        }
    }

    /// Environment that makes a child `debtor-notify` process use this database and these broker names.
    #[must_use]
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        let a = &self.amqp;
        vec![
            ("DATABASE_URL", self.database.url.expose().to_owned()),
            ("AMQP_URL", a.url.expose().to_owned()),
            ("DEBTOR_NOTIFY__AMQP__INTAKE_EXCHANGE", a.intake_exchange.clone()),
            ("DEBTOR_NOTIFY__AMQP__BATCH_QUEUE", a.batch_queue.clone()),
            ("DEBTOR_NOTIFY__AMQP__DEAD_EXCHANGE", a.dead_exchange.clone()),
            ("DEBTOR_NOTIFY__AMQP__DEAD_QUEUE", a.dead_queue.clone()),
            ("DEBTOR_NOTIFY__AMQP__EVENTS_EXCHANGE", a.events_exchange.clone()),
        ]
    }
}

impl AmqpSettings {
    /// Renames every exchange and queue to `{prefix}.intake`, `{prefix}.batches`, `{prefix}.dead`: a scratch
    /// topology for tests and benchmarks that cannot touch the real one.
    pub fn use_prefix(&mut self, prefix: &str) {
        self.intake_exchange = format!("{prefix}.intake");
        self.batch_queue = format!("{prefix}.batches");
        self.dead_exchange = format!("{prefix}.dead");
        self.dead_queue = format!("{prefix}.dead");
        self.events_exchange = format!("{prefix}.events");
    }

    /// First and longest reconnect delays.
    #[must_use]
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.reconnect_initial_ms),
            Duration::from_millis(self.reconnect_max_ms),
        )
    }
}

impl IntakeSettings {
    /// First and longest delays between commit attempts while the database fails.
    #[must_use]
    pub fn db_retry_backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.db_retry_initial_ms),
            Duration::from_millis(self.db_retry_max_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_parse_and_hide_secrets() {
        let s: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(s.amqp.batch_queue, "debtor-notify.batches");
        assert_eq!(
            s.serve.roles,
            [Role::Intake, Role::Api, Role::Planner, Role::Dispatch, Role::Events]
        );
        s.policy.check().unwrap();
        s.dispatch.check().unwrap();
        s.simulator.check().unwrap();
        assert!(!format!("{s:?}").contains("debtor_notify:debtor_notify"));
    }

    #[test]
    fn previews_are_priced_at_the_provider_in_use_and_under_failover_at_the_first_by_priority() {
        let mut s: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from_str(
                r#"
                [gateways.smsru]
                base_url = "http://127.0.0.1:1"
                api_id = "k"
                sender = "DEBTNOTIFY"
                registered_senders = ["DEBTNOTIFY"]
                callback_token = "0123456789abcdef0123"
                concurrency = 4
                rate_per_second = 10
                burst = 10
                timeout_secs = 5
                price_per_segment = "3.10"
                priority = 2
                [gateways.smsc]
                base_url = "http://127.0.0.1:1"
                login = "l"
                password = "p"
                sender = "DEBTNOTIFY"
                registered_senders = ["DEBTNOTIFY"]
                callback_token = "0123456789abcdef0123"
                concurrency = 4
                rate_per_second = 10
                burst = 10
                timeout_secs = 5
                price_per_segment = "2.75"
                priority = 1
                "#,
                FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let price = |s: &Settings| s.sms_price_per_segment().to_string();
        assert_eq!(
            price(&s),
            s.templates.sms_price_per_segment.to_string(),
            "the simulator"
        );
        s.dispatch.sms_provider = "smsru".into();
        assert_eq!(price(&s), "3.10");
        s.dispatch.sms_provider = "failover".into();
        assert_eq!(price(&s), "2.75");
    }
}
