//! Template use cases shared by the CLI and the API: save a version after lint, preview for one debtor,
//! check the worst case over stored debtors. Joins `render` (pure) and `storage` (SQL).

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::{
    render::{
        Channel, Engine, RenderContext, RenderError, TemplateKind,
        lazy::Facts,
        lint::{LintInput, lint},
        sms::{self, Encoding},
    },
    storage::{
        StorageError,
        template::{self, NewVersion, TemplateVersion},
    },
};

/// Why a template operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template '{0}' not found")]
    NotFound(String),
    #[error("no current debt for account {0}")]
    NoDebtor(String),
    #[error("template '{0}' already exists; edit it to add a version")]
    Exists(String),
    #[error("template refused:\n- {}", .0.join("\n- "))]
    Lint(Vec<String>),
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed")]
    Storage(#[from] StorageError),
}

/// A rendered text with its size and cost.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub template: String,
    pub version: i32,
    pub channel: String,
    pub text: String,
    pub encoding: Option<Encoding>,
    pub chars: usize,
    pub units: usize,
    pub segments: usize,
    pub max_segments: i32,
    /// An SMS over `max_segments` is never sent truncated: it is suppressed as `too_long`.
    pub too_long: bool,
    pub cost: Option<Decimal>,
}

/// A template edit or creation.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    pub kind: Option<TemplateKind>,
    pub channel: Option<Channel>,
    pub body: String,
    pub max_segments: Option<i32>,
    pub description: Option<String>,
    /// For a new template: the tenant owning it (its permissions apply to lint). Edits keep the owner.
    pub utility: Option<String>,
    pub author: String,
}

/// Lints and stores a new template (`create`) or the next version of an existing one.
///
/// # Errors
/// Lint problems, a missing or existing template, storage failures.
pub async fn save(pool: &PgPool, draft: &Draft, create: bool) -> Result<TemplateVersion, TemplateError> {
    let latest = template::get_template(pool, &draft.name, None).await?;
    let (kind, channel) = match (&latest, create) {
        (Some(_), true) => return Err(TemplateError::Exists(draft.name.clone())),
        (None, false) => return Err(TemplateError::NotFound(draft.name.clone())),
        (Some(t), false) => (
            draft
                .kind
                .or_else(|| TemplateKind::parse(&t.kind))
                .unwrap_or(TemplateKind::Custom),
            draft
                .channel
                .or_else(|| Channel::parse(&t.channel))
                .unwrap_or(Channel::Sms),
        ),
        (None, true) => match (draft.kind, draft.channel) {
            (Some(k), Some(c)) => (k, c),
            _ => {
                return Err(TemplateError::Invalid(
                    "a new template needs a kind and a channel".into(),
                ));
            }
        },
    };
    let max_segments = draft
        .max_segments
        .or(latest.as_ref().map(|t| t.max_segments))
        .unwrap_or(4);
    if !(1..=8).contains(&max_segments) {
        return Err(TemplateError::Invalid(
            "max_segments must be 1..=8 (SMS.ru refuses more than 8)".into(),
        ));
    }
    let owner = latest.as_ref().map_or(draft.utility.clone(), |t| t.utility_id.clone());
    let allow = match owner.as_deref() {
        Some(u) => template::allows_personal_details(pool, u)
            .await?
            .ok_or_else(|| TemplateError::Invalid(format!("unknown utility '{u}'")))?,
        None => false,
    };
    let input = LintInput {
        kind,
        channel,
        body: &draft.body,
        allow_personal_details_in_sms: allow,
    };
    lint(&input).map_err(TemplateError::Lint)?;
    let description = draft
        .description
        .clone()
        .or(latest.map(|t| t.description))
        .unwrap_or_default();
    let new = NewVersion {
        name: &draft.name,
        kind: kind.as_str(),
        channel: channel.as_str(),
        body: &draft.body,
        max_segments,
        utility_id: owner.as_deref(),
        description: &description,
        created_by: &draft.author,
    };
    let version = template::insert_version(pool, &new, create)
        .await?
        .ok_or_else(|| TemplateError::Exists(draft.name.clone()))?;
    template::get_template(pool, &draft.name, Some(version))
        .await?
        .ok_or_else(|| TemplateError::NotFound(draft.name.clone()))
}

/// Lints a stored version with its owner's permissions (for `check`: rules may have changed since it was saved).
///
/// # Errors
/// Storage failures; lint problems are the inner `Err`.
pub async fn lint_stored(
    pool: &PgPool,
    t: &TemplateVersion,
) -> Result<Result<Vec<String>, Vec<String>>, TemplateError> {
    let allow = match t.utility_id.as_deref() {
        Some(u) => template::allows_personal_details(pool, u).await?.unwrap_or(false),
        None => false,
    };
    let input = LintInput {
        kind: TemplateKind::parse(&t.kind).unwrap_or(TemplateKind::Custom),
        channel: Channel::parse(&t.channel).unwrap_or(Channel::Sms),
        body: &t.body,
        allow_personal_details_in_sms: allow,
    };
    Ok(lint(&input))
}

/// The render context of a stored debtor, by account (`utility` narrows when accounts repeat across utilities).
///
/// # Errors
/// No current debt for the account, an ambiguous account, storage failures.
pub async fn context_for_account(
    pool: &PgPool,
    account: &str,
    utility: Option<&str>,
) -> Result<RenderContext, TemplateError> {
    let facts = template::render_facts(pool, account, utility).await?;
    match facts.as_slice() {
        [one] => Ok(context_of(one)),
        [] => Err(TemplateError::NoDebtor(account.to_owned())),
        _ => Err(TemplateError::Invalid(format!(
            "account {account} exists in several utilities; name the utility"
        ))),
    }
}

/// The render context of stored facts.
#[must_use]
pub fn context_of(facts: &Facts) -> RenderContext {
    facts.eager()
}

/// Compiles a version into a fresh engine under `name@version`.
///
/// # Errors
/// A syntax error (stored versions passed lint, so only for hand-edited rows).
pub fn compile(t: &TemplateVersion) -> Result<(Engine, String), RenderError> {
    let key = format!("{}@{}", t.name, t.version);
    let mut engine = Engine::new();
    engine.add(&key, &t.body)?;
    Ok((engine, key))
}

/// Renders and measures one version for one context.
///
/// # Errors
/// Rendering failures (an undefined value for this debtor, fuel).
pub fn preview(
    engine: &Engine,
    key: &str,
    t: &TemplateVersion,
    ctx: &RenderContext,
    price: Decimal,
) -> Result<Preview, RenderError> {
    let text = engine.render(key, ctx)?;
    let is_sms = t.channel == "sms";
    let m = sms::measure(&text);
    Ok(Preview {
        template: t.name.clone(),
        version: t.version,
        channel: t.channel.clone(),
        encoding: is_sms.then_some(m.encoding),
        chars: m.chars,
        units: m.units,
        segments: if is_sms { m.segments } else { 0 },
        max_segments: t.max_segments,
        too_long: is_sms && m.segments > usize::try_from(t.max_segments).unwrap_or(0),
        cost: is_sms.then(|| m.cost(price)),
        text,
    })
}

/// Worst case of a template over stored debtors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub debtors: u64,
    pub max_segments_seen: usize,
    pub longest_chars: usize,
    /// Account (masked) of the longest rendering.
    pub longest_account: Option<String>,
    pub too_long: u64,
    pub render_failures: u64,
    pub first_failures: Vec<String>,
}

/// Renders a version for every current debtor (of `utility`, or all) and reports the worst case.
///
/// # Errors
/// Storage failures or a template that does not compile.
pub async fn check_stored(
    pool: &PgPool,
    t: &TemplateVersion,
    utility: Option<&str>,
    price: Decimal,
) -> Result<CheckReport, TemplateError> {
    let (engine, key) = compile(t).map_err(|e| TemplateError::Lint(vec![e.to_string()]))?;
    let mut report = CheckReport::default();
    report.debtors = template::each_render_facts(pool, utility, |facts| {
        let ctx = context_of(&facts);
        match preview(&engine, &key, t, &ctx, price) {
            Ok(p) => {
                report.too_long += u64::from(p.too_long);
                report.max_segments_seen = report.max_segments_seen.max(p.segments);
                if p.chars > report.longest_chars {
                    report.longest_chars = p.chars;
                    report.longest_account = Some(ctx.account_masked.clone());
                }
            }
            Err(e) => {
                report.render_failures += 1;
                if report.first_failures.len() < 5 {
                    report.first_failures.push(format!(
                        "{}: {}",
                        ctx.account_masked,
                        crate::telemetry::error_chain(&e)
                    ));
                }
            }
        }
    })
    .await?;
    Ok(report)
}
