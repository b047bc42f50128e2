//! XLSX exports: the first worksheet, its first row the header. Numeric cells become text the same way a
//! person would type them (accounts and phones without `.0`, Excel dates as ISO dates).

use std::io::Cursor;

use calamine::{Data, Reader, open_workbook_auto_from_rs};

use super::{ColumnMap, DocumentMeta, FileError, FileKind, ParsedFile, Record};

pub(super) fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(FileError::Xlsx)?;
    let name = book.sheet_names().into_iter().next().ok_or(FileError::NoSheet)?;
    let range = book.worksheet_range(&name).map_err(FileError::Xlsx)?;
    let first_row = range.start().map_or(0, |(row, _)| row);
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().ok_or(FileError::Empty)?.iter().map(cell_text).collect();
    let map = ColumnMap::from_header(&header)?;
    let mut records = Vec::new();
    for (i, row) in rows.enumerate() {
        let texts: Vec<String> = row.iter().map(cell_text).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        // Worksheet rows are 1-based; the header is `first_row + 1`.
        let source_row = first_row + u32::try_from(i).unwrap_or(u32::MAX) + 2;
        records.push(Record::Row(Box::new(
            map.record(|c| texts.get(c).map(String::as_str), source_row),
        )));
    }
    Ok(ParsedFile {
        kind: FileKind::Xlsx,
        encoding: None,
        ignored_columns: map.ignored,
        meta: DocumentMeta::default(),
        records,
    })
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Integral floats are accounts or phone numbers typed as numbers: no ".0", no exponent.
        #[allow(clippy::cast_possible_truncation)]
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => if *b { "да" } else { "нет" }.to_owned(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map_or_else(|| dt.as_f64().to_string(), |d| d.date().to_string()),
        Data::Error(e) => format!("#{e:?}"),
    }
}
