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

    /// The earliest day a restriction may start after a warning delivered on `delivered_on` (Decree 354 п.119:
    /// 20 days after delivery), moved forward to a working day of the debtor's region.
    #[must_use]
    pub fn restriction_earliest(&self, delivered_on: NaiveDate, region: Option<&str>) -> NaiveDate {
        let mut d = delivered_on + chrono::Days::new(20);
        while self.is_day_off(d, region) {
            d = d + chrono::Days::new(1);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_restriction_may_start_twenty_days_after_delivery_moved_to_a_working_day() {
        let cal = ProductionCalendar::federal();
        // Delivered Thu 10 Dec 2026: +20 = Wed 30 Dec, a working day.
        assert_eq!(cal.restriction_earliest(d(2026, 12, 10), None), d(2026, 12, 30));
        // Delivered Sat 12 Dec 2026: +20 = Fri 1 Jan 2027, a holiday: the first working day after the New Year break.
        let first = cal.restriction_earliest(d(2026, 12, 12), None);
        assert!(first > d(2027, 1, 1) && !cal.is_day_off(first, None));
        assert!((1..first.ordinal()).all(|o| cal.is_day_off(d(2027, 1, o), None)));
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
