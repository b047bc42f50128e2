//! Message templates: the engine, the render context, Russian formatting, SMS sizing and the lint that runs
//! when a template is saved. Pure code: no queues, no gateways, no SQL.

pub mod context;
pub mod engine;
pub mod lazy;
pub mod lint;
pub mod ru;
pub mod sms;

use serde::{Deserialize, Serialize};

pub use context::RenderContext;
pub use engine::Engine;

/// Rendering failures, with minijinja's message (it names the line and the variable).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template error")]
    Template(#[from] minijinja::Error),
}

/// What a template is for; lint rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum TemplateKind {
    SoftReminder,
    Pretrial,
    RestrictionWarning,
    RestructuringOffer,
    PenaltyWriteoff,
    SubsidyAdvice,
    Custom,
}

impl TemplateKind {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SoftReminder => "soft_reminder",
            Self::Pretrial => "pretrial",
            Self::RestrictionWarning => "restriction_warning",
            Self::RestructuringOffer => "restructuring_offer",
            Self::PenaltyWriteoff => "penalty_writeoff",
            Self::SubsidyAdvice => "subsidy_advice",
            Self::Custom => "custom",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).ok()
    }
}

/// How a text reaches the debtor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).ok()
    }
}
