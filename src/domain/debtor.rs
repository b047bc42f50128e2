//! One debtor record of a batch: the wire shape (`RawDebtor`, strings as the producer sent them) and the
//! validated shape (`ValidDebtor`), with the rules that turn one into the other.
//!
//! A record is rejected when a field it cannot do without is wrong; each problem is a [`FieldError`] naming the
//! field, so the operator sees exactly what to fix. Problems that leave the record usable (one bad phone among
//! good ones) are kept as warnings.

use std::{fmt, str::FromStr};

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{date::parse_date, money::parse_amount, phone::PhoneNumber};

/// Longest accepted account number (лицевой счёт).
const MAX_ACCOUNT_LEN: usize = 32;
/// Longest accepted name or address; longer text is a producer bug, not data.
const MAX_TEXT_LEN: usize = 500;
/// Upper bound for `months_overdue` (100 years).
const MAX_MONTHS_OVERDUE: i64 = 1200;

/// A debtor record as it travels in `debtor-batch.v1`. Amounts are decimal strings, dates strings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDebtor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debt_total: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<String>,
    /// An integer; a numeric string (from files) is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months_overdue: Option<serde_json::Value>,
    #[serde(default)]
    pub services: Vec<RawServiceDebt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_date: Option<String>,
    /// A boolean; `да`/`нет`, `yes`/`no`, `1`/`0` strings (from files) are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_active: Option<serde_json::Value>,
    /// Row of the uploaded file this record came from, for error reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_row: Option<u32>,
}

/// Debt for one utility service, as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceDebt {
    pub service: String,
    pub debt: String,
}

/// Debt for one utility service, validated (stored as `{"service", "debt"}` with the amount as a string).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDebt {
    pub service: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub debt: Decimal,
}

impl fmt::Debug for ServiceDebt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The amount is personal data: never in Debug output.
        f.debug_struct("ServiceDebt")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// A validated debtor record, ready to store.
#[derive(Clone)]
pub struct ValidDebtor {
    pub account: String,
    pub full_name: Option<String>,
    pub address: Option<String>,
    pub timezone: Tz,
    pub phones: Vec<PhoneNumber>,
    pub debt_total: Decimal,
    pub penalty: Decimal,
    pub months_overdue: i32,
    pub services: Vec<ServiceDebt>,
    pub last_payment_date: Option<NaiveDate>,
    pub agreement_active: bool,
}

impl fmt::Debug for ValidDebtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data stays out of Debug: only the account tail and counts.
        f.debug_struct("ValidDebtor")
            .field("account", &super::mask::mask_tail(&self.account, 4))
            .field("phones", &self.phones)
            .field("services", &self.services.len())
            .finish_non_exhaustive()
    }
}

/// One problem with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What validation needs to know beyond the record itself.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext {
    /// The utility's default zone, used when the record has none.
    pub default_timezone: Tz,
    /// The batch's as-of date; payments cannot be later than it.
    pub as_of: NaiveDate,
}

/// Validates and normalises one record.
///
/// # Errors
/// Returns every problem that makes the record unusable. On success, returns the record and the warnings
/// (problems that were dropped, such as one bad number among good ones).
pub fn validate_debtor(
    raw: &RawDebtor,
    ctx: &RecordContext,
) -> Result<(ValidDebtor, Vec<FieldError>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let account = check_account(raw.account.as_deref()).map_err(|e| errors.push(e)).ok();
    let full_name = optional_text("full_name", raw.full_name.as_deref(), &mut errors);
    let address = optional_text("address", raw.address.as_deref(), &mut errors);
    let timezone = check_timezone(raw.timezone.as_deref(), ctx.default_timezone)
        .map_err(|e| errors.push(e))
        .ok();
    let phones = check_phones(&raw.phones, &mut errors, &mut warnings);
    let debt_total = match raw.debt_total.as_deref() {
        None => Err(FieldError::new("debt_total", "is missing")),
        Some(s) => parse_amount(s).map_err(|e| FieldError::new("debt_total", e.to_string())),
    }
    .map_err(|e| errors.push(e))
    .ok();
    let penalty = match raw.penalty.as_deref().map(str::trim) {
        None | Some("") => Ok(Decimal::new(0, 2)),
        Some(s) => parse_amount(s).map_err(|e| FieldError::new("penalty", e.to_string())),
    }
    .map_err(|e| errors.push(e))
    .ok();
    let months_overdue = check_months(raw.months_overdue.as_ref())
        .map_err(|e| errors.push(e))
        .ok();
    let agreement_active = check_agreement(raw.agreement_active.as_ref())
        .map_err(|e| errors.push(e))
        .ok();
    let services = check_services(&raw.services, &mut errors);
    let last_payment_date = check_payment_date(raw.last_payment_date.as_deref(), ctx.as_of)
        .map_err(|e| errors.push(e))
        .ok();
    match (
        account,
        timezone,
        debt_total,
        penalty,
        months_overdue,
        last_payment_date,
        agreement_active,
    ) {
        (Some(account), Some(timezone), Some(debt_total), Some(penalty), Some(months), Some(paid), Some(agreement))
            if errors.is_empty() =>
        {
            let record = ValidDebtor {
                account,
                full_name,
                address,
                timezone,
                phones,
                debt_total,
                penalty,
                months_overdue: months,
                services,
                last_payment_date: paid,
                agreement_active: agreement,
            };
            Ok((record, warnings))
        }
        _ => Err(errors),
    }
}

fn check_account(account: Option<&str>) -> Result<String, FieldError> {
    let account = account.map(str::trim).unwrap_or_default();
    if account.is_empty() {
        return Err(FieldError::new("account", "is missing"));
    }
    if account.chars().count() > MAX_ACCOUNT_LEN {
        return Err(FieldError::new("account", "is longer than 32 characters"));
    }
    if !account.chars().all(|c| c.is_alphanumeric() || "-/._".contains(c)) {
        return Err(FieldError::new(
            "account",
            format!("'{account}' has characters other than letters, digits, - / . _"),
        ));
    }
    Ok(account.to_owned())
}

fn optional_text(field: &'static str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > MAX_TEXT_LEN {
        errors.push(FieldError::new(field, "is longer than 500 characters"));
        return None;
    }
    Some(value.to_owned())
}

fn check_timezone(zone: Option<&str>, default: Tz) -> Result<Tz, FieldError> {
    match zone.map(str::trim) {
        None | Some("") => Ok(default),
        Some(name) => {
            Tz::from_str(name).map_err(|_| FieldError::new("timezone", format!("'{name}' is not an IANA time zone")))
        }
    }
}

fn check_phones(cells: &[String], errors: &mut Vec<FieldError>, warnings: &mut Vec<FieldError>) -> Vec<PhoneNumber> {
    let mut phones: Vec<PhoneNumber> = Vec::new();
    let mut bad = Vec::new();
    for cell in cells {
        let (ok, invalid) = PhoneNumber::parse_many(cell);
        phones.extend(ok.into_iter().filter(|p| !phones.contains(p)).collect::<Vec<_>>());
        bad.extend(invalid);
    }
    match (phones.is_empty(), bad.is_empty()) {
        (true, true) => errors.push(FieldError::new("phones", "no phone number")),
        (true, false) => errors.extend(bad.into_iter().map(|r| FieldError::new("phones", r))),
        (false, _) => warnings.extend(bad.into_iter().map(|r| FieldError::new("phones", r))),
    }
    phones
}

fn check_services(raw: &[RawServiceDebt], errors: &mut Vec<FieldError>) -> Vec<ServiceDebt> {
    let mut services = Vec::with_capacity(raw.len());
    for s in raw {
        let name = s.service.trim();
        if name.is_empty() {
            errors.push(FieldError::new("services", "a service has no name"));
            continue;
        }
        match parse_amount(&s.debt) {
            Ok(debt) => services.push(ServiceDebt {
                service: name.to_owned(),
                debt,
            }),
            Err(e) => errors.push(FieldError::new("services", format!("{name}: {e}"))),
        }
    }
    services
}

fn check_months(value: Option<&serde_json::Value>) -> Result<i32, FieldError> {
    let months = match value {
        None | Some(serde_json::Value::Null) => Some(0),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Some(0),
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match months {
        Some(m @ 0..=MAX_MONTHS_OVERDUE) => Ok(i32::try_from(m).unwrap_or_default()),
        Some(m) => Err(FieldError::new(
            "months_overdue",
            format!("{m} is out of range 0..=1200"),
        )),
        None => Err(FieldError::new(
            "months_overdue",
            format!(
                "{} is not a whole number",
                value.map(ToString::to_string).unwrap_or_default()
            ),
        )),
    }
}

fn check_agreement(value: Option<&serde_json::Value>) -> Result<bool, FieldError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(serde_json::Value::String(s)) => match s.trim().to_lowercase().as_str() {
            "" | "нет" | "no" | "false" | "0" | "н" => Ok(false),
            "да" | "yes" | "true" | "1" | "д" | "есть" => Ok(true),
            other => Err(FieldError::new("agreement_active", format!("'{other}' is not да/нет"))),
        },
        Some(other) => Err(FieldError::new("agreement_active", format!("{other} is not a boolean"))),
    }
}

fn check_payment_date(value: Option<&str>, as_of: NaiveDate) -> Result<Option<NaiveDate>, FieldError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let date = parse_date(value).map_err(|r| FieldError::new("last_payment_date", r))?;
    if date > as_of {
        return Err(FieldError::new(
            "last_payment_date",
            format!("{date} is after the as-of date {as_of}"),
        ));
    }
    Ok(Some(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RecordContext {
        RecordContext {
            default_timezone: chrono_tz::Asia::Yekaterinburg,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        }
    }

    fn raw() -> RawDebtor {
        RawDebtor {
            account: Some("8619000000".into()),
            full_name: Some("Смирнова Ирина Ивановна".into()),
            phones: vec!["+7 981 590 83 01".into()],
            debt_total: Some("2 726,36".into()),
            penalty: Some("245,37".into()),
            months_overdue: Some(2.into()),
            services: vec![RawServiceDebt {
                service: "ХВС".into(),
                debt: "2726.36".into(),
            }],
            last_payment_date: Some("19.01.2026".into()),
            ..RawDebtor::default()
        }
    }

    #[test]
    fn a_good_record_is_normalised() {
        let (d, warnings) = validate_debtor(&raw(), &ctx()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(d.debt_total.to_string(), "2726.36");
        assert_eq!(d.phones[0].e164(), "+79815908301");
        assert_eq!(d.timezone, chrono_tz::Asia::Yekaterinburg);
        assert_eq!(d.last_payment_date, NaiveDate::from_ymd_opt(2026, 1, 19));
    }

    #[test]
    fn every_bad_field_of_a_record_is_reported() {
        let mut r = raw();
        r.debt_total = Some("abc".into());
        r.timezone = Some("Mars/Olympus".into());
        r.last_payment_date = Some("31.02.2026".into());
        let errors = validate_debtor(&r, &ctx()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["timezone", "debt_total", "last_payment_date"]);
    }

    #[test]
    fn one_bad_phone_among_good_ones_is_a_warning_not_a_rejection() {
        let mut r = raw();
        r.phones = vec!["12345, 8 (912) 345-67-89".into()];
        let (d, warnings) = validate_debtor(&r, &ctx()).unwrap();
        assert_eq!(d.phones.len(), 1);
        assert_eq!(warnings[0].field, "phones");
    }

    #[test]
    fn a_record_without_any_usable_phone_is_rejected() {
        let mut r = raw();
        r.phones = vec![];
        assert_eq!(validate_debtor(&r, &ctx()).unwrap_err()[0].reason, "no phone number");
    }

    #[test]
    fn file_style_strings_for_months_and_agreement_are_accepted() {
        let mut r = raw();
        r.months_overdue = Some("12".into());
        r.agreement_active = Some("да".into());
        let (d, _) = validate_debtor(&r, &ctx()).unwrap();
        assert_eq!((d.months_overdue, d.agreement_active), (12, true));
        r.agreement_active = Some("может быть".into());
        assert_eq!(validate_debtor(&r, &ctx()).unwrap_err()[0].field, "agreement_active");
    }

    #[test]
    fn a_payment_after_the_as_of_date_is_rejected() {
        let mut r = raw();
        r.last_payment_date = Some("2026-11-02".into());
        assert_eq!(validate_debtor(&r, &ctx()).unwrap_err()[0].field, "last_payment_date");
    }
}
