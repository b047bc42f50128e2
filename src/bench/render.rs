//! `bench render`: renders per second of a typical SMS template on one core, context built per render.

use std::time::Instant;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::{
    domain::ServiceDebt,
    render::{
        Engine, RenderContext,
        context::{ContextInput, Creditor},
        sms,
    },
};

/// The built-in soft reminder (migrations/20261127000002_templates.sql).
const TYPICAL_SMS: &str = "{{ creditor.name }}: на {{ debt.as_of | date_ru }} по ЛС {{ account_masked }} долг \
{{ debt.total | money }}. Просим оплатить{% if creditor.payment_url %}: {{ creditor.payment_url }}{% endif %}.\
{% if creditor.phone %} Тел. {{ creditor.phone }}{% endif %}";

/// Runs `renders` renders on the current thread and prints the rate.
pub fn run(renders: usize) {
    let mut engine = Engine::new();
    engine
        .add("typical", TYPICAL_SMS)
        .expect("the built-in template compiles");
    let services = [ServiceDebt {
        service: "ХВС".into(),
        debt: Decimal::new(2_827_82, 2),
    }];
    let accounts: Vec<String> = (0..1000).map(|i| format!("{:010}", 8_600_000_000u64 + i)).collect();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date");
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..renders {
        let ctx = RenderContext::build(ContextInput {
            creditor: Creditor {
                name: "ОКК Октябрьское".into(),
                phone: Some("8 (34678) 2-11-00".into()),
                payment_url: None,
                payment_details: None,
            },
            account: &accounts[i % accounts.len()],
            full_name: Some("Смирнова Ирина Ивановна"),
            address: None,
            debt_total: Decimal::new(272_636 + i as i64 % 1000, 2),
            penalty: Decimal::new(24_537, 2),
            months_overdue: 2,
            as_of,
            services: &services,
        });
        let text = engine.render("typical", &ctx).expect("renders");
        bytes += sms::measure(&text).segments;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench render: {renders} renders of a typical SMS template (context built, rendered and measured each time)"
    );
    println!(
        "  {secs:.2} s on one thread = {:.0} renders/s (target >= 200000); {bytes} segments in all",
        renders as f64 / secs
    );
}
