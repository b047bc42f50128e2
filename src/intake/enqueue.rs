//! Enqueue: check a parsed file's records the way the worker will, and publish them as `debtor-batch.v1`
//! messages of at most `chunk_size` debtors under one batch id, with publisher confirms.
//!
//! Every record is published, valid or not: the worker records each rejected one in `intake_error`, so the
//! operator sees the same report whether the file came through the CLI, the API or a billing system.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::file::{ParsedFile, Record};
use crate::{
    domain::{debtor::RecordContext, validate_debtor},
    queue::{
        QueueError,
        message::{BatchMessage, DEBTOR_BATCH_V1, Part, decode_record},
        publisher::{Outgoing, Publisher},
    },
};

/// How many rejection reasons a summary lists.
const FIRST_REASONS: usize = 10;

/// Where and as what to publish.
#[derive(Debug, Clone)]
pub struct BatchTarget {
    pub batch_id: Uuid,
    pub utility: String,
    pub as_of: NaiveDate,
    pub campaign: Option<String>,
    pub chunk_size: usize,
}

/// What a check found in a file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSummary {
    pub rows_read: usize,
    pub valid: usize,
    pub rejected: usize,
    pub warnings: usize,
    /// The first problems, as `row N (account A): field: reason`.
    pub first_reasons: Vec<String>,
}

/// A batch id derived from the utility and the file content: enqueueing the same file twice is a no-op.
#[must_use]
pub fn derive_batch_id(utility: &str, content: &[u8]) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(utility.as_bytes());
    hasher.update([0]);
    hasher.update(content);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Validates every record as the worker will (the zone defaults to the record's own or Moscow for the check),
/// on all cores.
#[must_use]
pub fn check(file: &ParsedFile, as_of: NaiveDate) -> CheckSummary {
    let ctx = RecordContext {
        default_timezone: chrono_tz::Europe::Moscow,
        as_of,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8);
    let chunk = file.records.len().div_ceil(threads).max(1);
    let checked: Vec<Vec<Checked>> = std::thread::scope(|scope| {
        let handles: Vec<_> = file
            .records
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|r| check_one(r, &ctx)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut summary = CheckSummary {
        rows_read: file.records.len(),
        ..CheckSummary::default()
    };
    let mut seen = HashSet::with_capacity(file.records.len());
    for (i, mut c) in checked.into_iter().flatten().enumerate() {
        if let Some(account) = c.account.take()
            && !seen.insert(account.clone())
        {
            c.problems.push(format!("account: duplicate account {account} in file"));
        }
        if c.problems.is_empty() {
            summary.valid += 1;
            summary.warnings += c.warnings;
            continue;
        }
        summary.rejected += 1;
        let place = c.row.map_or_else(|| format!("record {i}"), |r| format!("row {r}"));
        for p in c
            .problems
            .into_iter()
            .take(FIRST_REASONS.saturating_sub(summary.first_reasons.len()))
        {
            summary.first_reasons.push(format!("{place}: {p}"));
        }
    }
    summary
}

/// The outcome of checking one record.
struct Checked {
    row: Option<u32>,
    /// Set for valid records, for the duplicate check.
    account: Option<String>,
    problems: Vec<String>,
    warnings: usize,
}

fn check_one(record: &Record, ctx: &RecordContext) -> Checked {
    let raw = match record {
        Record::Row(r) => std::borrow::Cow::Borrowed(r.as_ref()),
        Record::Json(v) => match decode_record(v) {
            Ok(r) => std::borrow::Cow::Owned(r),
            Err(e) => {
                return Checked {
                    row: None,
                    account: None,
                    problems: vec![format!("{}: {}", e.field, e.reason)],
                    warnings: 0,
                };
            }
        },
    };
    let row = raw.source_row;
    match validate_debtor(&raw, ctx) {
        Err(errors) => Checked {
            row,
            account: None,
            problems: errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect(),
            warnings: 0,
        },
        Ok((valid, warnings)) => Checked {
            row,
            account: Some(valid.account),
            problems: Vec::new(),
            warnings: warnings.len(),
        },
    }
}

/// Publishes all records in parts and waits for every confirm. Calls `progress(records_published)`.
///
/// # Errors
/// The broker refused or could not route a part; parts before it may have been published (re-running the same
/// batch id is safe: the worker ignores parts it already has).
pub async fn publish(
    publisher: &mut Publisher,
    target: &BatchTarget,
    records: &[Record],
    mut progress: impl FnMut(usize),
) -> Result<u32, QueueError> {
    let chunk_size = target.chunk_size.max(1);
    let count = u32::try_from(records.len().div_ceil(chunk_size).max(1)).unwrap_or(u32::MAX);
    let routing_key = format!("batch.{}", target.utility);
    let empty: [Record; 0] = [];
    let chunks: Vec<&[Record]> = if records.is_empty() {
        vec![&empty]
    } else {
        records.chunks(chunk_size).collect()
    };
    let mut sent = 0usize;
    for (index, chunk) in chunks.into_iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let message = BatchMessage {
            schema: DEBTOR_BATCH_V1,
            batch_id: target.batch_id,
            utility: &target.utility,
            as_of: target.as_of,
            campaign: target.campaign.as_deref(),
            part: Part {
                index,
                count,
                offset: u32::try_from(sent).unwrap_or(u32::MAX),
            },
            debtors: chunk,
        };
        let body = serde_json::to_vec(&message).expect("records serialize: strings, numbers and raw JSON only");
        publisher
            .send(Outgoing {
                routing_key: routing_key.clone(),
                message_id: format!("{}/{index}", target.batch_id),
                schema: DEBTOR_BATCH_V1,
                body,
            })
            .await?;
        sent += chunk.len();
        progress(sent);
    }
    publisher.flush().await?;
    Ok(count)
}
