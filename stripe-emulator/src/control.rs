//! The control API under `/_emulator/` (JSON, no key): inspect events and webhook
//! deliveries, re-send events, manage webhook endpoints, inject faults, move the clock,
//! reset. Also the pages and calls that stand in for what the shopper does at the
//! bank: the 3-D Secure challenge's outcome and the redirect method's bank page.

use crate::api;
use crate::engine::Shared;
use crate::error::ApiError;
use crate::faults::Rule;
use crate::hosted::{self, escape};
use crate::state::BillingSettings;
use crate::webhooks::{self, WebhookEndpoint};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator", get(index))
        .route("/_emulator/events", get(events))
        .route("/_emulator/events/{id}/resend", post(resend))
        .route("/_emulator/deliveries", get(deliveries))
        .route("/_emulator/requests", get(requests))
        .route("/_emulator/webhook_endpoints", get(endpoints).post(add_endpoint).delete(clear_endpoints))
        .route("/_emulator/delivery_mode", get(delivery_mode).post(set_delivery_mode))
        .route("/_emulator/routes", get(routes_table))
        .route("/_emulator/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/_emulator/billing_settings", get(billing_settings).post(set_billing_settings))
        .route("/_emulator/clock", post(advance_clock))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/3ds/{id}", post(three_d_secure))
        .route("/_emulator/intents/{id}/settle", post(settle_now))
        .route("/_emulator/redirect/{id}", get(bank_page).post(bank_decision))
        .route(&format!("{}{{token}}", api::RECEIPTS), get(receipt))
        .route(&format!("{}{{token}}", api::INVOICE_PAGES), get(invoice_page))
        .route(&format!("{}{{token}}/pdf", api::INVOICE_PDFS), get(invoice_pdf))
}

fn reply(result: Result<Value, ApiError>) -> Response {
    result.map(Json).into_response()
}

fn bad_request(message: &str) -> Response {
    ApiError::invalid(message).into_response()
}

async fn index() -> Response {
    Json(json!({
            "events": "GET /_emulator/events",
            "resend": "POST /_emulator/events/{id}/resend [{\"url\",\"secret\"}]",
            "deliveries": "GET /_emulator/deliveries[?event_id=evt_…]",
            "requests": "GET /_emulator/requests[?path=/v1/…]",
            "webhook_endpoints": "GET | POST {\"url\",\"secret\"?} | DELETE /_emulator/webhook_endpoints",
            "routes": "GET /_emulator/routes",
            "delivery_mode": "GET | POST {\"duplicate\"?: bool, \"shuffle\"?: bool} /_emulator/delivery_mode",
            "billing_settings": "GET | POST {\"retries_spent\": \"cancel\" | \"unpaid\" | \"past_due\", \"mark_invoice_uncollectible\"?: bool} /_emulator/billing_settings",
            "faults": "GET | POST {\"path\",\"method\"?,\"status\"|\"drop\"|\"delay_ms\",\"should_retry\"?,\"phase\"?,\"count\"?} | DELETE /_emulator/faults",
            "clock": "POST /_emulator/clock {\"advance_seconds\"}",
            "reset": "POST /_emulator/reset",
            "settle": "POST /_emulator/intents/{id}/settle {\"result\"?: \"succeed\" | \"fail\"}",
        }))
    .into_response()
}

async fn events(State(shared): State<Arc<Shared>>) -> Response {
    let events = shared.account.lock().unwrap_or_else(|e| e.into_inner()).events.clone();
    Json(json!({ "data": events })).into_response()
}

/// Every `/v1` request, oldest first (`?path=` keeps those to one path).
async fn requests(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut requests = shared.requests.list();
    if let Some(path) = query.get("path") {
        requests.retain(|request| &request.path == path);
    }
    Json(json!({ "data": requests })).into_response()
}

async fn deliveries(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut deliveries = shared.webhooks.deliveries();
    if let Some(event) = query.get("event_id") {
        deliveries.retain(|d| &d.event_id == event);
    }
    Json(json!({ "data": deliveries })).into_response()
}

/// Re-sends an event to every endpoint, or to the one a JSON body names.
async fn resend(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    if shared.account.lock().unwrap_or_else(|e| e.into_inner()).event(&id).is_none() {
        return ApiError::no_such("event", &id).into_response();
    }
    let only = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<WebhookEndpointInput>(&body) {
            Ok(input) => Some(input.into_endpoint(&shared)),
            Err(error) => return bad_request(&format!("expected {{\"url\", \"secret\"?}} or no body: {error}")),
        }
    };
    shared.webhooks.deliver(vec![id.clone()], only);
    Json(json!({ "resent": id })).into_response()
}

#[derive(Deserialize)]
struct WebhookEndpointInput {
    url: String,
    secret: Option<String>,
}

impl WebhookEndpointInput {
    /// An endpoint, with the secret of a known endpoint at that URL when none is given.
    fn into_endpoint(self, shared: &Shared) -> WebhookEndpoint {
        let known = shared.webhooks.endpoints().into_iter().find(|e| e.url == self.url).map(|e| e.secret);
        WebhookEndpoint { secret: self.secret.or(known).unwrap_or_else(webhooks::new_secret), url: self.url }
    }
}

/// Every endpoint, with its secret (the control API is the emulator's dashboard).
async fn endpoints(State(shared): State<Arc<Shared>>) -> Response {
    let data: Vec<Value> = shared.webhooks.endpoints().iter().map(|endpoint| endpoint.object(true)).collect();
    Json(json!({ "data": data })).into_response()
}

/// Every `/v1` route with the parameters it accepts and the SDK type naming Stripe's.
async fn routes_table() -> Response {
    Json(json!({ "data": api::routes::ROUTES })).into_response()
}

async fn delivery_mode(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!(shared.webhooks.mode())).into_response()
}

/// `{"duplicate": bool, "shuffle": bool}`: deliver every event twice, in random order.
async fn set_delivery_mode(
    State(shared): State<Arc<Shared>>,
    body: Result<axum::Json<webhooks::DeliveryMode>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(axum::Json(mode)) => {
            shared.webhooks.set_mode(mode);
            Json(json!(mode)).into_response()
        }
        Err(rejection) => bad_request(&format!("expected {{\"duplicate\"?: bool, \"shuffle\"?: bool}}: {rejection}")),
    }
}

async fn add_endpoint(State(shared): State<Arc<Shared>>, axum::Json(input): axum::Json<WebhookEndpointInput>) -> Response {
    if !(input.url.starts_with("http://") || input.url.starts_with("https://")) {
        return bad_request("url must be an absolute http(s) URL");
    }
    let endpoint = webhooks::Endpoint::every_event(input.into_endpoint(&shared));
    shared.webhooks.add_endpoint(endpoint.clone());
    Json(endpoint.object(true)).into_response()
}

async fn clear_endpoints(State(shared): State<Arc<Shared>>) -> Response {
    shared.webhooks.remove_endpoints();
    Json(json!({ "deleted": true })).into_response()
}

async fn billing_settings(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!(shared.account.lock().unwrap_or_else(|e| e.into_inner()).billing)).into_response()
}

/// The Dashboard's subscription settings: `{"retries_spent": "cancel" | "unpaid" |
/// "past_due", "mark_invoice_uncollectible"?: bool}`, what becomes of a subscription
/// whose renewal every retry failed to charge, and of that invoice (left open, or
/// marked uncollectible). A reset restores the defaults, `cancel` and left open.
async fn set_billing_settings(
    State(shared): State<Arc<Shared>>,
    body: Result<axum::Json<BillingSettings>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(axum::Json(settings)) => {
            shared.account.lock().unwrap_or_else(|e| e.into_inner()).billing = settings;
            Json(json!(settings)).into_response()
        }
        Err(rejection) => bad_request(&format!(
            "expected {{\"retries_spent\": \"cancel\" | \"unpaid\" | \"past_due\", \"mark_invoice_uncollectible\"?: bool}}: {rejection}"
        )),
    }
}

async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": shared.faults.list() })).into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Result<axum::Json<Rule>, axum::extract::rejection::JsonRejection>) -> Response {
    match body {
        Ok(axum::Json(rule)) => Json(json!(shared.faults.add(rule))).into_response(),
        Err(rejection) => bad_request(&format!(
            "A fault is {{\"path\", \"method\"?, one of \"status\" (with \"should_retry\"?) | \"drop\": true | \"delay_ms\", \"phase\"?: \"before\"|\"after\", \"count\"?}}: {rejection}"
        )),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults.clear();
    Json(json!({ "deleted": true })).into_response()
}

#[derive(Deserialize)]
struct ClockInput {
    advance_seconds: i64,
}

async fn advance_clock(State(shared): State<Arc<Shared>>, axum::Json(input): axum::Json<ClockInput>) -> Response {
    if input.advance_seconds < 0 {
        return bad_request("the clock only moves forward");
    }
    let now = {
        let mut account = shared.account.lock().unwrap_or_else(|e| e.into_inner());
        account.clock_offset += input.advance_seconds;
        account.now()
    };
    // What time does: uncaptured authorizations expire.
    shared.run_as_platform(api::expire_authorizations);
    // Subscriptions whose period ended renew (or end).
    shared.run_as_platform(api::renew_subscriptions);
    Json(json!({ "now": now })).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    Json(json!({ "reset": true })).into_response()
}

#[derive(Deserialize)]
struct Decision {
    client_secret: String,
    /// `complete` / `authorize` approve; `fail` refuses.
    result: String,
}

impl Decision {
    /// `None` for anything else than the three words.
    fn approved(&self) -> Option<bool> {
        match self.result.as_str() {
            "complete" | "authorize" => Some(true),
            "fail" => Some(false),
            _ => None,
        }
    }
}

/// The 3-D Secure modal's Complete / Fail (called by the Stripe.js stand-in).
async fn three_d_secure(State(shared): State<Arc<Shared>>, Path(id): Path<String>, axum::Json(decision): axum::Json<Decision>) -> Response {
    let Some(approved) = decision.approved() else { return bad_request("result must be complete, authorize or fail") };
    reply(shared.run_as_platform(|ctx| api::authenticate(ctx, &id, &decision.client_secret, approved)))
}

/// Ends a `processing` payment now: `{"result": "succeed" | "fail"}`, or as its test
/// IBAN says when the body is empty.
async fn settle_now(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Settle {
        result: Option<String>,
    }
    let how = if body.iter().all(u8::is_ascii_whitespace) {
        api::Settlement::AsTheAccountSays
    } else {
        match serde_json::from_slice::<Settle>(&body).map(|s| s.result) {
            Ok(None) => api::Settlement::AsTheAccountSays,
            Ok(Some(result)) if result == "succeed" => api::Settlement::Succeed,
            Ok(Some(result)) if result == "fail" => api::Settlement::Fail,
            _ => return bad_request("the body is empty or {\"result\": \"succeed\" | \"fail\"}"),
        }
    };
    reply(shared.run_as_platform(|ctx| api::settle_processing(ctx, &id, how)))
}

/// A charge's receipt page (its `receipt_url`).
async fn receipt(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let url = format!("{}{}{token}", shared.base_url, api::RECEIPTS);
    hosted_page(&shared, &url, |account, url| hosted::receipt_page(account, url).map(Html), "No such receipt")
}

/// An invoice's page (its `hosted_invoice_url`).
async fn invoice_page(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let url = format!("{}{}{token}", shared.base_url, api::INVOICE_PAGES);
    hosted_page(&shared, &url, |account, url| hosted::invoice_page(account, url).map(Html), "No such invoice")
}

/// An invoice's PDF (its `invoice_pdf`).
async fn invoice_pdf(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let url = format!("{}{}{token}/pdf", shared.base_url, api::INVOICE_PDFS);
    let pdf = |account: &_, url: &_| hosted::invoice_pdf(account, url).map(|pdf| ([(header::CONTENT_TYPE, "application/pdf")], pdf));
    hosted_page(&shared, &url, pdf, "No such invoice")
}

/// What `draw` makes of the account for the page at `url`, or a 404 saying `missing`.
fn hosted_page<T: IntoResponse>(
    shared: &Shared,
    url: &str,
    draw: impl FnOnce(&crate::state::Account, &str) -> Option<T>,
    missing: &str,
) -> Response {
    match draw(&shared.account.lock().unwrap_or_else(|e| e.into_inner()), url) {
        Some(page) => page.into_response(),
        None => (StatusCode::NOT_FOUND, Html(format!("<h1>{missing}</h1>"))).into_response(),
    }
}

/// The test bank page a redirect-based method sends the shopper to.
async fn bank_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let secret = query.get("client_secret").cloned().unwrap_or_default();
    let intent = shared.account.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned();
    let Some(intent) = intent.filter(|i| i["client_secret"] == secret.as_str()) else {
        return (StatusCode::NOT_FOUND, Html("<h1>Unknown payment</h1>")).into_response();
    };
    let amount = intent["amount"]
        .as_i64()
        .map(|a| format!("{:.2} {}", a as f64 / 100.0, intent["currency"].as_str().unwrap_or_default().to_uppercase()))
        .unwrap_or_default();
    let secret = escape(intent["client_secret"].as_str().unwrap_or_default());
    let id = escape(&id);
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Test bank — authorize payment</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}button{{font:inherit;padding:.6rem 1rem;margin-right:.5rem;border-radius:6px;border:1px solid #444;cursor:pointer}}#test-source-authorize-3ds{{background:#1a7f37;color:#fff;border-color:#1a7f37}}</style></head>
<body><h1>Test bank</h1><p>This is the Stripe emulator's stand-in for a bank's payment page.</p><p>Amount: <strong>{amount}</strong></p>
<form method="post" action="/_emulator/redirect/{id}"><input type="hidden" name="client_secret" value="{secret}">
<button id="test-source-authorize-3ds" name="result" value="authorize">Authorize test payment</button>
<button id="test-source-fail-3ds" name="result" value="fail">Fail test payment</button></form></body></html>"#
    ))
    .into_response()
}

/// The bank page's answer: applies it, then sends the shopper back to `return_url`.
async fn bank_decision(State(shared): State<Arc<Shared>>, Path(id): Path<String>, axum::Form(decision): axum::Form<Decision>) -> Response {
    let Some(approved) = decision.approved() else { return bad_request("result must be complete, authorize or fail") };
    let intent = match shared.run_as_platform(|ctx| api::authenticate(ctx, &id, &decision.client_secret, approved)) {
        Ok(intent) => intent,
        Err(error) => return error.into_response(),
    };
    let kind = intent["object"].as_str().unwrap_or("payment_intent");
    let status = match intent["status"].as_str() {
        Some("succeeded" | "requires_capture") => "succeeded",
        Some("processing") => "pending",
        _ => "failed",
    };
    let return_url = {
        let account = shared.account.lock().unwrap_or_else(|e| e.into_inner());
        account.return_urls.get(&id).cloned()
    };
    let Some(return_url) = return_url else {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], format!("Payment {status}. No return_url was given."))
            .into_response();
    };
    let separator = if return_url.contains('?') { '&' } else { '?' };
    let target = format!(
        "{return_url}{separator}{kind}={}&{kind}_client_secret={}&redirect_status={status}",
        intent["id"].as_str().unwrap_or_default(),
        intent["client_secret"].as_str().unwrap_or_default()
    );
    Redirect::to(&target).into_response()
}
