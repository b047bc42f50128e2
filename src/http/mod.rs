//! The HTTP API (axum): utilities, batch upload and reports, health. `/api/v1/*` needs the admin bearer token.

mod batches;
pub mod callbacks;
mod campaigns;
mod error;
mod health;
mod notifications;
mod opt_outs;
mod templates;
pub(crate) mod utilities;

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::{self, Next},
    response::Response,
};
use sqlx::PgPool;
use tokio::sync::Mutex;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use utilities::validate_new_utility as utilities_validate;

use crate::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    queue::{QueueError, publisher::Publisher, topology},
};

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    /// The time callbacks are received at (the system clock, or the simulated one of a demo).
    pub clock: SharedClock,
    /// One confirming publisher, opened on first use and replaced when its connection drops.
    publisher: Arc<Mutex<Option<Publisher>>>,
    /// The callback recorder, started on the first callback.
    inbox: callbacks::SharedInbox,
}

impl AppState {
    /// State over a pool and settings; the broker is connected lazily.
    #[must_use]
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self::with_clock(pool, settings, Arc::new(SystemClock))
    }

    /// State with a given clock.
    #[must_use]
    pub fn with_clock(pool: PgPool, settings: Arc<Settings>, clock: SharedClock) -> Self {
        Self {
            pool,
            settings,
            clock,
            publisher: Arc::new(Mutex::new(None)),
            inbox: Arc::default(),
        }
    }

    fn report_inbox(&self) -> &callbacks::ReportInbox {
        self.inbox
            .get_or_init(|| callbacks::ReportInbox::start(self.pool.clone(), self.clock.clone()))
    }

    /// Runs `f` with a connected publisher, connecting first if needed. A new connection declares the intake
    /// topology first (idempotent): an upload accepted while the intake worker is still starting, or served by
    /// a process without the intake role, must find its exchange and its queue binding, or the broker returns
    /// the message as unroutable.
    async fn with_publisher<T>(
        &self,
        f: impl AsyncFnOnce(&mut Publisher) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        let mut guard = self.publisher.lock().await;
        if !guard.as_ref().is_some_and(Publisher::is_connected) {
            let amqp = &self.settings.amqp;
            let publisher = Publisher::connect(amqp.url.expose(), &amqp.intake_exchange).await?;
            topology::declare(publisher.channel(), amqp).await?;
            *guard = Some(publisher);
        }
        let publisher = guard.as_mut().expect("set just above");
        let result = f(publisher).await;
        if result.is_err() {
            *guard = None;
        }
        result
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(utilities::router())
        .merge(batches::router(state.settings.http.max_upload_bytes))
        .merge(templates::router())
        .merge(opt_outs::router())
        .merge(campaigns::router())
        .merge(notifications::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .nest("/api/v1", api)
        .merge(callbacks::router())
        .merge(health::router())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let expected = state.settings.api.admin_token.expose().as_bytes();
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    match given {
        Some(token) if !expected.is_empty() && constant_time_eq(token, expected) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
