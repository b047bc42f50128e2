//! `bench parse --rows N`: how fast `enqueue` reads and checks a 1C CSV export (Windows-1251, `;`).

use std::time::Instant;

use chrono::NaiveDate;

use super::synthetic::{CSV_HEADER, csv_line};
use crate::intake::{
    enqueue::check,
    file::{self, FileKind},
};

/// Generates the file in memory, then times parsing and checking it.
pub fn run(rows: usize) {
    let mut text = String::with_capacity(rows * 200);
    text.push_str(CSV_HEADER);
    text.push_str("\r\n");
    for i in 0..rows {
        csv_line(i, &mut text);
        text.push_str("\r\n");
    }
    let bytes = encoding_rs::WINDOWS_1251.encode(&text).0.into_owned();
    drop(text);
    println!(
        "bench parse: {rows} rows, {:.1} MB Windows-1251 CSV",
        bytes.len() as f64 / 1e6
    );
    let started = Instant::now();
    let parsed = match file::parse(FileKind::Csv, &bytes) {
        Ok(p) => p,
        Err(e) => {
            println!("parse failed: {e}");
            return;
        }
    };
    let parse_secs = started.elapsed().as_secs_f64();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date");
    let summary = check(&parsed, as_of);
    let total_secs = started.elapsed().as_secs_f64();
    println!(
        "  decode + CSV + column mapping: {parse_secs:.2} s = {:.0} rows/s",
        rows as f64 / parse_secs
    );
    println!(
        "  + validation (phones, amounts, dates): {total_secs:.2} s = {:.0} rows/s (target >= 200000)",
        rows as f64 / total_secs
    );
    println!("  valid {}   rejected {}", summary.valid, summary.rejected);
}
