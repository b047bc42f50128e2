//! Phone numbers: parsed from every Russian shape seen in billing exports, held as E.164, masked when shown.
//!
//! Parsing and validation are libphonenumber's (the `phonenumber` crate, default region RU), so
//! `8 (912) 345-67-89`, `+7 912 345 67 89`, `79123456789` and `8-912-345-6789` all become `+79123456789`.
//! One cell may hold several numbers separated by `,`, `;` or `/`.

use std::{
    fmt,
    sync::atomic::{AtomicU8, Ordering},
};

use phonenumber::{Mode, Type, country, metadata::DATABASE};

/// Whether a number can receive SMS (mobile) or only calls (fixed line and everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneKind {
    Mobile,
    Fixed,
}

impl PhoneKind {
    /// The value stored in `phone.kind`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::Fixed => "fixed",
        }
    }
}

/// A valid phone number in E.164 form. `Debug` and `Display` mask all but the last four digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    kind: PhoneKind,
}

impl PhoneNumber {
    /// Parses one number written in any common Russian or international shape.
    ///
    /// # Errors
    /// Returns a reason naming the input when it is not a valid number.
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        if let Some(national) = fast_national(trimmed) {
            return match classify_national(&national) {
                Some(kind) => Ok(Self {
                    e164: format!("+7{}", std::str::from_utf8(&national).unwrap_or_default()),
                    kind,
                }),
                None => Err(format!("'{trimmed}' is not a valid phone number")),
            };
        }
        Self::parse_with_libphonenumber(trimmed)
    }

    /// The authoritative path: libphonenumber's parser and metadata.
    fn parse_with_libphonenumber(trimmed: &str) -> Result<Self, String> {
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        let allowed = |c: char| c.is_ascii_digit() || " +-().\u{a0}".contains(c);
        if !(7..=15).contains(&digits) || !trimmed.chars().all(allowed) {
            return Err(format!("'{trimmed}' is not a phone number"));
        }
        let parsed = phonenumber::parse(Some(country::Id::RU), trimmed)
            .map_err(|_| format!("'{trimmed}' is not a phone number"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(format!("'{trimmed}' is not a valid phone number"));
        }
        let kind = match parsed.number_type(&DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => PhoneKind::Mobile,
            _ => PhoneKind::Fixed,
        };
        let e164 = parsed.format().mode(Mode::E164).to_string();
        Ok(Self { e164, kind })
    }

    /// Splits a cell holding one or more numbers and parses each.
    ///
    /// Returns the valid numbers (deduplicated, in order) and a reason for each invalid one.
    #[must_use]
    pub fn parse_many(cell: &str) -> (Vec<Self>, Vec<String>) {
        let mut valid: Vec<Self> = Vec::new();
        let mut invalid = Vec::new();
        for part in cell.split([',', ';', '/', '\n']) {
            if part.trim().is_empty() {
                continue;
            }
            match Self::parse(part) {
                Ok(p) if !valid.contains(&p) => valid.push(p),
                Ok(_) => {}
                Err(e) => invalid.push(e),
            }
        }
        (valid, invalid)
    }

    /// The number in E.164 form, e.g. `+79123456789`. Personal data: never log it.
    #[must_use]
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// Mobile or fixed line.
    #[must_use]
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The masked form used in logs and default views: `+7******6789`.
    #[must_use]
    pub fn masked(&self) -> String {
        super::mask::mask_tail(&self.e164, 4)
    }
}

/// Validity and type of a +7 number with a 10-digit national number depend only on its first five digits in
/// libphonenumber's metadata (RU patterns use three, KZ fixed-line patterns up to five, then `\d{n}` to length
/// 10). So each five-digit prefix is classified once by libphonenumber and remembered:
/// 0 = not yet known, 1 = invalid, 2 = mobile, 3 = fixed. The property test below checks the equivalence.
static PREFIX_CLASS: [AtomicU8; 100_000] = [const { AtomicU8::new(0) }; 100_000];

/// The 10-digit national number of the unambiguous +7 shapes: `+7` and 10 digits, `8` (not `810`) or `7` and
/// 10 digits, or
/// 10 digits starting with 3, 4 or 9. Other shapes go to libphonenumber.
fn fast_national(input: &str) -> Option<[u8; 10]> {
    let (plus, rest) = match input.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let mut digits = [0u8; 11];
    let mut n = 0;
    for b in rest.bytes() {
        match b {
            b'0'..=b'9' if n < 11 => {
                digits[n] = b;
                n += 1;
            }
            b' ' | b'-' | b'(' | b')' | b'.' => {}
            _ => return None,
        }
    }
    let national = match (plus, n, digits[0]) {
        // `810…` is Russia's international call prefix, not a national number: libphonenumber decides.
        (false, 11, b'8') if digits[1..3] == *b"10" => return None,
        (true, 11, b'7') | (false, 11, b'7' | b'8') => &digits[1..11],
        (false, 10, b'3' | b'4' | b'9') => &digits[..10],
        _ => return None,
    };
    national.try_into().ok()
}

fn classify_national(national: &[u8; 10]) -> Option<PhoneKind> {
    let prefix = national[..5]
        .iter()
        .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
    let class = match PREFIX_CLASS[prefix].load(Ordering::Relaxed) {
        0 => {
            let e164 = format!("+7{}", std::str::from_utf8(national).unwrap_or_default());
            let class = match PhoneNumber::parse_with_libphonenumber(&e164) {
                Ok(p) if p.kind == PhoneKind::Mobile => 2,
                Ok(_) => 3,
                Err(_) => 1,
            };
            PREFIX_CLASS[prefix].store(class, Ordering::Relaxed);
            class
        }
        known => known,
    };
    match class {
        2 => Some(PhoneKind::Mobile),
        3 => Some(PhoneKind::Fixed),
        _ => None,
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({}, {:?})", self.masked(), self.kind)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e164(s: &str) -> String {
        PhoneNumber::parse(s).unwrap().e164().to_owned()
    }

    #[test]
    fn every_russian_shape_from_the_samples_normalises_to_e164() {
        assert_eq!(e164("8 (912) 345-67-89"), "+79123456789");
        assert_eq!(e164("+7 912 345 67 89"), "+79123456789");
        assert_eq!(e164("79123456789"), "+79123456789");
        assert_eq!(e164("89123456789"), "+79123456789");
        assert_eq!(e164("8-971-147-1049"), "+79711471049");
        assert_eq!(e164("+7 981 590 83 01"), "+79815908301");
        assert_eq!(e164("9123456789"), "+79123456789");
    }

    #[test]
    fn mobile_and_landline_numbers_are_told_apart() {
        assert_eq!(PhoneNumber::parse("+79123456789").unwrap().kind(), PhoneKind::Mobile);
        assert_eq!(
            PhoneNumber::parse("8 (3467) 35-12-34").unwrap().kind(),
            PhoneKind::Fixed
        );
        assert_eq!(
            PhoneNumber::parse("8 (495) 123-45-67").unwrap().kind(),
            PhoneKind::Fixed
        );
    }

    #[test]
    fn several_numbers_in_one_cell_are_split_and_deduplicated() {
        let (ok, bad) = PhoneNumber::parse_many("+7 927 534 64 62, 8-945-345-7769; 79275346462");
        let got: Vec<_> = ok.iter().map(PhoneNumber::e164).collect();
        assert_eq!(got, ["+79275346462", "+79453457769"]);
        assert!(bad.is_empty());
    }

    #[test]
    fn junk_is_refused_with_the_value_in_the_reason() {
        let (ok, bad) = PhoneNumber::parse_many("12345, abc, +7 912 345 67 89");
        assert_eq!(ok.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].contains("12345"));
        assert!(PhoneNumber::parse("+7 000 000 00 00").is_err());
    }

    #[test]
    fn debug_and_display_never_show_the_whole_number() {
        let p = PhoneNumber::parse("+79123456789").unwrap();
        assert_eq!(p.to_string(), "+*******6789");
        assert!(!format!("{p:?}").contains("912345"));
    }

    proptest! {
        #[test]
        fn any_mobile_number_parses_the_same_in_all_russian_shapes(n in 9_000_000_000_u64..=9_999_999_999) {
            let s = n.to_string();
            let (a, b, c, d) = (&s[0..3], &s[3..6], &s[6..8], &s[8..10]);
            let expected = PhoneNumber::parse(&format!("+7{s}"));
            prop_assume!(expected.is_ok());
            let expected = expected.unwrap();
            for shape in [format!("8 ({a}) {b}-{c}-{d}"), format!("+7 {a} {b} {c} {d}"), format!("7{s}"), format!("8-{a}-{b}-{c}{d}")] {
                let got = PhoneNumber::parse(&shape);
                prop_assert_eq!(got.as_ref(), Ok(&expected));
            }
        }

        #[test]
        fn the_prefix_cache_agrees_with_libphonenumber(
            national in "[0-9]{10}",
            shape in 0usize..5,
        ) {
            let input = match shape {
                0 => format!("+7{national}"),
                1 => format!("8{national}"),
                2 => format!("7{national}"),
                3 => format!("8 ({}) {}-{}", &national[..3], &national[3..6], &national[6..]),
                _ => national.clone(),
            };
            let fast = PhoneNumber::parse(&input).map(|p| (p.e164, p.kind)).ok();
            let slow = PhoneNumber::parse_with_libphonenumber(&input).map(|p| (p.e164, p.kind)).ok();
            prop_assert_eq!(fast, slow, "input {}", input);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,30}") {
            let _ = PhoneNumber::parse_many(&s);
        }
    }
}
