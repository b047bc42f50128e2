//! Writes of the intake worker: one batch part in one transaction, and dead-lettered messages.
//!
//! A part is stored all-or-nothing: batch row, part marker, debtors, debt snapshots, phones, rejected records
//! and the batch counters commit together, so the queue message can be acked right after the commit and a
//! redelivery finds the part marker and changes nothing.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StorageError;
use crate::domain::ValidDebtor;

/// One part of a batch, validated and ready to store.
#[derive(Debug)]
pub struct PartToStore {
    pub batch_id: Uuid,
    pub utility_id: String,
    pub as_of: NaiveDate,
    pub campaign: Option<String>,
    pub part_index: i32,
    pub parts_expected: i32,
    pub message_id: Option<String>,
    /// Records in this part, valid or not.
    pub received: i32,
    /// Valid records with their index in the whole batch, sorted by account (a fixed lock order).
    pub debtors: Vec<(i32, ValidDebtor)>,
    /// Rejected records and dropped values.
    pub errors: Vec<IntakeErrorRow>,
}

/// One row for `intake_error` about a record.
#[derive(Debug, Clone)]
pub struct IntakeErrorRow {
    pub record_index: i32,
    pub source_row: Option<i32>,
    pub account: Option<String>,
    pub field: String,
    pub severity: Severity,
    pub reason: String,
}

/// How bad an intake error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The record was not stored.
    Rejected,
    /// The record was stored without this value.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Warning => "warning",
        }
    }
}

/// What happened to a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored now: counts of accepted and rejected records.
    Stored { accepted: i32, rejected: i32 },
    /// This part was stored before (redelivery); nothing changed.
    AlreadyStored,
    /// The batch id is already used by another utility; nothing changed.
    BatchOwnedByOtherUtility,
}

/// Stores a part in one transaction.
///
/// # Errors
/// Database failures; nothing is committed then.
pub async fn store_part(pool: &PgPool, part: &PartToStore) -> Result<StoreOutcome, StorageError> {
    let mut tx = pool.begin().await?;
    if !open_batch(&mut tx, part).await? {
        return Ok(StoreOutcome::BatchOwnedByOtherUtility);
    }
    let rejected_records = count_rejected(&part.errors);
    let accepted = i32::try_from(part.debtors.len()).unwrap_or(i32::MAX);
    let inserted = sqlx::query(
        "insert into batch_part (batch_id, part_index, received, accepted, rejected, message_id)
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
    )
    .bind(part.batch_id)
    .bind(part.part_index)
    .bind(part.received)
    .bind(accepted)
    .bind(rejected_records)
    .bind(&part.message_id)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(StoreOutcome::AlreadyStored);
    }
    let ids = upsert_debtors(&mut tx, part).await?;
    let duplicates = insert_snapshots(&mut tx, part, &ids).await?;
    insert_phones(&mut tx, part, &ids).await?;
    let mut errors = part.errors.clone();
    errors.extend(duplicates.iter().map(|(index, account)| IntakeErrorRow {
        record_index: *index,
        source_row: None,
        account: Some(account.clone()),
        field: "account".into(),
        severity: Severity::Rejected,
        reason: "duplicate account in batch (an earlier part already has it)".into(),
    }));
    insert_intake_errors(&mut tx, part.batch_id, part.part_index, &errors).await?;
    let dup = i32::try_from(duplicates.len()).unwrap_or(i32::MAX);
    let (accepted, rejected) = (accepted - dup, rejected_records + dup);
    if dup > 0 {
        sqlx::query("update batch_part set accepted = $3, rejected = $4 where batch_id = $1 and part_index = $2")
            .bind(part.batch_id)
            .bind(part.part_index)
            .bind(accepted)
            .bind(rejected)
            .execute(&mut *tx)
            .await?;
    }
    update_batch_counters(&mut tx, part, accepted, rejected).await?;
    tx.commit().await?;
    Ok(StoreOutcome::Stored { accepted, rejected })
}

/// Creates the batch row if this is its first part. Returns `false` when the batch id belongs to another
/// utility. A batch rejected earlier (unknown utility) and resent after registration is reopened.
async fn open_batch(tx: &mut PgConnection, part: &PartToStore) -> Result<bool, StorageError> {
    // `do nothing` takes no lock on an existing row: parts of one batch stay concurrent.
    sqlx::query(
        "insert into batch (batch_id, utility_id, as_of, campaign, status, parts_expected)
         values ($1, $2, $3, $4, 'receiving', $5) on conflict (batch_id) do nothing",
    )
    .bind(part.batch_id)
    .bind(&part.utility_id)
    .bind(part.as_of)
    .bind(&part.campaign)
    .bind(part.parts_expected)
    .execute(&mut *tx)
    .await?;
    let (owner, status): (String, String) = sqlx::query_as("select utility_id, status from batch where batch_id = $1")
        .bind(part.batch_id)
        .fetch_one(&mut *tx)
        .await?;
    if owner != part.utility_id {
        return Ok(false);
    }
    if status == "rejected" {
        // Rejected earlier (unknown utility) and resent after the utility was registered.
        sqlx::query(
            "update batch set status = 'receiving', as_of = $2, parts_expected = $3
             where batch_id = $1 and status = 'rejected' and parts_received = 0",
        )
        .bind(part.batch_id)
        .bind(part.as_of)
        .bind(part.parts_expected)
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
}

fn count_rejected(errors: &[IntakeErrorRow]) -> i32 {
    let mut indexes: Vec<i32> = errors
        .iter()
        .filter(|e| e.severity == Severity::Rejected)
        .map(|e| e.record_index)
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    i32::try_from(indexes.len()).unwrap_or(i32::MAX)
}

async fn upsert_debtors(tx: &mut PgConnection, part: &PartToStore) -> Result<HashMap<String, i64>, StorageError> {
    let n = part.debtors.len();
    let (mut accounts, mut names, mut addresses, mut zones) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (_, d) in &part.debtors {
        accounts.push(d.account.as_str());
        names.push(d.full_name.as_deref());
        addresses.push(d.address.as_deref());
        zones.push(d.timezone.name());
    }
    // Every column takes the newer batch's value only when this batch is not older than the current one.
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "insert into debtor (utility_id, account, full_name, address, timezone, current_batch_id, current_as_of)
         select $1, a, n, ad, tz, $2, $3 from unnest($4::text[], $5::text[], $6::text[], $7::text[]) as t(a, n, ad, tz)
         on conflict (utility_id, account) do update set
           full_name = case when excluded.current_as_of >= debtor.current_as_of then excluded.full_name else debtor.full_name end,
           address = case when excluded.current_as_of >= debtor.current_as_of then excluded.address else debtor.address end,
           timezone = case when excluded.current_as_of >= debtor.current_as_of then excluded.timezone else debtor.timezone end,
           current_batch_id = case when excluded.current_as_of >= debtor.current_as_of
                                   then excluded.current_batch_id else debtor.current_batch_id end,
           current_as_of = greatest(debtor.current_as_of, excluded.current_as_of),
           updated_at = now()
         returning debtor_id, account",
    )
    .bind(&part.utility_id)
    .bind(part.batch_id)
    .bind(part.as_of)
    .bind(&accounts)
    .bind(&names)
    .bind(&addresses)
    .bind(&zones)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|(id, account)| (account, id)).collect())
}

/// Inserts snapshots; returns (record index, account) of records whose account already has a snapshot in this
/// batch (sent twice in different parts).
async fn insert_snapshots(
    tx: &mut PgConnection,
    part: &PartToStore,
    ids: &HashMap<String, i64>,
) -> Result<Vec<(i32, String)>, StorageError> {
    let n = part.debtors.len();
    let mut debtor_ids = Vec::with_capacity(n);
    let (mut totals, mut penalties, mut months) = (
        Vec::<Decimal>::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut services, mut paid, mut agreements) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (_, d) in &part.debtors {
        debtor_ids.push(ids[&d.account]);
        totals.push(d.debt_total);
        penalties.push(d.penalty);
        months.push(d.months_overdue);
        services.push(serde_json::to_string(&d.services).unwrap_or_else(|_| "[]".into()));
        paid.push(d.last_payment_date);
        agreements.push(d.agreement_active);
    }
    let inserted: Vec<i64> = sqlx::query_scalar(
        "insert into debt_snapshot (debtor_id, batch_id, as_of, debt_total, penalty, months_overdue, services,
                                    last_payment_date, agreement_active)
         select d, $1, $2, t, p, m, s::jsonb, l, ag
         from unnest($3::int8[], $4::numeric[], $5::numeric[], $6::int4[], $7::text[], $8::date[], $9::bool[])
              as u(d, t, p, m, s, l, ag)
         on conflict do nothing
         returning debtor_id",
    )
    .bind(part.batch_id)
    .bind(part.as_of)
    .bind(&debtor_ids)
    .bind(&totals)
    .bind(&penalties)
    .bind(&months)
    .bind(&services)
    .bind(&paid)
    .bind(&agreements)
    .fetch_all(&mut *tx)
    .await?;
    if inserted.len() == n {
        return Ok(Vec::new());
    }
    let inserted: std::collections::HashSet<i64> = inserted.into_iter().collect();
    Ok(part
        .debtors
        .iter()
        .filter(|(_, d)| !inserted.contains(&ids[&d.account]))
        .map(|(i, d)| (*i, d.account.clone()))
        .collect())
}

async fn insert_phones(
    tx: &mut PgConnection,
    part: &PartToStore,
    ids: &HashMap<String, i64>,
) -> Result<(), StorageError> {
    let (mut debtor_ids, mut numbers, mut kinds, mut positions) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (_, d) in &part.debtors {
        for (pos, phone) in d.phones.iter().enumerate() {
            debtor_ids.push(ids[&d.account]);
            numbers.push(phone.e164());
            kinds.push(phone.kind().as_str());
            positions.push(i32::try_from(pos).unwrap_or(i32::MAX));
        }
    }
    sqlx::query(
        "insert into phone (debtor_id, e164, kind, position, first_seen_batch_id, last_seen_batch_id, last_seen_as_of)
         select d, e, k, p, $1, $1, $2 from unnest($3::int8[], $4::text[], $5::text[], $6::int4[]) as u(d, e, k, p)
         on conflict (debtor_id, e164) do update set
           kind = excluded.kind, position = excluded.position,
           last_seen_batch_id = excluded.last_seen_batch_id, last_seen_as_of = excluded.last_seen_as_of
         where excluded.last_seen_as_of >= phone.last_seen_as_of",
    )
    .bind(part.batch_id)
    .bind(part.as_of)
    .bind(&debtor_ids)
    .bind(&numbers)
    .bind(&kinds)
    .bind(&positions)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_intake_errors(
    tx: &mut PgConnection,
    batch_id: Uuid,
    part_index: i32,
    errors: &[IntakeErrorRow],
) -> Result<(), StorageError> {
    if errors.is_empty() {
        return Ok(());
    }
    let indexes: Vec<i32> = errors.iter().map(|e| e.record_index).collect();
    let rows: Vec<Option<i32>> = errors.iter().map(|e| e.source_row).collect();
    let accounts: Vec<Option<&str>> = errors.iter().map(|e| e.account.as_deref()).collect();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    let severities: Vec<&str> = errors.iter().map(|e| e.severity.as_str()).collect();
    let reasons: Vec<&str> = errors.iter().map(|e| e.reason.as_str()).collect();
    sqlx::query(
        "insert into intake_error (batch_id, part_index, record_index, source_row, account, field, severity, reason)
         select $1, $2, i, r, a, f, s, re
         from unnest($3::int4[], $4::int4[], $5::text[], $6::text[], $7::text[], $8::text[]) as u(i, r, a, f, s, re)",
    )
    .bind(batch_id)
    .bind(part_index)
    .bind(&indexes)
    .bind(&rows)
    .bind(&accounts)
    .bind(&fields)
    .bind(&severities)
    .bind(&reasons)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn update_batch_counters(
    tx: &mut PgConnection,
    part: &PartToStore,
    accepted: i32,
    rejected: i32,
) -> Result<(), StorageError> {
    // Last statement of the transaction: the batch row lock is held only until the commit right after it.
    sqlx::query(
        "update batch set parts_received = parts_received + 1, received = received + $2, accepted = accepted + $3,
           rejected = rejected + $4,
           status = case when parts_received + 1 >= coalesce(parts_expected, 1) then 'completed'
                         else 'receiving' end,
           updated_at = now()
         where batch_id = $1",
    )
    .bind(part.batch_id)
    .bind(part.received)
    .bind(accepted)
    .bind(rejected)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A whole message that will be dead-lettered, as recorded for operators.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub batch_id: Option<Uuid>,
    /// Set when the batch is rejected as a whole (e.g. unknown utility): the batch row then shows `rejected`.
    pub rejected_batch: Option<(String, Option<NaiveDate>)>,
    pub part_index: Option<i32>,
    pub message_id: Option<String>,
    pub digest: Vec<u8>,
    pub reason: String,
}

/// Records a dead-lettered message. A redelivery of the same body is recorded once.
///
/// # Errors
/// Database failures.
pub async fn record_dead_letter(pool: &PgPool, dead: &DeadLetter) -> Result<(), StorageError> {
    let mut tx = pool.begin().await?;
    if let (Some(batch_id), Some((utility, as_of))) = (dead.batch_id, &dead.rejected_batch) {
        sqlx::query(
            "insert into batch (batch_id, utility_id, as_of, status, parts_expected)
             values ($1, $2, $3, 'rejected', null) on conflict (batch_id) do nothing",
        )
        .bind(batch_id)
        .bind(utility)
        .bind(as_of)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "insert into intake_error (batch_id, part_index, severity, reason, message_id, message_digest)
         values ($1, $2, 'dead_lettered', $3, $4, $5)
         on conflict (message_digest) where message_digest is not null do nothing",
    )
    .bind(dead.batch_id)
    .bind(dead.part_index)
    .bind(&dead.reason)
    .bind(&dead.message_id)
    .bind(&dead.digest)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
