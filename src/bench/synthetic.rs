//! Synthetic but realistic debtors for benchmarks: Russian names, every phone shape, comma amounts.

use std::fmt::Write;

const SURNAMES: &[&str] = &[
    "Смирнова",
    "Иванов",
    "Кузнецова",
    "Попов",
    "Соколова",
    "Лебедев",
    "Козлова",
    "Новиков",
];
const NAMES: &[&str] = &[
    "Ирина Ивановна",
    "Андрей Викторович",
    "Мария Сергеевна",
    "Дмитрий Петрович",
];
const SERVICES: &[&str] = &[
    "ХВС",
    "ГВС",
    "отопление",
    "водоотведение",
    "электроснабжение",
    "обращение с ТКО",
];

/// Header of the 1C export the samples use.
pub const CSV_HEADER: &str = "Лицевой счет;ФИО;Телефон;Адрес;Сумма долга, руб.;Пени, руб.;Месяцев просрочки;\
Дата последней оплаты;Долг по услугам;Соглашение о погашении";

/// Phone `i` in one of the shapes billing exports use.
fn phone(i: usize) -> String {
    let n = 9_000_000_000 + (i as u64 * 7_919) % 999_999_999;
    let s = n.to_string();
    match i % 4 {
        0 => format!("+7 {} {} {} {}", &s[0..3], &s[3..6], &s[6..8], &s[8..10]),
        1 => format!("8 ({}) {}-{}-{}", &s[0..3], &s[3..6], &s[6..8], &s[8..10]),
        2 => format!("7{s}"),
        _ => format!("8-{}-{}-{}", &s[0..3], &s[3..6], &s[6..10]),
    }
}

/// Kopecks of record `i`: 100 ₽ to ~150 000 ₽.
fn kopecks(i: usize) -> u64 {
    10_000 + (i as u64 * 104_729) % 15_000_000
}

fn rub(kopecks: u64, sep: char) -> String {
    format!("{}{sep}{:02}", kopecks / 100, kopecks % 100)
}

/// One debtor as a `debtor-batch.v1` JSON record.
#[must_use]
pub fn json_record(i: usize) -> serde_json::Value {
    let k = kopecks(i);
    serde_json::json!({
        "account": format!("{:010}", 8_600_000_000u64 + i as u64),
        "full_name": format!("{} {}", SURNAMES[i % SURNAMES.len()], NAMES[i % NAMES.len()]),
        "phones": [phone(i)],
        "address": format!("ХМАО-Югра, г. Сургут, ул. Мира, д. {}, кв. {}", i % 97 + 1, i % 211 + 1),
        "timezone": "Asia/Yekaterinburg",
        "debt_total": rub(k, '.'),
        "penalty": rub(k / 11, '.'),
        "months_overdue": i % 24 + 1,
        "services": [{"service": SERVICES[i % SERVICES.len()], "debt": rub(k, '.')}],
        "last_payment_date": format!("2026-{:02}-{:02}", i % 10 + 1, i % 28 + 1),
        "agreement_active": i.is_multiple_of(17)
    })
}

/// One debtor as a line of a 1C CSV export (without line ending).
pub fn csv_line(i: usize, out: &mut String) {
    let k = kopecks(i);
    let _ = write!(
        out,
        "{:010};{} {};{};ХМАО-Югра, г. Сургут, ул. Мира, д. {}, кв. {};{};{};{};{:02}.{:02}.2026;\"{}: {}; ХВС: 0,00\";{}",
        8_600_000_000u64 + i as u64,
        SURNAMES[i % SURNAMES.len()],
        NAMES[i % NAMES.len()],
        phone(i),
        i % 97 + 1,
        i % 211 + 1,
        rub(k, ','),
        rub(k / 11, ','),
        i % 24 + 1,
        i % 28 + 1,
        i % 10 + 1,
        SERVICES[i % SERVICES.len()],
        rub(k, ','),
        if i.is_multiple_of(17) { "да" } else { "нет" }
    );
}
