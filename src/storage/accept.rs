//! Recording the hand-overs a provider accepted — the common outcome of every dispatch pass — in one narrow
//! statement: the notice's new state, its `submitted` event (and the final report's event when the report came
//! before the record), and the attempt row. Every other outcome goes through the generic
//! [`super::notification::apply`]; the rows and events written here are exactly the ones it would write.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction, types::Json};

use super::{
    StorageError,
    notification::{AttemptRow, Detail, IN_FLIGHT, insert_attempts},
};

/// A hand-over the provider accepted.
#[derive(Debug)]
pub struct Accept {
    pub id: i64,
    /// Where its `sending` row is (`ctid`, as the `sending` write returned it), when known.
    pub tid: Option<String>,
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    /// The gateway that took it (under failover, the one that did).
    pub provider: String,
    pub provider_message_id: String,
    /// Its final delivery report, when that came before this record.
    pub report: Option<FinalReport>,
}

/// A final delivery report folded into the record of its accept.
#[derive(Debug)]
pub struct FinalReport {
    pub state: &'static str,
    pub reason: Option<String>,
    pub detail: Detail,
}

/// Records accepted hand-overs of notices still in flight (`sending` or `in_doubt`): `submitted`, or the final
/// report's state with `submitted` appended first; the lease ends, the provider and its message id are kept;
/// one attempt row each (`submitted`), written whether or not the notice was still in flight. For a notice
/// this record moves out of flight, the attempt is a plain insert in the same statement: every other writer of
/// a `submitted` attempt (a report proving the accept, the reconciler) moves the notice out of flight in the
/// same transaction, after locking its row, so none can have written it (were one there anyway, the insert
/// would fail the record with a logged error, and the lease's expiry would reconcile the notice). The others go
/// through the idempotent [`super::notification::insert_attempts`]. The folded report of a notice no longer in
/// flight is kept as a `report_not_applied` event. Rows are found by the `ctid` their `sending` write returned;
/// one that moved since (the reconciler or a report changed it) is found by id. Returns the ids whose state
/// changed.
///
/// # Errors
/// Database failures.
pub async fn record_accepts(
    tx: &mut Transaction<'static, Postgres>,
    source: &str,
    now: DateTime<Utc>,
    rows: &[Accept],
) -> Result<Vec<i64>, StorageError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // In id order, as every recorder locks rows.
    let mut rows: Vec<&Accept> = rows.iter().collect();
    rows.sort_by_key(|r| r.id);
    let (by_tid, mut by_id): (Vec<&Accept>, Vec<&Accept>) = rows.iter().partition(|r| r.tid.is_some());
    let mut applied = record_some(tx, RECORD_BY_CTID, (source, now), &by_tid).await?;
    applied.sort_unstable();
    by_id.extend(by_tid.iter().filter(|r| applied.binary_search(&r.id).is_err()));
    by_id.sort_by_key(|r| r.id);
    applied.extend(record_some(tx, RECORD_BY_ID, (source, now), &by_id).await?);
    applied.sort_unstable();
    // Rare (a report or the reconciler settled the notice first), so handled here rather than in the statements
    // above: the attempt row idempotently (whoever settled it may have written the same one), and the folded
    // report as evidence that changed nothing.
    let unapplied: Vec<&Accept> = rows
        .into_iter()
        .filter(|r| applied.binary_search(&r.id).is_err())
        .collect();
    let attempts: Vec<AttemptRow> = unapplied.iter().map(|r| attempt_row(r)).collect();
    insert_attempts(&mut **tx, now, &attempts).await?;
    let refused: Vec<(i64, &FinalReport)> = unapplied
        .into_iter()
        .filter_map(|r| Some((r.id, r.report.as_ref()?)))
        .collect();
    keep_refused_reports(tx, source, now, &refused).await?;
    Ok(applied)
}

/// The attempt row of an accept.
fn attempt_row(r: &Accept) -> AttemptRow {
    AttemptRow {
        notification_id: r.id,
        attempt_no: r.attempt_no,
        started_at: r.started_at,
        outcome: "submitted",
        provider: r.provider.clone(),
        provider_message_id: Some(r.provider_message_id.clone()),
        error_code: None,
        error_detail: None,
    }
}

/// The record, finding rows by `ctid` ([`RECORD_BY_CTID`]) or by id ([`RECORD_BY_ID`]).
const fn record_sql(by_ctid: bool) -> &'static str {
    macro_rules! record {
        ($find:literal) => {
            concat!(
                "with d as (select * from unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::text[],
                                                 $6::text[], $7::text[], $8::jsonb[], $12::text[]::tid[])
                                as d(id, attempt_no, started, provider, pmid, final, reason, report, tid)),
                      upd as (
                        update notification n set state = coalesce(d.final, 'submitted'), reason = d.reason,
                            lease_until = null, provider = d.provider, provider_message_id = d.pmid,
                            final_at = case when d.final is not null then $9 end, updated_at = $9
                        from d where ",
                $find,
                " and n.state = any(string_to_array($11, ','))
                        returning n.notification_id, n.timezone, n.attempts, d.provider, d.pmid, d.final, d.reason,
                                  d.report, d.attempt_no, d.started),
                      ev as (
                        insert into delivery_event (notification_id, at, local_at, timezone, state, reason,
                                                    attempt_no, source, detail)
                        select u.notification_id, $9, $9 at time zone u.timezone, u.timezone, v.state, v.reason,
                               u.attempts, $10, v.detail
                        from upd u cross join lateral (
                            values (1, 'submitted', null::text,
                                    jsonb_build_object('provider_message_id', u.pmid, 'provider', u.provider)),
                                   (2, u.final, u.reason, u.report)) as v(ord, state, reason, detail)
                        where v.state is not null
                        order by u.notification_id, v.ord),
                      att as (
                        insert into attempt (notification_id, attempt_no, started_at, finished_at, provider,
                                             outcome, provider_message_id)
                        select notification_id, attempt_no, started, $9, provider, 'submitted', pmid from upd)
                 select notification_id from upd"
            )
        };
    }
    if by_ctid {
        record!("n.ctid = d.tid and n.notification_id = d.id")
    } else {
        record!("n.notification_id = d.id")
    }
}
const RECORD_BY_CTID: &str = record_sql(true);
const RECORD_BY_ID: &str = record_sql(false);

async fn record_some(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    (source, now): (&str, DateTime<Utc>),
    rows: &[&Accept],
) -> Result<Vec<i64>, StorageError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let attempts: Vec<i32> = rows.iter().map(|r| r.attempt_no).collect();
    let started: Vec<DateTime<Utc>> = rows.iter().map(|r| r.started_at).collect();
    let providers: Vec<&str> = rows.iter().map(|r| r.provider.as_str()).collect();
    let pmids: Vec<&str> = rows.iter().map(|r| r.provider_message_id.as_str()).collect();
    let states: Vec<Option<&str>> = rows.iter().map(|r| r.report.as_ref().map(|f| f.state)).collect();
    let reasons: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.report.as_ref().and_then(|f| f.reason.as_deref()))
        .collect();
    let details: Vec<Option<Json<&serde_json::value::RawValue>>> = rows
        .iter()
        .map(|r| r.report.as_ref().map(|f| Json(&*f.detail)))
        .collect();
    let tids: Vec<Option<&str>> = rows.iter().map(|r| r.tid.as_deref()).collect();
    Ok(sqlx::query_scalar(sql)
        .bind(&ids)
        .bind(&attempts)
        .bind(&started)
        .bind(&providers)
        .bind(&pmids)
        .bind(&states)
        .bind(&reasons)
        .bind(&details)
        .bind(now)
        .bind(source)
        .bind(IN_FLIGHT)
        .bind(&tids)
        .fetch_all(&mut **tx)
        .await?)
}

/// Keeps the folded reports of accepts whose notice was no longer in flight as events that changed nothing, as
/// [`super::notification::apply`] keeps a refused report.
async fn keep_refused_reports(
    tx: &mut Transaction<'static, Postgres>,
    source: &str,
    now: DateTime<Utc>,
    reports: &[(i64, &FinalReport)],
) -> Result<(), StorageError> {
    if reports.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = reports.iter().map(|(id, _)| *id).collect();
    let states: Vec<&str> = reports.iter().map(|(_, f)| f.state).collect();
    let reasons: Vec<Option<&str>> = reports.iter().map(|(_, f)| f.reason.as_deref()).collect();
    let details: Vec<Json<&serde_json::value::RawValue>> = reports.iter().map(|(_, f)| Json(&*f.detail)).collect();
    sqlx::query(
        "with d as (select * from unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])
                        as d(id, state, reason, report))
         insert into delivery_event (notification_id, at, local_at, timezone, state, reason, attempt_no, source,
                                     detail)
         select n.notification_id, $5, $5 at time zone n.timezone, n.timezone, d.state, 'report_not_applied',
                n.attempts, $6, d.report || jsonb_build_object('reason', d.reason)
         from d join notification n on n.notification_id = d.id
         order by d.id",
    )
    .bind(&ids)
    .bind(&states)
    .bind(&reasons)
    .bind(&details)
    .bind(now)
    .bind(source)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
