//! Billing exports as utilities send them: Windows-1251 `;` CSV with quoting, comma CSV with BOM, XLSX, JSON.

use chrono::NaiveDate;
use debtor_notify::{
    domain::{RawDebtor, debtor::RecordContext, validate_debtor},
    intake::{
        enqueue::check,
        file::{self, FileKind, ParsedFile, Record},
    },
};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

fn rows(parsed: &ParsedFile) -> Vec<&RawDebtor> {
    parsed
        .records
        .iter()
        .map(|r| match r {
            Record::Row(r) => r.as_ref(),
            Record::Json(_) => panic!("table files give rows"),
        })
        .collect()
}

fn read(path: &str) -> ParsedFile {
    file::read(std::path::Path::new(path)).unwrap()
}

#[test]
fn a_quoted_windows_1251_csv_keeps_semicolons_quotes_and_line_breaks_inside_fields() {
    let parsed = read("tests/fixtures/debtors-quoted.cp1251.csv");

    assert_eq!((parsed.kind, parsed.encoding), (FileKind::Csv, Some("windows-1251")));
    let rows = rows(&parsed);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0].services.len(),
        2,
        "the ';' inside quotes separates services, not columns"
    );
    assert_eq!(rows[0].services[1].debt, "804.63");
    assert!(rows[1].address.as_deref().unwrap().contains('\n'));
    assert_eq!(rows[2].full_name.as_deref(), Some("ООО \"Север-Сервис\""));
    assert_eq!(
        rows.iter().map(|r| r.source_row.unwrap()).collect::<Vec<_>>(),
        [2, 3, 5, 6]
    );
    let summary = check(&parsed, as_of());
    assert_eq!((summary.valid, summary.rejected), (4, 0), "{:?}", summary.first_reasons);
}

#[test]
fn a_landline_and_two_numbers_in_one_cell_are_told_apart() {
    let parsed = read("tests/fixtures/debtors-quoted.cp1251.csv");
    let ctx = RecordContext {
        default_timezone: chrono_tz::Asia::Yekaterinburg,
        as_of: as_of(),
    };
    let rows = rows(&parsed);

    let (landline, _) = validate_debtor(rows[2], &ctx).unwrap();
    let (two, _) = validate_debtor(rows[3], &ctx).unwrap();

    assert_eq!(landline.phones[0].e164(), "+73467351200");
    assert_eq!(landline.phones[0].kind().as_str(), "fixed");
    assert_eq!(landline.debt_total.to_string(), "24380.88");
    assert!(landline.agreement_active);
    let numbers: Vec<_> = two.phones.iter().map(|p| p.e164()).collect();
    assert_eq!(numbers, ["+79195550102", "+79193330011"]);
}

#[test]
fn a_comma_separated_utf8_csv_with_bom_and_english_headers_is_read() {
    let parsed = read("tests/fixtures/debtors-comma.csv");

    assert_eq!(parsed.encoding, Some("utf-8"));
    let rows = rows(&parsed);
    assert_eq!(
        rows[0].account.as_deref(),
        Some("8601000301"),
        "the BOM is not part of the first header"
    );
    assert_eq!(rows[1].services.len(), 2);
    let summary = check(&parsed, as_of());
    assert_eq!((summary.valid, summary.rejected), (3, 0), "{:?}", summary.first_reasons);
}

#[test]
fn an_xlsx_export_with_numeric_and_date_cells_is_read_like_text() {
    let parsed = read("tests/fixtures/debtors.xlsx");

    assert_eq!(parsed.kind, FileKind::Xlsx);
    let rows = rows(&parsed);
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[1].account.as_deref(),
        Some("8601000102"),
        "a numeric account cell has no .0"
    );
    assert_eq!(rows[2].debt_total.as_deref(), Some("1234.50"));
    assert_eq!(
        rows[3].last_payment_date.as_deref(),
        Some("2026-03-14"),
        "an Excel date cell becomes a date"
    );
    assert_eq!(rows[4].phones, ["79123456789"]);
    assert_eq!(rows[4].source_row, Some(6));
    let summary = check(&parsed, as_of());
    assert_eq!((summary.valid, summary.rejected), (5, 0), "{:?}", summary.first_reasons);
}

#[test]
fn the_shipped_sample_reports_its_three_bad_rows_by_file_row_and_field() {
    let parsed = read("data/sample/debtors.cp1251.csv");

    let summary = check(&parsed, as_of());

    assert_eq!((summary.rows_read, summary.valid, summary.rejected), (40, 37, 3));
    assert!(
        summary.first_reasons[0].starts_with("row 8: phones: '12345'"),
        "{:?}",
        summary.first_reasons
    );
    assert!(summary.first_reasons[1].starts_with("row 20: debt_total: 'abc'"));
    assert!(summary.first_reasons[2].starts_with("row 34: last_payment_date: '31.02.2026'"));
}

#[test]
fn the_utf8_and_windows_1251_samples_give_the_same_records() {
    let utf8 = read("data/sample/debtors.csv");
    let cp1251 = read("data/sample/debtors.cp1251.csv");
    let a: Vec<_> = rows(&utf8).iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    let b: Vec<_> = rows(&cp1251)
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert_eq!(a, b);
}

#[test]
fn a_json_batch_document_keeps_its_own_batch_id_and_utility() {
    let parsed = read("docs/schema/debtor-batch.v1.example.json");

    assert_eq!(parsed.kind, FileKind::Json);
    assert!(parsed.meta.batch_id.is_some());
    assert!(parsed.meta.utility.is_some());
    let summary = check(&parsed, parsed.meta.as_of.unwrap());
    assert_eq!((summary.valid, summary.rejected), (3, 0), "{:?}", summary.first_reasons);
}

#[test]
fn unreadable_files_give_a_clear_error_instead_of_rows() {
    let missing = file::parse(FileKind::Csv, "ФИО;Телефон\nИванов;1\n".as_bytes()).unwrap_err();
    assert!(missing.to_string().contains("header"), "{missing}");
    assert!(format!("{:?}", missing).contains("Missing"));
    assert!(matches!(
        file::parse(FileKind::Xlsx, b"not a zip"),
        Err(file::FileError::Xlsx(_))
    ));
    assert!(matches!(
        file::parse(FileKind::Json, b"{\"debtors\": 5}"),
        Err(file::FileError::Json(_))
    ));
    assert!(matches!(
        file::parse(FileKind::Csv, b"  \n"),
        Err(file::FileError::Empty)
    ));
}
