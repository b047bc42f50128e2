//! Contact windows (230-ФЗ ст.7 ч.3 п.1, ч.5 п.1) in the debtor's local time: working days 08:00–22:00,
//! weekends and non-working holidays 09:00–20:00. A tenant may narrow them, never widen. A guard keeps a call
//! from still ringing at the closing time.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::calendar::ProductionCalendar;

/// Opening hours: `[open, close)` in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

/// The windows for working days and days off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactWindow {
    pub working_day: Hours,
    pub day_off: Hours,
}

fn t(h: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, 0, 0).expect("hours below 24 are valid")
}

impl ContactWindow {
    /// The legal maximum.
    #[must_use]
    pub fn legal() -> Self {
        Self {
            working_day: Hours {
                open: t(8),
                close: t(22),
            },
            day_off: Hours {
                open: t(9),
                close: t(20),
            },
        }
    }

    /// The legal window narrowed by a tenant's: the later opening and the earlier closing of each.
    #[must_use]
    pub fn narrowed(tenant: Self) -> Self {
        Self::legal().intersect(tenant)
    }

    /// Both windows at once: the later opening and the earlier closing of each.
    #[must_use]
    pub fn intersect(self, other: Self) -> Self {
        let narrow = |a: Hours, b: Hours| Hours {
            open: a.open.max(b.open),
            close: a.close.min(b.close),
        };
        Self {
            working_day: narrow(self.working_day, other.working_day),
            day_off: narrow(self.day_off, other.day_off),
        }
    }

    fn hours(&self, date: NaiveDate, calendar: &ProductionCalendar, region: Option<&str>) -> Hours {
        if calendar.is_day_off(date, region) {
            self.day_off
        } else {
            self.working_day
        }
    }

    /// Whether contact at `at` is allowed for a debtor in `zone`, leaving `guard` before the closing time.
    #[must_use]
    pub fn allows(
        &self,
        at: DateTime<Utc>,
        zone: Tz,
        calendar: &ProductionCalendar,
        region: Option<&str>,
        guard: Duration,
    ) -> bool {
        let local = at.with_timezone(&zone);
        let hours = self.hours(local.date_naive(), calendar, region);
        let time = local.time();
        time >= hours.open && time + guard < hours.close && time + guard >= time
    }

    /// The first moment at or after `after` when contact is allowed (the next opening if it is closed now).
    #[must_use]
    pub fn next_allowed(
        &self,
        after: DateTime<Utc>,
        zone: Tz,
        calendar: &ProductionCalendar,
        region: Option<&str>,
        guard: Duration,
    ) -> DateTime<Utc> {
        if self.allows(after, zone, calendar, region, guard) {
            return after;
        }
        let local = after.with_timezone(&zone);
        let mut date = local.date_naive();
        for _ in 0..366 {
            let hours = self.hours(date, calendar, region);
            if let Some(open) = zone.from_local_datetime(&date.and_time(hours.open)).earliest() {
                let open = open.with_timezone(&Utc);
                if open >= after && self.allows(open, zone, calendar, region, guard) {
                    return open;
                }
            }
            date = date.succ_opt().unwrap_or(date);
        }
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Asia, Europe};

    fn local(zone: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    fn allows(zone: Tz, at: DateTime<Utc>) -> bool {
        ContactWindow::legal().allows(at, zone, &ProductionCalendar::federal(), None, Duration::zero())
    }

    #[test]
    fn on_the_5th_of_january_2026_half_past_eight_is_too_early_and_nine_is_allowed() {
        let zone = Asia::Yekaterinburg;
        assert!(!allows(zone, local(zone, 2026, 1, 5, 8, 30)));
        assert!(allows(zone, local(zone, 2026, 1, 5, 9, 0)));
        assert!(
            allows(zone, local(zone, 2026, 1, 12, 8, 30)),
            "a working day opens at 08:00"
        );
    }

    #[test]
    fn one_utc_instant_is_inside_or_outside_depending_on_the_debtors_zone() {
        // 2026-11-27 05:30 UTC, a Friday: 07:30 in Kaliningrad, 10:30 in Yekaterinburg, 17:30 in Kamchatka.
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 5, 30, 0).unwrap();
        assert!(!allows(Europe::Kaliningrad, at));
        assert!(allows(Asia::Yekaterinburg, at));
        assert!(allows(Asia::Kamchatka, at));
        // 10:30 UTC: 12:30 Kaliningrad, 15:30 Yekaterinburg, 22:30 Kamchatka (closed).
        let later = at + Duration::hours(5);
        assert!(allows(Europe::Kaliningrad, later) && allows(Asia::Yekaterinburg, later));
        assert!(!allows(Asia::Kamchatka, later));
    }

    #[test]
    fn weekends_close_at_eight_in_the_evening_and_the_guard_closes_earlier() {
        let zone = Asia::Yekaterinburg;
        let cal = ProductionCalendar::federal();
        let w = ContactWindow::legal();
        assert!(allows(zone, local(zone, 2026, 11, 28, 19, 59)));
        assert!(!allows(zone, local(zone, 2026, 11, 28, 20, 0)));
        assert!(!w.allows(
            local(zone, 2026, 11, 28, 19, 56),
            zone,
            &cal,
            None,
            Duration::minutes(5)
        ));
        assert!(w.allows(
            local(zone, 2026, 11, 28, 19, 54),
            zone,
            &cal,
            None,
            Duration::minutes(5)
        ));
    }

    #[test]
    fn the_next_opening_skips_the_new_year_holidays_window_by_window() {
        let zone = Asia::Kamchatka;
        let cal = ProductionCalendar::federal();
        let w = ContactWindow::legal();
        // 31 Dec 2026 is a day off (transferred): 21:00 is closed; next is 1 Jan 09:00 (a holiday window).
        let next = w.next_allowed(local(zone, 2026, 12, 31, 21, 0), zone, &cal, None, Duration::zero());
        assert_eq!(next, local(zone, 2027, 1, 1, 9, 0));
        // Late on a working day: the next morning at 08:00.
        let next = w.next_allowed(local(zone, 2026, 11, 26, 23, 0), zone, &cal, None, Duration::zero());
        assert_eq!(next, local(zone, 2026, 11, 27, 8, 0));
    }

    #[test]
    fn a_tenant_may_narrow_the_window_but_never_widen_it() {
        let tenant = ContactWindow {
            working_day: Hours {
                open: t(7),
                close: t(21),
            },
            day_off: Hours {
                open: t(10),
                close: t(23),
            },
        };
        let w = ContactWindow::narrowed(tenant);
        assert_eq!(
            w.working_day,
            Hours {
                open: t(8),
                close: t(21)
            }
        );
        assert_eq!(
            w.day_off,
            Hours {
                open: t(10),
                close: t(20)
            }
        );
    }
}
