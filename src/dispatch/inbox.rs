//! The in-process simulator's delivery reports on their way to the database. A report whose notice a dispatch
//! pass is handing over waits for that pass, which records the accept and the report in one change; every other
//! report goes to whoever takes next (the report loop, or a pass taking its own).
//!
//! Without this, the report loop and the other passes took reports the moment they arrived, before the pass
//! that owned the notice had recorded its accept: the notice was then recorded from the report (three writes
//! of its row instead of two) and the pass's own record found it no longer in flight.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::gateway::DeliveryReport;

/// At most this many reports are taken at once.
const TAKE_MAX: usize = 5000;

/// Reports waiting to be recorded, and the notices whose passes wait for their own.
pub(super) struct Inbox {
    rx: Mutex<UnboundedReceiver<DeliveryReport>>,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// Reports read from the channel and not taken yet, in arrival order.
    parked: Vec<DeliveryReport>,
    /// Notices a pass is handing over: their reports wait for that pass.
    held: HashSet<i64>,
}

/// A pass's claim on the reports of the notices it hands over; dropping it (on every path out of the pass,
/// errors included) lets whoever takes next have them.
pub(super) struct Hold<'a> {
    inbox: &'a Inbox,
    ids: Vec<i64>,
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let mut w = self.inbox.lock();
        for id in &self.ids {
            w.held.remove(id);
        }
    }
}

/// The notice a simulator report names (its reference is our notification id).
fn notice_of(r: &DeliveryReport) -> Option<i64> {
    r.client_ref.as_deref().and_then(|c| c.parse().ok())
}

impl Inbox {
    pub(super) fn new(rx: UnboundedReceiver<DeliveryReport>) -> Self {
        Self {
            rx: Mutex::new(rx),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves what arrived on the channel to the parked list (the channel's lock is taken first, always).
    fn drain(&self) -> std::sync::MutexGuard<'_, Waiting> {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        let mut w = self.lock();
        while let Ok(r) = rx.try_recv() {
            w.parked.push(r);
        }
        w
    }

    /// Holds the reports of these notices for the calling pass until the returned guard drops.
    pub(super) fn hold(&self, ids: Vec<i64>) -> Hold<'_> {
        self.lock().held.extend(ids.iter().copied());
        Hold { inbox: self, ids }
    }

    /// Takes the reports of the notices `hold` holds, in arrival order.
    pub(super) fn take_held(&self, hold: &Hold<'_>) -> Vec<DeliveryReport> {
        let mine: HashSet<i64> = hold.ids.iter().copied().collect();
        let mut w = self.drain();
        let (own, rest) = std::mem::take(&mut w.parked)
            .into_iter()
            .partition(|r| notice_of(r).is_some_and(|id| mine.contains(&id)));
        w.parked = rest;
        own
    }

    /// Takes up to 5,000 reports no pass holds, in arrival order.
    pub(super) fn take_free(&self) -> Vec<DeliveryReport> {
        let mut w = self.drain();
        let Waiting { parked, held } = &mut *w;
        let mut free = Vec::new();
        let mut keep = Vec::new();
        for r in std::mem::take(parked) {
            if free.len() < TAKE_MAX && !notice_of(&r).is_some_and(|id| held.contains(&id)) {
                free.push(r);
            } else {
                keep.push(r);
            }
        }
        *parked = keep;
        free
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tokio::sync::mpsc::unbounded_channel;

    use super::Inbox;
    use crate::gateway::{DeliveryReport, ReportState};

    fn report(notice: i64) -> DeliveryReport {
        DeliveryReport {
            provider: "simulator".into(),
            client_ref: Some(notice.to_string()),
            provider_message_id: format!("sim-{notice}"),
            state: ReportState::Delivered,
            reason: None,
            at: Utc::now(),
            raw: serde_json::Value::Null,
        }
    }

    fn notices(reports: &[DeliveryReport]) -> Vec<String> {
        reports.iter().map(|r| r.provider_message_id.clone()).collect()
    }

    #[test]
    fn reports_of_held_notices_go_only_to_their_pass_and_to_anyone_once_the_hold_drops() {
        let (tx, rx) = unbounded_channel();
        let inbox = Inbox::new(rx);
        let hold = inbox.hold(vec![1, 2]);
        for n in [1, 3, 2, 1] {
            tx.send(report(n)).unwrap();
        }
        assert_eq!(notices(&inbox.take_free()), ["sim-3"], "only the report no pass holds");
        assert_eq!(
            notices(&inbox.take_held(&hold)),
            ["sim-1", "sim-2", "sim-1"],
            "in arrival order"
        );
        tx.send(report(2)).unwrap();
        assert!(inbox.take_free().is_empty(), "still held");
        drop(hold);
        assert_eq!(notices(&inbox.take_free()), ["sim-2"]);
    }

    #[test]
    fn a_report_without_our_reference_is_never_held() {
        let (tx, rx) = unbounded_channel();
        let inbox = Inbox::new(rx);
        let _hold = inbox.hold(vec![7]);
        tx.send(DeliveryReport {
            client_ref: None,
            ..report(7)
        })
        .unwrap();
        assert_eq!(notices(&inbox.take_free()), ["sim-7"]);
    }
}
