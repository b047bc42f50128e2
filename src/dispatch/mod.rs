//! The dispatch engine: claims due notifications, asks the policy [`gate`], renders, hands over to the provider
//! within its limits, and records every outcome; records delivery [`reports`]; [`reconcile`]s in-doubt and
//! report-less hand-overs through the provider's status query. No transaction is held across a provider call.

pub mod gate;
mod handover;
mod inbox;
mod outcome;
mod pass;
mod presence;
mod providers;
pub mod reconcile;
pub mod reports;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::Duration,
};

use tokio::sync::mpsc::unbounded_channel;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    clock::SharedClock,
    config::Settings,
    gateway::{
        SmsGateway, VoiceGateway, limits::CampaignRates, limits::ProviderLimits, limits::Share, simulator::Simulator,
    },
    policy::calendar::ProductionCalendar,
    render::Engine,
    storage::{self, StorageError, template::TemplateVersion},
    telemetry::error_chain,
};

pub use pass::PassStats;

/// Dispatch failures, with the cause kept.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("storage failed")]
    Storage(#[from] StorageError),
    #[error("database failed")]
    Database(#[from] sqlx::Error),
    #[error("the provider's HTTP client cannot be built")]
    Gateway(#[source] reqwest::Error),
}

/// A compiled template version.
struct Compiled {
    engine: Engine,
    key: String,
    version: TemplateVersion,
}

/// One dispatcher process's engine; cheap to share behind an `Arc`.
pub struct Dispatcher {
    pool: sqlx::PgPool,
    settings: Arc<Settings>,
    clock: SharedClock,
    sms: Arc<dyn SmsGateway>,
    voice: Arc<dyn VoiceGateway>,
    sms_limits: ProviderLimits,
    voice_limits: ProviderLimits,
    campaigns: CampaignRates,
    /// How many live dispatcher processes share the configured limits (see [`Dispatcher::beat`]).
    share: Share,
    templates: Mutex<HashMap<(String, i32), Arc<Compiled>>>,
    calendar: RwLock<Arc<ProductionCalendar>>,
    reports: inbox::Inbox,
    /// Names this process in `sending` events (host and pid), so evidence shows who handed a notice over.
    worker: String,
}

impl Dispatcher {
    /// A dispatcher on the configured SMS provider (the simulator or Kannel; voice: the simulator), with the
    /// calendar loaded.
    ///
    /// # Errors
    /// The calendar overrides cannot be read.
    pub async fn new(
        pool: sqlx::PgPool,
        settings: Arc<Settings>,
        clock: SharedClock,
    ) -> Result<Arc<Self>, DispatchError> {
        let (tx, rx) = unbounded_channel();
        let sim = Simulator::new(settings.simulator.clone(), Some(pool.clone()), Some(tx));
        let calendar = storage::calendar::load_calendar(&pool).await?;
        let s = &settings.simulator;
        let share = Share::default();
        let sim_limits = || ProviderLimits::new(s.rate_per_second, s.burst, s.concurrency, &share);
        let (sms, sms_limits) = providers::sms_gateway(&settings, &sim, &share)?;
        Ok(Arc::new(Self {
            sms_limits,
            voice_limits: sim_limits(),
            sms,
            voice: sim,
            campaigns: CampaignRates::new(&share),
            share,
            templates: Mutex::new(HashMap::new()),
            calendar: RwLock::new(Arc::new(calendar)),
            reports: inbox::Inbox::new(rx),
            worker: worker_name(),
            pool,
            settings,
            clock,
        }))
    }

    fn calendar(&self) -> Arc<ProductionCalendar> {
        self.calendar.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads calendar overrides.
    ///
    /// # Errors
    /// Database failures.
    pub async fn reload_calendar(&self) -> Result<(), DispatchError> {
        let fresh = storage::calendar::load_calendar(&self.pool).await?;
        *self.calendar.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    fn compiled(&self, name: &str, version: i32) -> Option<Arc<Compiled>> {
        let map = self.templates.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(name.to_owned(), version)).cloned()
    }

    async fn load_templates(&self, wanted: &[(String, i32)]) -> Result<(), DispatchError> {
        for (name, version) in wanted {
            if self.compiled(name, *version).is_some() {
                continue;
            }
            let Some(t) = storage::template::get_template(&self.pool, name, Some(*version)).await? else {
                continue;
            };
            match crate::templates::compile(&t) {
                Ok((engine, key)) => {
                    let c = Arc::new(Compiled {
                        engine,
                        key,
                        version: t,
                    });
                    let mut map = self.templates.lock().unwrap_or_else(PoisonError::into_inner);
                    map.insert((name.clone(), *version), c);
                }
                Err(e) => {
                    warn!(template = %name, version, error = %error_chain(&e), "stored template does not compile")
                }
            }
        }
        Ok(())
    }

    /// Runs claim loops, the report recorder and the reconciler until `token` is cancelled; in-flight passes
    /// finish (their hand-overs are recorded) before it returns.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        // Take this process's share of the limits before the first hand-over, and give the others one beat to
        // learn of this one and take theirs.
        match self.beat().await {
            Ok(n) if n > 1 => {
                tokio::select! {
                    () = token.cancelled() => {}
                    () = tokio::time::sleep(presence::EVERY) => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                warn!(error = %error_chain(&e), "presence beat failed; using the whole configured limits for now")
            }
        }
        let tracker = TaskTracker::new();
        let (me, t) = (self.clone(), token.clone());
        tracker.spawn(async move { me.presence_loop(t).await });
        for worker in 0..self.settings.dispatch.workers {
            let (me, token) = (self.clone(), token.clone());
            tracker.spawn(async move { me.claim_loop(worker, token).await });
        }
        let (me, t) = (self.clone(), token.clone());
        tracker.spawn(async move { me.report_loop(t).await });
        let (me, t) = (self.clone(), token.clone());
        tracker.spawn(async move { me.reconcile_loop(t).await });
        info!(workers = self.settings.dispatch.workers, "dispatcher running");
        tracker.close();
        tracker.wait().await;
        // Only now that in-flight hand-overs are recorded do the others take this process's share.
        self.leave().await;
    }

    async fn claim_loop(&self, worker: usize, token: CancellationToken) {
        let idle = self.settings.dispatch.poll_interval();
        while !token.is_cancelled() {
            let pause = match self.run_once().await {
                Ok(s) if s.claimed > 0 => continue,
                Ok(_) => idle,
                Err(e) => {
                    warn!(worker, error = %error_chain(&e), "dispatch pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn reconcile_loop(&self, token: CancellationToken) {
        let every = Duration::from_secs(u64::try_from(self.settings.dispatch.lease_secs / 4).unwrap_or(1).max(1));
        let mut ticks = 0u32;
        while !token.is_cancelled() {
            if let Err(e) = self.reconcile_once().await {
                warn!(error = %error_chain(&e), "reconciliation pass failed");
            }
            ticks += 1;
            if ticks.is_multiple_of(12)
                && let Err(e) = self.reload_calendar().await
            {
                warn!(error = %error_chain(&e), "calendar reload failed");
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// `host:pid`, and `host:pid/N` for the N-th dispatcher of one process (tests run several).
fn worker_name() -> String {
    static INSTANCES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    match INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
        0 => format!("{}:{}", host.trim(), std::process::id()),
        n => format!("{}:{}/{}", host.trim(), std::process::id(), n + 1),
    }
}
