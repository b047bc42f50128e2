//! Hand-overs: each notice alone, or SMS in batches of distinct numbers where the provider takes several per
//! request (SMS.ru's `to[PHONE]=TEXT`), with the same limits, lease check and timeout. No transaction is open.

use std::collections::HashSet;

use chrono::Duration;
use futures_util::future::join_all;

use super::{
    Dispatcher,
    pass::{Job, Outcome},
};
use crate::gateway::{CallRequest, SmsRequest};

impl Dispatcher {
    /// Hands every job over; one outcome per job, in order.
    pub(super) async fn hand_over_all(&self, jobs: &[Job]) -> Vec<Outcome> {
        let max = self.sms.max_batch();
        if max <= 1 {
            return join_all(jobs.iter().map(|j| self.hand_over(j))).await;
        }
        let (singles, chunks) = batches(jobs, max);
        let alone = join_all(
            singles
                .iter()
                .map(|&i| async move { vec![(i, self.hand_over(&jobs[i]).await)] }),
        );
        let together = join_all(chunks.iter().map(|c| async move {
            c.iter()
                .copied()
                .zip(self.hand_over_batch(jobs, c).await)
                .collect::<Vec<_>>()
        }));
        let (a, b) = tokio::join!(alone, together);
        let mut outcomes: Vec<Option<Outcome>> = (0..jobs.len()).map(|_| None).collect();
        for (i, o) in a.into_iter().chain(b).flatten() {
            outcomes[i] = Some(o);
        }
        outcomes.into_iter().map(|o| o.unwrap_or(Outcome::Released)).collect()
    }

    /// One request carrying several SMS.
    async fn hand_over_batch(&self, jobs: &[Job], idx: &[usize]) -> Vec<Outcome> {
        for &i in idx {
            self.campaigns
                .acquire(jobs[i].campaign_id, jobs[i].rate_per_minute)
                .await;
        }
        let _slot = self.sms_limits.acquire_n(idx.len()).await;
        let timeout = Duration::seconds(self.settings.dispatch.provider_timeout_secs);
        let lease = idx.iter().map(|&i| jobs[i].lease_until).min();
        if lease.is_none_or(|l| self.clock.now() + timeout >= l) {
            return idx.iter().map(|_| Outcome::Released).collect();
        }
        let reqs: Vec<SmsRequest> = idx
            .iter()
            .map(|&i| SmsRequest {
                client_ref: jobs[i].id.to_string(),
                attempt: u32::try_from(jobs[i].attempt).unwrap_or(1),
                to: jobs[i].to.clone(),
                text: jobs[i].text.clone(),
                sender: None,
            })
            .collect();
        match tokio::time::timeout(timeout.to_std().unwrap_or_default(), self.sms.send_batch(&reqs)).await {
            Err(_) => idx.iter().map(|_| Outcome::Timeout).collect(),
            Ok(results) => results
                .into_iter()
                .map(|r| match r {
                    Ok(a) => Outcome::Accepted(a),
                    Err(e) => Outcome::Error(e),
                })
                .collect(),
        }
    }

    /// One hand-over: campaign rate, provider rate and slot, lease check, the call with its timeout.
    async fn hand_over(&self, job: &Job) -> Outcome {
        self.campaigns.acquire(job.campaign_id, job.rate_per_minute).await;
        let voice = job.channel == "voice";
        let _slot = if voice {
            self.voice_limits.acquire().await
        } else {
            self.sms_limits.acquire().await
        };
        let timeout = Duration::seconds(self.settings.dispatch.provider_timeout_secs);
        if self.clock.now() + timeout >= job.lease_until {
            return Outcome::Released;
        }
        let client_ref = job.id.to_string();
        let attempt = u32::try_from(job.attempt).unwrap_or(1);
        let call = async {
            if voice {
                let req = CallRequest {
                    client_ref,
                    attempt,
                    to: job.to.clone(),
                    script: job.text.clone(),
                    caller_id: None,
                };
                self.voice.place_call(&req).await
            } else {
                let req = SmsRequest {
                    client_ref,
                    attempt,
                    to: job.to.clone(),
                    text: job.text.clone(),
                    sender: None,
                };
                self.sms.send_sms(&req).await
            }
        };
        match tokio::time::timeout(timeout.to_std().unwrap_or_default(), call).await {
            Err(_) => Outcome::Timeout,
            Ok(Ok(a)) => Outcome::Accepted(a),
            Ok(Err(e)) => Outcome::Error(e),
        }
    }
}

/// Splits jobs into those handed over alone (calls) and batches of at most `max` SMS to distinct numbers.
fn batches(jobs: &[Job], max: usize) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut singles = Vec::new();
    let mut open: Vec<(Vec<usize>, HashSet<&str>)> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        if j.channel == "voice" {
            singles.push(i);
            continue;
        }
        match open
            .iter_mut()
            .find(|(c, phones)| c.len() < max && !phones.contains(j.to.as_str()))
        {
            Some((c, phones)) => {
                c.push(i);
                phones.insert(j.to.as_str());
            }
            None => open.push((vec![i], HashSet::from([j.to.as_str()]))),
        }
    }
    (singles, open.into_iter().map(|(c, _)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::{Job, batches};

    fn job(to: &str, channel: &str) -> Job {
        Job {
            tid: String::new(),
            id: 1,
            channel: channel.into(),
            to: to.into(),
            text: "t".into(),
            sha256: Vec::new(),
            segments: 1,
            attempt: 1,
            max_attempts: 3,
            retry_after_minutes: 60,
            campaign_id: 1,
            rate_per_minute: None,
            lease_until: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_batch_holds_distinct_numbers_up_to_its_size_and_calls_go_alone() {
        let jobs = vec![
            job("+7901", "sms"),
            job("+7902", "sms"),
            job("+7901", "sms"),
            job("+7903", "voice"),
            job("+7904", "sms"),
        ];
        let (singles, chunks) = batches(&jobs, 2);
        assert_eq!(singles, [3]);
        assert_eq!(chunks, [vec![0, 1], vec![2, 4]]);
    }
}
