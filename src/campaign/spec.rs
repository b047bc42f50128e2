//! The campaign definition a user writes (TOML or JSON): audience, ladder of steps, schedule, rate, priority.
//! Parsing names the field that is wrong; templates are checked against storage by the caller.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::render::Channel;

/// A campaign as submitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub name: String,
    /// One utility's debtors; omitted: every utility's.
    #[serde(default)]
    pub utility: Option<String>,
    pub starts_at: DateTime<FixedOffset>,
    /// No notice goes out after this; pending ones are cancelled with reason `campaign_ended`.
    #[serde(default)]
    pub end_by: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    /// Hand-overs per minute (per dispatcher process).
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub audience: Audience,
    pub steps: Vec<StepSpec>,
}

/// Who is addressed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Total debt at least this (roubles, decimal string).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub min_debt: Option<Decimal>,
    #[serde(default)]
    pub min_months_overdue: Option<u32>,
    /// Only debtors owing for one of these services (names as in the batch).
    #[serde(default)]
    pub services: Vec<String>,
    /// Leave out debtors with an active repayment agreement.
    #[serde(default = "yes")]
    pub exclude_agreements: bool,
    /// Leave out debtors whose current debt is zero.
    #[serde(default = "yes")]
    pub exclude_paid: bool,
}

fn yes() -> bool {
    true
}

impl Default for Audience {
    fn default() -> Self {
        Self {
            min_debt: None,
            min_months_overdue: None,
            services: Vec::new(),
            exclude_agreements: true,
            exclude_paid: true,
        }
    }
}

/// Repeat the campaign: a new round on `day` of every month or of the first month of every quarter.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    pub every: Every,
    pub day: u32,
}

/// Recurrence period.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    Month,
    Quarter,
}

/// One rung of the ladder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub template: String,
    /// Pinned version; omitted: the latest at creation.
    #[serde(default)]
    pub version: Option<i32>,
    /// Must match the template's; omitted: the template's.
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub offset_minutes: u32,
    /// `start` (default for the first step) or `previous` (default for the others).
    #[serde(default)]
    pub from: Option<OffsetFrom>,
    #[serde(default)]
    pub condition: Condition,
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default = "two_hours")]
    pub retry_after_minutes: u32,
}

fn three() -> u32 {
    3
}

fn two_hours() -> u32 {
    120
}

/// What a step's offset counts from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OffsetFrom {
    Start,
    Previous,
}

impl OffsetFrom {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Previous => "previous",
        }
    }
}

/// When a step applies to a debtor.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    #[default]
    Always,
    /// Only if the previous step's notice ended without a delivery.
    PreviousNotDelivered,
    /// Only if the debt is still unpaid (re-checked at dispatch).
    Unpaid,
}

impl Condition {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::PreviousNotDelivered => "previous_not_delivered",
            Self::Unpaid => "unpaid",
        }
    }
}

/// A definition that cannot be used, with the field named.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

impl CampaignSpec {
    /// Parses a TOML or JSON document (JSON when it starts with `{`).
    ///
    /// # Errors
    /// Syntax errors, unknown or mistyped fields (named by path), or rules broken (see [`Self::check`]).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let json = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| SpecError(format!("invalid JSON: {e}")))?
        } else {
            let value: toml::Value = toml::from_str(text).map_err(|e| SpecError(format!("invalid TOML: {e}")))?;
            toml_to_json(value)
        };
        let spec: Self = serde_path_to_error::deserialize(json)
            .map_err(|e| SpecError(format!("field {}: {}", e.path(), e.inner())))?;
        spec.check()?;
        Ok(spec)
    }

    /// Rules that need no database.
    ///
    /// # Errors
    /// The first broken rule, naming the field.
    pub fn check(&self) -> Result<(), SpecError> {
        let bad = |m: &str| Err(SpecError(m.to_owned()));
        if self.name.trim().is_empty() {
            return bad("field name: must not be empty");
        }
        if self.steps.is_empty() {
            return bad("field steps: at least one step is needed");
        }
        if self.end_by.is_some_and(|e| e <= self.starts_at) {
            return bad("field end_by: must be after starts_at");
        }
        if self.recurrence.is_some_and(|r| !(1..=28).contains(&r.day)) {
            return bad("field recurrence.day: must be 1..=28");
        }
        if self.rate_per_minute == Some(0) {
            return bad("field rate_per_minute: must be at least 1");
        }
        if self.audience.min_debt.is_some_and(|d| d.is_sign_negative()) {
            return bad("field audience.min_debt: must not be negative");
        }
        for (i, s) in self.steps.iter().enumerate() {
            let first = i == 0;
            if first && (s.from == Some(OffsetFrom::Previous) || s.condition == Condition::PreviousNotDelivered) {
                return bad("field steps[0]: the first step has no previous step");
            }
            if !(1..=10).contains(&s.max_attempts) || s.retry_after_minutes == 0 {
                return Err(SpecError(format!(
                    "field steps[{i}]: max_attempts must be 1..=10 and retry_after_minutes at least 1"
                )));
            }
        }
        Ok(())
    }

    /// Where step `i` counts its offset from.
    #[must_use]
    pub fn from_of(&self, i: usize) -> OffsetFrom {
        self.steps[i].from.unwrap_or(if i == 0 {
            OffsetFrom::Start
        } else {
            OffsetFrom::Previous
        })
    }
}

fn toml_to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => J::from(f),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// The start of the round in effect at `now` (the latest round start not after `now`), or `None` before the
/// first one. A one-off campaign has one round at `starts_at`.
#[must_use]
pub fn current_round(
    starts_at: DateTime<Utc>,
    recurrence: Option<Recurrence>,
    end_by: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if now < starts_at {
        return None;
    }
    let Some(r) = recurrence else {
        return Some(starts_at);
    };
    let mut current = starts_at;
    let first = starts_at.date_naive();
    // Quarterly rounds fall in January, April, July and October.
    for k in 1..=1200 {
        let total = first.year() * 12 + i32::try_from(first.month0()).unwrap_or(0) + k;
        let (y, m0) = (total.div_euclid(12), total.rem_euclid(12));
        if r.every == Every::Quarter && m0 % 3 != 0 {
            continue;
        }
        let Some(day) = NaiveDate::from_ymd_opt(y, u32::try_from(m0).unwrap_or(0) + 1, r.day) else {
            continue;
        };
        let round = day.and_time(starts_at.time()).and_utc();
        if round > now || end_by.is_some_and(|e| round >= e) {
            break;
        }
        current = round;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
name = "Предсудебное, декабрь"
utility = "vodokanal"
starts_at = 2026-12-01T09:00:00+03:00
end_by = "2026-12-20T00:00:00+03:00"
rate_per_minute = 600
[audience]
min_debt = "1000.00"
min_months_overdue = 2
[[steps]]
template = "pretrial-sms"
[[steps]]
template = "pretrial-voice"
offset_minutes = 120
condition = "previous_not_delivered"
"#;

    #[test]
    fn a_toml_campaign_parses_with_defaults_for_the_ladder() {
        let spec = CampaignSpec::parse(TOML).unwrap();
        assert_eq!(spec.steps.len(), 2);
        assert_eq!(spec.from_of(0), OffsetFrom::Start);
        assert_eq!(spec.from_of(1), OffsetFrom::Previous);
        assert_eq!(spec.audience.min_debt, Some(Decimal::new(1000_00, 2)));
        assert!(spec.audience.exclude_agreements && spec.audience.exclude_paid);
        assert_eq!(
            spec.starts_at.with_timezone(&Utc).to_rfc3339(),
            "2026-12-01T06:00:00+00:00"
        );
    }

    #[test]
    fn a_wrong_field_is_named() {
        let err =
            CampaignSpec::parse(&TOML.replace("min_months_overdue = 2", "min_months_overdue = \"two\"")).unwrap_err();
        assert!(err.0.contains("audience.min_months_overdue"), "{err}");
        let err = CampaignSpec::parse(&TOML.replace("rate_per_minute", "rate_per_minit")).unwrap_err();
        assert!(err.0.contains("rate_per_minit"), "{err}");
        let err = CampaignSpec::parse(r#"{"name":"x","starts_at":"2026-12-01T09:00:00Z","steps":[{"template":"a","condition":"previous_not_delivered"}]}"#).unwrap_err();
        assert!(err.0.contains("steps[0]"), "{err}");
    }

    #[test]
    fn monthly_rounds_start_on_the_given_day_and_stop_at_end_by() {
        let start: DateTime<Utc> = "2026-11-20T06:00:00Z".parse().unwrap();
        let r = Some(Recurrence {
            every: Every::Month,
            day: 5,
        });
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(current_round(start, r, None, at("2026-11-19T00:00:00Z")), None);
        assert_eq!(current_round(start, r, None, at("2026-12-04T00:00:00Z")), Some(start));
        assert_eq!(
            current_round(start, r, None, at("2027-02-10T00:00:00Z")),
            Some(at("2027-02-05T06:00:00Z"))
        );
        let q = Some(Recurrence {
            every: Every::Quarter,
            day: 15,
        });
        assert_eq!(
            current_round(start, q, None, at("2027-03-01T00:00:00Z")),
            Some(at("2027-01-15T06:00:00Z"))
        );
        let end = Some(at("2027-01-01T00:00:00Z"));
        assert_eq!(
            current_round(start, r, end, at("2027-02-10T00:00:00Z")),
            Some(at("2026-12-05T06:00:00Z"))
        );
    }
}
