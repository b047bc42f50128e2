//! What a template can see: the creditor, the debtor's masked account and name forms, the debt. Built from
//! stored data or given as JSON (`template preview --data`). Debtor-supplied strings are values, never code.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ServiceDebt;

/// Variables a template may use, by path. Lint rejects anything else.
pub const VARIABLES: &[&str] = &[
    "creditor",
    "creditor.name",
    "creditor.phone",
    "creditor.payment_url",
    "creditor.payment_details",
    "account_masked",
    "account_tail",
    "name",
    "name.full",
    "name.initials",
    "name.first_patronymic",
    "address",
    "debt",
    "debt.total",
    "debt.penalty",
    "debt.total_with_penalty",
    "debt.months_overdue",
    "debt.as_of",
    "debt.services",
    "debt.restrictable_services",
];

/// Variables that make a text personal (a notice, not advertising): at least one must be used.
pub const PERSONAL: &[&str] = &[
    "account_masked",
    "account_tail",
    "name.full",
    "name.initials",
    "name.first_patronymic",
    "debt.total",
    "debt.penalty",
    "debt.total_with_penalty",
    "debt.months_overdue",
    "debt.services",
    "debt.restrictable_services",
];

/// Services that are never restricted for debt (Decree 354 п.119: heating).
const NEVER_RESTRICTED: &[&str] = &["отопление"];

/// The render context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderContext {
    pub creditor: Creditor,
    /// `***1234`: the last four characters of the account.
    pub account_masked: String,
    /// The last four characters of the account, for voice scripts.
    #[serde(default)]
    pub account_tail: String,
    #[serde(default)]
    pub name: Option<NameForms>,
    #[serde(default)]
    pub address: Option<String>,
    pub debt: Debt,
}

/// The utility the debt is owed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creditor {
    pub name: String,
    pub phone: Option<String>,
    pub payment_url: Option<String>,
    pub payment_details: Option<String>,
}

/// A person's name in the forms notices use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameForms {
    /// `Смирнова Ирина Ивановна`
    pub full: String,
    /// `Смирнова И. И.`
    pub initials: String,
    /// `Ирина Ивановна`
    pub first_patronymic: String,
}

/// The debt, amounts as exact decimal strings (`"12345.67"`) and the date as ISO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Debt {
    pub total: String,
    pub penalty: String,
    pub total_with_penalty: String,
    pub months_overdue: u32,
    pub as_of: String,
    pub services: Vec<ServiceLine>,
    /// `services` without those never restricted (heating), for restriction warnings.
    #[serde(default)]
    pub restrictable_services: Vec<ServiceLine>,
}

/// One service's debt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceLine {
    pub service: String,
    pub debt: String,
}

impl NameForms {
    /// Splits `Фамилия Имя Отчество`; a name of another shape (an organisation) is used as it is.
    #[must_use]
    pub fn from_full(full: &str) -> Self {
        let full = full.split_whitespace().collect::<Vec<_>>().join(" ");
        let parts: Vec<&str> = full.split(' ').collect();
        if parts.len() == 3 && parts.iter().all(|p| p.chars().next().is_some_and(char::is_alphabetic)) {
            let initial = |s: &str| s.chars().next().map(|c| format!("{c}.")).unwrap_or_default();
            let initials = format!("{} {}\u{a0}{}", parts[0], initial(parts[1]), initial(parts[2]));
            let first_patronymic = format!("{} {}", parts[1], parts[2]);
            return Self {
                full,
                initials,
                first_patronymic,
            };
        }
        Self {
            initials: full.clone(),
            first_patronymic: full.clone(),
            full,
        }
    }
}

/// `***1234`
#[must_use]
pub fn mask_account(account: &str) -> String {
    format!("***{}", account_tail(account))
}

/// The last four characters of the account, for voice scripts.
#[must_use]
pub fn account_tail(account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// The name forms, when there is a name.
#[must_use]
pub fn name_forms(full_name: Option<&str>) -> Option<NameForms> {
    full_name.filter(|n| !n.trim().is_empty()).map(NameForms::from_full)
}

/// Months overdue as the template sees them (never negative).
#[must_use]
pub fn months(months_overdue: i32) -> u32 {
    u32::try_from(months_overdue).unwrap_or(0)
}

/// The services' debts, amounts as exact decimal strings.
#[must_use]
pub fn service_lines(services: &[ServiceDebt]) -> Vec<ServiceLine> {
    services
        .iter()
        .map(|s| ServiceLine {
            service: s.service.clone(),
            debt: s.debt.to_string(),
        })
        .collect()
}

/// The services that may be restricted for debt (not heating).
#[must_use]
pub fn restrictable(services: &[ServiceLine]) -> Vec<ServiceLine> {
    services
        .iter()
        .filter(|s| !NEVER_RESTRICTED.contains(&s.service.to_lowercase().as_str()))
        .cloned()
        .collect()
}

/// The facts a context is built from.
pub struct ContextInput<'a> {
    pub creditor: Creditor,
    pub account: &'a str,
    pub full_name: Option<&'a str>,
    pub address: Option<&'a str>,
    pub debt_total: Decimal,
    pub penalty: Decimal,
    pub months_overdue: i32,
    pub as_of: NaiveDate,
    pub services: &'a [ServiceDebt],
}

/// The sample debtor's services: heating (never restricted) and one that may be.
#[must_use]
pub fn sample_services() -> Vec<ServiceDebt> {
    vec![
        ServiceDebt {
            service: "отопление".into(),
            debt: Decimal::new(804_63, 2),
        },
        ServiceDebt {
            service: "водоотведение".into(),
            debt: Decimal::new(2_868_91, 2),
        },
    ]
}

impl RenderContext {
    /// Builds a context from stored facts.
    #[must_use]
    pub fn build(input: ContextInput<'_>) -> Self {
        let services = service_lines(input.services);
        let restrictable_services = restrictable(&services);
        Self {
            creditor: input.creditor,
            account_masked: mask_account(input.account),
            account_tail: account_tail(input.account),
            name: name_forms(input.full_name),
            address: input.address.map(ToOwned::to_owned),
            debt: Debt {
                total: input.debt_total.to_string(),
                penalty: input.penalty.to_string(),
                total_with_penalty: (input.debt_total + input.penalty).to_string(),
                months_overdue: months(input.months_overdue),
                as_of: input.as_of.to_string(),
                services,
                restrictable_services,
            },
        }
    }

    /// A fixed debtor for lint and examples.
    #[must_use]
    pub fn sample() -> Self {
        let services = sample_services();
        Self::build(ContextInput {
            creditor: Creditor {
                name: "ОКК Октябрьское".into(),
                phone: Some("8 (34678) 2-11-00".into()),
                payment_url: Some("https://pay.example/okk".into()),
                payment_details: Some("в кассах РКЦ и в приложении банка".into()),
            },
            account: "8641000002",
            full_name: Some("Лебедева Наталья Николаевна"),
            address: Some("пгт. Андра, ул. Советская, д. 33, кв. 44"),
            debt_total: Decimal::new(3_673_54, 2),
            penalty: Decimal::new(440_82, 2),
            months_overdue: 2,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            services: &services,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_forms_and_the_masked_account() {
        let n = NameForms::from_full("Смирнова  Ирина Ивановна");
        assert_eq!(
            (n.initials.as_str(), n.first_patronymic.as_str()),
            ("Смирнова И.\u{a0}И.", "Ирина Ивановна")
        );
        assert_eq!(NameForms::from_full("ООО \"Север\"").initials, "ООО \"Север\"");
        assert_eq!(mask_account("8641000002"), "***0002");
        assert_eq!(mask_account("12"), "***12");
    }
}
