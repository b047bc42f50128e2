//! Masking of personal data for logs (152-ФЗ): phones, names and amounts never appear in clear.

use std::fmt;

/// Masks all but the last `keep` characters of `value` with `*`, keeping a leading `+`.
#[must_use]
pub fn mask_tail(value: &str, keep: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = keep.min(chars.len());
    let start = usize::from(chars.first() == Some(&'+'));
    let cut = chars.len() - keep;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i >= start && i < cut { '*' } else { *c })
        .collect()
}

/// A wrapper whose `Debug` and `Display` print a fixed mask instead of the value.
///
/// Use it for names, addresses and amounts in tracing fields.
pub struct Redacted<T>(pub T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_is_masked_except_country_sign_and_last_four_digits() {
        assert_eq!(mask_tail("+79123456789", 4), "+*******6789");
    }

    #[test]
    fn short_values_are_not_over_masked() {
        assert_eq!(mask_tail("12", 4), "12");
    }

    #[test]
    fn redacted_never_prints_its_content() {
        let shown = format!("{} {:?}", Redacted("Иванов"), Redacted("Иванов"));
        assert!(!shown.contains("Иванов"));
    }
}
