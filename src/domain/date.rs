//! Calendar dates as billing exports write them: `dd.mm.yyyy` (1C), ISO `yyyy-mm-dd`, `dd/mm/yyyy`.

use chrono::NaiveDate;

/// Parses a date in one of the accepted shapes.
///
/// # Errors
/// Returns a reason naming the input when no shape matches or the date does not exist (e.g. `31.02.2026`).
pub fn parse_date(input: &str) -> Result<NaiveDate, String> {
    let s = input.trim();
    let parsed = if s.len() == 10 && s.as_bytes()[4] == b'-' {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
    } else if s.contains('.') {
        NaiveDate::parse_from_str(s, "%d.%m.%Y")
    } else {
        NaiveDate::parse_from_str(s, "%d/%m/%Y")
    };
    match parsed {
        Ok(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => Ok(d),
        Ok(_) => Err(format!("'{s}' is out of range")),
        Err(_) => Err(format!("'{s}' is not a date (expected dd.mm.yyyy or yyyy-mm-dd)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn russian_and_iso_dates_are_accepted() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 19).unwrap();
        assert_eq!(parse_date("19.01.2026"), Ok(d));
        assert_eq!(parse_date("2026-01-19"), Ok(d));
        assert_eq!(parse_date(" 19/01/2026 "), Ok(d));
        assert_eq!(parse_date("9.1.2026"), Ok(d.with_day0(8).unwrap()));
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!(parse_date("31.02.2026").is_err());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("19.01.26").is_err());
        assert!(parse_date("").is_err());
    }

    use chrono::Datelike;
    proptest! {
        #[test]
        fn every_real_date_parses_in_both_shapes(days in 0i64..80_000) {
            let d = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assert_eq!(parse_date(&d.format("%d.%m.%Y").to_string()), Ok(d));
            prop_assert_eq!(parse_date(&d.format("%Y-%m-%d").to_string()), Ok(d));
        }
    }
}
