//! Bulk seeding of a scratch database for the planning and dispatch benchmarks (not measured): debtors with a
//! mobile number and a debt, spread over Russia's zones, written by set-based SQL.

use sqlx::PgPool;
use uuid::Uuid;

use super::intake::UTILITY;

/// Zones from Kaliningrad (UTC+2) to Kamchatka (UTC+12).
pub const ZONES: [&str; 11] = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
];

/// Stores `n` debtors; `spread` puts them in all eleven zones, otherwise all in Asia/Yekaterinburg.
///
/// # Errors
/// Database failures.
pub async fn debtors(pool: &PgPool, n: usize, spread: bool) -> Result<(), sqlx::Error> {
    let batch = Uuid::new_v4();
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let zones: Vec<&str> = if spread {
        ZONES.to_vec()
    } else {
        vec!["Asia/Yekaterinburg"]
    };
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into batch (batch_id, utility_id, as_of, status, parts_expected, parts_received, received, accepted)
         values ($1, $2, '2026-11-20', 'completed', 1, 1, $3, $3)",
    )
    .bind(batch)
    .bind(UTILITY)
    .bind(i32::try_from(n).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into debtor (utility_id, account, full_name, address, timezone, current_batch_id, current_as_of)
         select $1, lpad(i::text, 10, '0'), 'Смирнова Ирина Ивановна', 'ХМАО-Югра, г. Сургут, ул. Мира, д. 1',
                $3[1 + i % cardinality($3)], $2, '2026-11-20'
         from generate_series(1, $4) i",
    )
    .bind(UTILITY)
    .bind(batch)
    .bind(&zones)
    .bind(n)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into phone (debtor_id, e164, kind, position, first_seen_batch_id, last_seen_batch_id, last_seen_as_of)
         select debtor_id, '+79' || lpad(debtor_id::text, 9, '0'), 'mobile', 0, $1, $1, '2026-11-20' from debtor",
    )
    .bind(batch)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into debt_snapshot (debtor_id, batch_id, as_of, debt_total, penalty, months_overdue, services,
                                    agreement_active)
         select debtor_id, $1, '2026-11-20', 500 + debtor_id % 100000, 12.5, 1 + debtor_id % 24,
                jsonb_build_array(jsonb_build_object('service', 'ХВС', 'debt', (500 + debtor_id % 100000)::text)),
                false
         from debtor",
    )
    .bind(batch)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("analyze batch, debtor, phone, debt_snapshot")
        .execute(pool)
        .await?;
    Ok(())
}

/// A running one-step SMS campaign starting at `start`.
///
/// # Errors
/// Invalid definition or database failures.
pub async fn campaign(pool: &PgPool, start: &str) -> anyhow::Result<i64> {
    let toml = format!(
        "name = \"bench\"\nutility = \"{UTILITY}\"\nstarts_at = \"{start}\"\n[audience]\nexclude_paid = true\n\
         [[steps]]\ntemplate = \"soft-reminder-sms\"\n"
    );
    let id = crate::campaign::create(pool, &toml, "bench").await?;
    crate::campaign::act(
        pool,
        &crate::clock::SystemClock,
        id,
        crate::campaign::Action::Start,
        "bench",
    )
    .await?;
    Ok(id)
}
