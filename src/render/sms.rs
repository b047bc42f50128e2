//! SMS sizing: GSM-7 or UCS-2, length in encoding units, segments and cost. Facts: GSM 03.38 (3GPP TS 23.038);
//! 160/153 characters per single/concatenated GSM-7 segment, 70/67 for UCS-2; GSM extension characters
//! (`^ { } \ [ ~ ] | €` and form feed) take two septets; characters outside the BMP take two UTF-16 units.

use rust_decimal::Decimal;
use serde::Serialize;

/// GSM 03.38 default alphabet.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (escape + character).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// The encoding an SMS will be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The size of a text as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub encoding: Encoding,
    /// Characters as people count them.
    pub chars: usize,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// Measures `text`. Any character outside GSM 03.38 (every Cyrillic letter) makes the whole text UCS-2.
#[must_use]
pub fn measure(text: &str) -> Measure {
    let chars = text.chars().count();
    let gsm_units: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM_BASIC.contains(c) {
                Some(1)
            } else if GSM_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, part) = match gsm_units {
        Some(units) => (Encoding::Gsm7, units, 160, 153),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).sum(), 70, 67),
    };
    let segments = if units <= single { 1 } else { units.div_ceil(part) };
    Measure {
        encoding,
        chars,
        units,
        segments,
    }
}

impl Measure {
    /// Price of sending it once: segments × price per segment.
    #[must_use]
    pub fn cost(&self, price_per_segment: Decimal) -> Decimal {
        price_per_segment * Decimal::from(self.segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> (Encoding, usize, usize) {
        let r = measure(text);
        (r.encoding, r.units, r.segments)
    }

    #[test]
    fn cyrillic_at_the_single_and_concatenated_limits() {
        assert_eq!(m(&"ж".repeat(70)), (Encoding::Ucs2, 70, 1));
        assert_eq!(m(&"ж".repeat(71)), (Encoding::Ucs2, 71, 2));
        assert_eq!(m(&"ж".repeat(134)), (Encoding::Ucs2, 134, 2));
        assert_eq!(m(&"ж".repeat(135)), (Encoding::Ucs2, 135, 3));
        assert_eq!(m(&"ж".repeat(268)), (Encoding::Ucs2, 268, 4));
    }

    #[test]
    fn latin_text_is_gsm7_at_160_and_153() {
        assert_eq!(m(&"a".repeat(160)), (Encoding::Gsm7, 160, 1));
        assert_eq!(m(&"a".repeat(161)), (Encoding::Gsm7, 161, 2));
        assert_eq!(m(&"a".repeat(306)), (Encoding::Gsm7, 306, 2));
        assert_eq!(m(&"a".repeat(307)), (Encoding::Gsm7, 307, 3));
    }

    #[test]
    fn one_cyrillic_letter_switches_a_latin_text_to_ucs2() {
        assert_eq!(m(&format!("{}ж", "a".repeat(69))), (Encoding::Ucs2, 70, 1));
        assert_eq!(m(&format!("{}ж", "a".repeat(70))), (Encoding::Ucs2, 71, 2));
    }

    #[test]
    fn gsm_extension_characters_count_twice() {
        assert_eq!(m("€"), (Encoding::Gsm7, 2, 1));
        assert_eq!(m(&format!("{}€", "a".repeat(158))), (Encoding::Gsm7, 160, 1));
        assert_eq!(m(&format!("{}€", "a".repeat(159))), (Encoding::Gsm7, 161, 2));
        assert_eq!(m("[]{}"), (Encoding::Gsm7, 8, 1));
    }

    #[test]
    fn characters_outside_the_bmp_take_two_units() {
        let r = measure("Оплатите 👍");
        assert_eq!((r.encoding, r.chars, r.units), (Encoding::Ucs2, 10, 11));
        assert_eq!(m(&format!("{}👍", "ж".repeat(68))), (Encoding::Ucs2, 70, 1));
        assert_eq!(m(&format!("{}👍", "ж".repeat(69))), (Encoding::Ucs2, 71, 2));
    }

    #[test]
    fn cost_is_segments_times_price() {
        assert_eq!(
            measure(&"ж".repeat(71)).cost(Decimal::new(250, 2)),
            Decimal::new(500, 2)
        );
    }
}
