//! An offline, stateful stand-in for the parts of Stripe a "finalize payments on the
//! server" checkout uses: the `/v1` API (customers, customer sessions, confirmation
//! tokens, payment methods, payment and setup intents, events), a Stripe.js stand-in
//! at `/v3/`, signed webhooks with retries, and a control API at `/_emulator/` for
//! tests (events, deliveries, re-sends, fault injection, clock, reset).
//!
//! It is written from Stripe's documentation and shares no code with any client, so
//! that a client tested against it is checked by an independent implementation.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let emulator = stripe_emulator::spawn(stripe_emulator::Config::default()).await?;
//! println!("Stripe API at {}", emulator.base_url());
//! # Ok(()) }
//! ```

// The PaymentIntent object is one large `json!` literal.
#![recursion_limit = "256"]

pub mod api;
pub mod cards;
mod control;
pub mod error;
mod faults;
pub mod form;
mod http;
mod idempotency;
pub mod state;
mod stripe_js;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The API version the emulator speaks (and reports when a request names none).
pub const API_VERSION: &str = "2026-10-28.endive";

/// A webhook endpoint: where events are POSTed and the secret that signs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEndpoint {
    pub url: String,
    pub secret: String,
}

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

/// Everything the handlers share.
pub(crate) struct Shared {
    pub account: Mutex<state::Account>,
    pub idempotency: idempotency::Store,
    pub faults: faults::Faults,
    pub webhooks: webhooks::Webhooks,
    pub config: Config,
    pub base_url: String,
}

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the API base (`/v1`), Stripe.js (`/v3/`) and control
    /// API (`/_emulator/`) are below it.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the process ends.
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Starts the emulator on `config.addr` and returns once it accepts connections.
pub async fn spawn(config: Config) -> std::io::Result<Emulator> {
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let shared = Arc::new(Shared {
        account: Mutex::new(state::Account::default()),
        idempotency: idempotency::Store::default(),
        faults: faults::Faults::default(),
        webhooks: webhooks::Webhooks::new(config.webhooks.clone(), config.retry_schedule.clone(), config.attempt_timeout),
        config,
        base_url: base_url.clone(),
    });
    let router = http::router(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "the Stripe emulator stopped with an error");
        }
    });
    Ok(Emulator { addr, base_url, stop: Some(stop), task })
}
