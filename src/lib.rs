//! debtor-notify: debt notices by SMS and auto-dial for utilities, with delivery evidence.
//!
//! # Layout
//! - [`domain`]: validated types with no I/O (phones, money, dates, debtor records); PII masks itself.
//! - [`config`]: typed settings from `config/default.toml`, `--config FILE` and the environment.
//! - [`telemetry`]: log set-up (pretty or JSON).
//! - [`shutdown`]: SIGINT/SIGTERM → cancellation token.
//! - [`policy`]: contact windows, production calendar, frequency caps (pure; used by dispatch).
//! - [`queue`]: RabbitMQ connection, topology, the `debtor-batch.v1` contract, confirming publisher.
//! - [`clock`]: the injectable clock (system or manual) of the planner and dispatchers.
//! - [`campaign`]: campaign definitions, lifecycle and the planner (steps into notification rows).
//! - [`dispatch`]: the dispatch engine: claim, policy gate, hand-over, reports, reconciliation.
//! - [`gateway`]: the SMS and voice provider traits, limits, and the built-in simulator.
//! - [`render`]: message templates: engine, context, Russian formatting, SMS sizing, lint.
//! - [`intake`]: batch consumer, file readers (CSV/XLSX/JSON), enqueue (chunk + publish).
//! - [`templates`]: template use cases (save after lint, preview, worst-case check) for the CLI and API.
//! - [`storage`]: PostgreSQL pool, migrations and every SQL statement.
//! - [`http`]: the axum API (utilities, batches, health).
//! - [`app`]: wiring of `serve`: roles, tasks, graceful shutdown.
//! - [`cli`]: the command-line commands other than `serve`.
//! - [`bench`]: `debtor-notify bench …` throughput probes.

pub mod app;
pub mod bench;
pub mod campaign;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod gateway;
pub mod gateway_sim;
pub mod http;
pub mod intake;
pub mod kannel_rig;
pub mod outbox;
pub mod policy;
pub mod queue;
pub mod render;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod templates;
