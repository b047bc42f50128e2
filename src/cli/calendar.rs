//! `debtor-notify calendar show|set|load`: the production calendar and its overrides.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use clap::Subcommand;

use crate::{
    config::Settings,
    domain::date::parse_date,
    storage::{
        self,
        calendar::{Override, load_calendar, upsert_overrides},
    },
};

/// Calendar commands.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Days off of a month (or a year) for a region, with where each status comes from.
    Show {
        /// `2026` or `2026-01`.
        period: String,
        #[arg(long)]
        region: Option<String>,
    },
    /// Mark one day as a day off or a working day (federal, or for one region).
    Set {
        day: NaiveDate,
        #[arg(long, conflicts_with = "working", required_unless_present = "working")]
        day_off: bool,
        #[arg(long)]
        working: bool,
        #[arg(long)]
        region: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Load overrides from a CSV file `date;day_off|working;region;note` (a decree for a later year, regional days).
    Load { file: PathBuf },
}

/// Runs a calendar command.
///
/// # Errors
/// Database failures and unreadable files.
pub async fn run(cmd: CalendarCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = storage::connect(&settings.database)?;
    let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    match cmd {
        CalendarCommand::Show { period, region } => {
            let calendar = load_calendar(&pool).await?;
            let (year, month) = match period.split_once('-') {
                Some((y, m)) => (y.parse::<i32>()?, Some(m.parse::<u32>()?)),
                None => (period.parse::<i32>()?, None),
            };
            let mut day = NaiveDate::from_ymd_opt(year, month.unwrap_or(1), 1).context("no such month")?;
            while day.year() == year && month.is_none_or(|m| day.month() == m) {
                let status = calendar.status(day, region.as_deref());
                if status.day_off {
                    println!("{day} {:<3} day off ({:?})", day.weekday(), status.source);
                }
                day = day.succ_opt().context("date overflow")?;
            }
        }
        CalendarCommand::Set {
            day,
            day_off,
            working: _,
            region,
            note,
        } => {
            let row = Override {
                region: region.unwrap_or_default(),
                day,
                day_off,
                note,
            };
            upsert_overrides(&pool, &[row], &by).await?;
            println!("{day} set as {}", if day_off { "a day off" } else { "a working day" });
        }
        CalendarCommand::Load { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let rows = match parse_overrides(&text) {
                Ok(rows) => rows,
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    return Ok(ExitCode::from(2));
                }
            };
            let n = upsert_overrides(&pool, &rows, &by).await?;
            println!("{n} override(s) loaded");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses `date;day_off|working;region;note` lines (`#` comments and blank lines skipped).
///
/// # Errors
/// The line number and what is wrong with it.
pub fn parse_overrides(text: &str) -> Result<Vec<Override>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split(';').map(str::trim).collect();
        let day = parse_date(cols[0]).map_err(|e| format!("line {}: date {e}", i + 1))?;
        let day_off = match cols.get(1).copied() {
            Some("day_off" | "выходной") => true,
            Some("working" | "рабочий") => false,
            other => {
                return Err(format!(
                    "line {}: '{}' is not day_off or working",
                    i + 1,
                    other.unwrap_or("")
                ));
            }
        };
        let region = cols.get(2).copied().unwrap_or("").to_owned();
        if !(region.len() <= 3 && region.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!(
                "line {}: region '{region}' is not a region code such as 16",
                i + 1
            ));
        }
        rows.push(Override {
            region,
            day,
            day_off,
            note: cols.get(3).copied().unwrap_or("").to_owned(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_file_is_parsed_and_bad_lines_are_named() {
        let rows =
            parse_overrides("# Татарстан\n30.08.2026;выходной;16;День Республики\n2028-01-09;working;;перенос\n")
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].region.as_str(), rows[0].day_off), ("16", true));
        assert_eq!((rows[1].region.as_str(), rows[1].day_off), ("", false));
        assert_eq!(
            parse_overrides("31.02.2026;day_off").unwrap_err().split(':').next(),
            Some("line 1")
        );
        assert!(parse_overrides("01.01.2030;maybe").unwrap_err().contains("line 1"));
    }
}
