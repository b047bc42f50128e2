//! CSV exports: encoding (UTF-8, with or without BOM, else Windows-1251) and delimiter (`;` or `,`) detected,
//! RFC 4180 quoting, rows numbered by the file line they start on.

use csv::{ReaderBuilder, StringRecord};
use encoding_rs::WINDOWS_1251;

use super::{ColumnMap, DocumentMeta, FileError, FileKind, ParsedFile, Record};

pub(super) fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let (text, encoding) = decode(bytes);
    let delimiter = detect_delimiter(&text);
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut rows = reader.records();
    let header = match rows.next() {
        Some(row) => row.map_err(csv_error)?,
        None => return Err(FileError::Empty),
    };
    let header: Vec<String> = header.iter().map(ToOwned::to_owned).collect();
    let map = ColumnMap::from_header(&header)?;
    drop(rows);
    let mut records = Vec::with_capacity(text.len() / 160);
    let mut row = StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = row.position().map_or(0, |p| start_line(text.as_bytes(), p));
        let record = map.record(|i| row.get(i), u32::try_from(line).unwrap_or(u32::MAX));
        records.push(Record::Row(Box::new(record)));
    }
    Ok(ParsedFile {
        kind: FileKind::Csv,
        encoding: Some(encoding),
        ignored_columns: map.ignored,
        meta: DocumentMeta::default(),
        records,
    })
}

/// The line a record starts on. After a CRLF the reader's position still points at the `\n` of the previous
/// line ending, one line early.
fn start_line(text: &[u8], position: &csv::Position) -> u64 {
    let at_newline = usize::try_from(position.byte()).ok().and_then(|b| text.get(b)) == Some(&b'\n');
    position.line() + u64::from(at_newline)
}

fn csv_error(source: csv::Error) -> FileError {
    let line = source.position().map_or(0, csv::Position::line);
    FileError::Csv { line, source }
}

/// UTF-8 when the bytes are valid UTF-8 (a BOM is dropped), otherwise Windows-1251 (1C's default).
fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), "utf-8"),
        Err(_) => (
            WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned(),
            "windows-1251",
        ),
    }
}

/// The delimiter that occurs more often in the header line, `;` on a tie (1C's choice).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let semicolons = header.matches(';').count();
    let commas = header.matches(',').count();
    if commas > semicolons { b',' } else { b';' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1251_is_detected_and_decoded() {
        let (bytes, _, _) = WINDOWS_1251.encode("ЛС;Долг\r\n1;2 726,36\r\n");
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.encoding, Some("windows-1251"));
        assert_eq!(parsed.records.len(), 1);
    }

    #[test]
    fn the_delimiter_is_taken_from_the_header() {
        assert_eq!(detect_delimiter("account,debt_total\n"), b',');
        assert_eq!(detect_delimiter("Сумма долга, руб.;ЛС\n"), b';');
    }
}

#[cfg(test)]
mod row_numbers {
    use super::*;

    fn rows_of(text: &str) -> Vec<Option<u32>> {
        parse(text.as_bytes())
            .unwrap()
            .records
            .iter()
            .map(|r| match r {
                Record::Row(r) => r.source_row,
                Record::Json(_) => None,
            })
            .collect()
    }

    #[test]
    fn rows_are_numbered_by_the_file_line_they_start_on() {
        assert_eq!(rows_of("ЛС;Долг\r\n1;2\r\n2;3\r\n"), [Some(2), Some(3)]);
        assert_eq!(rows_of("ЛС;Адрес;Долг\n1;\"a\nb\";2\n2;c;3\n"), [Some(2), Some(4)]);
        assert_eq!(
            rows_of("ЛС;Адрес;Долг\r\n1;\"a\r\nb\";2\r\n2;c;3\r\n"),
            [Some(2), Some(4)]
        );
    }
}
