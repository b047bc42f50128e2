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
    /// Change a utility's contact and payment details (printed in notices), and its own contact rules.
    Set {
        id: String,
        #[command(flatten)]
        contacts: ContactArgs,
        #[command(flatten)]
        policy: PolicyArgs,
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

/// A utility's own contact rules: they can only narrow the law's (and the configured) ones.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// Region code (two digits, e.g. 86) for regional production-calendar days.
    #[arg(long)]
    pub region: Option<String>,
    /// Contact window on working days, HH:MM-HH:MM (never wider than 08:00-22:00).
    #[arg(long)]
    pub window_working: Option<String>,
    /// Contact window on weekends and holidays, HH:MM-HH:MM (never wider than 09:00-20:00).
    #[arg(long)]
    pub window_day_off: Option<String>,
    /// Messages per debtor per local day / ISO week / month (never more than 2 / 4 / 16).
    #[arg(long)]
    pub cap_day: Option<u32>,
    #[arg(long)]
    pub cap_week: Option<u32>,
    #[arg(long)]
    pub cap_month: Option<u32>,
}

impl PolicyArgs {
    fn check(&self) -> Result<(), String> {
        for w in [&self.window_working, &self.window_day_off].into_iter().flatten() {
            if crate::config::dispatch::parse_hours(w).is_none() {
                return Err(format!("window '{w}' is not HH:MM-HH:MM with the opening first"));
            }
        }
        if self
            .region
            .as_deref()
            .is_some_and(|r| r.len() != 2 || !r.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("--region must be two digits".into());
        }
        Ok(())
    }

    fn policy(&self) -> storage::utility::UtilityPolicy {
        let cap = |v: Option<u32>| v.and_then(|v| i32::try_from(v).ok());
        storage::utility::UtilityPolicy {
            region: self.region.clone(),
            window_working: self.window_working.clone(),
            window_day_off: self.window_day_off.clone(),
            cap_day: cap(self.cap_day),
            cap_week: cap(self.cap_week),
            cap_month: cap(self.cap_month),
        }
    }
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
        UtilityCommand::Set { id, contacts, policy } => {
            if let Err(e) = policy.check() {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            if !storage::utility::set_utility_contacts(&pool, &id, &contacts.contacts()).await?
                || !storage::utility::set_utility_policy(&pool, &id, &policy.policy()).await?
            {
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
