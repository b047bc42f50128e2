//! Integration tests against the real PostgreSQL (a fresh database per test, via `#[sqlx::test]`) and the real
//! RabbitMQ (unique exchange and queue names per test). `scripts/test` starts both.

mod accept_record;
mod api;
mod campaigns_api;
mod concurrent_passes;
mod dispatch;
mod dispatch_processes;
mod engine;
mod failover;
mod files;
mod helpers;
mod intake_queue;
mod kannel;
mod lifecycle;
mod outbox;
mod presence;
mod sms_apis;
mod templates;
