//! Builds the SMS gateway dispatch uses from the configuration: the simulator, one real provider, or every
//! configured provider behind [`Failover`] in priority order.

use std::{sync::Arc, time::Duration};

use super::DispatchError;
use crate::{
    config::Settings,
    gateway::{
        SmsGateway,
        failover::{Breaker, Failover, Member},
        kannel::Kannel,
        limits::{ProviderLimits, Share},
        simulator::Simulator,
        smsc::Smsc,
        smsru::SmsRu,
    },
};

/// The SMS gateway and the limits the dispatcher applies around it, shared by the processes of `share`.
///
/// # Errors
/// A provider's HTTP client cannot be built.
pub fn sms_gateway(
    settings: &Settings,
    sim: &Arc<Simulator>,
    share: &Share,
) -> Result<(Arc<dyn SmsGateway>, ProviderLimits), DispatchError> {
    let s = &settings.simulator;
    let mut members = configured(settings)?;
    let chosen = settings.dispatch.sms_provider.as_str();
    if chosen == "failover" && !members.is_empty() {
        members.sort_by_key(|(priority, _)| *priority);
        // The members limit themselves; around them only the sum applies.
        let outer = members
            .iter()
            .fold((0u32, 0u32, 0usize), |(r, b, c), (_, (_, _, (rate, burst, conc)))| {
                (r + rate, b + burst, c + conc)
            });
        let d = &settings.dispatch;
        let members = members
            .into_iter()
            .map(|(_, (name, gateway, (rate, burst, concurrency)))| Member {
                name,
                gateway,
                limits: ProviderLimits::new(rate, burst, concurrency, share),
                breaker: Breaker::new(d.breaker_failures, Duration::from_secs(d.breaker_cooldown_secs)),
            })
            .collect();
        return Ok((
            Arc::new(Failover::new(members)),
            ProviderLimits::new(outer.0, outer.1, outer.2, share),
        ));
    }
    if let Some((_, (_, gateway, (rate, burst, concurrency)))) = members.into_iter().find(|(_, m)| m.0 == chosen) {
        return Ok((gateway, ProviderLimits::new(rate, burst, concurrency, share)));
    }
    Ok((
        sim.clone(),
        ProviderLimits::new(s.rate_per_second, s.burst, s.concurrency, share),
    ))
}

type Built = (String, Arc<dyn SmsGateway>, (u32, u32, usize));

/// Every configured real provider with its priority.
fn configured(settings: &Settings) -> Result<Vec<(u32, Built)>, DispatchError> {
    let g = &settings.gateways;
    let mut out: Vec<(u32, Built)> = Vec::new();
    if let Some(k) = &g.kannel {
        let gw: Arc<dyn SmsGateway> = Arc::new(Kannel::new(k.clone()).map_err(DispatchError::Gateway)?);
        out.push((
            k.priority,
            ("kannel".into(), gw, (k.rate_per_second, k.burst, k.concurrency)),
        ));
    }
    if let Some(k) = &g.smsc {
        let gw: Arc<dyn SmsGateway> = Arc::new(Smsc::new(k.clone()).map_err(DispatchError::Gateway)?);
        out.push((
            k.priority,
            ("smsc".into(), gw, (k.rate_per_second, k.burst, k.concurrency)),
        ));
    }
    if let Some(k) = &g.smsru {
        let gw: Arc<dyn SmsGateway> = Arc::new(SmsRu::new(k.clone()).map_err(DispatchError::Gateway)?);
        out.push((
            k.priority,
            ("smsru".into(), gw, (k.rate_per_second, k.burst, k.concurrency)),
        ));
    }
    Ok(out)
}
