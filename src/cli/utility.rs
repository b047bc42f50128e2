//! `debtor-notify utility add|list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::{config::Settings, http::utilities_validate, storage, storage::utility::UtilityContacts};

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
        #[command(flatten)]
        contacts: ContactArgs,
    },
    /// Change a utility's contact and payment details (printed in notices).
    Set {
        id: String,
        #[command(flatten)]
        contacts: ContactArgs,
    },
    /// List registered utilities.
    List,
}

/// Contact and payment details of a utility.
#[derive(Debug, clap::Args)]
pub struct ContactArgs {
    /// Phone debtors call, printed in notices (e.g. "8 (34678) 2-11-00").
    #[arg(long)]
    pub phone: Option<String>,
    /// Payment link printed in notices.
    #[arg(long)]
    pub payment_url: Option<String>,
    /// How to pay, in words.
    #[arg(long)]
    pub payment_details: Option<String>,
    /// Let this utility's own templates put the full name and address in SMS (152-ФЗ: off by default).
    #[arg(long)]
    pub allow_personal_details_in_sms: Option<bool>,
}

impl ContactArgs {
    fn contacts(self) -> UtilityContacts {
        UtilityContacts {
            contact_phone: self.phone,
            payment_url: self.payment_url,
            payment_details: self.payment_details,
            allow_personal_details_in_sms: self.allow_personal_details_in_sms,
        }
    }
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
            contacts,
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
            if created {
                storage::utility::set_utility_contacts(&pool, &id, &contacts.contacts()).await?;
            }
        }
        UtilityCommand::Set { id, contacts } => {
            if !storage::utility::set_utility_contacts(&pool, &id, &contacts.contacts()).await? {
                eprintln!("error: utility {id} does not exist");
                return Ok(ExitCode::from(1));
            }
            println!("utility {id} updated");
        }
        UtilityCommand::List => {
            for u in storage::utility::list_utilities(&pool).await? {
                println!("{:<24} {:<22} {}", u.utility_id, u.timezone, u.display_name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
