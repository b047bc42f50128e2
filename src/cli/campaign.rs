//! `debtor-notify campaign create|list|show|start|pause|resume|cancel|stats`.

use std::{path::PathBuf, process::ExitCode};

use clap::Subcommand;

use crate::{
    campaign::{self, Action, CampaignError},
    clock::SystemClock,
    config::Settings,
    storage,
};

/// Campaign commands.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a draft from a TOML or JSON file (see docs/campaigns.md).
    Create {
        #[arg(long)]
        file: PathBuf,
        /// Who creates it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Campaigns, newest first.
    List {
        #[arg(long)]
        utility: Option<String>,
        /// Only these states (draft, running, paused, completed, cancelled).
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
    },
    /// One campaign with its steps and counts.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// draft → running: the planner starts expanding it.
    Start { id: i64 },
    /// running → paused: nothing more is handed over until resumed.
    Pause { id: i64 },
    /// paused → running.
    Resume { id: i64 },
    /// Stop for good; pending notices are cancelled with reason campaign_cancelled.
    Cancel { id: i64 },
    /// Counts per step, channel and state.
    Stats {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

fn user(by: Option<String>) -> String {
    by.unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "cli".into()))
}

/// Runs a campaign command.
///
/// # Errors
/// Database failures; user errors print a message and exit 1 or 2.
pub async fn run(cmd: CampaignCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    let result = match cmd {
        CampaignCommand::Create { file, by } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            campaign::create(&pool, &text, &user(by)).await.map(|id| {
                println!("campaign {id} created (draft); start it with: debtor-notify campaign start {id}");
            })
        }
        CampaignCommand::List { utility, status } => {
            let status: Vec<&str> = status.iter().map(String::as_str).collect();
            let rows = storage::campaign::list_campaigns(&pool, utility.as_deref(), &status).await?;
            println!("{:<5} {:<10} {:<16} {:<26} NAME", "ID", "STATUS", "UTILITY", "STARTS");
            for c in rows {
                let utility = c.utility_id.as_deref().unwrap_or("(all)");
                println!(
                    "{:<5} {:<10} {:<16} {:<26} {}",
                    c.campaign_id,
                    c.status,
                    utility,
                    c.starts_at.to_rfc3339(),
                    c.name
                );
            }
            Ok(())
        }
        CampaignCommand::Show { id, json } => campaign::show(&pool, id).await.map(|v| {
            let v = v.priced(settings);
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return;
            }
            let c = &v.campaign;
            println!("campaign {} «{}» — {}", c.campaign_id, c.name, c.status);
            println!("  utility: {}", c.utility_id.as_deref().unwrap_or("(all)"));
            println!(
                "  starts: {}  end by: {}",
                c.starts_at.to_rfc3339(),
                c.end_by.map_or("-".into(), |e| e.to_rfc3339())
            );
            if let Some(r) = &c.recurrence {
                println!("  recurrence: every {:?} on day {}", r.0.every, r.0.day);
            }
            println!(
                "  priority: {}  rate: {}",
                c.priority,
                c.rate_per_minute.map_or("-".into(), |r| format!("{r}/min"))
            );
            println!("  audience: {}", serde_json::to_string(&c.audience).unwrap_or_default());
            for s in &v.steps {
                println!(
                    "  step {}: {}@{} ({}) +{} min from {}, when {}, up to {} attempts",
                    s.step_no,
                    s.template_name,
                    s.template_version,
                    s.channel,
                    s.offset_minutes,
                    s.offset_from,
                    s.condition,
                    s.max_attempts
                );
            }
            print_stats(&v.stats);
            print_spend(&v.spend);
        }),
        CampaignCommand::Stats { id, json } => campaign::show(&pool, id).await.map(|v| {
            let v = v.priced(settings);
            if json {
                let doc = serde_json::json!({ "stats": v.stats, "spend": v.spend });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                print_stats(&v.stats);
                print_spend(&v.spend);
            }
        }),
        CampaignCommand::Start { id } => act(&pool, id, Action::Start).await,
        CampaignCommand::Pause { id } => act(&pool, id, Action::Pause).await,
        CampaignCommand::Resume { id } => act(&pool, id, Action::Resume).await,
        CampaignCommand::Cancel { id } => act(&pool, id, Action::Cancel).await,
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(CampaignError::Storage(e)) => Err(e.into()),
        Err(e @ CampaignError::Invalid(_)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn act(pool: &sqlx::PgPool, id: i64, action: Action) -> Result<(), CampaignError> {
    let status = campaign::act(pool, &SystemClock, id, action, &user(None)).await?;
    println!("campaign {id}: {status}");
    Ok(())
}

fn print_stats(stats: &[storage::campaign::StatRow]) {
    if stats.is_empty() {
        println!("  no notifications yet");
        return;
    }
    println!("  {:<5} {:<7} {:<12} {:>8}", "STEP", "CHANNEL", "STATE", "COUNT");
    for s in stats {
        println!("  {:<5} {:<7} {:<12} {:>8}", s.step_no, s.channel, s.state, s.count);
    }
}

fn print_spend(spend: &[campaign::Spend]) {
    if spend.is_empty() {
        return;
    }
    println!(
        "  {:<10} {:<7} {:>8} {:>9} {:>10} {:>12}",
        "PROVIDER", "CHANNEL", "ACCEPTED", "SEGMENTS", "PRICE", "COST"
    );
    for s in spend {
        let money = |d: Option<rust_decimal::Decimal>| d.map_or("-".into(), |d| d.to_string());
        println!(
            "  {:<10} {:<7} {:>8} {:>9} {:>10} {:>12}",
            s.row.provider,
            s.row.channel,
            s.row.accepted,
            s.row.segments,
            money(s.price_per_segment),
            money(s.cost)
        );
    }
}
