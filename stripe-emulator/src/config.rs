//! How an emulator runs: where it listens, where events go and how fast time passes.

use crate::webhooks::WebhookEndpoint;
use std::net::SocketAddr;
use std::time::Duration;

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Endpoints that receive every event.
    pub webhooks: Vec<WebhookEndpoint>,
    /// Waits before the 2nd, 3rd, … delivery attempt of an event (Stripe retries for
    /// up to three days; tests compress this).
    pub retry_schedule: Vec<Duration>,
    /// How long one delivery attempt may take before it counts as failed.
    pub attempt_timeout: Duration,
    /// How long a delayed payment method (`sepa_debit`) stays `processing`.
    pub processing_delay: Duration,
    /// Largest request body accepted (larger gets 413).
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 12111)),
            webhooks: Vec::new(),
            retry_schedule: [5, 30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600].into_iter().map(Duration::from_secs).collect(),
            attempt_timeout: Duration::from_secs(10),
            processing_delay: Duration::from_secs(3),
            max_body_bytes: 256 * 1024,
        }
    }
}
