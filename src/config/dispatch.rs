//! Settings of the policy gate, the planner, the dispatchers and the built-in gateway simulator.

use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use super::ConfigError;
use crate::policy::{caps::Caps, window::ContactWindow, window::Hours};

/// Contact windows and caps for every tenant; the law's limits are applied on top, so these can only narrow.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicySettings {
    pub window_working: String,
    pub window_day_off: String,
    pub guard_minutes: u32,
    pub cap_day: u32,
    pub cap_week: u32,
    pub cap_month: u32,
}

impl PolicySettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        parse_hours(&self.window_working).ok_or(ConfigError::Invalid("policy.window_working must be HH:MM-HH:MM"))?;
        parse_hours(&self.window_day_off).ok_or(ConfigError::Invalid("policy.window_day_off must be HH:MM-HH:MM"))?;
        Ok(())
    }

    /// The configured window narrowed to the legal one.
    #[must_use]
    pub fn window(&self) -> ContactWindow {
        let legal = ContactWindow::legal();
        ContactWindow::narrowed(ContactWindow {
            working_day: parse_hours(&self.window_working).unwrap_or(legal.working_day),
            day_off: parse_hours(&self.window_day_off).unwrap_or(legal.day_off),
        })
    }

    /// The configured caps, never looser than the law's message caps.
    #[must_use]
    pub fn caps(&self) -> Caps {
        Caps::MESSAGES.stricter(Caps {
            per_day: self.cap_day,
            per_week: self.cap_week,
            per_month: self.cap_month,
        })
    }

    /// The guard before the closing time.
    #[must_use]
    pub fn guard(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.guard_minutes))
    }
}

/// Parses `HH:MM-HH:MM` (open before close).
#[must_use]
pub fn parse_hours(s: &str) -> Option<Hours> {
    let (open, close) = s.split_once('-')?;
    let open = NaiveTime::parse_from_str(open.trim(), "%H:%M").ok()?;
    let close = NaiveTime::parse_from_str(close.trim(), "%H:%M").ok()?;
    (open < close).then_some(Hours { open, close })
}

/// The campaign planner.
#[derive(Debug, Clone, Deserialize)]
pub struct PlannerSettings {
    pub interval_secs: u64,
    pub chunk: usize,
    pub concurrency: usize,
}

impl PlannerSettings {
    /// Pause between planning passes.
    #[must_use]
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }
}

/// The dispatchers.
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchSettings {
    pub workers: usize,
    pub batch_size: i64,
    pub poll_interval_ms: u64,
    pub lease_secs: i64,
    pub provider_timeout_secs: i64,
    pub report_timeout_secs: i64,
    pub validity_hours: i64,
    pub retry_initial_secs: i64,
    pub retry_max_secs: i64,
    pub sms_provider: String,
    pub voice_provider: String,
    /// Retryable refusals in a row that open a provider's circuit, and how long it stays open.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    #[serde(default = "default_breaker_cooldown")]
    pub breaker_cooldown_secs: u64,
}

impl DispatchSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.workers == 0 || self.batch_size < 1 {
            return Err(ConfigError::Invalid(
                "dispatch.workers and dispatch.batch_size must be at least 1",
            ));
        }
        if self.lease_secs < 2 || self.provider_timeout_secs < 1 || self.provider_timeout_secs >= self.lease_secs {
            return Err(ConfigError::Invalid(
                "dispatch.lease_secs must be at least 2 and above dispatch.provider_timeout_secs (at least 1)",
            ));
        }
        if !["simulator", "kannel", "smsru", "smsc", "failover"].contains(&self.sms_provider.as_str()) {
            return Err(ConfigError::Invalid(
                "dispatch.sms_provider must be \"simulator\", \"kannel\", \"smsru\", \"smsc\" or \"failover\"",
            ));
        }
        if self.voice_provider != "simulator" {
            return Err(ConfigError::Invalid(
                "dispatch.voice_provider: only \"simulator\" is built so far",
            ));
        }
        Ok(())
    }

    /// Pause when nothing is due.
    #[must_use]
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_cooldown() -> u64 {
    30
}

/// Where the simulator keeps what it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimJournal {
    /// In process: lost with the process (like a provider that forgets).
    Memory,
    /// The `sim_message` table: survives a dispatcher crash, so status queries answer after a restart.
    Database,
}

/// The built-in gateway simulator.
#[derive(Debug, Clone, Deserialize)]
pub struct SimulatorSettings {
    pub latency_ms: u64,
    pub retryable_pct: u32,
    pub permanent_pct: u32,
    pub delivered_pct: u32,
    pub undelivered_pct: u32,
    pub report_delay_ms: u64,
    pub journal: SimJournal,
    pub seed: u64,
    pub rate_per_second: u32,
    pub burst: u32,
    pub concurrency: usize,
}

impl SimulatorSettings {
    /// No latency, immediate reports, no failures, everything delivered, practically no rate limit: the
    /// simulator for tests and benchmarks, where the engine and not the provider is measured.
    pub fn make_instant(&mut self) {
        self.latency_ms = 0;
        self.report_delay_ms = 0;
        self.retryable_pct = 0;
        self.permanent_pct = 0;
        self.delivered_pct = 100;
        self.undelivered_pct = 0;
        self.rate_per_second = 1_000_000;
        self.burst = 100_000;
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.retryable_pct + self.permanent_pct > 100 || self.delivered_pct + self.undelivered_pct > 100 {
            return Err(ConfigError::Invalid(
                "simulator: retryable_pct + permanent_pct and delivered_pct + undelivered_pct must be <= 100",
            ));
        }
        Ok(())
    }
}
