//! Templates against the real database: built-ins pass lint and render golden texts, versions are kept,
//! the API and the CLI preview what a debtor would receive.

use chrono::NaiveDate;
use debtor_notify::{
    domain::ServiceDebt,
    render::{
        Channel, RenderContext, TemplateKind,
        context::{ContextInput, Creditor},
        lint::{LintInput, lint},
    },
    storage::template,
    templates::{self, Draft},
};
use rust_decimal::Decimal;
use sqlx::PgPool;

/// The second fixed debtor: two services, a long overdue debt, no payment link.
fn fedorov() -> RenderContext {
    let services = [
        ServiceDebt {
            service: "ХВС".into(),
            debt: Decimal::new(44_412_80, 2),
        },
        ServiceDebt {
            service: "электроснабжение".into(),
            debt: Decimal::new(82_763_99, 2),
        },
    ];
    RenderContext::build(ContextInput {
        creditor: Creditor {
            name: "МУП «Теплоэнергия»".into(),
            phone: Some("8 (3467) 33-00-11".into()),
            payment_url: None,
            payment_details: None,
        },
        account: "8684000003",
        full_name: Some("Фёдоров Дмитрий Викторович"),
        address: None,
        debt_total: Decimal::new(127_176_79, 2),
        penalty: Decimal::new(21_01, 2),
        months_overdue: 21,
        as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        services: &services,
    })
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn every_built_in_template_passes_lint_and_renders_its_golden_text(pool: PgPool) {
    let built_in = template::list_templates(&pool).await.unwrap();
    assert_eq!(built_in.len(), 12, "six kinds, each for SMS and voice");
    let price = Decimal::new(250, 2);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for t in &built_in {
        let input = LintInput {
            kind: TemplateKind::parse(&t.kind).unwrap(),
            channel: Channel::parse(&t.channel).unwrap(),
            body: &t.body,
            allow_personal_details_in_sms: false,
        };
        assert!(lint(&input).is_ok(), "{}: {:?}", t.name, lint(&input));
        let (engine, key) = templates::compile(t).unwrap();
        let mut rendered = String::new();
        for ctx in [RenderContext::sample(), fedorov()] {
            let p = templates::preview(&engine, &key, t, &ctx, price).unwrap();
            assert!(
                !p.too_long,
                "{} is {} segments for {}",
                t.name, p.segments, ctx.account_masked
            );
            rendered.push_str(&format!("{}\n[{} chars, {} segments]\n\n", p.text, p.chars, p.segments));
        }
        let path = format!("tests/golden/templates/{}.txt", t.name);
        if update {
            std::fs::write(&path, &rendered).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            rendered, golden,
            "{path} (run with UPDATE_GOLDEN=1 to refresh after a reviewed change)"
        );
    }
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn an_edit_adds_a_version_and_the_pinned_version_keeps_its_text(pool: PgPool) {
    let v1 = template::get_template(&pool, "pretrial-sms", None)
        .await
        .unwrap()
        .unwrap();
    let draft = Draft {
        name: "pretrial-sms".into(),
        kind: None,
        channel: None,
        body: "{{ creditor.name }}: ЛС {{ account_masked }}, долг {{ debt.total | money }}. Оплатите, иначе взыскание через суд.".into(),
        max_segments: None,
        description: None,
        utility: None,
        author: "test".into(),
    };

    let v2 = templates::save(&pool, &draft, false).await.unwrap();

    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v2.kind, "pretrial", "kind and channel carry over");
    let pinned = template::get_template(&pool, "pretrial-sms", Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pinned.body, v1.body);
    assert_eq!(
        template::template_history(&pool, "pretrial-sms").await.unwrap().len(),
        2
    );
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn a_refused_edit_leaves_no_version_behind(pool: PgPool) {
    let draft = Draft {
        name: "restriction-warning-sms".into(),
        kind: None,
        channel: None,
        body: "{{ creditor.name }}: ограничим отопление за долг {{ debt.total | money }}".into(),
        max_segments: None,
        description: None,
        utility: None,
        author: "test".into(),
    };

    let err = templates::save(&pool, &draft, false).await.unwrap_err();

    let text = err.to_string();
    assert!(text.contains("heating") && text.contains("20-day"), "{text}");
    assert_eq!(
        template::template_history(&pool, "restriction-warning-sms")
            .await
            .unwrap()
            .len(),
        1
    );
    let new = Draft {
        name: "pretrial-sms".into(),
        kind: Some(TemplateKind::Pretrial),
        channel: Some(Channel::Sms),
        ..draft
    };
    assert!(matches!(
        templates::save(&pool, &new, true).await,
        Err(templates::TemplateError::Exists(_))
    ));
}

#[sqlx::test(migrator = "debtor_notify::storage::MIGRATOR")]
async fn the_full_name_in_sms_is_allowed_only_in_a_template_of_a_tenant_that_allows_it(pool: PgPool) {
    use debtor_notify::storage::utility::{UtilityContacts, insert_utility, set_utility_contacts};
    insert_utility(&pool, "okk-a", "ОКК А", "Asia/Yekaterinburg")
        .await
        .unwrap();
    let draft = |name: &str, utility: Option<&str>| Draft {
        name: name.into(),
        kind: Some(TemplateKind::SoftReminder),
        channel: Some(Channel::Sms),
        body: "{{ name.full }}, долг {{ debt.total | money }}".into(),
        max_segments: None,
        description: None,
        utility: utility.map(Into::into),
        author: "test".into(),
    };

    let shared = templates::save(&pool, &draft("shared-sms", None), true).await;
    let before = templates::save(&pool, &draft("okk-a-sms", Some("okk-a")), true).await;
    let allow = UtilityContacts {
        allow_personal_details_in_sms: Some(true),
        ..UtilityContacts::default()
    };
    set_utility_contacts(&pool, "okk-a", &allow).await.unwrap();
    let after = templates::save(&pool, &draft("okk-a-sms", Some("okk-a")), true).await;

    assert!(matches!(shared, Err(templates::TemplateError::Lint(_))));
    assert!(matches!(before, Err(templates::TemplateError::Lint(_))));
    assert_eq!(after.unwrap().utility_id.as_deref(), Some("okk-a"));
}
