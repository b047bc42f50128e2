//! Checks a template must pass before it is saved. Each problem is a sentence an editor can act on.

use super::{Channel, Engine, RenderContext, TemplateKind, context};

/// What lint needs to know about a template.
pub struct LintInput<'a> {
    pub kind: TemplateKind,
    pub channel: Channel,
    pub body: &'a str,
    /// The tenant allows the full name and the address in SMS.
    pub allow_personal_details_in_sms: bool,
}

/// Words that must not appear in a debt notice (230-ФЗ ст.7: no threats beyond the law).
const FORBIDDEN: &[(&str, &str)] = &[("уголовн", "threatens criminal liability (уголовная ответственность)")];

/// Runs every rule. `Ok` carries the variables the template uses.
///
/// # Errors
/// Every problem found, as sentences.
pub fn lint(input: &LintInput<'_>) -> Result<Vec<String>, Vec<String>> {
    let mut engine = Engine::new();
    if let Err(e) = engine.add("lint", input.body) {
        return Err(vec![format!("syntax: {}", detail(&e))]);
    }
    let variables = engine.variables("lint").unwrap_or_default();
    let mut problems = Vec::new();
    for v in &variables {
        if !context::VARIABLES.contains(&v.as_str()) {
            problems.push(format!(
                "unknown variable '{v}' (known: {})",
                context::VARIABLES.join(", ")
            ));
        }
    }
    let uses = |path: &str| {
        variables
            .iter()
            .any(|v| v == path || v.starts_with(&format!("{path}.")))
    };
    if !context::PERSONAL.iter().any(|p| uses(p)) {
        problems.push("the text uses no personal field (account, name or debt): that would be advertising".into());
    }
    if input.channel == Channel::Sms && !input.allow_personal_details_in_sms {
        for field in ["name.full", "address"] {
            if uses(field) {
                problems.push(format!(
                    "'{field}' in an SMS needs the tenant's permission; use name.initials or account_masked"
                ));
            }
        }
    }
    let lower = input.body.to_lowercase();
    for (word, why) in FORBIDDEN {
        if lower.contains(word) {
            problems.push(format!("the text {why}"));
        }
    }
    if input.kind == TemplateKind::RestrictionWarning {
        problems.extend(restriction_warning_problems(&lower, &uses));
    }
    if problems.is_empty()
        && let Err(e) = engine.render("lint", &RenderContext::sample())
    {
        problems.push(format!("does not render for a sample debtor: {}", detail(&e)));
    }
    if problems.is_empty() {
        Ok(variables)
    } else {
        Err(problems)
    }
}

/// Decree 354 п.119: what a restriction warning must say, and that heating is never restricted.
fn restriction_warning_problems(lower: &str, uses: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut problems = Vec::new();
    let required_vars = [
        ("creditor.name", "the creditor's name"),
        ("debt.total", "the debt amount"),
        ("debt.as_of", "the date the debt is as of"),
        ("creditor.phone", "a contact phone"),
    ];
    for (var, what) in required_vars {
        if !uses(var) {
            problems.push(format!("a restriction warning must state {what} ({var})"));
        }
    }
    let required_words = [
        ("20 дней", "the 20-day period («20 дней»)"),
        (
            "со дня доставки",
            "that the period runs from delivery («со дня доставки»)",
        ),
        ("ограничен", "the restriction («ограничение»)"),
        ("приостановлен", "the suspension that follows («приостановление»)"),
    ];
    for (word, what) in required_words {
        if !lower.contains(word) {
            problems.push(format!("a restriction warning must state {what}"));
        }
    }
    if !(lower.contains("оплат") || lower.contains("соглашени") || uses("creditor.payment_url")) {
        problems.push("a restriction warning must say how to pay or sign an agreement".into());
    }
    if !uses("debt.restrictable_services") {
        problems.push("a restriction warning must name the services it restricts (debt.restrictable_services)".into());
    }
    if lower.contains("отоплен") {
        problems.push("heating (отопление) is never restricted: remove it from a restriction warning".into());
    }
    problems
}

fn detail(e: &super::RenderError) -> String {
    let super::RenderError::Template(inner) = e;
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: TemplateKind, channel: Channel, body: &str) -> Result<Vec<String>, Vec<String>> {
        lint(&LintInput {
            kind,
            channel,
            body,
            allow_personal_details_in_sms: false,
        })
    }

    #[test]
    fn a_plain_reminder_passes() {
        let body =
            "{{ creditor.name }}: долг по ЛС {{ account_masked }} {{ debt.total | money }}. Тел. {{ creditor.phone }}";
        assert!(check(TemplateKind::SoftReminder, Channel::Sms, body).is_ok());
    }

    #[test]
    fn unknown_variables_and_syntax_errors_are_named() {
        let e = check(
            TemplateKind::SoftReminder,
            Channel::Sms,
            "{{ debt.totl }} {{ account_masked }}",
        )
        .unwrap_err();
        assert!(e[0].contains("unknown variable 'debt.totl'"), "{e:?}");
        let e = check(TemplateKind::SoftReminder, Channel::Sms, "{{ debt.total ").unwrap_err();
        assert!(e[0].starts_with("syntax:"), "{e:?}");
    }

    #[test]
    fn a_text_without_personal_fields_is_advertising() {
        let e = check(
            TemplateKind::Custom,
            Channel::Sms,
            "Оплачивайте ЖКУ вовремя! {{ creditor.name }}",
        )
        .unwrap_err();
        assert!(e[0].contains("advertising"));
    }

    #[test]
    fn full_name_and_address_in_sms_need_permission() {
        let body = "{{ name.full }}, {{ address }}: долг {{ debt.total | money }}";
        assert_eq!(
            check(TemplateKind::SoftReminder, Channel::Sms, body).unwrap_err().len(),
            2
        );
        assert!(check(TemplateKind::SoftReminder, Channel::Voice, body).is_ok());
        let allowed = LintInput {
            kind: TemplateKind::SoftReminder,
            channel: Channel::Sms,
            body,
            allow_personal_details_in_sms: true,
        };
        assert!(lint(&allowed).is_ok());
    }

    #[test]
    fn a_restriction_warning_without_its_parts_or_for_heating_is_refused() {
        let e = check(
            TemplateKind::RestrictionWarning,
            Channel::Sms,
            "Долг {{ debt.total | money }}, будет ограничение отопления",
        )
        .unwrap_err();
        let text = e.join("\n");
        for needle in [
            "creditor.name",
            "20-day",
            "delivery",
            "suspension",
            "contact phone",
            "heating",
        ] {
            assert!(text.contains(needle), "missing '{needle}' in {text}");
        }
    }

    #[test]
    fn debtor_text_is_data_never_template_code() {
        let mut engine = Engine::new();
        engine.add("t", "{{ name.full }}: {{ debt.total | money }}").unwrap();
        let mut ctx = RenderContext::sample();
        ctx.name = Some(crate::render::context::NameForms::from_full(
            "{{ 7*7 }} <script>alert(1)</script> {% raw %}",
        ));
        assert_eq!(
            engine.render("t", &ctx).unwrap(),
            "{{ 7*7 }} <script>alert(1)</script> {% raw %}: 3\u{a0}673,54\u{a0}₽"
        );
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel_and_a_missing_value_never_prints_none() {
        let body = "{{ account_masked }}{% for i in range(100000) %}x{% endfor %}";
        let e = check(TemplateKind::Custom, Channel::Voice, body).unwrap_err();
        assert!(e[0].contains("does not render"), "{e:?}");
        let mut engine = Engine::new();
        engine.add("t", "{{ account_masked }} {{ creditor.phone }}").unwrap();
        let mut ctx = RenderContext::sample();
        ctx.creditor.phone = None;
        assert!(engine.render("t", &ctx).is_err());
    }

    #[test]
    fn numbers_in_words_take_gender_and_case_in_templates() {
        let mut engine = Engine::new();
        let body = "в течение {{ 21 | in_words('m', 'gen') }} дня, {{ 21 | in_words('f') }} копейка, {{ debt.total | money_words('gen') }}";
        engine.add("t", body).unwrap();
        let text = engine.render("t", &RenderContext::sample()).unwrap();
        assert_eq!(
            text,
            "в течение двадцати одного дня, двадцать одна копейка, трёх тысяч шестисот семидесяти трёх рублей пятидесяти четырёх копеек"
        );
    }

    #[test]
    fn threats_of_criminal_liability_are_refused() {
        let e = check(
            TemplateKind::Pretrial,
            Channel::Sms,
            "{{ debt.total }}: грозит уголовная ответственность",
        )
        .unwrap_err();
        assert!(e[0].contains("criminal"));
    }
}
