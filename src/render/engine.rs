//! The template engine: minijinja with strict undefined variables, an instruction budget (fuel), no file
//! access (no loader), no auto-escaping, and the Russian filters. Templates are compiled once per
//! (name, version) and cached.

use std::str::FromStr;

use chrono::{Duration, NaiveDate};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value, syntax::SyntaxConfig, value::Serde,
};
use rust_decimal::Decimal;

use super::{RenderError, context::RenderContext, ru};

/// Instructions one render may execute; a loop over a hostile range stops here.
const FUEL: u64 = 20_000;

/// minijinja's built-in global functions (feature `builtins`); not variables.
const BUILTIN_FUNCTIONS: [&str; 7] = ["range", "dict", "namespace", "debug", "lipsum", "cycler", "joiner"];

/// A compiled set of templates.
pub struct Engine {
    env: Environment<'static>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with no templates.
    #[must_use]
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(16);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // A missing optional value (no phone on file, no name) must not print as "none": the render fails and the
        // notice is suppressed with the reason instead. Guard optional values with `{% if … %}`.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                return Err(Error::new(
                    ErrorKind::UndefinedError,
                    "a value printed by the template is missing (none)",
                ));
            }
            minijinja::escape_formatter(out, state, value)
        });
        // Block tags do not leave blank lines behind.
        let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build();
        env.set_syntax(syntax.expect("the default delimiters are a valid syntax"));
        env.add_filter("money", |v: Value| -> Result<String, Error> {
            Ok(ru::money(decimal(&v)?))
        });
        env.add_filter("money_rub", |v: Value| -> Result<String, Error> {
            Ok(ru::money_rub(decimal(&v)?))
        });
        env.add_filter(
            "money_words",
            |v: Value, case: Option<String>| -> Result<String, Error> {
                let amount = decimal(&v)?;
                Ok(match grammatical_case(case.as_deref())? {
                    ru::Case::Nominative => ru::money_in_words(amount),
                    ru::Case::Genitive => ru::money_in_words_genitive(amount),
                })
            },
        );
        env.add_filter("in_words", in_words);
        env.add_filter("plural", |n: u64, one: String, few: String, many: String| {
            ru::plural_form(n, [&one, &few, &many]).to_owned()
        });
        env.add_filter("date_ru", |v: Value| -> Result<String, Error> {
            Ok(ru::date(date(&v)?))
        });
        env.add_filter("add_days", |v: Value, days: i64| -> Result<String, Error> {
            Ok((date(&v)? + Duration::days(days)).to_string())
        });
        Self { env }
    }

    /// Compiles a body under `key` (e.g. `pretrial-sms@3`), replacing an earlier one.
    ///
    /// # Errors
    /// A syntax error, with its line.
    pub fn add(&mut self, key: &str, body: &str) -> Result<(), RenderError> {
        self.env
            .add_template_owned(key.to_owned(), body.to_owned())
            .map_err(RenderError::from)
    }

    /// Whether `key` is compiled.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.env.get_template(key).is_ok()
    }

    /// Renders a compiled template; the text is trimmed.
    ///
    /// # Errors
    /// Unknown template, an undefined variable, a filter error or the fuel running out.
    pub fn render(&self, key: &str, ctx: &RenderContext) -> Result<String, RenderError> {
        self.render_value(key, Value::from(Serde(ctx)))
    }

    /// Renders a compiled template with a context given as a value (the lazy dispatch context); the text is
    /// trimmed.
    ///
    /// # Errors
    /// As [`Engine::render`].
    pub fn render_value(&self, key: &str, ctx: Value) -> Result<String, RenderError> {
        let template = self.env.get_template(key)?;
        let mut text = template.render(ctx)?;
        let end = text.trim_end().len();
        text.truncate(end);
        let start = text.len() - text.trim_start().len();
        text.drain(..start);
        Ok(text)
    }

    /// The variable paths a compiled template reads (loop variables and global functions such as `range`
    /// excluded).
    ///
    /// # Errors
    /// Unknown template.
    pub fn variables(&self, key: &str) -> Result<Vec<String>, RenderError> {
        let mut globals: Vec<&str> = self.env.globals().map(|(name, _)| name).collect();
        globals.extend(BUILTIN_FUNCTIONS);
        let mut vars: Vec<String> = self
            .env
            .get_template(key)?
            .undeclared_variables(true)
            .into_iter()
            .filter(|v| !globals.contains(&v.split('.').next().unwrap_or_default()))
            .collect();
        vars.sort();
        Ok(vars)
    }
}

fn decimal(v: &Value) -> Result<Decimal, Error> {
    let text = v.as_str().map_or_else(|| v.to_string(), ToOwned::to_owned);
    Decimal::from_str(&text).map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("'{text}' is not an amount")))
}

fn date(v: &Value) -> Result<NaiveDate, Error> {
    let text = v.as_str().unwrap_or_default();
    NaiveDate::from_str(text).map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("'{text}' is not a date")))
}

fn grammatical_case(case: Option<&str>) -> Result<ru::Case, Error> {
    match case.unwrap_or("nom") {
        "nom" => Ok(ru::Case::Nominative),
        "gen" => Ok(ru::Case::Genitive),
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("case '{other}' is not nom or gen"),
        )),
    }
}

fn in_words(n: u64, gender: Option<String>, case: Option<String>) -> Result<String, Error> {
    let gender = match gender.as_deref().unwrap_or("m") {
        "m" => ru::Gender::Masculine,
        "f" => ru::Gender::Feminine,
        "n" => ru::Gender::Neuter,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("gender '{other}' is not m, f or n"),
            ));
        }
    };
    Ok(ru::in_words_case(n, gender, grammatical_case(case.as_deref())?))
}
