//! Payments (`payment.v1`), stored once each, and the debtors a batch shows paid or under an agreement.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    StorageError,
    delivery::{Scope, cancel_pending},
};
use crate::intake::payment::PaymentMessage;

/// A newly stored payment.
#[derive(Debug, Clone, Copy)]
pub struct StoredPayment {
    pub known_debtor: bool,
    pub cancelled: u64,
}

/// Stores a payment and, when it covers the debt, cancels the debtor's pending notices — in one transaction.
/// `None`: this payment id was stored before. An unknown account stores nothing.
///
/// # Errors
/// Database failures.
pub async fn store_payment(
    pool: &PgPool,
    p: &PaymentMessage,
    message_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<StoredPayment>, StorageError> {
    let mut tx = pool.begin().await?;
    let debtor: Option<(i64, Decimal)> =
        sqlx::query_as("select debtor_id, debt_total from current_debt where utility_id = $1 and account = $2")
            .bind(&p.utility)
            .bind(&p.account)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((debtor_id, debt)) = debtor else {
        return Ok(Some(StoredPayment {
            known_debtor: false,
            cancelled: 0,
        }));
    };
    let inserted = sqlx::query(
        "insert into payment (payment_id, utility_id, account, amount, paid_on, full_payment, message_id)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (payment_id) do nothing",
    )
    .bind(&p.payment_id)
    .bind(&p.utility)
    .bind(&p.account)
    .bind(p.amount)
    .bind(p.paid_on)
    .bind(p.full)
    .bind(message_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    let mut cancelled = 0;
    if p.full || p.amount >= debt {
        cancelled = cancel_pending(
            &mut *tx,
            Scope::Debtors(&[debtor_id]),
            "cancelled",
            "paid",
            "intake",
            now,
        )
        .await?;
        sqlx::query("update payment set cancelled = $2 where payment_id = $1")
            .bind(&p.payment_id)
            .bind(i32::try_from(cancelled).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Some(StoredPayment {
        known_debtor: true,
        cancelled,
    }))
}

/// Debtors of a batch whose debt is zero, and those with an active agreement.
///
/// # Errors
/// Database failures.
pub async fn batch_paid_and_agreed(pool: &PgPool, batch_id: Uuid) -> Result<(Vec<i64>, Vec<i64>), StorageError> {
    let rows: Vec<(i64, bool, bool)> = sqlx::query_as(
        "select s.debtor_id, s.debt_total = 0, s.agreement_active from debt_snapshot s
         join debtor d on d.debtor_id = s.debtor_id and d.current_batch_id = s.batch_id
         where s.batch_id = $1 and (s.debt_total = 0 or s.agreement_active)",
    )
    .bind(batch_id)
    .fetch_all(pool)
    .await?;
    let paid = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
    let agreed = rows.iter().filter(|r| r.2).map(|r| r.0).collect();
    Ok((paid, agreed))
}
