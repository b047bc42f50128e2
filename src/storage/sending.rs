//! Marking the claimed notices the gate lets through `sending`, on the claim transaction, before they are handed
//! over: the common case of every dispatch pass, as one narrow statement that finds each row where the claim
//! locked it.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use super::StorageError;

/// A claimed notice the gate lets through, about to be handed over.
pub struct Sending<'a> {
    pub id: i64,
    /// The row's `ctid` from the claim.
    pub tid: &'a str,
    pub provider: &'a str,
    pub text: &'a str,
    pub sha256: &'a [u8],
    pub segments: i32,
}

/// Marks claimed notices `sending` on the claim transaction — one attempt more, the lease, the provider — and
/// appends their `sending` events, which keep the text with its hash as evidence before the hand-over (each
/// attempt's own text; detail: provider, segments, worker). The common case of every pass, as one narrow
/// statement; the gate's other outcomes go through [`super::notification::apply`]. Rows are found by the `ctid`
/// the claim locked (a row whose `ctid` no longer matches, which the lock should rule out, is found by id
/// instead). Returns the ids marked, each with its new `ctid` for the outcome record: only those may be handed
/// over.
///
/// # Errors
/// Database failures.
pub async fn mark_sending(
    tx: &mut Transaction<'static, Postgres>,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    rows: &[Sending<'_>],
) -> Result<Vec<(i64, String)>, StorageError> {
    // In id order, as every recorder locks rows.
    let mut rows: Vec<&Sending<'_>> = rows.iter().collect();
    rows.sort_by_key(|r| r.id);
    let mut marked = mark_some(tx, MARK_BY_CTID, (worker, now, lease_until), &rows).await?;
    if marked.len() < rows.len() {
        // Not expected: the claim's lock keeps each row where it was. Still correct, only slower; so say so.
        tracing::warn!(
            missed = rows.len() - marked.len(),
            "claimed rows not found where the claim locked them; marking them by id"
        );
        marked.sort_unstable();
        rows.retain(|r| marked.binary_search_by_key(&r.id, |m| m.0).is_err());
        marked.extend(mark_some(tx, MARK_BY_ID, (worker, now, lease_until), &rows).await?);
    }
    Ok(marked)
}

/// The `sending` write, finding rows by `ctid` ([`MARK_BY_CTID`]) or by id ([`MARK_BY_ID`]).
const fn mark_sql(by_ctid: bool) -> &'static str {
    macro_rules! mark {
        ($find:literal) => {
            concat!(
                "with d as (select * from unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::int[],
                                                 $9::text[]::tid[])
                                as d(id, provider, text, sha, segments, tid)),
                      upd as (
                        update notification n set state = 'sending', reason = null, lease_until = $6, sent_at = $7,
                            provider = d.provider, segments = d.segments, attempts = n.attempts + 1,
                            final_at = null, updated_at = $7
                        from d where ",
                $find,
                " and n.state = 'planned'
                        returning n.notification_id, n.ctid, n.timezone, n.attempts, d.provider, d.segments,
                                  d.text, d.sha),
                      ev as (
                        insert into delivery_event (notification_id, at, local_at, timezone, state, attempt_no,
                                                    source, detail, rendered_text, text_sha256)
                        select notification_id, $7, $7 at time zone timezone, timezone, 'sending', attempts,
                               'dispatcher', jsonb_build_object('provider', provider, 'segments', segments,
                                                                'worker', $8::text), text, sha
                        from upd order by notification_id)
                 select notification_id, ctid::text from upd"
            )
        };
    }
    if by_ctid {
        mark!("n.ctid = d.tid and n.notification_id = d.id")
    } else {
        mark!("n.notification_id = d.id")
    }
}
const MARK_BY_CTID: &str = mark_sql(true);
const MARK_BY_ID: &str = mark_sql(false);

async fn mark_some(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    (worker, now, lease_until): (&str, DateTime<Utc>, DateTime<Utc>),
    rows: &[&Sending<'_>],
) -> Result<Vec<(i64, String)>, StorageError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let providers: Vec<&str> = rows.iter().map(|r| r.provider).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.text).collect();
    let shas: Vec<&[u8]> = rows.iter().map(|r| r.sha256).collect();
    let segments: Vec<i32> = rows.iter().map(|r| r.segments).collect();
    let tids: Vec<&str> = rows.iter().map(|r| r.tid).collect();
    Ok(sqlx::query_as(sql)
        .bind(&ids)
        .bind(&providers)
        .bind(&texts)
        .bind(&shas)
        .bind(&segments)
        .bind(lease_until)
        .bind(now)
        .bind(worker)
        .bind(&tids)
        .fetch_all(&mut **tx)
        .await?)
}
