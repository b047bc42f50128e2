//! Russian formatting for notices: numbers and amounts in words (gender and plural agreement), plural forms,
//! money and dates as people write them. Pure functions; verified against a golden table generated with pytils
//! (tests/fixtures/ru_numerals.tsv).

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, prelude::ToPrimitive};

/// Grammatical gender of the counted noun (рубль m, копейка f, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Masculine,
    Feminine,
    Neuter,
}

/// Grammatical case of a number in words: «двадцать один» (nominative), «двадцати одного» (genitive, as in
/// «в течение двадцати одного дня»).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Nominative,
    Genitive,
}

/// CLDR plural category for Russian integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plural {
    One,
    Few,
    Many,
}

/// The plural category of `n`: 1, 21, 101 → one; 2–4, 22–24 → few; 0, 5–20, 11–14, 25 → many.
#[must_use]
pub fn plural(n: u64) -> Plural {
    match (n % 10, n % 100) {
        (1, m) if m != 11 => Plural::One,
        (2..=4, m) if !(12..=14).contains(&m) => Plural::Few,
        _ => Plural::Many,
    }
}

/// Picks the form agreeing with `n`: `plural_form(5, ["месяц", "месяца", "месяцев"])` → `месяцев`.
#[must_use]
pub fn plural_form(n: u64, forms: [&str; 3]) -> &str {
    match plural(n) {
        Plural::One => forms[0],
        Plural::Few => forms[1],
        Plural::Many => forms[2],
    }
}

/// Zero in the genitive (as pytils and num2words' Russian backend write it; «нуля» is also in use).
const ZERO_GENITIVE: &str = "ноля";

const HUNDREDS: [&str; 10] = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
];
const TENS: [&str; 10] = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
];
const TEENS: [&str; 10] = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const UNITS: [&str; 10] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
];

const HUNDREDS_GEN: [&str; 10] = [
    "",
    "ста",
    "двухсот",
    "трёхсот",
    "четырёхсот",
    "пятисот",
    "шестисот",
    "семисот",
    "восьмисот",
    "девятисот",
];
const TENS_GEN: [&str; 10] = [
    "",
    "",
    "двадцати",
    "тридцати",
    "сорока",
    "пятидесяти",
    "шестидесяти",
    "семидесяти",
    "восьмидесяти",
    "девяноста",
];
const TEENS_GEN: [&str; 10] = [
    "десяти",
    "одиннадцати",
    "двенадцати",
    "тринадцати",
    "четырнадцати",
    "пятнадцати",
    "шестнадцати",
    "семнадцати",
    "восемнадцати",
    "девятнадцати",
];
const UNITS_GEN: [&str; 10] = [
    "",
    "одного",
    "двух",
    "трёх",
    "четырёх",
    "пяти",
    "шести",
    "семи",
    "восьми",
    "девяти",
];

/// Scales in the genitive: singular after a group ending in 1 (одной тысячи), plural otherwise (двух тысяч).
const SCALES_GEN: [[&str; 2]; 4] = [
    ["тысячи", "тысяч"],
    ["миллиона", "миллионов"],
    ["миллиарда", "миллиардов"],
    ["триллиона", "триллионов"],
];

/// Scales above the units: forms and gender of each.
const SCALES: [([&str; 3], Gender); 4] = [
    (["тысяча", "тысячи", "тысяч"], Gender::Feminine),
    (["миллион", "миллиона", "миллионов"], Gender::Masculine),
    (["миллиард", "миллиарда", "миллиардов"], Gender::Masculine),
    (["триллион", "триллиона", "триллионов"], Gender::Masculine),
];

fn unit(d: u64, gender: Gender, case: Case) -> &'static str {
    match (d, gender, case) {
        (1, Gender::Feminine, Case::Nominative) => "одна",
        (1, Gender::Neuter, Case::Nominative) => "одно",
        (2, Gender::Feminine, Case::Nominative) => "две",
        (1, Gender::Feminine, Case::Genitive) => "одной",
        (_, _, Case::Nominative) => UNITS[d as usize],
        (_, _, Case::Genitive) => UNITS_GEN[d as usize],
    }
}

/// Words for 1..=999 pushed onto `out`.
fn triple(n: u64, gender: Gender, case: Case, out: &mut Vec<&'static str>) {
    let (hundreds, tens, teens) = match case {
        Case::Nominative => (&HUNDREDS, &TENS, &TEENS),
        Case::Genitive => (&HUNDREDS_GEN, &TENS_GEN, &TEENS_GEN),
    };
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        out.push(hundreds[h as usize]);
    }
    match rest {
        0 => {}
        10..=19 => out.push(teens[(rest - 10) as usize]),
        _ => {
            if rest >= 20 {
                out.push(tens[(rest / 10) as usize]);
            }
            if rest % 10 > 0 {
                out.push(unit(rest % 10, gender, case));
            }
        }
    }
}

/// `n` in words, agreeing with a noun of `gender`: `in_words(21, Feminine)` → `двадцать одна`.
#[must_use]
pub fn in_words(n: u64, gender: Gender) -> String {
    in_words_case(n, gender, Case::Nominative)
}

/// `n` in words in a grammatical case: `in_words_case(21, Masculine, Genitive)` → `двадцати одного`.
#[must_use]
pub fn in_words_case(n: u64, gender: Gender, case: Case) -> String {
    if n == 0 {
        return match case {
            Case::Nominative => "ноль",
            Case::Genitive => ZERO_GENITIVE,
        }
        .to_owned();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words: Vec<&'static str> = Vec::new();
    for (i, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        let scale = (i.max(1) - 1).min(SCALES.len() - 1);
        if i == 0 {
            triple(group, gender, case, &mut words);
        } else {
            let (forms, scale_gender) = SCALES[scale];
            triple(group, scale_gender, case, &mut words);
            words.push(match case {
                Case::Nominative => plural_form(group, forms),
                Case::Genitive if plural(group) == Plural::One => SCALES_GEN[scale][0],
                Case::Genitive => SCALES_GEN[scale][1],
            });
        }
    }
    words.join(" ")
}

/// An amount in roubles in words with units: `двенадцать тысяч триста сорок пять рублей шестьдесят семь копеек`.
/// Kopecks are always spoken (`ноль копеек`); the amount is rounded to kopecks; negative amounts use their
/// absolute value.
#[must_use]
pub fn money_in_words(amount: Decimal) -> String {
    let kopecks = (amount.abs() * Decimal::ONE_HUNDRED).round().to_u64().unwrap_or(0);
    let (rub, kop) = (kopecks / 100, kopecks % 100);
    format!(
        "{} {} {} {}",
        in_words(rub, Gender::Masculine),
        plural_form(rub, ["рубль", "рубля", "рублей"]),
        in_words(kop, Gender::Feminine),
        plural_form(kop, ["копейка", "копейки", "копеек"])
    )
}

/// The amount in words in the genitive: `двенадцати тысяч трёхсот сорока пяти рублей шестидесяти семи копеек`.
#[must_use]
pub fn money_in_words_genitive(amount: Decimal) -> String {
    let (rub, kop) = split_kopecks(amount);
    let noun = |n: u64, one: &'static str, other: &'static str| if plural(n) == Plural::One { one } else { other };
    format!(
        "{} {} {} {}",
        in_words_case(rub, Gender::Masculine, Case::Genitive),
        noun(rub, "рубля", "рублей"),
        in_words_case(kop, Gender::Feminine, Case::Genitive),
        noun(kop, "копейки", "копеек")
    )
}

/// Groups the digits of `n` by three with a no-break space: `12 345`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

fn split_kopecks(amount: Decimal) -> (u64, u64) {
    let kopecks = (amount.abs() * Decimal::ONE_HUNDRED).round().to_u64().unwrap_or(0);
    (kopecks / 100, kopecks % 100)
}

/// `12 345,67 ₽` (no-break spaces).
#[must_use]
pub fn money(amount: Decimal) -> String {
    let (rub, kop) = split_kopecks(amount);
    format!("{},{kop:02}\u{a0}₽", group_thousands(rub))
}

/// `12 345 руб. 67 коп.` (no-break spaces).
#[must_use]
pub fn money_rub(amount: Decimal) -> String {
    let (rub, kop) = split_kopecks(amount);
    format!("{}\u{a0}руб.\u{a0}{kop:02}\u{a0}коп.", group_thousands(rub))
}

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// `15 декабря 2026 г.`
#[must_use]
pub fn date(d: NaiveDate) -> String {
    format!(
        "{} {} {}\u{a0}г.",
        d.day(),
        MONTHS_GENITIVE[d.month0() as usize],
        d.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_from_the_issue_read_correctly() {
        assert_eq!(in_words(21, Gender::Feminine), "двадцать одна");
        assert_eq!(in_words(2000, Gender::Masculine), "две тысячи");
        assert_eq!(
            money_in_words(Decimal::new(1_234_567, 2)),
            "двенадцать тысяч триста сорок пять рублей шестьдесят семь копеек"
        );
        assert_eq!(money_in_words(Decimal::new(21, 2)), "ноль рублей двадцать одна копейка");
        assert_eq!(plural_form(2, ["месяц", "месяца", "месяцев"]), "месяца");
        assert_eq!(plural_form(11, ["месяц", "месяца", "месяцев"]), "месяцев");
        assert_eq!(money(Decimal::new(1_234_567, 2)), "12\u{a0}345,67\u{a0}₽");
        assert_eq!(
            money_rub(Decimal::new(1_234_567, 2)),
            "12\u{a0}345\u{a0}руб.\u{a0}67\u{a0}коп."
        );
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2026, 12, 15).unwrap()),
            "15 декабря 2026\u{a0}г."
        );
    }

    /// Checks every row `kind<TAB>input<TAB>expected` of a golden table against `render(kind, input)`.
    fn check_golden(table: &str, render: impl Fn(&str, u64) -> String) {
        let mut checked = 0;
        for line in table.lines().skip(1) {
            let mut cols = line.split('\t');
            let (kind, input, expected) = (cols.next().unwrap(), cols.next().unwrap(), cols.next().unwrap());
            assert_eq!(render(kind, input.parse().unwrap()), expected, "{kind} {input}");
            checked += 1;
        }
        assert!(checked >= 2000, "only {checked} golden rows");
    }

    fn kopecks(n: u64) -> Decimal {
        Decimal::new(i64::try_from(n).unwrap(), 2)
    }

    #[test]
    fn the_golden_table_generated_with_pytils_matches() {
        check_golden(
            include_str!("../../tests/fixtures/ru_numerals.tsv"),
            |kind, n| match kind {
                "m" => in_words(n, Gender::Masculine),
                "f" => in_words(n, Gender::Feminine),
                "n" => in_words(n, Gender::Neuter),
                "rub" => money_in_words(kopecks(n)),
                "plural" => format!("{:?}", plural(n)).to_lowercase(),
                other => panic!("unknown kind {other}"),
            },
        );
    }

    #[test]
    fn the_genitive_golden_table_generated_with_num2words_matches() {
        check_golden(
            include_str!("../../tests/fixtures/ru_numerals_genitive.tsv"),
            |kind, n| match kind {
                "m" => in_words_case(n, Gender::Masculine, Case::Genitive),
                "f" => in_words_case(n, Gender::Feminine, Case::Genitive),
                "rub" => money_in_words_genitive(kopecks(n)),
                other => panic!("unknown kind {other}"),
            },
        );
    }
}
