//! `debtor-notify utility add|list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::{config::Settings, http::utilities_validate, storage};

/// Utility (tenant) commands.
#[derive(Debug, Subcommand)]
pub enum UtilityCommand {
    /// Register a utility so its batches are accepted.
    Add {
        /// Id used in batches (`utility` field): a-z 0-9 . _ -
        id: String,
        /// Display name, e.g. "ОКК Октябрьское".
        #[arg(long)]
        name: String,
        /// Default IANA time zone of its debtors, e.g. Asia/Yekaterinburg.
        #[arg(long)]
        timezone: String,
        /// Succeed without changes when it already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List registered utilities.
    List,
}

/// Runs a utility command.
///
/// # Errors
/// Database failures.
pub async fn run(cmd: UtilityCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    match cmd {
        UtilityCommand::Add {
            id,
            name,
            timezone,
            if_not_exists,
        } => {
            if let Err(reason) = utilities_validate(&id, &name, &timezone) {
                eprintln!("error: {reason}");
                return Ok(ExitCode::from(2));
            }
            let created = storage::utility::insert_utility(&pool, &id, name.trim(), &timezone)
                .await
                .context("failed to register the utility")?;
            match (created, if_not_exists) {
                (true, _) => println!("utility {id} registered ({timezone})"),
                (false, true) => println!("utility {id} already exists"),
                (false, false) => {
                    eprintln!("error: utility {id} already exists");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        UtilityCommand::List => {
            for u in storage::utility::list_utilities(&pool).await? {
                println!("{:<24} {:<22} {}", u.utility_id, u.timezone, u.display_name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
