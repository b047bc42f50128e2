//! Per-provider rate (token bucket, from `governor`) and concurrency limits, and per-campaign send rates on
//! top. The configured limits hold for all dispatcher processes together: with N of them alive (a [`Share`] of
//! N, kept by the dispatcher's presence beat), each hand-over takes N tokens and N in-flight slots here, so each
//! process gets 1/N of the rate and of the concurrency.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many dispatcher processes share the configured limits (at least one).
#[derive(Debug, Clone)]
pub struct Share(Arc<AtomicU32>);

impl Default for Share {
    fn default() -> Self {
        Self(Arc::new(AtomicU32::new(1)))
    }
}

impl Share {
    /// Sets the number of processes sharing (zero counts as one).
    pub fn set(&self, n: u32) {
        self.0.store(n.max(1), Ordering::Relaxed);
    }

    /// The number of processes sharing.
    #[must_use]
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed).max(1)
    }
}

/// A provider's token bucket and in-flight slots.
#[derive(Debug)]
pub struct ProviderLimits {
    rate: DefaultDirectRateLimiter,
    share: Share,
    concurrency: u32,
    /// Waiters queue here (fairly) so one at a time sleeps until the next token: thousands of hand-overs
    /// polling the bucket at once wake late and leave tokens unused (measured: −4.6 % at 100/s).
    queue: tokio::sync::Mutex<()>,
    slots: Arc<Semaphore>,
}

impl ProviderLimits {
    /// `per_second` hand-overs with bursts of `burst`, at most `concurrency` in flight (zeros become one), for
    /// all processes of `share` together.
    #[must_use]
    pub fn new(per_second: u32, burst: u32, concurrency: usize, share: &Share) -> Self {
        let quota = Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst));
        let concurrency = u32::try_from(concurrency.max(1)).unwrap_or(u32::MAX >> 4);
        Self {
            rate: RateLimiter::direct(quota),
            share: share.clone(),
            concurrency,
            queue: tokio::sync::Mutex::new(()),
            slots: Arc::new(Semaphore::new(concurrency as usize)),
        }
    }

    /// Waits for a token and a free slot; the slot is held until the permit drops.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        self.acquire_n(1).await
    }

    /// Waits for `n` tokens (one request carrying `n` messages) and one slot, each times this process's share.
    pub async fn acquire_n(&self, n: usize) -> OwnedSemaphorePermit {
        let share = self.share.get();
        {
            let _turn = self.queue.lock().await;
            let n = u32::try_from(n).unwrap_or(u32::MAX).max(1).saturating_mul(share);
            // More than the burst can never be granted at once: take them one by one.
            if self.rate.until_n_ready(nonzero(n)).await.is_err() {
                for _ in 0..n {
                    self.rate.until_ready().await;
                }
            }
        }
        // The semaphore is never closed, so acquiring cannot fail.
        loop {
            if let Ok(permit) = self.slots.clone().acquire_many_owned(share.min(self.concurrency)).await {
                return permit;
            }
        }
    }
}

/// Token buckets per campaign (`rate_per_minute`, for all processes of the share together), created on first use:
/// with N processes, each campaign's bucket here runs at rate/N (a new bucket whenever N changes).
#[derive(Debug, Default)]
pub struct CampaignRates {
    buckets: Mutex<HashMap<(i64, u32), Arc<DefaultDirectRateLimiter>>>,
    share: Share,
}

impl CampaignRates {
    /// Campaign buckets shared by the processes of `share`.
    #[must_use]
    pub fn new(share: &Share) -> Self {
        Self {
            buckets: Mutex::default(),
            share: share.clone(),
        }
    }

    /// Waits until campaign `id` may hand over one more notice (no limit when `per_minute` is `None`).
    pub async fn acquire(&self, id: i64, per_minute: Option<i32>) {
        let Some(per_minute) = per_minute.and_then(|r| u32::try_from(r).ok()) else {
            return;
        };
        let share = self.share.get();
        let bucket = {
            let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(b) = map.get(&(id, share)) {
                b.clone()
            } else {
                // The share changed (or first use): the campaign's bucket for the old share goes.
                map.retain(|(c, _), _| *c != id);
                let mine = (per_minute / share).max(1);
                let quota = Quota::per_minute(nonzero(mine)).allow_burst(nonzero(mine.div_ceil(60)));
                map.entry((id, share))
                    .or_insert_with(|| Arc::new(RateLimiter::direct(quota)))
                    .clone()
            }
        };
        bucket.until_ready().await;
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ProviderLimits, Share};

    #[tokio::test]
    async fn with_two_dispatchers_sharing_each_hand_over_takes_two_tokens_and_two_slots() {
        let share = Share::default();
        share.set(2);
        // 4 tokens of burst and 4 slots, refilled at one token a second: room for two hand-overs, not three.
        let limits = ProviderLimits::new(1, 4, 4, &share);
        let first = limits.acquire().await;
        let second = limits.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(100), limits.acquire()).await;
        assert!(third.is_err(), "a third hand-over must wait for tokens");
        drop((first, second));

        // Alone again: one token and one slot each.
        share.set(1);
        let alone = ProviderLimits::new(1, 4, 4, &share);
        let held: Vec<_> = [(); 4].iter().map(|()| alone.acquire()).collect();
        let mut permits = Vec::new();
        for h in held {
            permits.push(h.await);
        }
        assert_eq!(permits.len(), 4);
    }

    #[tokio::test]
    async fn a_share_larger_than_the_concurrency_still_lets_one_hand_over_through() {
        let share = Share::default();
        share.set(8);
        let limits = ProviderLimits::new(1000, 1000, 4, &share);
        let one = limits.acquire().await;
        let two = tokio::time::timeout(Duration::from_millis(100), limits.acquire()).await;
        assert!(two.is_err(), "all four slots are one process's eighth");
        drop(one);
        let _again = limits.acquire().await;
    }
}
