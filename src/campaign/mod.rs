//! Campaign use cases for the CLI and the API: create from a definition (templates resolved and pinned),
//! the lifecycle draft → running → paused → completed | cancelled, and statistics.

pub mod planner;
pub mod spec;

use serde::Serialize;
use sqlx::PgPool;

use crate::{
    clock::Clock,
    render::Channel,
    storage::{
        self, StorageError,
        campaign::{CampaignRow, SpendRow, StatRow, StepRow},
        delivery::{self, Scope},
    },
};
use spec::CampaignSpec;

/// Campaign failures, each with a message for the user.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("invalid campaign: {0}")]
    Invalid(String),
    #[error("no campaign {0}")]
    NotFound(i64),
    #[error("campaign {id} is {status}: cannot {action}")]
    WrongState {
        id: i64,
        status: String,
        action: &'static str,
    },
    #[error("storage failed")]
    Storage(#[from] StorageError),
}

/// A campaign with its steps and counts.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: CampaignRow,
    pub steps: Vec<StepRow>,
    pub stats: Vec<StatRow>,
    /// What the providers accepted, priced (see [`CampaignView::priced`]).
    pub spend: Vec<Spend>,
}

/// Accepted hand-overs of one provider and channel, with their cost where the provider's price is configured
/// (SMS only: a segment price says nothing about calls).
#[derive(Debug, Clone, Serialize)]
pub struct Spend {
    #[serde(flatten)]
    pub row: SpendRow,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub price_per_segment: Option<rust_decimal::Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cost: Option<rust_decimal::Decimal>,
}

impl CampaignView {
    /// Prices the spend rows: `gateways.<provider>.price_per_segment`, and `templates.sms_price_per_segment` for
    /// the built-in simulator.
    #[must_use]
    pub fn priced(mut self, settings: &crate::config::Settings) -> Self {
        for s in &mut self.spend {
            let price = if s.row.channel == "sms" {
                settings.price_per_segment(&s.row.provider)
            } else {
                None
            };
            s.price_per_segment = price;
            s.cost = price.map(|p| p * rust_decimal::Decimal::from(s.row.segments));
        }
        self
    }
}

/// Parses, checks templates (pinning the latest version where none is given) and stores a draft.
///
/// # Errors
/// An invalid definition (the field is named), an unknown utility or template, or a channel mismatch.
pub async fn create(pool: &PgPool, text: &str, by: &str) -> Result<i64, CampaignError> {
    let spec = CampaignSpec::parse(text).map_err(|e| CampaignError::Invalid(e.0))?;
    if let Some(u) = &spec.utility
        && storage::utility::get_utility(pool, u).await?.is_none()
    {
        return Err(CampaignError::Invalid(format!("field utility: no utility '{u}'")));
    }
    let mut steps = Vec::new();
    for (i, s) in spec.steps.iter().enumerate() {
        let t = storage::template::get_template(pool, &s.template, s.version)
            .await?
            .ok_or_else(|| {
                let v = s.version.map(|v| format!(" version {v}")).unwrap_or_default();
                CampaignError::Invalid(format!("field steps[{i}].template: no template '{}'{v}", s.template))
            })?;
        if let Some(ch) = s.channel
            && ch.as_str() != t.channel
        {
            return Err(CampaignError::Invalid(format!(
                "field steps[{i}].channel: template '{}' is for {}, not {}",
                t.name,
                t.channel,
                ch.as_str()
            )));
        }
        if let (Some(owner), Some(u)) = (&t.utility_id, &spec.utility)
            && owner != u
        {
            return Err(CampaignError::Invalid(format!(
                "field steps[{i}].template: '{}' belongs to another utility",
                t.name
            )));
        }
        let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
        steps.push(StepRow {
            step_no: n,
            channel: Channel::parse(&t.channel).map_or(t.channel.clone(), |c| c.as_str().to_owned()),
            template_name: t.name,
            template_version: t.version,
            offset_minutes: i32::try_from(s.offset_minutes).unwrap_or(i32::MAX),
            offset_from: spec.from_of(i).as_str().to_owned(),
            condition: s.condition.as_str().to_owned(),
            max_attempts: i32::try_from(s.max_attempts).unwrap_or(3),
            retry_after_minutes: i32::try_from(s.retry_after_minutes).unwrap_or(120),
        });
    }
    Ok(storage::campaign::insert_campaign(pool, &spec, &steps, by).await?)
}

/// One campaign with steps and counts per step, channel and state.
///
/// # Errors
/// Unknown campaign, database failures.
pub async fn show(pool: &PgPool, id: i64) -> Result<CampaignView, CampaignError> {
    let campaign = storage::campaign::get_campaign(pool, id)
        .await?
        .ok_or(CampaignError::NotFound(id))?;
    Ok(CampaignView {
        campaign,
        steps: storage::campaign::list_steps(pool, id).await?,
        stats: storage::campaign::campaign_stats(pool, id).await?,
        spend: storage::campaign::campaign_spend(pool, id)
            .await?
            .into_iter()
            .map(|row| Spend {
                row,
                price_per_segment: None,
                cost: None,
            })
            .collect(),
    })
}

/// A lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl Action {
    fn rule(self) -> (&'static [&'static str], &'static str, &'static str) {
        match self {
            Self::Start => (&["draft"], "running", "start"),
            Self::Pause => (&["running"], "paused", "pause"),
            Self::Resume => (&["paused"], "running", "resume"),
            Self::Cancel => (&["draft", "running", "paused"], "cancelled", "cancel"),
        }
    }
}

/// Applies a lifecycle action; cancelling also cancels every pending notice (reason `campaign_cancelled`).
/// Returns the new status.
///
/// # Errors
/// Unknown campaign, or an action its current status does not allow.
pub async fn act(pool: &PgPool, clock: &dyn Clock, id: i64, action: Action, by: &str) -> Result<String, CampaignError> {
    let (from, to, verb) = action.rule();
    if storage::campaign::transition(pool, id, from, to, verb, by)
        .await?
        .is_none()
    {
        let c = storage::campaign::get_campaign(pool, id)
            .await?
            .ok_or(CampaignError::NotFound(id))?;
        return Err(CampaignError::WrongState {
            id,
            status: c.status,
            action: verb,
        });
    }
    if action == Action::Cancel {
        delivery::cancel_pending(
            pool,
            Scope::Campaign(id),
            "cancelled",
            "campaign_cancelled",
            "operator",
            clock.now(),
        )
        .await?;
    }
    Ok(to.to_owned())
}
