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

/// Validates every record as the worker will (the zone defaults to the record's own or Moscow for the check).
#[must_use]
pub fn check(file: &ParsedFile, as_of: NaiveDate) -> CheckSummary {
    let ctx = RecordContext {
        default_timezone: chrono_tz::Europe::Moscow,
        as_of,
    };
    let mut summary = CheckSummary {
        rows_read: file.records.len(),
        ..CheckSummary::default()
    };
    let mut seen = HashSet::with_capacity(file.records.len());
    for (i, record) in file.records.iter().enumerate() {
        let (row, problems, warnings) = check_one(record, &ctx, &mut seen);
        let place = row.map_or_else(|| format!("record {i}"), |r| format!("row {r}"));
        if problems.is_empty() {
            summary.valid += 1;
            summary.warnings += warnings.len();
            continue;
        }
        summary.rejected += 1;
        for p in problems
            .into_iter()
            .take(FIRST_REASONS.saturating_sub(summary.first_reasons.len()))
        {
            summary.first_reasons.push(format!("{place}: {p}"));
        }
    }
    summary
}

fn check_one(
    record: &Record,
    ctx: &RecordContext,
    seen: &mut HashSet<String>,
) -> (Option<u32>, Vec<String>, Vec<String>) {
    let raw = match record {
        Record::Row(r) => std::borrow::Cow::Borrowed(r.as_ref()),
        Record::Json(v) => match decode_record(v) {
            Ok(r) => std::borrow::Cow::Owned(r),
            Err(e) => return (None, vec![format!("{}: {}", e.field, e.reason)], Vec::new()),
        },
    };
    let row = raw.source_row;
    match validate_debtor(&raw, ctx) {
        Err(errors) => (
            row,
            errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect(),
            Vec::new(),
        ),
        Ok((valid, _)) if !seen.insert(valid.account.clone()) => (
            row,
            vec![format!("account: duplicate account {} in file", valid.account)],
            Vec::new(),
        ),
        Ok((_, warnings)) => (
            row,
            Vec::new(),
            warnings.iter().map(|w| format!("{}: {}", w.field, w.reason)).collect(),
        ),
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
