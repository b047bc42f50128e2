//! The Russian production calendar: which dates are days off. Federal data comes from `holidays-ru` (official
//! decrees for 1993–2027, Labor-Code prediction beyond); overrides (regional non-working days, a decree for a
//! later year) are layered on top and always win.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Weekday};
use holidays_ru::{Federal, Resolved};

/// Where a day's status came from, for audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An official decree shipped with the crate.
    Official,
    /// Predicted from the Labor Code (no decree known for the year).
    Predicted,
    /// An override loaded by the operator (regional day or a newer decree).
    Override,
}

/// Whether a date is a working day, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStatus {
    pub day_off: bool,
    pub source: Source,
}

/// Federal calendar plus overrides per region (`None` = every region).
#[derive(Debug, Clone, Default)]
pub struct ProductionCalendar {
    overrides: HashMap<(Option<String>, NaiveDate), bool>,
}

impl ProductionCalendar {
    /// The federal calendar with no overrides.
    #[must_use]
    pub fn federal() -> Self {
        Self::default()
    }

    /// Marks `date` as a day off or a working day, for `region` (a region code such as `"16"`) or for all.
    pub fn set_override(&mut self, region: Option<&str>, date: NaiveDate, day_off: bool) {
        self.overrides.insert((region.map(ToOwned::to_owned), date), day_off);
    }

    /// The status of `date` for a debtor in `region`.
    #[must_use]
    pub fn status(&self, date: NaiveDate, region: Option<&str>) -> DayStatus {
        let regional = region.and_then(|r| self.overrides.get(&(Some(r.to_owned()), date)));
        if let Some(&day_off) = regional.or_else(|| self.overrides.get(&(None, date))) {
            return DayStatus {
                day_off,
                source: Source::Override,
            };
        }
        match holidays_ru::is_day_off::<Federal, _>(date) {
            Some(Resolved::Fact(day_off)) => DayStatus {
                day_off,
                source: Source::Official,
            },
            Some(Resolved::Predict(day_off)) => DayStatus {
                day_off,
                source: Source::Predicted,
            },
            // Outside the crate's range (before 1900 or after 2100): weekends only.
            None => DayStatus {
                day_off: matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
                source: Source::Predicted,
            },
        }
    }

    /// Whether `date` is a day off for a debtor in `region`.
    #[must_use]
    pub fn is_day_off(&self, date: NaiveDate, region: Option<&str>) -> bool {
        self.status(date, region).day_off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_2026_decree_is_known() {
        let cal = ProductionCalendar::federal();
        for off in [
            d(2026, 1, 5),
            d(2026, 1, 9),
            d(2026, 3, 9),
            d(2026, 5, 11),
            d(2026, 12, 31),
        ] {
            assert_eq!(
                cal.status(off, None),
                DayStatus {
                    day_off: true,
                    source: Source::Official
                },
                "{off}"
            );
        }
        assert!(!cal.is_day_off(d(2026, 1, 12), None));
        assert!(!cal.is_day_off(d(2026, 11, 27), None));
    }

    #[test]
    fn next_year_is_official_too_and_later_years_are_predicted() {
        let cal = ProductionCalendar::federal();
        assert_eq!(cal.status(d(2027, 2, 22), None).source, Source::Official);
        assert!(!cal.is_day_off(d(2027, 2, 20), None), "a working Saturday in 2027");
        assert_eq!(cal.status(d(2028, 1, 1), None).source, Source::Predicted);
    }

    #[test]
    fn a_regional_override_applies_only_to_its_region() {
        let mut cal = ProductionCalendar::federal();
        cal.set_override(Some("16"), d(2026, 8, 30), true);
        cal.set_override(Some("16"), d(2026, 11, 6), true);
        assert!(cal.is_day_off(d(2026, 11, 6), Some("16")));
        assert!(!cal.is_day_off(d(2026, 11, 6), Some("86")));
        assert_eq!(cal.status(d(2026, 11, 6), Some("16")).source, Source::Override);
    }
}
