//! The presence beat: every dispatcher process records that it is alive and learns how many are, and the
//! configured provider and campaign limits are divided among them (see `gateway::limits`). A process joining
//! waits one beat before its first hand-over when others are alive, so they take their smaller share first. Beats
//! are serialised in the database, so of two starting in the same instant the second counts the first and waits.
//! A process that stops cleanly leaves once its in-flight hand-overs are recorded; one that dies stops counting
//! after [`WINDOW`].

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{DispatchError, Dispatcher};
use crate::{storage::presence, telemetry::error_chain};

/// How often a dispatcher beats.
pub(super) const EVERY: Duration = Duration::from_secs(5);
/// A dispatcher silent for this long no longer counts.
pub const WINDOW: Duration = Duration::from_secs(15);

impl Dispatcher {
    /// Records this dispatcher as alive and sets its share of the limits to the number of live dispatchers.
    /// Returns that number.
    ///
    /// # Errors
    /// Database failures (the share is left as it was).
    pub async fn beat(&self) -> Result<u32, DispatchError> {
        let n = presence::beat(&self.pool, &self.worker, WINDOW.as_secs_f64()).await?;
        let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        if n != self.share.get() {
            info!(
                dispatchers = n,
                "the configured limits are now shared by {n} dispatcher(s)"
            );
            self.share.set(n);
        }
        Ok(n)
    }

    /// This dispatcher's divisor of the configured limits.
    #[must_use]
    pub fn share(&self) -> u32 {
        self.share.get()
    }

    pub(super) async fn presence_loop(&self, token: CancellationToken) {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(EVERY) => {}
            }
            if let Err(e) = self.beat().await {
                warn!(error = %error_chain(&e), "presence beat failed");
            }
        }
    }

    /// Leaves the presence table (after the last hand-over), so the others take this share at once.
    pub(super) async fn leave(&self) {
        if let Err(e) = presence::leave(&self.pool, &self.worker).await {
            warn!(error = %error_chain(&e), "could not leave the presence table");
        }
    }
}
