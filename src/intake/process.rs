//! One batch message from bytes to a stored part: envelope checks, per-record decoding and validation, and the
//! commit. Returns a [`Verdict`]; the caller acks, dead-letters or requeues accordingly.

use std::{collections::HashMap, str::FromStr};

use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    config::IntakeSettings,
    domain::{debtor::RecordContext, validate_debtor},
    queue::message::{BatchEnvelope, CONTENT_TYPE_JSON, DEBTOR_BATCH_V1, Part, decode_record},
    storage::{
        StorageError,
        intake::{DeadLetter, IntakeErrorRow, PartToStore, Severity, StoreOutcome, record_dead_letter, store_part},
        utility::get_utility,
    },
};

/// Largest number of parts one batch may have.
const MAX_PARTS: u32 = 100_000;

/// A message as received, independent of the broker library.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub schema_header: Option<String>,
    pub message_id: Option<String>,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Committed; ack it.
    Stored {
        batch_id: Uuid,
        part: u32,
        accepted: i32,
        rejected: i32,
    },
    /// Stored before (redelivery); ack it.
    Duplicate { batch_id: Uuid, part: u32 },
    /// Recorded in `intake_error`; publish to the dead-letter exchange with this reason, then ack.
    DeadLetter { reason: String },
    /// A `payment.v1` stored (and `cancelled` pending notices); ack it.
    Payment { payment_id: String, cancelled: u64 },
    /// A payment stored before; ack it.
    PaymentDuplicate { payment_id: String },
}

/// Processes one message. Database failures are returned for the caller to retry; everything else is a verdict.
///
/// # Errors
/// [`StorageError`] when the database fails; nothing was committed.
pub async fn process_message(pool: &PgPool, settings: &IntakeSettings, msg: Incoming) -> Result<Verdict, StorageError> {
    let digest = Sha256::digest(&msg.body).to_vec();
    let message_id = msg.message_id.clone();
    let dead = |reason: String, batch_id: Option<Uuid>, part_index: Option<i32>| DeadLetter {
        batch_id,
        rejected_batch: None,
        part_index,
        message_id: message_id.clone(),
        digest: digest.clone(),
        reason,
    };
    if super::payment::is_payment(msg.schema_header.as_deref(), &msg.body)
        && msg.body.len() <= settings.max_message_bytes
    {
        return match super::payment::process_payment(pool, &msg.body, message_id.as_deref()).await? {
            Verdict::DeadLetter { reason } => dead_letter(pool, dead(reason, None, None)).await,
            v => Ok(v),
        };
    }
    if let Some(reason) = check_headers(&msg, settings.max_message_bytes) {
        let probe = Probe::read(&msg.body);
        return dead_letter(pool, dead(reason, probe.batch_id, None)).await;
    }
    let envelope = match decode_envelope(&msg.body) {
        Ok(e) => e,
        Err((reason, batch_id)) => return dead_letter(pool, dead(reason, batch_id, None)).await,
    };
    let part = envelope.part.unwrap_or(Part::WHOLE);
    let part_index = i32::try_from(part.index).ok();
    if part.count == 0 || part.count > MAX_PARTS || part.index >= part.count {
        let reason = format!("part {}/{} is out of range", part.index, part.count);
        return dead_letter(pool, dead(reason, Some(envelope.batch_id), part_index)).await;
    }
    let Some(utility) = get_utility(pool, &envelope.utility).await? else {
        let mut d = dead(
            format!("unknown utility '{}'", envelope.utility),
            Some(envelope.batch_id),
            part_index,
        );
        d.rejected_batch = Some((envelope.utility.clone(), Some(envelope.as_of)));
        return dead_letter(pool, d).await;
    };
    let default_timezone = Tz::from_str(&utility.timezone).unwrap_or(chrono_tz::Europe::Moscow);
    let ctx = RecordContext {
        default_timezone,
        as_of: envelope.as_of,
    };
    let to_store = build_part(&envelope, part, ctx, message_id.clone());
    let (batch_id, utility_id) = (to_store.batch_id, to_store.utility_id.clone());
    let outcome = store_part(pool, &to_store).await?;
    if matches!(outcome, StoreOutcome::Stored { .. } | StoreOutcome::AlreadyStored) {
        super::payment::apply_batch_effects(pool, batch_id).await?;
    }
    match outcome {
        StoreOutcome::Stored { accepted, rejected } => Ok(Verdict::Stored {
            batch_id,
            part: part.index,
            accepted,
            rejected,
        }),
        StoreOutcome::AlreadyStored => Ok(Verdict::Duplicate {
            batch_id,
            part: part.index,
        }),
        StoreOutcome::BatchOwnedByOtherUtility => {
            let reason = format!("batch id is already used by another utility than '{utility_id}'");
            dead_letter(pool, dead(reason, Some(batch_id), part_index)).await
        }
    }
}

/// Records a message that could not be processed at all (the database refused it, or processing failed) so
/// it can be dead-lettered with a row an operator sees.
///
/// # Errors
/// The database fails to record it; the caller then requeues.
pub async fn record_unprocessable(pool: &PgPool, msg: &Incoming, reason: String) -> Result<Verdict, StorageError> {
    let dead = DeadLetter {
        batch_id: Probe::read(&msg.body).batch_id,
        rejected_batch: None,
        part_index: None,
        message_id: msg.message_id.clone(),
        digest: Sha256::digest(&msg.body).to_vec(),
        reason,
    };
    dead_letter(pool, dead).await
}

async fn dead_letter(pool: &PgPool, dead: DeadLetter) -> Result<Verdict, StorageError> {
    record_dead_letter(pool, &dead).await?;
    Ok(Verdict::DeadLetter { reason: dead.reason })
}

fn check_headers(msg: &Incoming, max_bytes: usize) -> Option<String> {
    if msg.body.len() > max_bytes {
        return Some(format!(
            "message is {} bytes, over the limit of {max_bytes}",
            msg.body.len()
        ));
    }
    if let Some(ct) = msg.content_type.as_deref() {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(CONTENT_TYPE_JSON) {
            return Some(format!("content-type '{ct}' is not {CONTENT_TYPE_JSON}"));
        }
    }
    match msg.schema_header.as_deref() {
        Some(s) if s != DEBTOR_BATCH_V1 => Some(format!("unknown schema '{s}' (expected {DEBTOR_BATCH_V1})")),
        _ => None,
    }
}

/// Just enough of a message to name its batch and schema when the full decode fails.
#[derive(Deserialize, Default)]
struct Probe {
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    batch_id: Option<Uuid>,
}

impl Probe {
    fn read(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

fn decode_envelope(body: &[u8]) -> Result<BatchEnvelope<'_>, (String, Option<Uuid>)> {
    match serde_json::from_slice::<BatchEnvelope<'_>>(body) {
        Ok(e) if e.schema == DEBTOR_BATCH_V1 => Ok(e),
        Ok(e) => Err((
            format!("unknown schema '{}' (expected {DEBTOR_BATCH_V1})", e.schema),
            Some(e.batch_id),
        )),
        Err(err) => {
            let probe = Probe::read(body);
            let reason = match probe.schema.as_deref() {
                Some(s) if s != DEBTOR_BATCH_V1 => format!("unknown schema '{s}' (expected {DEBTOR_BATCH_V1})"),
                _ if std::str::from_utf8(body).is_err() => "body is not UTF-8 JSON".to_owned(),
                _ => format!("not a valid {DEBTOR_BATCH_V1} message: {err}"),
            };
            Err((reason, probe.batch_id))
        }
    }
}

/// Decodes and validates every record of a part. CPU-bound; a part of 1,000 records takes milliseconds.
fn build_part(envelope: &BatchEnvelope<'_>, part: Part, ctx: RecordContext, message_id: Option<String>) -> PartToStore {
    let mut debtors = Vec::with_capacity(envelope.debtors.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, i32> = HashMap::with_capacity(envelope.debtors.len());
    for (i, raw) in envelope.debtors.iter().enumerate() {
        let index = i32::try_from(u64::from(part.offset) + i as u64).unwrap_or(i32::MAX);
        let reject = |field: String, reason: String, account: Option<String>, source_row: Option<u32>| IntakeErrorRow {
            record_index: index,
            source_row: source_row.and_then(|r| i32::try_from(r).ok()),
            account,
            field,
            severity: Severity::Rejected,
            reason,
        };
        let record = match decode_record(raw) {
            Ok(r) => r,
            Err(e) => {
                errors.push(reject(e.field, e.reason, account_of(raw), None));
                continue;
            }
        };
        let source_row = record.source_row;
        match validate_debtor(&record, &ctx) {
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|p| reject(p.field.into(), p.reason, record.account.clone(), source_row)),
            ),
            Ok((valid, warnings)) => {
                if let Some(first) = seen.get(&valid.account) {
                    let reason = format!("duplicate account in batch (first at record {first})");
                    errors.push(reject("account".into(), reason, Some(valid.account), source_row));
                    continue;
                }
                errors.extend(warnings.into_iter().map(|w| IntakeErrorRow {
                    severity: Severity::Warning,
                    ..reject(w.field.into(), w.reason, Some(valid.account.clone()), source_row)
                }));
                seen.insert(valid.account.clone(), index);
                debtors.push((index, valid));
            }
        }
    }
    debtors.sort_unstable_by(|a, b| a.1.account.cmp(&b.1.account));
    PartToStore {
        batch_id: envelope.batch_id,
        utility_id: envelope.utility.clone(),
        as_of: envelope.as_of,
        campaign: envelope.campaign.clone(),
        part_index: i32::try_from(part.index).unwrap_or(i32::MAX),
        parts_expected: i32::try_from(part.count).unwrap_or(i32::MAX),
        message_id,
        received: i32::try_from(envelope.debtors.len()).unwrap_or(i32::MAX),
        debtors,
        errors,
    }
}

fn account_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct AccountOnly {
        account: Option<serde_json::Value>,
    }
    let value = serde_json::from_str::<AccountOnly>(raw.get()).ok()?.account?;
    Some(match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}
