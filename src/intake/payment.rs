//! `payment.v1`: an account paid. Stored once per `payment_id`; a full payment (or one covering the current
//! debt) cancels the debtor's pending notices with reason `paid`. Also: after a batch part is stored, notices
//! of debtors it shows paid are cancelled, and pre-trial kinds of debtors with an active agreement suppressed.

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::process::Verdict;
use crate::storage::{StorageError, delivery, payment};

/// Schema name of a payment message.
pub const PAYMENT_V1: &str = "payment.v1";

/// The wire form (docs/schema/payment.v1.schema.json).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMessage {
    pub schema: String,
    /// The producer's id: the idempotency key.
    pub payment_id: String,
    pub utility: String,
    pub account: String,
    /// Roubles as a decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub paid_on: NaiveDate,
    /// The debt is paid in full.
    #[serde(default)]
    pub full: bool,
}

/// Whether a message is a payment: by the `schema` header, or by the body's `schema` field when there is no
/// header.
#[must_use]
pub fn is_payment(schema_header: Option<&str>, body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        schema: Option<String>,
    }
    match schema_header {
        Some(h) => h == PAYMENT_V1,
        // Without the header, the body's `schema` field decides (a full scan, so only then).
        None => serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.schema.as_deref() == Some(PAYMENT_V1)),
    }
}

/// Decodes and applies a payment. `Err(reason)` inside `Ok` means dead-letter it.
///
/// # Errors
/// Database failures (the caller retries).
pub async fn process_payment(pool: &PgPool, body: &[u8], message_id: Option<&str>) -> Result<Verdict, StorageError> {
    let msg: PaymentMessage = match serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
        Ok(m) => m,
        Err(e) => return Ok(dead(format!("invalid payment.v1: field {}: {}", e.path(), e.inner()))),
    };
    if msg.amount <= Decimal::ZERO {
        return Ok(dead(format!(
            "payment {}: field amount: must be positive",
            msg.payment_id
        )));
    }
    if msg.payment_id.trim().is_empty() || msg.account.trim().is_empty() {
        return Ok(dead(
            "payment.v1: fields payment_id and account must not be empty".into(),
        ));
    }
    let stored = payment::store_payment(pool, &msg, message_id, Utc::now()).await?;
    Ok(match stored {
        None => Verdict::PaymentDuplicate {
            payment_id: msg.payment_id,
        },
        Some(p) if !p.known_debtor => dead(format!(
            "payment {}: no debtor with this account for utility '{}'",
            msg.payment_id, msg.utility
        )),
        Some(p) => Verdict::Payment {
            payment_id: msg.payment_id,
            cancelled: p.cancelled,
        },
    })
}

fn dead(reason: String) -> Verdict {
    Verdict::DeadLetter { reason }
}

/// After a batch part is stored: cancels pending notices of debtors it shows paid (reason `paid`) and
/// suppresses pre-trial and restriction notices of debtors with an active agreement. Idempotent.
///
/// # Errors
/// Database failures.
pub async fn apply_batch_effects(pool: &PgPool, batch_id: Uuid) -> Result<(), StorageError> {
    let now = Utc::now();
    let (paid, agreed) = payment::batch_paid_and_agreed(pool, batch_id).await?;
    if !paid.is_empty() {
        delivery::cancel_pending(
            pool,
            delivery::Scope::Debtors(&paid),
            "cancelled",
            "paid",
            "intake",
            now,
        )
        .await?;
    }
    if !agreed.is_empty() {
        let scope = delivery::Scope::DebtorsPretrial(&agreed);
        delivery::cancel_pending(pool, scope, "suppressed", "agreement_active", "intake", now).await?;
    }
    Ok(())
}
