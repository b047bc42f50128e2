//! Frequency caps per debtor per creditor (230-ФЗ ст.7 ч.3, ч.5): messages (SMS and robocalls together) 2 a day,
//! 4 a week, 16 a month; live calls 1/2/8. Counted in the debtor's local calendar day, ISO week and month.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Limits per calendar unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_day: u32,
    pub per_week: u32,
    pub per_month: u32,
}

/// The unit whose cap a contact would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapReached {
    Day,
    Week,
    Month,
}

impl CapReached {
    /// Machine-readable reason for the suppression event.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Day => "cap_day",
            Self::Week => "cap_week",
            Self::Month => "cap_month",
        }
    }
}

impl Caps {
    /// SMS and robocalls together.
    pub const MESSAGES: Self = Self {
        per_day: 2,
        per_week: 4,
        per_month: 16,
    };
    /// Live operator calls.
    pub const LIVE_CALLS: Self = Self {
        per_day: 1,
        per_week: 2,
        per_month: 8,
    };

    /// The stricter of two: a tenant may tighten the law, never loosen it.
    #[must_use]
    pub fn stricter(self, other: Self) -> Self {
        Self {
            per_day: self.per_day.min(other.per_day),
            per_week: self.per_week.min(other.per_week),
            per_month: self.per_month.min(other.per_month),
        }
    }

    /// Checks one more contact at `at` against the contacts already made (`previous`), in `zone`.
    ///
    /// # Errors
    /// The first unit (day, then week, then month) whose cap is already reached.
    pub fn check(&self, at: DateTime<Utc>, previous: &[DateTime<Utc>], zone: Tz) -> Result<(), CapReached> {
        let now = at.with_timezone(&zone);
        let (day, week, month) = (now.date_naive(), now.iso_week(), (now.year(), now.month()));
        let (mut in_day, mut in_week, mut in_month) = (0, 0, 0);
        for p in previous {
            let p = p.with_timezone(&zone);
            in_day += u32::from(p.date_naive() == day);
            in_week += u32::from(p.iso_week() == week);
            in_month += u32::from((p.year(), p.month()) == month);
        }
        if in_day >= self.per_day {
            Err(CapReached::Day)
        } else if in_week >= self.per_week {
            Err(CapReached::Week)
        } else if in_month >= self.per_month {
            Err(CapReached::Month)
        } else {
            Ok(())
        }
    }
}

impl CapReached {
    /// The start (local midnight, as UTC) of the next unit after `at`: the next day, the next Monday, or the
    /// first of the next month. A capped notice waits until then.
    #[must_use]
    pub fn next_period(self, at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let today = at.with_timezone(&zone).date_naive();
        let day = match self {
            Self::Day => today + Duration::days(1),
            Self::Week => today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday())),
            Self::Month => {
                let (y, m) = if today.month() == 12 {
                    (today.year() + 1, 1)
                } else {
                    (today.year(), today.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(today + Duration::days(31))
            }
        };
        zone.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map_or(at + Duration::days(1), |t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia;

    fn at(zone: Tz, d: u32, h: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_third_message_of_a_local_day_is_refused_and_the_next_local_day_is_fresh() {
        let zone = Asia::Kamchatka;
        let sent = [at(zone, 23, 9), at(zone, 23, 12)];
        assert_eq!(
            Caps::MESSAGES.check(at(zone, 23, 18), &sent, zone),
            Err(CapReached::Day)
        );
        assert_eq!(Caps::MESSAGES.check(at(zone, 24, 9), &sent, zone), Ok(()));
    }

    #[test]
    fn days_are_counted_in_the_debtors_zone_not_in_utc() {
        let zone = Asia::Kamchatka; // UTC+12
        // 09:00 and 11:00 local on the 24th are 21:00 and 23:00 UTC on the 23rd.
        let sent = [at(zone, 24, 9), at(zone, 24, 11)];
        let next_local_morning = at(zone, 25, 9);
        assert_eq!(Caps::MESSAGES.check(next_local_morning, &sent, zone), Ok(()));
        assert_eq!(
            Caps::MESSAGES.check(at(zone, 24, 13), &sent, zone),
            Err(CapReached::Day)
        );
    }

    #[test]
    fn a_week_allows_four_and_a_month_sixteen() {
        let zone = Asia::Yekaterinburg;
        let week: Vec<_> = [23, 24, 25, 26].iter().map(|d| at(zone, *d, 10)).collect();
        assert_eq!(
            Caps::MESSAGES.check(at(zone, 27, 10), &week, zone),
            Err(CapReached::Week)
        );
        assert_eq!(
            Caps::MESSAGES.check(at(zone, 30, 10), &week, zone),
            Ok(()),
            "Monday starts a new ISO week"
        );
        let month: Vec<_> = (0..16).map(|i| at(zone, 1, 9) + Duration::days(i)).collect();
        assert_eq!(Caps::LIVE_CALLS.stricter(Caps::MESSAGES), Caps::LIVE_CALLS);
        let big = Caps {
            per_day: 99,
            per_week: 99,
            per_month: 16,
        };
        assert_eq!(big.check(at(zone, 28, 10), &month, zone), Err(CapReached::Month));
    }

    #[test]
    fn a_capped_notice_waits_for_the_next_local_day_week_or_month() {
        let zone = Asia::Kamchatka;
        let now = at(zone, 25, 18); // Wednesday
        assert_eq!(CapReached::Day.next_period(now, zone), at(zone, 26, 0));
        assert_eq!(CapReached::Week.next_period(now, zone), at(zone, 30, 0));
        let dec1 = zone.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(CapReached::Month.next_period(now, zone), dec1);
    }
}
