//! `debtor-notify template list|show|history|create|edit|preview|check`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Subcommand;

use crate::{
    config::Settings,
    render::{Channel, RenderContext, TemplateKind},
    storage::{self, template},
    templates::{self, Draft, Preview, TemplateError},
};

/// Template commands.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// The latest version of every template.
    List,
    /// One template's body and settings.
    Show {
        name: String,
        #[arg(long)]
        version: Option<i32>,
    },
    /// Every version of a template.
    History { name: String },
    /// Create a template from a file (lint runs first).
    Create {
        name: String,
        #[arg(long, value_enum)]
        kind: TemplateKind,
        #[arg(long, value_enum)]
        channel: Channel,
        #[arg(long)]
        file: PathBuf,
        /// SMS longer than this many segments are suppressed as too_long (default 4).
        #[arg(long)]
        max_segments: Option<i32>,
        #[arg(long)]
        description: Option<String>,
        /// Make it this utility's own template (its permissions apply).
        #[arg(long)]
        utility: Option<String>,
    },
    /// Add a new version from a file (lint runs first); earlier versions stay as they are.
    Edit {
        name: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        max_segments: Option<i32>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Render for one debtor (or JSON data, or the built-in sample) and show encoding, length, segments, cost.
    Preview {
        name: String,
        #[arg(long)]
        version: Option<i32>,
        /// A stored debtor's account.
        #[arg(long, conflicts_with_all = ["data", "sample"])]
        account: Option<String>,
        /// The utility, when accounts repeat across utilities.
        #[arg(long)]
        utility: Option<String>,
        /// A render context as JSON (see docs/templates.md).
        #[arg(long, conflicts_with = "sample")]
        data: Option<PathBuf>,
        /// The built-in sample debtor.
        #[arg(long)]
        sample: bool,
        #[arg(long)]
        json: bool,
    },
    /// Lint a stored version and render it for every stored debtor: the worst case length.
    Check {
        name: String,
        #[arg(long)]
        version: Option<i32>,
        #[arg(long)]
        utility: Option<String>,
    },
}

/// Runs a template command.
///
/// # Errors
/// Database failures and unreadable files.
pub async fn run(cmd: TemplateCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    let author = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let price = settings.sms_price_per_segment();
    match cmd {
        TemplateCommand::List => {
            for t in template::list_templates(&pool).await? {
                println!(
                    "{:<28} v{:<3} {:<20} {:<6} max {} seg  {}",
                    t.name, t.version, t.kind, t.channel, t.max_segments, t.description
                );
            }
        }
        TemplateCommand::Show { name, version } => {
            let Some(t) = template::get_template(&pool, &name, version).await? else {
                return not_found(&name);
            };
            println!(
                "{} v{} ({}, {}), max {} segments, by {} at {}",
                t.name, t.version, t.kind, t.channel, t.max_segments, t.created_by, t.created_at
            );
            println!("{}", t.body);
        }
        TemplateCommand::History { name } => {
            for t in template::template_history(&pool, &name).await? {
                println!("v{:<3} {} {}", t.version, t.created_at, t.created_by);
            }
        }
        TemplateCommand::Create {
            name,
            kind,
            channel,
            file,
            max_segments,
            description,
            utility,
        } => {
            let body = read_body(&file)?;
            let draft = Draft {
                name,
                kind: Some(kind),
                channel: Some(channel),
                body,
                max_segments,
                description,
                utility,
                author,
            };
            return saved(templates::save(&pool, &draft, true).await);
        }
        TemplateCommand::Edit {
            name,
            file,
            max_segments,
            description,
        } => {
            let body = read_body(&file)?;
            let draft = Draft {
                name,
                kind: None,
                channel: None,
                body,
                max_segments,
                description,
                utility: None,
                author,
            };
            return saved(templates::save(&pool, &draft, false).await);
        }
        TemplateCommand::Preview {
            name,
            version,
            account,
            utility,
            data,
            sample: _,
            json,
        } => {
            let Some(t) = template::get_template(&pool, &name, version).await? else {
                return not_found(&name);
            };
            let ctx = match (account, data) {
                (Some(account), _) => match templates::context_for_account(&pool, &account, utility.as_deref()).await {
                    Ok(ctx) => ctx,
                    Err(TemplateError::Storage(e)) => return Err(e.into()),
                    Err(e) => return failed(&e.to_string()),
                },
                (None, Some(path)) => {
                    serde_json::from_str(&read_body(&path)?).context("the data file is not a render context")?
                }
                (None, None) => RenderContext::sample(),
            };
            let (engine, key) = templates::compile(&t)?;
            match templates::preview(&engine, &key, &t, &ctx, price) {
                Ok(p) if json => println!("{}", serde_json::to_string_pretty(&p)?),
                Ok(p) => print_preview(&p),
                Err(e) => return failed(&crate::telemetry::error_chain(&e)),
            }
        }
        TemplateCommand::Check { name, version, utility } => {
            let Some(t) = template::get_template(&pool, &name, version).await? else {
                return not_found(&name);
            };
            return check(&pool, &t, utility.as_deref(), price).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(
    pool: &sqlx::PgPool,
    t: &template::TemplateVersion,
    utility: Option<&str>,
    price: rust_decimal::Decimal,
) -> anyhow::Result<ExitCode> {
    let lint = templates::lint_stored(pool, t).await?;
    match &lint {
        Ok(vars) => println!("lint      ok (uses {})", vars.join(", ")),
        Err(problems) => {
            println!("lint      {} problem(s)", problems.len());
            for p in problems {
                println!("  - {p}");
            }
        }
    }
    let r = templates::check_stored(pool, t, utility, price).await?;
    println!("debtors   {} rendered, {} failed", r.debtors, r.render_failures);
    println!(
        "longest   {} characters ({}), {} segment(s) at most; limit {}",
        r.longest_chars,
        r.longest_account.as_deref().unwrap_or("-"),
        r.max_segments_seen,
        t.max_segments
    );
    println!("too long  {} (suppressed as too_long, never truncated)", r.too_long);
    for f in &r.first_failures {
        println!("  failed: {f}");
    }
    Ok(if lint.is_ok() && r.render_failures == 0 && r.too_long == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_preview(p: &Preview) {
    println!("{} v{} ({})", p.template, p.version, p.channel);
    println!("----");
    println!("{}", p.text);
    println!("----");
    match (p.encoding, p.cost) {
        (Some(encoding), Some(cost)) => println!(
            "{encoding:?}, {} characters ({} units), {} segment(s) of max {}{}, cost {cost} ₽",
            p.chars,
            p.units,
            p.segments,
            p.max_segments,
            if p.too_long {
                ": TOO LONG, would be suppressed"
            } else {
                ""
            }
        ),
        _ => println!("{} characters", p.chars),
    }
}

fn read_body(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn failed(reason: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {reason}");
    Ok(ExitCode::from(1))
}

fn not_found(name: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: template {name} not found");
    Ok(ExitCode::from(1))
}

fn saved(result: Result<template::TemplateVersion, TemplateError>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(t) => {
            println!("template {} v{} saved", t.name, t.version);
            Ok(ExitCode::SUCCESS)
        }
        Err(TemplateError::Storage(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
