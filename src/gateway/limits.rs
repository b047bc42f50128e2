//! Per-provider rate (token bucket, from `governor`) and concurrency limits, and per-campaign send rates on
//! top. Limits are per process: with N dispatcher processes, each gets the configured rate.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A provider's token bucket and in-flight slots.
#[derive(Debug)]
pub struct ProviderLimits {
    rate: DefaultDirectRateLimiter,
    /// Waiters queue here (fairly) so one at a time sleeps until the next token: thousands of hand-overs
    /// polling the bucket at once wake late and leave tokens unused (measured: −4.6 % at 100/s).
    queue: tokio::sync::Mutex<()>,
    slots: Arc<Semaphore>,
}

impl ProviderLimits {
    /// `per_second` hand-overs with bursts of `burst`, at most `concurrency` in flight (zeros become one).
    #[must_use]
    pub fn new(per_second: u32, burst: u32, concurrency: usize) -> Self {
        let quota = Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst));
        Self {
            rate: RateLimiter::direct(quota),
            queue: tokio::sync::Mutex::new(()),
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Waits for a token and a free slot; the slot is held until the permit drops.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        {
            let _turn = self.queue.lock().await;
            self.rate.until_ready().await;
        }
        // The semaphore is never closed, so acquiring cannot fail.
        loop {
            if let Ok(permit) = self.slots.clone().acquire_owned().await {
                return permit;
            }
        }
    }
}

impl ProviderLimits {
    /// Waits for `n` tokens (one request carrying `n` messages) and one slot.
    pub async fn acquire_n(&self, n: usize) -> OwnedSemaphorePermit {
        {
            let _turn = self.queue.lock().await;
            let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
            // More than the burst can never be granted at once: take them one by one.
            if self.rate.until_n_ready(nonzero(n)).await.is_err() {
                for _ in 0..n {
                    self.rate.until_ready().await;
                }
            }
        }
        loop {
            if let Ok(permit) = self.slots.clone().acquire_owned().await {
                return permit;
            }
        }
    }
}

/// Token buckets per campaign (`rate_per_minute`), created on first use.
#[derive(Debug, Default)]
pub struct CampaignRates {
    buckets: Mutex<HashMap<i64, Arc<DefaultDirectRateLimiter>>>,
}

impl CampaignRates {
    /// Waits until campaign `id` may hand over one more notice (no limit when `per_minute` is `None`).
    pub async fn acquire(&self, id: i64, per_minute: Option<i32>) {
        let Some(per_minute) = per_minute.and_then(|r| u32::try_from(r).ok()) else {
            return;
        };
        let bucket = {
            let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(id)
                .or_insert_with(|| {
                    let quota = Quota::per_minute(nonzero(per_minute)).allow_burst(nonzero(per_minute.div_ceil(60)));
                    Arc::new(RateLimiter::direct(quota))
                })
                .clone()
        };
        bucket.until_ready().await;
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}
