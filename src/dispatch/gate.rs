//! The policy gate, asked at dispatch time for every claimed notice: campaign still on, debt unpaid, no active
//! agreement for pre-trial kinds, a usable number, not opted out, inside the contact window, under the caps,
//! and a text that fits. Pure: the caller supplies the facts and the renderer.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::{
    config::dispatch::parse_hours,
    policy::{calendar::ProductionCalendar, caps::Caps, window::ContactWindow},
    storage::claim::Claimed,
};

/// What to do with a claimed notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand it over with this text.
    Send {
        text: String,
        sha256: Vec<u8>,
        segments: i32,
    },
    /// Not now: try again at `due_at`.
    Reschedule {
        due_at: DateTime<Utc>,
        reason: &'static str,
    },
    /// Never for this notice (state `suppressed`).
    Suppress(&'static str),
    /// No longer wanted (state `cancelled`).
    Cancel(&'static str),
    /// Cannot be built (state `failed`).
    Fail { reason: &'static str, detail: String },
}

/// A rendered text: the text, its SMS segments, and whether it exceeds the template's limit.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub segments: i32,
    pub too_long: bool,
}

/// The rules in force for one notice.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub window: ContactWindow,
    pub caps: Caps,
    pub guard: chrono::Duration,
    pub calendar: &'a ProductionCalendar,
}

/// Decides one notice at `now`; `contacts` are this debtor's earlier hand-overs (any channel, this creditor).
pub fn decide(
    c: &Claimed,
    now: DateTime<Utc>,
    rules: Rules<'_>,
    contacts: &[DateTime<Utc>],
    render: impl FnOnce() -> Result<Rendered, String>,
) -> Decision {
    match c.step.status.as_str() {
        "cancelled" => return Decision::Cancel("campaign_cancelled"),
        "completed" => return Decision::Cancel("campaign_ended"),
        _ => {}
    }
    if c.step.end_by.is_some_and(|e| e <= now) {
        return Decision::Cancel("campaign_ended");
    }
    if c.facts.debt_total.is_zero() {
        return Decision::Cancel("paid");
    }
    if c.agreement_active && matches!(c.template_kind.as_str(), "pretrial" | "restriction_warning") {
        return Decision::Suppress("agreement_active");
    }
    let Some(_) = c.e164 else {
        return Decision::Suppress("no_phone");
    };
    if c.channel == "sms" && c.phone_kind.as_deref() == Some("fixed") {
        return Decision::Suppress("landline");
    }
    if c.opted_out {
        return Decision::Suppress("opt_out");
    }
    let Ok(zone) = c.timezone.parse::<Tz>() else {
        return Decision::Suppress("unknown_timezone");
    };
    let window = tenant_window(c).map_or(rules.window, |t| rules.window.intersect(t));
    let region = c.policy.region.as_deref();
    if !window.allows(now, zone, rules.calendar, region, rules.guard) {
        let due_at = window.next_allowed(now, zone, rules.calendar, region, rules.guard);
        return later(c, due_at, "outside_window");
    }
    let caps = rules.caps.stricter(tenant_caps(c));
    if let Err(reached) = caps.check(now, contacts, zone) {
        let due_at = window.next_allowed(
            reached.next_period(now, zone),
            zone,
            rules.calendar,
            region,
            rules.guard,
        );
        return later(c, due_at, reached.reason());
    }
    match render() {
        Err(detail) => Decision::Fail {
            reason: "render_error",
            detail,
        },
        Ok(r) if r.too_long => Decision::Suppress("too_long"),
        Ok(r) => Decision::Send {
            sha256: Sha256::digest(r.text.as_bytes()).to_vec(),
            text: r.text,
            segments: r.segments,
        },
    }
}

fn later(c: &Claimed, due_at: DateTime<Utc>, reason: &'static str) -> Decision {
    if c.step.end_by.is_some_and(|e| due_at >= e) {
        Decision::Suppress(reason)
    } else {
        Decision::Reschedule { due_at, reason }
    }
}

fn tenant_window(c: &Claimed) -> Option<ContactWindow> {
    let legal = ContactWindow::legal();
    let working = c.policy.window_working.as_deref().and_then(parse_hours);
    let day_off = c.policy.window_day_off.as_deref().and_then(parse_hours);
    (working.is_some() || day_off.is_some()).then(|| ContactWindow {
        working_day: working.unwrap_or(legal.working_day),
        day_off: day_off.unwrap_or(legal.day_off),
    })
}

fn tenant_caps(c: &Claimed) -> Caps {
    let pick = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(u32::MAX);
    Caps {
        per_day: pick(c.policy.cap_day),
        per_week: pick(c.policy.cap_week),
        per_month: pick(c.policy.cap_month),
    }
}
