//! How an emulator runs: where it listens, where events go and how fast time passes.

use crate::webhooks::{DeliveryMode, WebhookEndpoint};
use std::net::SocketAddr;
use std::time::Duration;

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Endpoints that receive every event.
    pub webhooks: Vec<WebhookEndpoint>,
    /// Whether deliveries are duplicated or shuffled (also switchable at run time).
    pub delivery: DeliveryMode,
    /// Waits before the 2nd, 3rd, … delivery attempt of an event: by default as in a
    /// Stripe sandbox, three retries over a few hours ([`Config::SANDBOX_RETRIES`]);
    /// [`Config::LIVE_RETRIES`] is live mode's three days; tests compress this.
    pub retry_schedule: Vec<Duration>,
    /// How long one delivery attempt may take before it counts as failed.
    pub attempt_timeout: Duration,
    /// How long a delayed payment method (`sepa_debit`) stays `processing`.
    pub processing_delay: Duration,
    /// Largest request body accepted (larger gets 413).
    pub max_body_bytes: usize,
}

impl Config {
    /// A sandbox's retries: "three times over a few hours" (Stripe publishes no exact
    /// times; these are 5 minutes, 1 hour and 3 hours after the failure before).
    pub const SANDBOX_RETRIES: [u64; 3] = [5 * 60, 60 * 60, 3 * 60 * 60];
    /// Live mode's retries: "up to three days with an exponential back off".
    pub const LIVE_RETRIES: [u64; 8] = [5, 30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600];

    /// A named schedule (`sandbox`, `live`) as durations.
    pub fn retries(name: &str) -> Option<Vec<Duration>> {
        let seconds: &[u64] = match name {
            "sandbox" => &Self::SANDBOX_RETRIES,
            "live" => &Self::LIVE_RETRIES,
            _ => return None,
        };
        Some(seconds.iter().copied().map(Duration::from_secs).collect())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 12111)),
            webhooks: Vec::new(),
            delivery: DeliveryMode::default(),
            retry_schedule: Self::SANDBOX_RETRIES.into_iter().map(Duration::from_secs).collect(),
            attempt_timeout: Duration::from_secs(10),
            processing_delay: Duration::from_secs(3),
            max_body_bytes: 256 * 1024,
        }
    }
}
