//! One-off: phone parsing speed (cached +7 prefixes vs libphonenumber) and an exhaustive equivalence check.
use std::time::Instant;

use debtor_notify::domain::PhoneNumber;

fn main() {
    let phones: Vec<String> = (0..200_000u64)
        .map(|i| format!("8 ({}) {}-{}-{}", 900 + i % 99, 100 + i % 899, 10 + i % 89, 10 + i % 87))
        .collect();
    let t = Instant::now();
    let ok = phones.iter().filter(|p| PhoneNumber::parse(p).is_ok()).count();
    println!(
        "cached path: {ok} ok, {:.2} us/phone",
        t.elapsed().as_secs_f64() * 1e6 / phones.len() as f64
    );
    let t = Instant::now();
    let mut mismatches = 0;
    for prefix in 0..100_000u32 {
        for suffix in ["00000", "54321", "99999"] {
            let national = format!("{prefix:05}{suffix}");
            for input in [
                format!("+7{national}"),
                format!("8{national}"),
                format!("7{national}"),
                national.clone(),
            ] {
                let fast = PhoneNumber::parse(&input).map(|p| (p.e164().to_owned(), p.kind())).ok();
                let slow = phonenumber::parse(Some(phonenumber::country::Id::RU), &input)
                    .ok()
                    .filter(phonenumber::is_valid)
                    .map(|n| n.format().mode(phonenumber::Mode::E164).to_string());
                if fast.as_ref().map(|f| &f.0) != slow.as_ref() {
                    mismatches += 1;
                    if mismatches < 5 {
                        println!("mismatch {input}: {fast:?} vs {slow:?}");
                    }
                }
            }
        }
    }
    println!(
        "exhaustive: 1,200,000 inputs, {mismatches} mismatches ({:.1} s)",
        t.elapsed().as_secs_f64()
    );
}
