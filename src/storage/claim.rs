//! Claiming due notifications for dispatch: the due rows (SKIP LOCKED, their debtors locked for the gate), the
//! facts the gate and the renderer need, and the debtors' contact history for the caps (marking the notices the
//! gate lets through `sending` is [`super::sending`]).
//!
//! Per-row facts (the notice, its debtor's debt, the opt-out check) come in one statement; the campaign, step
//! and utility columns, the same for every row of a campaign, come once per pass from two small statements
//! instead of being repeated on every row.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{FromRow, Postgres, Row as _, Transaction, postgres::PgRow, types::Json};

use super::{StorageError, utility::UtilityPolicy};
use crate::{
    domain::ServiceDebt,
    render::{context::Creditor, lazy::Facts},
};

/// A claimed notification with everything the gate and the renderer need. The campaign step, the utility's
/// policy and its creditor are shared by every row of a pass that has them.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub notification_id: i64,
    /// Where the locked row is (`ctid`, as text): valid while the claim transaction holds its lock, so the
    /// `sending` write finds the row without an index descent.
    pub tid: String,
    pub campaign_id: i64,
    pub step_no: i32,
    pub debtor_id: i64,
    pub utility_id: String,
    pub channel: String,
    pub e164: Option<String>,
    pub phone_kind: Option<String>,
    pub timezone: String,
    pub template_name: String,
    pub template_version: i32,
    pub template_kind: String,
    pub attempts: i32,
    pub opted_out: bool,
    pub agreement_active: bool,
    pub step: Arc<Step>,
    pub policy: Arc<UtilityPolicy>,
    /// What the template is rendered with (the same values as previews).
    pub facts: Arc<Facts>,
}

/// The per-row part of a claim, decoded by position (the claim's column order).
struct Row {
    notification_id: i64,
    campaign_id: i64,
    step_no: i32,
    debtor_id: i64,
    utility_id: String,
    channel: String,
    e164: Option<String>,
    phone_kind: Option<String>,
    timezone: String,
    template_name: String,
    template_version: i32,
    template_kind: String,
    attempts: i32,
    opted_out: bool,
    account: String,
    full_name: Option<String>,
    address: Option<String>,
    debt_total: Decimal,
    penalty: Decimal,
    months_overdue: i32,
    as_of: NaiveDate,
    services: Json<Vec<ServiceDebt>>,
    agreement_active: bool,
    priority: i32,
    due_at: DateTime<Utc>,
    tid: String,
}

impl<'r> FromRow<'r, PgRow> for Row {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            notification_id: r.try_get(0)?,
            campaign_id: r.try_get(1)?,
            step_no: r.try_get(2)?,
            debtor_id: r.try_get(3)?,
            utility_id: r.try_get(4)?,
            channel: r.try_get(5)?,
            e164: r.try_get(6)?,
            phone_kind: r.try_get(7)?,
            timezone: r.try_get(8)?,
            template_name: r.try_get(9)?,
            template_version: r.try_get(10)?,
            template_kind: r.try_get(11)?,
            attempts: r.try_get(12)?,
            opted_out: r.try_get(13)?,
            account: r.try_get(14)?,
            full_name: r.try_get(15)?,
            address: r.try_get(16)?,
            debt_total: r.try_get(17)?,
            penalty: r.try_get(18)?,
            months_overdue: r.try_get(19)?,
            as_of: r.try_get(20)?,
            services: r.try_get(21)?,
            agreement_active: r.try_get(22)?,
            priority: r.try_get(23)?,
            due_at: r.try_get(24)?,
            tid: r.try_get(25)?,
        })
    }
}

/// A campaign step as the gate sees it.
#[derive(Debug, FromRow)]
pub struct Step {
    pub campaign_id: i64,
    pub step_no: i32,
    pub status: String,
    pub end_by: Option<DateTime<Utc>>,
    pub rate_per_minute: Option<i32>,
    pub condition: String,
    pub max_attempts: i32,
    pub retry_after_minutes: i32,
}

/// A utility's policy and the creditor its notices name.
#[derive(FromRow)]
struct Utility {
    utility_id: String,
    #[sqlx(flatten)]
    policy: UtilityPolicy,
    display_name: String,
    contact_phone: Option<String>,
    payment_url: Option<String>,
    payment_details: Option<String>,
}

/// Opens the claim transaction: locks up to `limit` due rows of running campaigns and their debtors (rows
/// whose debtor another dispatcher holds are skipped), and returns their facts. The caller decides and applies
/// the transitions on the same transaction, then commits; nothing else happens inside it.
///
/// # Errors
/// Database failures.
pub async fn claim_due(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, StorageError> {
    // Due rows, skipping those another dispatcher holds; then a transaction-scoped advisory lock per debtor, not
    // a row lock: it serialises dispatchers per debtor (for the caps) without writing every debtor tuple. Keys
    // live in their own range: debtor id + 2^62. Rows of a debtor another dispatcher holds stay for later. The
    // rows locked carry the columns the gate needs, so the facts join from them without a second lookup.
    let mut rows: Vec<Row> = sqlx::query_as(
        "with p as materialized (
            select n.notification_id, n.campaign_id, n.step_no, n.debtor_id, n.utility_id, n.channel, n.e164,
                   n.phone_kind, n.timezone, n.template_name, n.template_version, n.template_kind, n.attempts,
                   n.priority, n.due_at, n.ctid
            from notification n
            join campaign c on c.campaign_id = n.campaign_id and c.status in ('running', 'cancelled', 'completed')
            where n.state = 'planned' and n.due_at <= $1
            order by n.priority desc, n.due_at limit $2
            for update of n skip locked),
         l as materialized (
            select debtor_id from (select distinct debtor_id from p) d
            where pg_try_advisory_xact_lock(debtor_id + 4611686018427387904))
         select p.notification_id, p.campaign_id, p.step_no, p.debtor_id, p.utility_id, p.channel, p.e164,
                p.phone_kind, p.timezone, p.template_name, p.template_version, p.template_kind, p.attempts,
                (exists (select 1 from opt_out o where o.utility_id = p.utility_id and o.removed_at is null
                         and o.e164 = p.e164)
                 or exists (select 1 from opt_out o where o.utility_id = p.utility_id and o.removed_at is null
                            and o.account = d.account)) as opted_out,
                d.account, d.full_name, d.address, cd.debt_total, cd.penalty, cd.months_overdue, cd.as_of,
                cd.services, cd.agreement_active, p.priority, p.due_at, p.ctid::text
         from p
         join l using (debtor_id)
         join debtor d on d.debtor_id = p.debtor_id
         join debt_snapshot cd on cd.debtor_id = d.debtor_id and cd.batch_id = d.current_batch_id",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // The claim's order (the gate counts caps in it), restored here rather than by sorting the wide joined rows
    // in the database.
    rows.sort_unstable_by(|a, b| {
        (b.priority, a.due_at, a.notification_id).cmp(&(a.priority, b.due_at, b.notification_id))
    });
    let mut campaigns: Vec<i64> = rows.iter().map(|r| r.campaign_id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let mut utilities: Vec<&str> = rows.iter().map(|r| r.utility_id.as_str()).collect();
    utilities.sort_unstable();
    utilities.dedup();
    let steps: Vec<Step> = sqlx::query_as(
        "select c.campaign_id, s.step_no, c.status, c.end_by, c.rate_per_minute, s.condition, s.max_attempts,
                s.retry_after_minutes
         from campaign c join campaign_step s using (campaign_id) where c.campaign_id = any($1)",
    )
    .bind(&campaigns)
    .fetch_all(&mut **tx)
    .await?;
    let utilities: Vec<Utility> = sqlx::query_as(
        "select utility_id, region, window_working, window_day_off, cap_day, cap_week, cap_month, display_name,
                contact_phone, payment_url, payment_details
         from utility where utility_id = any($1)",
    )
    .bind(&utilities)
    .fetch_all(&mut **tx)
    .await?;
    let steps: HashMap<(i64, i32), Arc<Step>> = steps
        .into_iter()
        .map(|s| ((s.campaign_id, s.step_no), Arc::new(s)))
        .collect();
    let utilities: HashMap<String, (Arc<UtilityPolicy>, Arc<Creditor>)> =
        utilities.into_iter().map(parts_of_utility).collect();
    // Foreign keys guarantee both parts; a row without them stays `planned`, and says so.
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let parts = steps.get(&(r.campaign_id, r.step_no)).zip(utilities.get(&r.utility_id));
            if parts.is_none() {
                tracing::error!(
                    notification_id = r.notification_id,
                    campaign_id = r.campaign_id,
                    step_no = r.step_no,
                    "claimed notice has no campaign step or utility; left planned"
                );
            }
            parts.map(|(step, (policy, creditor))| assemble(r, step, policy, creditor))
        })
        .collect())
}

fn parts_of_utility(u: Utility) -> (String, (Arc<UtilityPolicy>, Arc<Creditor>)) {
    let creditor = Creditor {
        name: u.display_name,
        phone: u.contact_phone,
        payment_url: u.payment_url,
        payment_details: u.payment_details,
    };
    (u.utility_id, (Arc::new(u.policy), Arc::new(creditor)))
}

fn assemble(r: Row, step: &Arc<Step>, policy: &Arc<UtilityPolicy>, creditor: &Arc<Creditor>) -> Claimed {
    Claimed {
        notification_id: r.notification_id,
        tid: r.tid,
        campaign_id: r.campaign_id,
        step_no: r.step_no,
        debtor_id: r.debtor_id,
        utility_id: r.utility_id,
        channel: r.channel,
        e164: r.e164,
        phone_kind: r.phone_kind,
        timezone: r.timezone,
        template_name: r.template_name,
        template_version: r.template_version,
        template_kind: r.template_kind,
        attempts: r.attempts,
        opted_out: r.opted_out,
        agreement_active: r.agreement_active,
        step: Arc::clone(step),
        policy: Arc::clone(policy),
        facts: Arc::new(Facts {
            creditor: Arc::clone(creditor),
            account: r.account,
            full_name: r.full_name,
            address: r.address,
            debt_total: r.debt_total,
            penalty: r.penalty,
            months_overdue: r.months_overdue,
            as_of: r.as_of,
            services: r.services.0,
        }),
    }
}

/// One earlier hand-over to a debtor (for the caps).
#[derive(Debug, Clone, Copy, FromRow)]
pub struct Contact {
    pub debtor_id: i64,
    pub notification_id: i64,
    pub sent_at: DateTime<Utc>,
}

/// Hand-overs to these debtors since `since` (every channel counts toward the message caps).
///
/// # Errors
/// Database failures.
pub async fn contacts_since(
    tx: &mut Transaction<'static, Postgres>,
    debtors: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<Contact>, StorageError> {
    Ok(sqlx::query_as(
        "select debtor_id, notification_id, sent_at from notification
         where debtor_id = any($1) and sent_at >= $2",
    )
    .bind(debtors)
    .bind(since)
    .fetch_all(&mut **tx)
    .await?)
}
