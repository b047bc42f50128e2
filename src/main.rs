//! The `debtor-notify` command line: parses arguments, loads configuration, runs one command.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use debtor_notify::{app::Application, bench, cli, config::Settings, shutdown, storage, telemetry};
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: a dispatch pass builds and drops thousands of short-lived strings, rows and
/// JSON values, and glibc's allocator spent nearly half of the dispatcher's CPU on them (`perf`, `bench dispatch`).
/// Built without transparent huge pages (`no_thp`): with them, a tenth of the dispatcher's CPU went to the kernel
/// zeroing fresh 2 MiB pages, and the peak RSS of `bench dispatch` was 140–160 MB instead of ~80 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "debtor-notify",
    version,
    about = "Debt notices by SMS and auto-dial, with delivery evidence"
)]
struct Args {
    /// Configuration file with the keys to change (see config/default.toml).
    #[arg(long, global = true, env = "DEBTOR_NOTIFY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: intake consumer, planner, dispatcher and HTTP API (serve.roles).
    Serve,
    /// Apply database migrations.
    Migrate,
    /// Manage utilities (tenants).
    #[command(subcommand)]
    Utility(cli::utility::UtilityCommand),
    /// Validate a CSV/XLSX/JSON billing export and publish it as a debtor batch.
    Enqueue(cli::enqueue::EnqueueArgs),
    /// Message templates: list, show, create, edit (new version), preview, check.
    #[command(subcommand)]
    Template(cli::template::TemplateCommand),
    /// The opt-out list: numbers and debtors that must not be contacted.
    #[command(subcommand)]
    OptOut(cli::opt_out::OptOutCommand),
    /// The production calendar: show days off, set or load overrides.
    #[command(subcommand)]
    Calendar(cli::calendar::CalendarCommand),
    /// Campaigns: create from a file, list, show, start, pause, resume, cancel, stats.
    #[command(subcommand)]
    Campaign(cli::campaign::CampaignCommand),
    /// The delivery log: notifications with their state and reason; one notification's full evidence.
    Log(cli::log::LogArgs),
    /// Batch reports.
    #[command(subcommand)]
    Batch(cli::batch::BatchCommand),
    /// The gateway simulator: an HTTP server speaking the SMS.ru and SMSC.ru wire formats, with callbacks and /stats.
    GatewaySim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        config: debtor_notify::gateway_sim::SimConfig,
    },
    /// Throughput benchmarks (not tests).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: {e}: {}",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.telemetry);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            let token = CancellationToken::new();
            shutdown::cancel_on_signal(token.clone());
            Application::build(settings).await?.run_until_stopped(token).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let pool = storage::connect(&settings.database)?;
            storage::migrate(&pool).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Utility(cmd) => cli::utility::run(cmd, &settings).await,
        Command::Enqueue(args) => cli::enqueue::run(args, &settings).await,
        Command::Batch(cmd) => cli::batch::run(cmd, &settings).await,
        Command::Campaign(cmd) => cli::campaign::run(cmd, &settings).await,
        Command::Log(args) => cli::log::run(args, &settings).await,
        Command::Template(cmd) => cli::template::run(cmd, &settings).await,
        Command::OptOut(cmd) => cli::opt_out::run(cmd, &settings).await,
        Command::Calendar(cmd) => cli::calendar::run(cmd, &settings).await,
        Command::Bench(cmd) => bench::run(cmd, settings).await,
        Command::GatewaySim { listen, config } => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("gateway simulator listening on http://{}", listener.local_addr()?);
            debtor_notify::gateway_sim::serve(listener, config).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
