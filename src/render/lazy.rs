//! The render context for dispatch, evaluated on demand: a template reads a few of the variables, and only
//! those are built (a notice that never prints the name does not split it into forms). Every value comes from
//! the same helpers as the eager [`RenderContext`] previews use, so both render a template identically.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use chrono::NaiveDate;
use minijinja::{
    Value,
    value::{Enumerator, Object, Serde},
};
use rust_decimal::Decimal;

use super::context::{self, ContextInput, Creditor, RenderContext};
use crate::domain::ServiceDebt;

/// One debtor's facts as dispatch claims them; the creditor is shared by every notice of its utility.
#[derive(Clone)]
pub struct Facts {
    pub creditor: Arc<Creditor>,
    pub account: String,
    pub full_name: Option<String>,
    pub address: Option<String>,
    pub debt_total: Decimal,
    pub penalty: Decimal,
    pub months_overdue: i32,
    pub as_of: NaiveDate,
    pub services: Vec<ServiceDebt>,
}

impl fmt::Debug for Facts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names, addresses and amounts are personal data: never in Debug output.
        f.debug_struct("Facts")
            .field("account", &context::mask_account(&self.account))
            .finish_non_exhaustive()
    }
}

impl Facts {
    /// The eager context of the same facts (previews and tests).
    #[must_use]
    pub fn eager(&self) -> RenderContext {
        RenderContext::build(ContextInput {
            creditor: Creditor::clone(&self.creditor),
            account: &self.account,
            full_name: self.full_name.as_deref(),
            address: self.address.as_deref(),
            debt_total: self.debt_total,
            penalty: self.penalty,
            months_overdue: self.months_overdue,
            as_of: self.as_of,
            services: &self.services,
        })
    }

    /// The context a template renders with; nothing is built until the template reads it.
    #[must_use]
    pub fn context(self: &Arc<Self>) -> Value {
        Value::from_object(Lazy {
            facts: Arc::clone(self),
            creditor: OnceLock::new(),
        })
    }
}

/// The top level, in [`RenderContext`]'s field order.
const TOP: &[&str] = &["creditor", "account_masked", "account_tail", "name", "address", "debt"];
/// `debt`, in [`context::Debt`]'s field order.
const DEBT: &[&str] = &[
    "total",
    "penalty",
    "total_with_penalty",
    "months_overdue",
    "as_of",
    "services",
    "restrictable_services",
];

#[derive(Debug)]
struct Lazy {
    facts: Arc<Facts>,
    /// Templates read `creditor.…` several times: built once.
    creditor: OnceLock<Value>,
}

impl Object for Lazy {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let f = &self.facts;
        Some(match key.as_str()? {
            "creditor" => self.creditor.get_or_init(|| Value::from(Serde(&*f.creditor))).clone(),
            "account_masked" => Value::from(context::mask_account(&f.account)),
            "account_tail" => Value::from(context::account_tail(&f.account)),
            "name" => Value::from(Serde(context::name_forms(f.full_name.as_deref()))),
            "address" => Value::from(Serde(&f.address)),
            "debt" => Value::from_object(Debt(Arc::clone(f))),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(TOP)
    }
}

#[derive(Debug)]
struct Debt(Arc<Facts>);

impl Object for Debt {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let f = &self.0;
        Some(match key.as_str()? {
            "total" => Value::from(f.debt_total.to_string()),
            "penalty" => Value::from(f.penalty.to_string()),
            "total_with_penalty" => Value::from((f.debt_total + f.penalty).to_string()),
            "months_overdue" => Value::from(context::months(f.months_overdue)),
            "as_of" => Value::from(f.as_of.to_string()),
            "services" => Value::from(Serde(context::service_lines(&f.services))),
            "restrictable_services" => Value::from(Serde(context::restrictable(&context::service_lines(&f.services)))),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(DEBT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Engine;

    /// Every variable, the loops, the optional guards, the filters, and iteration over the maps.
    const BODY: &str = "{{ creditor.name }}|{{ creditor.phone }}|{{ creditor.payment_url }}|\
        {% if creditor.payment_details %}{{ creditor.payment_details }}{% endif %}|{{ account_masked }}|\
        {{ account_tail }}|{% if name %}{{ name.full }}/{{ name.initials }}/{{ name.first_patronymic }}{% endif %}|\
        {% if address %}{{ address }}{% endif %}|{{ debt.total | money }}|{{ debt.penalty | money_rub }}|\
        {{ debt.total_with_penalty | money_words }}|{{ debt.months_overdue }} \
        {{ debt.months_overdue | plural('месяц', 'месяца', 'месяцев') }}|{{ debt.as_of | date_ru }}|\
        {% for s in debt.services %}{{ s.service }}={{ s.debt | money }};{% endfor %}|\
        {% for s in debt.restrictable_services %}{{ s.service }};{% endfor %}|\
        {% for k in debt %}{{ k }},{% endfor %}|{% for k in creditor %}{{ k }},{% endfor %}|\
        {{ debt.services | length }}|{{ debt.missing is defined }}";

    fn facts_of(ctx: &RenderContext, full_name: Option<&str>, address: Option<&str>) -> Facts {
        Facts {
            creditor: Arc::new(ctx.creditor.clone()),
            account: "8641000002".into(),
            full_name: full_name.map(Into::into),
            address: address.map(Into::into),
            debt_total: Decimal::new(3_673_54, 2),
            penalty: Decimal::new(440_82, 2),
            months_overdue: 2,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            services: context::sample_services(),
        }
    }

    #[test]
    fn the_lazy_context_renders_every_variable_exactly_as_the_eager_one() {
        let mut engine = Engine::new();
        engine.add("t", BODY).expect("compiles");
        let sample = RenderContext::sample();
        for (name, address) in [
            (Some("Лебедева Наталья Николаевна"), Some("ул. Советская, д. 33")),
            (None, None),
            (Some("ООО \"Север\""), None),
        ] {
            let facts = Arc::new(facts_of(&sample, name, address));
            let eager = engine.render("t", &facts.eager()).expect("eager renders");
            let lazy = engine.render_value("t", facts.context()).expect("lazy renders");
            assert_eq!(lazy, eager);
        }
    }

    #[test]
    fn an_unknown_variable_is_undefined_in_the_lazy_context_too() {
        let mut engine = Engine::new();
        engine.add("t", "{{ debt.nothing }}").expect("compiles");
        let facts = Arc::new(facts_of(&RenderContext::sample(), None, None));
        assert!(engine.render("t", &facts.eager()).is_err());
        assert!(engine.render_value("t", facts.context()).is_err());
    }
}
