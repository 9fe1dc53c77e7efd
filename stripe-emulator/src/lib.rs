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

// Layers, each using only those above it: the objects and their rules (`state`,
// `cards`, `form`, `error`, `api`); webhook delivery; the engine that runs a call on
// the account; the two HTTP faces (`http` for `/v1`, `control` for `/_emulator`) and
// Stripe.js; this file, which puts them together.
pub mod api;
pub mod cards;
mod config;
mod control;
mod engine;
pub mod error;
mod faults;
pub mod form;
mod hosted;
mod http;
mod idempotency;
mod requests;
pub mod state;
mod stripe_js;
pub mod webhooks;

pub use config::Config;
pub use state::API_VERSION;
pub use webhooks::{DeliveryMode, WebhookEndpoint};

use axum::Router;
use axum::http::{Method, header};
use axum::response::IntoResponse;
use engine::Shared;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

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
    let router = router(Arc::new(Shared::new(config, base_url.clone())));
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

/// Every route: the API, the control API and Stripe.js, behind CORS (Stripe.js calls
/// the API from the shop's pages) and the body limit.
fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.max_body_bytes;
    Router::new()
        .merge(http::routes())
        .merge(control::routes())
        .merge(stripe_js::routes())
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            error::ApiError::not_found_route(method.as_str(), uri.path()).into_response()
        })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static("stripe-version"),
                    header::HeaderName::from_static("idempotency-key"),
                ])
                .expose_headers([header::HeaderName::from_static("request-id")]),
        )
        .with_state(shared)
}
