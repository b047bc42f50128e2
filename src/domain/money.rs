//! Money amounts in roubles: parsed from the shapes billing exports use, held as exact decimals.
//!
//! Accepted: `2726.36`, `2726,36`, `2 726,36` (ASCII space, NBSP U+00A0, narrow NBSP U+202F or thin space U+2009
//! as thousands separators), an optional trailing `₽`, `р.`, `руб.` or `руб`. Never floats.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Largest amount that fits `numeric(14,2)`.
const MAX_WHOLE_DIGITS: usize = 12;

/// Why an amount string was refused; the text is shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("'{0}' is not a decimal amount")]
    NotANumber(String),
    #[error("'{0}' has more than 2 decimal places")]
    TooPrecise(String),
    #[error("'{0}' is negative")]
    Negative(String),
    #[error("'{0}' is too large (at most 12 whole digits)")]
    TooLarge(String),
}

/// Parses a non-negative rouble amount with at most two decimal places.
///
/// # Errors
/// Returns [`AmountError`] naming the offending input.
pub fn parse_amount(input: &str) -> Result<Decimal, AmountError> {
    let trimmed = strip_currency(input.trim());
    if trimmed.is_empty() {
        return Err(AmountError::Empty);
    }
    let mut cleaned = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' => {}
            ',' => cleaned.push('.'),
            '0'..='9' | '.' | '-' => cleaned.push(c),
            _ => return Err(AmountError::NotANumber(input.to_owned())),
        }
    }
    let valid_shape = cleaned.matches('.').count() <= 1
        && !cleaned.starts_with('.')
        && !cleaned.ends_with('.')
        && cleaned.rfind('-').is_none_or(|i| i == 0)
        && cleaned.chars().any(|c| c.is_ascii_digit());
    if !valid_shape {
        return Err(AmountError::NotANumber(input.to_owned()));
    }
    if cleaned.starts_with('-') {
        return Err(AmountError::Negative(input.to_owned()));
    }
    let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if frac.len() > 2 {
        return Err(AmountError::TooPrecise(input.to_owned()));
    }
    if whole.trim_start_matches('0').len() > MAX_WHOLE_DIGITS {
        return Err(AmountError::TooLarge(input.to_owned()));
    }
    let mut value = Decimal::from_str(&cleaned).map_err(|_| AmountError::NotANumber(input.to_owned()))?;
    value.rescale(2);
    Ok(value)
}

fn strip_currency(s: &str) -> &str {
    for suffix in ["₽", "руб.", "руб", "р."] {
        if let Some(rest) = s.strip_suffix(suffix) {
            return rest.trim_end();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> String {
        parse_amount(s).unwrap().to_string()
    }

    #[test]
    fn comma_dot_and_thousands_separators_are_accepted() {
        assert_eq!(ok("2726.36"), "2726.36");
        assert_eq!(ok("2726,36"), "2726.36");
        assert_eq!(ok("2 726,36"), "2726.36");
        assert_eq!(ok("2\u{a0}726,36"), "2726.36");
        assert_eq!(ok("1\u{202f}234\u{202f}567,8"), "1234567.80");
        assert_eq!(ok("0"), "0.00");
        assert_eq!(ok("12 345,67 ₽"), "12345.67");
        assert_eq!(ok("245,37 руб."), "245.37");
    }

    #[test]
    fn malformed_amounts_are_refused_with_a_reason() {
        assert_eq!(parse_amount(""), Err(AmountError::Empty));
        assert!(matches!(parse_amount("abc"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_amount("1.2.3"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_amount("1,234.5"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_amount("12,345"), Err(AmountError::TooPrecise(_))));
        assert!(matches!(parse_amount("-5"), Err(AmountError::Negative(_))));
        assert!(matches!(parse_amount("5-"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_amount("1e5"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_amount("1234567890123"), Err(AmountError::TooLarge(_))));
    }

    proptest! {
        #[test]
        fn any_kopeck_amount_round_trips_through_russian_formatting(kopecks in 0i64..100_000_000_000_000) {
            let whole = kopecks / 100;
            let frac = kopecks % 100;
            let digits = whole.to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 { grouped.push('\u{a0}'); }
                grouped.push(c);
            }
            let text = format!("{grouped},{frac:02}");
            let parsed = parse_amount(&text).unwrap();
            prop_assert_eq!(parsed, Decimal::new(kopecks, 2));
        }

        #[test]
        fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,40}") {
            let _ = parse_amount(&s);
        }
    }
}
