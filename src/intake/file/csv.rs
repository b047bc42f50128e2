//! CSV exports: encoding (UTF-8, with or without BOM, else Windows-1251) and delimiter (`;` or `,`) detected,
//! RFC 4180 quoting, rows numbered by the file line they start on.

use csv::{ReaderBuilder, StringRecord};
use encoding_rs::WINDOWS_1251;

use super::{ColumnMap, DocumentMeta, FileError, FileKind, ParsedFile, Record};

pub(super) fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let (text, encoding) = decode(bytes);
    let delimiter = detect_delimiter(&text);
    let mut reader = reader(delimiter, text.as_bytes());
    let mut header = StringRecord::new();
    if !reader.read_record(&mut header).map_err(|e| csv_error(e, 0))? {
        return Err(FileError::Empty);
    }
    let header: Vec<String> = header.iter().map(ToOwned::to_owned).collect();
    let map = ColumnMap::from_header(&header)?;
    let body_start = usize::try_from(reader.position().byte())
        .unwrap_or(text.len())
        .min(text.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8);
    let chunks = split_records(text.as_bytes(), body_start, threads);
    // Rows are parsed and mapped on all cores, each chunk starting at a record boundary.
    let parsed: Vec<Result<Vec<Record>, FileError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| scope.spawn(|| parse_chunk(&text, chunk, delimiter, &map)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut records = Vec::with_capacity(text.len() / 160);
    for chunk in parsed {
        records.extend(chunk?);
    }
    Ok(ParsedFile {
        kind: FileKind::Csv,
        encoding: Some(encoding),
        ignored_columns: map.ignored,
        meta: DocumentMeta::default(),
        records,
    })
}

fn reader(delimiter: u8, bytes: &[u8]) -> csv::Reader<&[u8]> {
    ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes)
}

/// A byte range of whole records and the number of line breaks before it.
struct Chunk {
    start: usize,
    end: usize,
    lines_before: u64,
}

/// Splits `text[body_start..]` into about `parts` ranges at line breaks outside quotes. With unbalanced quotes
/// (a malformed file) the body stays one range, so the reader reports the problem as it would sequentially.
fn split_records(text: &[u8], body_start: usize, parts: usize) -> Vec<Chunk> {
    let newlines = |range: &[u8]| range.iter().filter(|b| **b == b'\n').count() as u64;
    let mut lines_before = newlines(&text[..body_start]);
    let whole = vec![Chunk {
        start: body_start,
        end: text.len(),
        lines_before,
    }];
    let step = (text.len() - body_start) / parts.max(1);
    if parts <= 1 || step < 64 * 1024 {
        return whole;
    }
    let mut chunks = Vec::with_capacity(parts);
    let (mut start, mut in_quotes, mut chunk_lines) = (body_start, false, 0u64);
    for (i, b) in text.iter().enumerate().skip(body_start) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' => {
                chunk_lines += 1;
                if !in_quotes && i + 1 - start >= step && chunks.len() + 1 < parts {
                    chunks.push(Chunk {
                        start,
                        end: i + 1,
                        lines_before,
                    });
                    lines_before += chunk_lines;
                    (start, chunk_lines) = (i + 1, 0);
                }
            }
            _ => {}
        }
    }
    if in_quotes {
        return whole;
    }
    chunks.push(Chunk {
        start,
        end: text.len(),
        lines_before,
    });
    chunks
}

fn parse_chunk(text: &str, chunk: &Chunk, delimiter: u8, map: &ColumnMap) -> Result<Vec<Record>, FileError> {
    let slice = &text.as_bytes()[chunk.start..chunk.end];
    let mut reader = reader(delimiter, slice);
    let mut records = Vec::with_capacity(slice.len() / 160);
    let mut row = StringRecord::new();
    while reader
        .read_record(&mut row)
        .map_err(|e| csv_error(e, chunk.lines_before))?
    {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = chunk.lines_before + row.position().map_or(0, |p| start_line(slice, p));
        let record = map.record(|i| row.get(i), u32::try_from(line).unwrap_or(u32::MAX));
        records.push(Record::Row(Box::new(record)));
    }
    Ok(records)
}

/// The line a record starts on. After a CRLF the reader's position still points at the `\n` of the previous
/// line ending, one line early.
fn start_line(text: &[u8], position: &csv::Position) -> u64 {
    let at_newline = usize::try_from(position.byte()).ok().and_then(|b| text.get(b)) == Some(&b'\n');
    position.line() + u64::from(at_newline)
}

fn csv_error(source: csv::Error, lines_before: u64) -> FileError {
    let line = lines_before + source.position().map_or(0, csv::Position::line);
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

    #[test]
    fn a_file_split_across_threads_keeps_every_row_and_its_line_number() {
        let mut text = String::from("ЛС;Адрес;Долг\r\n");
        for i in 0..20_000 {
            let address = if i % 7 == 0 {
                "\"кв.\r\n5; \"\"угол\"\"\""
            } else {
                "ул. Мира"
            };
            text.push_str(&format!("{i};{address};{i},00\r\n"));
        }
        let header_end = text.find('\r').unwrap();
        assert!(
            split_records(text.as_bytes(), header_end, 4).len() > 1,
            "the body is split"
        );
        let rows = rows_of(&text);
        assert_eq!(rows.len(), 20_000);
        let mut line = 2;
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(*row, Some(line), "row {i}");
            line += if i % 7 == 0 { 2 } else { 1 };
        }
    }
}
