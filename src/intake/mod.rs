//! Intake: debtor batches in, from RabbitMQ (the consumer) or from files (CSV/XLSX/JSON, via `enqueue` and the
//! HTTP upload, which publish to the same exchange).
//!
//! - [`process`]: one message → validated part → stored, or a dead-letter verdict. No AMQP here.
//! - [`consumer`]: the RabbitMQ loop: reconnects, bounded concurrency, ack after commit, dead-lettering.
//! - [`payment`]: `payment.v1` messages, and the effects of a stored batch on pending notices.
//! - [`file`]: reading billing exports into `RawDebtor` records.
//! - [`enqueue`]: splitting records into messages and publishing them with confirms.

pub mod consumer;
pub mod enqueue;
pub mod file;
pub mod payment;
pub mod process;
