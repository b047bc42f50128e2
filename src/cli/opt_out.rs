//! `debtor-notify opt-out add|remove|list`: numbers and debtors that must not be contacted.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{
    config::Settings,
    domain::{PhoneNumber, mask::mask_tail},
    storage::{
        self,
        opt_out::{Subject, add_opt_out, list_opt_outs, remove_opt_out},
    },
};

/// Opt-out commands.
#[derive(Debug, Subcommand)]
pub enum OptOutCommand {
    /// Stop contacting a number or a debtor.
    Add(Target),
    /// Lift an opt-out (the entry is kept with who lifted it and why).
    Remove(Target),
    /// List opt-outs; numbers are masked unless --show-phones.
    List {
        #[arg(long)]
        utility: Option<String>,
        /// Include lifted entries.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        show_phones: bool,
    },
}

/// Whose opt-out, and why.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(long)]
    pub utility: String,
    /// A phone number in any Russian shape; stored as E.164.
    #[arg(long, conflicts_with = "account", required_unless_present = "account")]
    pub phone: Option<String>,
    /// A debtor's account (лицевой счёт).
    #[arg(long)]
    pub account: Option<String>,
    /// Why (e.g. "отказ абонента по телефону 27.11.2026").
    #[arg(long)]
    pub reason: String,
    /// Who (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
}

impl Target {
    fn subject(&self) -> Result<Subject, String> {
        match (&self.phone, &self.account) {
            (Some(phone), _) => PhoneNumber::parse(phone).map(|p| Subject::Phone(p.e164().to_owned())),
            (None, Some(account)) => Ok(Subject::Account(account.trim().to_owned())),
            (None, None) => Err("give --phone or --account".into()),
        }
    }

    fn by(&self) -> String {
        self.by
            .clone()
            .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "cli".into()))
    }
}

/// Runs an opt-out command.
///
/// # Errors
/// Database failures.
pub async fn run(cmd: OptOutCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    match cmd {
        OptOutCommand::Add(target) => {
            let subject = match target.subject() {
                Ok(s) => s,
                Err(e) => return usage(&e),
            };
            if storage::utility::get_utility(&pool, &target.utility).await?.is_none() {
                return usage(&format!("unknown utility '{}'", target.utility));
            }
            match add_opt_out(&pool, &target.utility, &subject, &target.reason, &target.by()).await? {
                Some(id) => println!("opt-out {id} added"),
                None => println!("already opted out"),
            }
        }
        OptOutCommand::Remove(target) => {
            let subject = match target.subject() {
                Ok(s) => s,
                Err(e) => return usage(&e),
            };
            if !remove_opt_out(&pool, &target.utility, &subject, &target.reason, &target.by()).await? {
                eprintln!("error: no active opt-out for that subject");
                return Ok(ExitCode::from(1));
            }
            println!("opt-out lifted");
        }
        OptOutCommand::List {
            utility,
            all,
            show_phones,
        } => {
            for o in list_opt_outs(&pool, utility.as_deref(), all).await? {
                let phone = o
                    .e164
                    .as_deref()
                    .map(|p| if show_phones { p.to_owned() } else { mask_tail(p, 4) });
                let subject = phone.or(o.account.map(|a| format!("account {a}"))).unwrap_or_default();
                let state = o
                    .removed_at
                    .map_or_else(|| "active".to_owned(), |at| format!("lifted {at}"));
                println!(
                    "{:<6} {:<20} {:<22} {:<8} {} — {} ({})",
                    o.opt_out_id, o.utility_id, subject, state, o.created_at, o.reason, o.added_by
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn usage(reason: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {reason}");
    Ok(ExitCode::from(2))
}
