//! Webhook delivery: every event is POSTed to every endpoint, signed exactly as Stripe
//! signs (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of `"{t}.{body}"` keyed with the
//! whole `whsec_…` secret), and retried on a non-2xx reply or a timeout on the
//! configured schedule. Every attempt is recorded for the control API.

use crate::state::{Account, new_id, wall_clock};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook endpoint given at start-up (`--webhook-url`): where every event is POSTed
/// and the secret that signs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEndpoint {
    pub url: String,
    pub secret: String,
}

/// A webhook endpoint as Stripe keeps it (`/v1/webhook_endpoints`): the start-up and
/// control-API endpoints are ones that enable every event (`*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub enabled_events: Vec<String>,
    pub disabled: bool,
    pub description: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created: i64,
}

impl Endpoint {
    /// An endpoint for every event.
    pub fn every_event(endpoint: WebhookEndpoint) -> Endpoint {
        Endpoint {
            id: new_id("we"),
            url: endpoint.url,
            secret: endpoint.secret,
            enabled_events: vec!["*".to_owned()],
            disabled: false,
            description: None,
            metadata: serde_json::Map::new(),
            created: wall_clock(),
        }
    }

    /// Whether an event of `kind` goes to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        !self.disabled && self.enabled_events.iter().any(|enabled| enabled == "*" || enabled == kind)
    }

    /// The `webhook_endpoint` object; the secret only where Stripe shows it (on create).
    pub fn object(&self, with_secret: bool) -> serde_json::Value {
        let mut object = serde_json::json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": crate::state::API_VERSION,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": self.metadata,
            "status": if self.disabled { "disabled" } else { "enabled" },
            "url": self.url,
        });
        if with_secret {
            object["secret"] = self.secret.clone().into();
        }
        object
    }
}

/// How deliveries are sent, switchable at run time to exercise a receiver's dedupe and
/// ordering (Stripe delivers at least once and in no guaranteed order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeliveryMode {
    /// Every event is delivered twice to each endpoint.
    #[serde(default)]
    pub duplicate: bool,
    /// The events of one API request are delivered in random order.
    #[serde(default)]
    pub shuffle: bool,
}

/// The `Stripe-Signature` header for `payload` sent at `timestamp` (Unix seconds).
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, payload))
}

/// The lowercase hex HMAC-SHA256 Stripe puts in `v1`.
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// A new random webhook signing secret.
pub fn new_secret() -> String {
    format!("whsec_{}", crate::state::random_suffix(32))
}

/// One try at delivering an event.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: i64,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed without a status (timeout, refused connection).
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// The delivery of one event to one endpoint, with all its attempts.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub url: String,
    /// `pending` (being tried or waiting for a retry), `succeeded` or `failed` (gave up).
    pub status: &'static str,
    pub attempts: Vec<Attempt>,
}

pub struct Webhooks {
    /// Where the events are.
    account: Arc<Mutex<Account>>,
    endpoints: Mutex<Vec<Endpoint>>,
    deliveries: Mutex<Vec<Delivery>>,
    mode: Mutex<DeliveryMode>,
    client: reqwest::Client,
    schedule: Vec<Duration>,
    timeout: Duration,
}

impl Webhooks {
    pub(crate) fn new(
        account: Arc<Mutex<Account>>,
        endpoints: Vec<WebhookEndpoint>,
        mode: DeliveryMode,
        schedule: Vec<Duration>,
        timeout: Duration,
    ) -> Self {
        Self {
            account,
            endpoints: Mutex::new(endpoints.into_iter().map(Endpoint::every_event).collect()),
            deliveries: Mutex::new(Vec::new()),
            mode: Mutex::new(mode),
            client: reqwest::Client::builder().timeout(timeout).build().unwrap_or_default(),
            schedule,
            timeout,
        }
    }

    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds an endpoint; one added for a URL that is known (through the control API)
    /// replaces the earlier one.
    pub fn add_endpoint(&self, endpoint: Endpoint) {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints.retain(|known| known.url != endpoint.url);
        endpoints.push(endpoint);
    }

    /// Adds an endpoint made through the API (several may share a URL, as at Stripe).
    pub fn insert_endpoint(&self, endpoint: Endpoint) {
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner()).push(endpoint);
    }

    /// Changes the endpoint `id` with `change`; `None` when there is no such endpoint.
    pub fn update_endpoint<T>(&self, id: &str, change: impl FnOnce(&mut Endpoint) -> T) -> Option<T> {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints.iter_mut().find(|endpoint| endpoint.id == id).map(change)
    }

    /// Removes the endpoint `id`; false when there was none.
    pub fn remove_endpoint(&self, id: &str) -> bool {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let before = endpoints.len();
        endpoints.retain(|endpoint| endpoint.id != id);
        endpoints.len() < before
    }

    pub fn remove_endpoints(&self) {
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn mode(&self) -> DeliveryMode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_mode(&self, mode: DeliveryMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn record(&self, id: &str, attempt: Attempt, status: &'static str) {
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delivery) = deliveries.iter_mut().find(|d| d.id == id) {
            delivery.attempts.push(attempt);
            delivery.status = status;
        }
    }

    /// Sends `event_ids` to every endpoint that enables them (or only to `only`), first
    /// attempts in order unless the delivery mode shuffles or duplicates them.
    pub(crate) fn deliver(self: &Arc<Self>, event_ids: Vec<String>, only: Option<WebhookEndpoint>) {
        let endpoints = match only {
            Some(endpoint) => vec![Endpoint::every_event(endpoint)],
            None => self.endpoints(),
        };
        if event_ids.is_empty() || endpoints.is_empty() {
            return;
        }
        let mode = self.mode();
        let mut event_ids = event_ids;
        if mode.duplicate {
            event_ids = event_ids.iter().flat_map(|id| [id.clone(), id.clone()]).collect();
        }
        if mode.shuffle {
            use rand::seq::SliceRandom;
            event_ids.shuffle(&mut rand::rng());
        }
        for endpoint in endpoints {
            let mut batch = Vec::new();
            {
                let mut account = self.account.lock().unwrap_or_else(|e| e.into_inner());
                let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
                for event_id in &event_ids {
                    let Some(event) = account.event_mut(event_id) else { continue };
                    if !endpoint.wants(event["type"].as_str().unwrap_or_default()) {
                        continue;
                    }
                    event["pending_webhooks"] = (event["pending_webhooks"].as_i64().unwrap_or(0) + 1).into();
                    let delivery = Delivery {
                        id: new_id("whdel"),
                        event_id: event_id.clone(),
                        event_type: event["type"].as_str().unwrap_or_default().to_owned(),
                        url: endpoint.url.clone(),
                        status: "pending",
                        attempts: Vec::new(),
                    };
                    batch.push(delivery.id.clone());
                    deliveries.push(delivery);
                }
            }
            let webhooks = Arc::clone(self);
            tokio::spawn(async move {
                for delivery_id in batch {
                    let last = webhooks.schedule.is_empty();
                    if !webhooks.attempt(&delivery_id, &endpoint, last).await && !last {
                        let webhooks = Arc::clone(&webhooks);
                        let endpoint = endpoint.clone();
                        tokio::spawn(async move { webhooks.retry(&delivery_id, &endpoint).await });
                    }
                }
            });
        }
    }

    /// Retries on the schedule until an attempt succeeds or the schedule runs out.
    async fn retry(&self, delivery_id: &str, endpoint: &Endpoint) {
        let schedule = &self.schedule;
        for (index, wait) in schedule.iter().enumerate() {
            tokio::time::sleep(*wait).await;
            if self.attempt(delivery_id, endpoint, index + 1 == schedule.len()).await {
                return;
            }
        }
    }

    /// One attempt; `last` says whether a failure ends the delivery. True when delivered.
    async fn attempt(&self, delivery_id: &str, endpoint: &Endpoint, last: bool) -> bool {
        let payload = {
            let account = self.account.lock().unwrap_or_else(|e| e.into_inner());
            let deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            let Some(delivery) = deliveries.iter().find(|d| d.id == delivery_id) else { return true };
            match account.event(&delivery.event_id) {
                Some(event) => serde_json::to_vec(event).unwrap_or_default(),
                None => return true, // the state was reset: nothing left to deliver
            }
        };
        let timestamp = wall_clock();
        let started = Instant::now();
        let reply = self
            .client
            .post(&endpoint.url)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .header("stripe-signature", signature_header(&endpoint.secret, timestamp, &payload))
            .timeout(self.timeout)
            .body(payload)
            .send()
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status, error) = match reply {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(error) if error.is_timeout() => (None, Some("timed out".to_owned())),
            Err(error) => (None, Some(format!("could not connect: {error}"))),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if ok {
            "succeeded"
        } else if last {
            "failed"
        } else {
            "pending"
        };
        self.record(delivery_id, Attempt { at: timestamp, status, error, duration_ms }, outcome);
        if outcome != "pending" {
            self.finish(delivery_id, outcome);
        }
        ok
    }

    /// A delivery is over: the event has one fewer webhook pending.
    fn finish(&self, delivery_id: &str, status: &'static str) {
        let event_id = {
            let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            let Some(delivery) = deliveries.iter_mut().find(|d| d.id == delivery_id) else { return };
            delivery.status = status;
            delivery.event_id.clone()
        };
        let mut account = self.account.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(event) = account.event_mut(&event_id) {
            event["pending_webhooks"] = (event["pending_webhooks"].as_i64().unwrap_or(1) - 1).max(0).into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body_with_the_whole_secret() {
        // Computed independently: printf '1700000000.{"id":"evt_1"}' |
        //   openssl dgst -sha256 -hmac 'whsec_test_secret'
        let header = signature_header("whsec_test_secret", 1_700_000_000, br#"{"id":"evt_1"}"#);
        assert_eq!(header, "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
    }
}
