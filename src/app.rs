//! Wiring of `serve`: the pool, the roles (intake consumer, planner, dispatcher, HTTP API), and graceful
//! shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::info;

use crate::{
    campaign::planner::Planner,
    clock::{SharedClock, SimulatedClock, SystemClock},
    config::{Role, Settings},
    dispatch::Dispatcher,
    http::{self, AppState},
    intake::consumer::IntakeWorker,
    storage,
};

/// A built service, ready to run.
pub struct Application {
    settings: Arc<Settings>,
    pool: sqlx::PgPool,
    listener: Option<TcpListener>,
    clock: SharedClock,
}

impl Application {
    /// Connects the pool, migrates if configured, and binds the API listener (port 0 picks a free port).
    ///
    /// # Errors
    /// The database URL is malformed, migrations fail, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = storage::connect(&settings.database).context("failed to set up the database pool")?;
        if settings.database.migrate_on_start {
            storage::migrate(&pool).await.context("failed to apply migrations")?;
        }
        let listener = if settings.serve.roles.contains(&Role::Api) {
            let addr = settings.http.listen;
            Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("failed to listen on {addr} (http.listen)"))?,
            )
        } else {
            None
        };
        let clock = settings_clock(&settings);
        Ok(Self {
            settings: Arc::new(settings),
            pool,
            listener,
            clock: match clock {
                Some(start) => {
                    tracing::warn!(%start, "serve.simulated_start: planner and dispatchers run on a simulated clock");
                    Arc::new(SimulatedClock::starting_at(start))
                }
                None => Arc::new(SystemClock),
            },
        })
    }

    /// The bound API port, if the API role runs.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Runs every configured role until `token` is cancelled, then waits for them to finish.
    ///
    /// # Errors
    /// The HTTP server fails.
    pub async fn run_until_stopped(self, token: CancellationToken) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        if self.settings.serve.roles.contains(&Role::Intake) {
            let worker = IntakeWorker {
                pool: self.pool.clone(),
                settings: self.settings.clone(),
            };
            tracker.spawn(worker.run(token.child_token()));
        }
        if self.settings.serve.roles.contains(&Role::Planner) {
            let planner = Planner::new(self.pool.clone(), self.settings.clone(), self.clock.clone());
            tracker.spawn(planner.run(token.child_token()));
        }
        if self.settings.serve.roles.contains(&Role::Dispatch) {
            let dispatcher = Dispatcher::new(self.pool.clone(), self.settings.clone(), self.clock.clone())
                .await
                .context("failed to start the dispatcher")?;
            tracker.spawn(dispatcher.run(token.child_token()));
        }
        if self.settings.serve.roles.contains(&Role::Events) {
            let relay = crate::outbox::Relay::new(self.pool.clone(), self.settings.clone());
            tracker.spawn(relay.run(token.child_token()));
        }
        let mut server = None;
        if let Some(listener) = self.listener {
            info!(addr = %listener.local_addr()?, "HTTP API listening");
            let app = http::router(AppState::with_clock(
                self.pool.clone(),
                self.settings.clone(),
                self.clock.clone(),
            ));
            let shutdown = token.child_token();
            server = Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            }));
        }
        tracker.close();
        tracker.wait().await;
        if let Some(server) = server {
            server
                .await
                .context("HTTP server task panicked")?
                .context("HTTP server failed")?;
        }
        self.pool.close().await;
        info!("stopped");
        Ok(())
    }
}

fn settings_clock(settings: &Settings) -> Option<chrono::DateTime<chrono::Utc>> {
    settings.serve.simulated_start.parse().ok()
}
