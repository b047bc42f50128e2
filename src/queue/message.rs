//! The `debtor-batch.v1` wire contract (docs/schema/debtor-batch.v1.schema.json is its source of truth).
//!
//! Decoding is two-level so that one bad record never sinks its batch: the envelope is decoded strictly (a
//! failure dead-letters the message), each record separately (a failure rejects that record only, naming the
//! field from the serde path).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::domain::RawDebtor;

/// Schema name of a debtor batch, in the body's `schema` field and the AMQP `schema` header.
pub const DEBTOR_BATCH_V1: &str = "debtor-batch.v1";
/// Content type of every message.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Where a part sits in a batch split into several messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// 0-based index of this message.
    pub index: u32,
    /// How many messages the batch has.
    pub count: u32,
    /// Index of this part's first record in the whole batch.
    pub offset: u32,
}

impl Part {
    /// A batch sent as one message.
    pub const WHOLE: Self = Self {
        index: 0,
        count: 1,
        offset: 0,
    };
}

/// A batch message as decoded by the consumer: the envelope plus undecoded records.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEnvelope<'a> {
    pub schema: String,
    pub batch_id: Uuid,
    pub utility: String,
    pub as_of: NaiveDate,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub part: Option<Part>,
    #[serde(borrow)]
    pub debtors: Vec<&'a RawValue>,
}

/// A batch message as produced by `enqueue` and the HTTP upload.
#[derive(Debug, Serialize)]
pub struct BatchMessage<'a, R: Serialize> {
    pub schema: &'static str,
    pub batch_id: Uuid,
    pub utility: &'a str,
    pub as_of: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    pub part: Part,
    pub debtors: &'a [R],
}

/// Why a record could not even be decoded: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDecodeError {
    pub field: String,
    pub reason: String,
}

/// Decodes one record, naming the offending field on failure.
///
/// # Errors
/// [`RecordDecodeError`] with the serde path (e.g. `services[0].debt`) as the field.
pub fn decode_record(raw: &RawValue) -> Result<RawDebtor, RecordDecodeError> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = inner.to_string();
        // Unknown fields are reported by serde at the record level; name the field itself.
        let field = match reason.strip_prefix("unknown field `") {
            Some(rest) => rest.split('`').next().unwrap_or("?").to_owned(),
            None if path == "." => "record".to_owned(),
            None => path,
        };
        RecordDecodeError {
            field,
            reason: strip_position(&reason),
        }
    })
}

fn strip_position(reason: &str) -> String {
    reason.split(" at line ").next().unwrap_or(reason).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_a_float_amount_names_the_field() {
        let raw = RawValue::from_string(r#"{"account":"1","debt_total":12.5}"#.into()).unwrap();
        let err = decode_record(&raw).unwrap_err();
        assert_eq!(err.field, "debt_total");
        assert!(err.reason.contains("expected a string"), "{}", err.reason);
    }

    #[test]
    fn an_unknown_record_field_is_named() {
        let raw = RawValue::from_string(r#"{"account":"1","debt":"1"}"#.into()).unwrap();
        assert_eq!(decode_record(&raw).unwrap_err().field, "debt");
    }

    #[test]
    fn a_nested_bad_value_is_named_by_its_path() {
        let raw = RawValue::from_string(r#"{"account":"1","services":[{"service":"ХВС","debt":5}]}"#.into()).unwrap();
        assert_eq!(decode_record(&raw).unwrap_err().field, "services[0].debt");
    }
}
