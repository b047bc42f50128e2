//! Real provider settings: one optional section per adapter (`[gateways.kannel]` so far). A provider named in
//! `dispatch.sms_provider` must have its section; sender names are checked here, before anything is sent.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{ConfigError, Secret};

/// All configured providers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GatewaySettings {
    pub kannel: Option<KannelSettings>,
    pub smsru: Option<SmsRuSettings>,
    pub smsc: Option<SmscSettings>,
}

/// An SMSC.ru-compatible HTTP API (`/sys/send.php`, `/sys/status.php`, status callbacks to the handler URL set in
/// the account).
#[derive(Debug, Clone, Deserialize)]
pub struct SmscSettings {
    /// e.g. `https://smsc.ru` (or the gateway simulator's address).
    pub base_url: String,
    pub login: String,
    pub password: Secret,
    pub sender: String,
    pub registered_senders: Vec<String>,
    /// The path token of our handler URL `/callbacks/smsc/{callback_token}`.
    pub callback_token: Secret,
    pub concurrency: usize,
    pub rate_per_second: u32,
    pub burst: u32,
    pub timeout_secs: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub price_per_segment: Decimal,
    #[serde(default = "default_priority")]
    pub priority: u32,
}

/// An SMS.ru-compatible HTTP API (`/sms/send`, `/sms/status`, callbacks to the URL set in the account).
#[derive(Debug, Clone, Deserialize)]
pub struct SmsRuSettings {
    /// e.g. `https://sms.ru` (or the gateway simulator's address).
    pub base_url: String,
    pub api_id: Secret,
    /// The approved sender (`from`); must be one of `registered_senders`.
    pub sender: String,
    pub registered_senders: Vec<String>,
    /// The path token of our callback URL `/callbacks/smsru/{callback_token}` (set that URL in the account).
    pub callback_token: Secret,
    pub concurrency: usize,
    pub rate_per_second: u32,
    pub burst: u32,
    pub timeout_secs: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub price_per_segment: Decimal,
    /// Order in `dispatch.sms_provider = "failover"`: lower goes first.
    #[serde(default = "default_priority")]
    pub priority: u32,
}

/// A Kannel smsbox (`/cgi-bin/sendsms` plus DLRs to our callback URL).
#[derive(Debug, Clone, Deserialize)]
pub struct KannelSettings {
    /// e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    pub username: String,
    pub password: Secret,
    /// The alphanumeric sender (≤ 11 of `A–Z a–z 0–9 space . - _`); must be one of `registered_senders`.
    pub sender: String,
    /// Sender names registered with the operators; a sender outside this list is refused at start-up.
    pub registered_senders: Vec<String>,
    /// Kannel's `smsc` routing parameter (none: Kannel's own routing).
    #[serde(default)]
    pub smsc: Option<String>,
    /// Our HTTP server as Kannel reaches it, e.g. `http://127.0.0.1:8080`; DLRs go to
    /// `{callback_base}/callbacks/kannel/{callback_token}`.
    pub callback_base: String,
    /// The unguessable path token of the DLR endpoint (≥ 16 characters).
    pub callback_token: Secret,
    /// Requests in flight (one connection with DLRs manages ~58/s; Kannel needs 32–128 at once).
    pub concurrency: usize,
    pub rate_per_second: u32,
    pub burst: u32,
    pub timeout_secs: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub price_per_segment: Decimal,
    /// Order in `dispatch.sms_provider = "failover"`: lower goes first.
    #[serde(default = "default_priority")]
    pub priority: u32,
}

fn default_priority() -> u32 {
    1
}

impl GatewaySettings {
    /// The configured price of one SMS segment at `provider` (as recorded on attempts: kannel, smsru, smsc).
    #[must_use]
    pub fn price_per_segment(&self, provider: &str) -> Option<Decimal> {
        match provider {
            "kannel" => self.kannel.as_ref().map(|k| k.price_per_segment),
            "smsru" => self.smsru.as_ref().map(|k| k.price_per_segment),
            "smsc" => self.smsc.as_ref().map(|k| k.price_per_segment),
            _ => None,
        }
    }

    /// Checks every configured provider.
    ///
    /// # Errors
    /// The first bad value, named.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(k) = &self.kannel {
            k.check()?;
        }
        if let Some(k) = &self.smsc {
            check_common(
                "gateways.smsc",
                &k.sender,
                &k.registered_senders,
                &k.callback_token,
                [k.concurrency, k.rate_per_second as usize, k.timeout_secs as usize],
            )?;
        }
        if let Some(k) = &self.smsru {
            check_common(
                "gateways.smsru",
                &k.sender,
                &k.registered_senders,
                &k.callback_token,
                [k.concurrency, k.rate_per_second as usize, k.timeout_secs as usize],
            )?;
        }
        Ok(())
    }
}

impl KannelSettings {
    fn check(&self) -> Result<(), ConfigError> {
        check_common(
            "gateways.kannel",
            &self.sender,
            &self.registered_senders,
            &self.callback_token,
            [
                self.concurrency,
                self.rate_per_second as usize,
                self.timeout_secs as usize,
            ],
        )
    }
}

/// Checks shared by every provider: the sender, its registration, the callback token and the limits.
fn check_common(
    section: &str,
    sender: &str,
    registered: &[String],
    token: &Secret,
    limits: [usize; 3],
) -> Result<(), ConfigError> {
    let bad = |what: &str| Err(ConfigError::InvalidOwned(format!("{section}.{what}")));
    if !sender_is_valid(sender) {
        return bad("sender must be 1–11 characters of A–Z a–z 0–9 space . - _");
    }
    if !registered.iter().any(|s| s == sender) {
        return bad("sender is not in registered_senders (operators drop unregistered senders)");
    }
    if token.expose().len() < 16 {
        return bad("callback_token must be at least 16 characters");
    }
    if limits.contains(&0) {
        return bad("concurrency, rate_per_second and timeout_secs must be at least 1");
    }
    Ok(())
}

/// An alphanumeric sender id as Russian operators accept it.
#[must_use]
pub fn sender_is_valid(s: &str) -> bool {
    let n = s.chars().count();
    (1..=11).contains(&n) && s.chars().all(|c| c.is_ascii_alphanumeric() || " .-_".contains(c))
}

#[cfg(test)]
mod tests {
    use super::sender_is_valid;

    #[test]
    fn a_sender_is_at_most_eleven_latin_letters_digits_and_a_few_marks() {
        assert!(sender_is_valid("DEBTNOTIFY"));
        assert!(sender_is_valid("Vodokanal-1"));
        assert!(!sender_is_valid("Vodokanal-12"));
        assert!(!sender_is_valid("Водоканал"));
        assert!(!sender_is_valid(""));
    }
}
