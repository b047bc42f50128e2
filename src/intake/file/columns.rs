//! Header aliases of billing exports (docs/schema/file-columns.md) and the mapping of one table row to a
//! `RawDebtor`. Amounts and dates are normalised when they parse; otherwise the raw text is kept so that
//! validation rejects the record with the value in the reason.

use crate::domain::{RawDebtor, RawServiceDebt, date::parse_date, money::parse_amount};

/// A field of the record a column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Account,
    FullName,
    Phones,
    Address,
    Timezone,
    DebtTotal,
    Penalty,
    MonthsOverdue,
    LastPaymentDate,
    Services,
    Agreement,
}

/// Accepted header names per field, compared after [`normalise`].
const ALIASES: &[(Field, &[&str])] = &[
    (
        Field::Account,
        &["Лицевой счет", "ЛС", "Номер ЛС", "account", "account_number"],
    ),
    (Field::FullName, &["ФИО", "Абонент", "full_name", "name"]),
    (Field::Phones, &["Телефон", "Телефоны", "phone", "phones"]),
    (Field::Address, &["Адрес", "address"]),
    (Field::Timezone, &["Часовой пояс", "timezone"]),
    (
        Field::DebtTotal,
        &["Сумма долга, руб.", "Сумма долга", "Долг", "debt_total", "debt"],
    ),
    (Field::Penalty, &["Пени, руб.", "Пени", "penalty"]),
    (Field::MonthsOverdue, &["Месяцев просрочки", "months_overdue"]),
    (Field::LastPaymentDate, &["Дата последней оплаты", "last_payment_date"]),
    (Field::Services, &["Долг по услугам", "services"]),
    (
        Field::Agreement,
        &["Соглашение о погашении", "Соглашение", "agreement_active"],
    ),
];

/// Lower-cases, folds `ё` to `е` and drops everything but letters and digits.
fn normalise(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// Errors in a file's header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("required column '{0}' is missing; found: {1} (accepted names: docs/schema/file-columns.md)")]
    Missing(&'static str, String),
    #[error("columns '{0}' and '{1}' both map to the same field")]
    Ambiguous(String, String),
}

/// Which column feeds which field.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    columns: Vec<(usize, Field)>,
    /// Header names that match no field; ignored and reported once.
    pub ignored: Vec<String>,
}

impl ColumnMap {
    /// Maps a header row.
    ///
    /// # Errors
    /// A required column (account, debt) is missing, or two columns map to one field.
    pub fn from_header(header: &[String]) -> Result<Self, HeaderError> {
        let mut columns: Vec<(usize, Field)> = Vec::new();
        let mut ignored = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let key = normalise(name);
            let field = ALIASES
                .iter()
                .find(|(_, names)| names.iter().any(|a| normalise(a) == key))
                .map(|(f, _)| *f);
            match field {
                Some(f) => {
                    if let Some((j, _)) = columns.iter().find(|(_, g)| *g == f) {
                        return Err(HeaderError::Ambiguous(header[*j].clone(), name.clone()));
                    }
                    columns.push((i, f));
                }
                None if key.is_empty() => {}
                None => ignored.push(name.trim().to_owned()),
            }
        }
        for (field, name) in [
            (Field::Account, "Лицевой счет / account"),
            (Field::DebtTotal, "Сумма долга / debt_total"),
        ] {
            if !columns.iter().any(|(_, f)| *f == field) {
                return Err(HeaderError::Missing(name, header.join(" | ")));
            }
        }
        Ok(Self { columns, ignored })
    }

    /// Builds a record from one row's cells (already text). `source_row` is the file row, for reports.
    #[must_use]
    pub fn record<'a>(&self, cells: impl Fn(usize) -> Option<&'a str>, source_row: u32) -> RawDebtor {
        let mut r = RawDebtor {
            source_row: Some(source_row),
            ..RawDebtor::default()
        };
        for &(i, field) in &self.columns {
            let cell = cells(i).map_or("", str::trim);
            if cell.is_empty() {
                continue;
            }
            let text = Some(cell.to_owned());
            match field {
                Field::Account => r.account = text,
                Field::FullName => r.full_name = text,
                Field::Phones => r.phones = vec![cell.to_owned()],
                Field::Address => r.address = text,
                Field::Timezone => r.timezone = text,
                Field::DebtTotal => r.debt_total = Some(canonical_amount(cell)),
                Field::Penalty => r.penalty = Some(canonical_amount(cell)),
                Field::MonthsOverdue => r.months_overdue = Some(serde_json::Value::String(cell.to_owned())),
                Field::LastPaymentDate => r.last_payment_date = Some(canonical_date(cell)),
                Field::Services => r.services = parse_services(cell),
                Field::Agreement => r.agreement_active = Some(serde_json::Value::String(cell.to_owned())),
            }
        }
        r
    }
}

fn canonical_amount(cell: &str) -> String {
    parse_amount(cell).map_or_else(|_| cell.to_owned(), |d| d.to_string())
}

fn canonical_date(cell: &str) -> String {
    parse_date(cell).map_or_else(|_| cell.to_owned(), |d| d.to_string())
}

/// `водоотведение: 2 868,91; отопление: 804,63` → two services.
fn parse_services(cell: &str) -> Vec<RawServiceDebt> {
    cell.split([';', '\n'])
        .filter(|part| !part.trim().is_empty())
        .map(|part| match part.rsplit_once(':') {
            Some((name, amount)) => RawServiceDebt {
                service: name.trim().to_owned(),
                debt: canonical_amount(amount.trim()),
            },
            None => RawServiceDebt {
                service: part.trim().to_owned(),
                debt: String::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_1c_export_header_maps_every_column() {
        let h = header(&[
            "Лицевой счет",
            "ФИО",
            "Телефон",
            "Адрес",
            "Сумма долга, руб.",
            "Пени, руб.",
            "Месяцев просрочки",
            "Дата последней оплаты",
            "Долг по услугам",
            "Соглашение о погашении",
        ]);
        let map = ColumnMap::from_header(&h).unwrap();
        assert!(map.ignored.is_empty());
        let cells = [
            "8619000000",
            "Смирнова Ирина Ивановна",
            "+7 981 590 83 01",
            "адрес",
            "2 726,36",
            "245,37",
            "2",
            "19.01.2026",
            "водоотведение: 2 868,91; отопление: 804,63",
            "нет",
        ];
        let r = map.record(|i| cells.get(i).copied(), 2);
        assert_eq!(r.debt_total.as_deref(), Some("2726.36"));
        assert_eq!(r.last_payment_date.as_deref(), Some("2026-01-19"));
        assert_eq!(r.services.len(), 2);
        assert_eq!(r.services[0].debt, "2868.91");
        assert_eq!(r.source_row, Some(2));
    }

    #[test]
    fn english_headers_bom_and_yo_spelling_are_accepted() {
        let map = ColumnMap::from_header(&header(&["\u{feff}account", "debt_total", "Extra"])).unwrap();
        assert_eq!(map.ignored, ["Extra"]);
        assert!(ColumnMap::from_header(&header(&["Лицевой счёт", "Долг"])).is_ok());
    }

    #[test]
    fn a_header_without_the_account_column_is_refused() {
        assert!(matches!(
            ColumnMap::from_header(&header(&["ФИО", "Долг"])),
            Err(HeaderError::Missing(..))
        ));
        assert!(matches!(
            ColumnMap::from_header(&header(&["ЛС", "account", "Долг"])),
            Err(HeaderError::Ambiguous(..))
        ));
    }

    #[test]
    fn unparseable_values_are_kept_raw_for_validation_to_reject() {
        let map = ColumnMap::from_header(&header(&["ЛС", "Долг"])).unwrap();
        assert_eq!(
            map.record(|i| ["1", "abc"].get(i).copied(), 2).debt_total.as_deref(),
            Some("abc")
        );
    }
}
