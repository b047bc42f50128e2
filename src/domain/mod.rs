//! Validated domain types with no I/O: phones, money, dates, debtor records.
//!
//! Everything that crosses the intake boundary is parsed here into types that can only hold valid values.
//! Types that carry personal data mask themselves in `Debug`/`Display`, so they can never leak into logs.

pub mod date;
pub mod debtor;
pub mod mask;
pub mod money;
pub mod phone;

pub use debtor::{FieldError, RawDebtor, RawServiceDebt, ServiceDebt, ValidDebtor, validate_debtor};
pub use phone::{PhoneKind, PhoneNumber};
