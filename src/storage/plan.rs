//! Planning writes: notification rows for a campaign step, unique per (campaign, round, step, debtor, channel)
//! so re-planning never duplicates, each with a `planned` event.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::PgPool;

use super::StorageError;
use crate::campaign::spec::Audience;

/// What every row of one planning pass shares.
#[derive(Debug, Clone)]
pub struct StepPlan<'a> {
    pub campaign_id: i64,
    pub occurrence: NaiveDate,
    pub step_no: i32,
    pub utility: Option<&'a str>,
    pub channel: &'a str,
    pub template_name: &'a str,
    pub template_version: i32,
    pub template_kind: &'a str,
    pub priority: i32,
    pub condition: &'a str,
}

/// SMS goes to the first mobile number; voice to the first number of any kind.
const PHONE: &str = "left join lateral (select ph.e164, ph.kind from phone ph where ph.debtor_id = c.debtor_id
        order by (ph.kind = 'mobile' or $4 = 'voice') desc, ph.position limit 1) p on true";

const AUDIENCE: &str = "($11::text is null or c.utility_id = $11)
    and ($12::numeric is null or c.debt_total >= $12)
    and ($13::int is null or c.months_overdue >= $13)
    and (not $14 or not c.agreement_active)
    and (not $15 or c.debt_total > 0)
    and (cardinality($16::text[]) = 0 or exists (select 1 from jsonb_array_elements(c.services) s
         where s->>'service' = any($16) and (s->>'debt')::numeric > 0))
    and ($5 <> 'unpaid' or c.debt_total > 0)";

/// Binds $1..$16 shared by both planning queries (the step, the audience, and `now`).
macro_rules! bind_common {
    ($q:expr, $p:expr, $a:expr, $now:expr) => {
        $q.bind($p.campaign_id)
            .bind($p.occurrence)
            .bind($p.step_no)
            .bind($p.channel)
            .bind($p.condition)
            .bind($p.template_name)
            .bind($p.template_version)
            .bind($p.template_kind)
            .bind($p.priority)
            .bind($now)
            .bind($p.utility)
            .bind($a.min_debt)
            .bind($a.min_months_overdue.and_then(|m| i32::try_from(m).ok()))
            .bind($a.exclude_agreements)
            .bind($a.exclude_paid)
            .bind(&$a.services)
    };
}

/// A debtor a step may address and has not yet, with the number for the step's channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub debtor_id: i64,
    pub utility_id: String,
    pub timezone: String,
    pub e164: Option<String>,
    pub phone_kind: Option<String>,
}

/// Eligible debtors with no notice for this step yet (read-only: the insert that follows must not anti-join
/// against the table it is growing).
///
/// # Errors
/// Database failures.
pub async fn candidates(
    pool: &PgPool,
    p: &StepPlan<'_>,
    audience: &Audience,
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>, StorageError> {
    let sql = format!(
        "select c.debtor_id, c.utility_id, c.timezone, p.e164, p.kind as phone_kind from current_debt c
         {PHONE}
         where {AUDIENCE}"
    );
    let q = sqlx::query_as::<_, Candidate>(sqlx::AssertSqlSafe(sql));
    let mut rows: Vec<Candidate> = bind_common!(q, p, audience, now).fetch(pool).try_collect().await?;
    // The anti-join runs here, on the unique index's prefix, so no table statistics can turn it quadratic.
    let planned: std::collections::HashSet<i64> = sqlx::query_scalar::<_, i64>(
        "select debtor_id from notification where campaign_id = $1 and occurrence = $2 and step_no = $3
         and channel = $4",
    )
    .bind(p.campaign_id)
    .bind(p.occurrence)
    .bind(p.step_no)
    .bind(p.channel)
    .fetch(pool)
    .try_collect()
    .await?;
    rows.retain(|r| !planned.contains(&r.debtor_id));
    Ok(rows)
}

/// Plans a step for these debtors (from the start or following up) with their `due` (placed in each one's
/// window), each with its `planned` event. Returns the rows added.
///
/// # Errors
/// Database failures.
pub async fn plan_debtors(
    pool: &PgPool,
    p: &StepPlan<'_>,
    rows: &[Candidate],
    due: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let debtors: Vec<i64> = rows.iter().map(|r| r.debtor_id).collect();
    let utilities: Vec<&str> = rows.iter().map(|r| r.utility_id.as_str()).collect();
    let zones: Vec<&str> = rows.iter().map(|r| r.timezone.as_str()).collect();
    let phones: Vec<Option<&str>> = rows.iter().map(|r| r.e164.as_deref()).collect();
    let kinds: Vec<Option<&str>> = rows.iter().map(|r| r.phone_kind.as_deref()).collect();
    let mut tx = pool.begin().await?;
    // Planning is idempotent and re-derivable: rows lost with an unflushed commit are planned again.
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "with ins as (
            insert into notification (campaign_id, occurrence, step_no, debtor_id, utility_id, channel, e164,
                phone_kind, timezone, template_name, template_version, template_kind, priority, state, due_at,
                created_at, updated_at)
            select $1, $2, $3, t.d, t.u, $4, t.e, t.k, t.tz, $5, $6, $7, $8, 'planned', t.due, $9, $9
            from unnest($10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])
                 as t(d, u, tz, e, k, due)
            on conflict do nothing
            returning notification_id, timezone)
         insert into delivery_event (notification_id, at, local_at, timezone, state, source)
         select notification_id, $9, $9 at time zone timezone, timezone, 'planned', 'planner' from ins",
    )
    .bind(p.campaign_id)
    .bind(p.occurrence)
    .bind(p.step_no)
    .bind(p.channel)
    .bind(p.template_name)
    .bind(p.template_version)
    .bind(p.template_kind)
    .bind(p.priority)
    .bind(now)
    .bind(&debtors)
    .bind(&utilities)
    .bind(&zones)
    .bind(&phones)
    .bind(&kinds)
    .bind(due)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// A debtor whose previous step ended, with the number for this step's channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowUp {
    #[sqlx(flatten)]
    pub debtor: Candidate,
    pub previous_final_at: DateTime<Utc>,
}

/// States after which a follow-up applies under `previous_not_delivered`: the notice ended without reaching the
/// debtor for a reason another channel can overcome.
const NOT_DELIVERED: &str = "(prev.state in ('undelivered', 'expired', 'failed')
    or (prev.state = 'suppressed' and prev.reason in ('landline', 'too_long', 'no_phone')))";

/// Debtors whose previous-step notice is final (and, per `condition`, not delivered) and who have no
/// notice for this step yet.
///
/// # Errors
/// Database failures.
pub async fn follow_ups(
    pool: &PgPool,
    p: &StepPlan<'_>,
    audience: &Audience,
    now: DateTime<Utc>,
) -> Result<Vec<FollowUp>, StorageError> {
    let sql = format!(
        "select c.debtor_id, c.utility_id, c.timezone, p2.e164, p2.kind as phone_kind,
                prev.final_at as previous_final_at
         from notification prev
         join current_debt c on c.debtor_id = prev.debtor_id
         left join lateral (select ph.e164, ph.kind from phone ph where ph.debtor_id = c.debtor_id
             order by (ph.kind = 'mobile' or $4 = 'voice') desc, ph.position limit 1) p2 on true
         where prev.campaign_id = $1 and prev.occurrence = $2 and prev.step_no = $3 - 1
           and prev.final_at is not null
           and prev.state in ('delivered', 'undelivered', 'expired', 'failed', 'suppressed')
           and ($5 <> 'previous_not_delivered' or {NOT_DELIVERED})
           and {AUDIENCE}
           and not exists (select 1 from notification n where n.campaign_id = $1 and n.occurrence = $2
                           and n.step_no = $3 and n.debtor_id = c.debtor_id and n.channel = $4)",
    );
    let q = sqlx::query_as::<_, FollowUp>(sqlx::AssertSqlSafe(sql));
    let rows = bind_common!(q, p, audience, now)
        .fetch(pool)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(rows)
}

/// Refreshes the notification table's statistics after a large planning pass, so the claim and follow-up
/// queries keep their index plans.
///
/// # Errors
/// Database failures.
pub async fn analyze_notifications(pool: &PgPool) -> Result<(), StorageError> {
    sqlx::query("analyze notification").execute(pool).await?;
    Ok(())
}
