//! Billing exports → records: CSV (UTF-8 or Windows-1251, `;` or `,`), XLSX (first sheet) and JSON
//! (a `debtor-batch.v1` document or an array of debtors). Files are read whole: this runs in `enqueue` and the
//! HTTP upload, never in the intake worker.

mod columns;
mod csv;
mod xlsx;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

pub use columns::{ColumnMap, HeaderError};

use crate::domain::RawDebtor;

/// Kinds of files accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Csv,
    Xlsx,
    Json,
}

/// A file that cannot be read at all (as opposed to bad rows, which are reported per row).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the file is empty")]
    Empty,
    #[error("bad header")]
    Header(#[from] HeaderError),
    #[error("CSV is malformed at line {line}")]
    Csv {
        line: u64,
        #[source]
        source: ::csv::Error,
    },
    #[error("XLSX cannot be read")]
    Xlsx(#[source] calamine::Error),
    #[error("the workbook has no worksheet")]
    NoSheet,
    #[error("JSON is malformed")]
    Json(#[source] serde_json::Error),
}

/// One record to publish: a row mapped from a table, or a JSON record passed through as sent.
#[derive(Debug)]
pub enum Record {
    Row(Box<RawDebtor>),
    Json(Box<RawValue>),
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Row(r) => r.serialize(s),
            Self::Json(v) => v.serialize(s),
        }
    }
}

/// Batch attributes a JSON document carries itself.
#[derive(Debug, Clone, Default)]
pub struct DocumentMeta {
    pub batch_id: Option<Uuid>,
    pub utility: Option<String>,
    pub as_of: Option<NaiveDate>,
    pub campaign: Option<String>,
}

/// A parsed file.
#[derive(Debug)]
pub struct ParsedFile {
    pub kind: FileKind,
    /// `utf-8` or `windows-1251` for CSV.
    pub encoding: Option<&'static str>,
    /// Header names that matched no field.
    pub ignored_columns: Vec<String>,
    pub meta: DocumentMeta,
    pub records: Vec<Record>,
}

/// Decides the kind from the name, then from the content (`PK` zip magic → XLSX, `{`/`[` → JSON).
#[must_use]
pub fn detect_kind(name: &str, bytes: &[u8]) -> FileKind {
    let lower = name.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") || lower.ends_with(".xls") {
        return FileKind::Xlsx;
    }
    if lower.ends_with(".json") {
        return FileKind::Json;
    }
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return FileKind::Csv;
    }
    match bytes.iter().copied().find(|b| !b.is_ascii_whitespace()) {
        _ if bytes.starts_with(b"PK\x03\x04") => FileKind::Xlsx,
        Some(b'{' | b'[') => FileKind::Json,
        _ => FileKind::Csv,
    }
}

/// Parses a file's bytes.
///
/// # Errors
/// The file as a whole cannot be read (bad header, broken CSV quoting, not a workbook, not JSON).
pub fn parse(kind: FileKind, bytes: &[u8]) -> Result<ParsedFile, FileError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    match kind {
        FileKind::Csv => csv::parse(bytes),
        FileKind::Xlsx => xlsx::parse(bytes),
        FileKind::Json => parse_json(bytes),
    }
}

/// Reads and parses a file from disk.
///
/// # Errors
/// As [`parse`], plus I/O errors naming the path.
pub fn read(path: &std::path::Path) -> Result<ParsedFile, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(detect_kind(&path.to_string_lossy(), &bytes), &bytes)
}

fn parse_json(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    /// A `debtor-batch.v1` document; `schema` and `part` are re-created when publishing.
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        batch_id: Option<Uuid>,
        #[serde(default)]
        utility: Option<String>,
        #[serde(default)]
        as_of: Option<NaiveDate>,
        #[serde(default)]
        campaign: Option<String>,
        debtors: Vec<Box<RawValue>>,
    }
    let is_list = bytes.iter().copied().find(|b| !b.is_ascii_whitespace()) == Some(b'[');
    let (meta, debtors) = if is_list {
        (
            DocumentMeta::default(),
            serde_json::from_slice::<Vec<Box<RawValue>>>(bytes).map_err(FileError::Json)?,
        )
    } else {
        let doc: Doc = serde_json::from_slice(bytes).map_err(FileError::Json)?;
        let meta = DocumentMeta {
            batch_id: doc.batch_id,
            utility: doc.utility,
            as_of: doc.as_of,
            campaign: doc.campaign,
        };
        (meta, doc.debtors)
    };
    Ok(ParsedFile {
        kind: FileKind::Json,
        encoding: None,
        ignored_columns: Vec::new(),
        meta,
        records: debtors.into_iter().map(Record::Json).collect(),
    })
}
