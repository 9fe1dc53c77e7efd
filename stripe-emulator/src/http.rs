//! The HTTP face of the emulator: routes, and around every `/v1` call what Stripe does
//! around its endpoints — API keys, form decoding, idempotency keys, `Request-Id` and
//! `Stripe-Version` headers, injected faults, and webhook delivery of the events the
//! call emitted.

use crate::api::{self, Caller};
use crate::engine::Shared;
use crate::error::ApiError;
use crate::faults::{Action, Phase};
use crate::form::Params;
use crate::idempotency::Claim;
use crate::requests::LoggedRequest;
use crate::state::{RequestInfo, random_suffix, wall_clock};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/{*path}", any(api))
        .route("/health", get(|| async { "ok" }))
        // Browsers ask every origin for an icon; the bank and 3-D Secure pages have none.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// A JSON reply with extra headers.
pub(crate) fn json_reply(status: StatusCode, body: &serde_json::Value, headers: &[(&str, String)]) -> Response {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    bytes_reply(status, bytes, headers)
}

fn bytes_reply(status: StatusCode, bytes: Vec<u8>, headers: &[(&str, String)]) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (name.parse::<header::HeaderName>(), HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The key that made a request.
fn caller(headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    let key = if let Some(token) = value.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else if let Some(basic) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).unwrap_or_default();
        String::from_utf8_lossy(&decoded).split(':').next().unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    let masked = || {
        let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}****{tail}", key.chars().take(8).collect::<String>())
    };
    if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
        Ok(Caller::Secret)
    } else if key.starts_with("pk_test_") {
        Ok(Caller::Publishable)
    } else if key.contains("_live_") {
        Err(ApiError::unauthorized("The Stripe emulator accepts only test-mode keys (sk_test_…, pk_test_…)."))
    } else {
        Err(ApiError::unauthorized(format!("Invalid API Key provided: {}", masked())))
    }
}

/// A reply whose connection breaks before the body is complete.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "emulated dropped connection"))
    });
    Response::new(Body::from_stream(stream))
}

fn fault_reply(status: u16, should_retry: Option<bool>, common: &[(&str, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error = match status {
        StatusCode::TOO_MANY_REQUESTS => ApiError::rate_limited(),
        s if s.is_server_error() => ApiError::api(s),
        s => {
            let mut error = ApiError::invalid("Emulated fault.");
            error.status = s;
            error
        }
    };
    let mut headers = common.to_vec();
    if let Some(retry) = should_retry {
        headers.push(("stripe-should-retry", retry.to_string()));
    }
    json_reply(error.status, &error.body(), &headers)
}

/// Every `/v1/…` request, recorded in the request log with the status it got.
async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut logged = LoggedRequest {
        request_id: format!("req_{}", random_suffix(14)),
        method: method.to_string(),
        path: uri.path().to_owned(),
        idempotency_key: headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned),
        ..LoggedRequest::default()
    };
    let response = answer(&shared, method, uri, headers, body, &mut logged).await;
    logged.status = response.status().as_u16();
    shared.requests.record(logged);
    response
}

async fn answer(
    shared: &Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    logged: &mut LoggedRequest,
) -> Response {
    let request_id = logged.request_id.clone();
    let version = headers.get("stripe-version").and_then(|v| v.to_str().ok()).map_or_else(|| crate::API_VERSION.to_owned(), str::to_owned);
    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut common = vec![("request-id", request_id.clone()), ("stripe-version", version)];
    if let Some(key) = &idempotency_key {
        common.push(("idempotency-key", key.clone()));
    }
    let fail = |error: ApiError, common: &[(&str, String)]| json_reply(error.status, &error.body(), common);
    let path = uri.path().to_owned();

    // A "before" delay is served after the idempotency key is claimed: it stands for
    // slow processing, during which a second request with the key gets a 409.
    let mut slow = None;
    match shared.faults.take(method.as_str(), &path, Phase::Before) {
        Some(Action::Status { status, should_retry }) => return fault_reply(status, should_retry, &common),
        Some(Action::Drop { .. }) => return dropped(),
        Some(Action::Delay { delay_ms }) => slow = Some(Duration::from_millis(delay_ms)),
        None => {}
    }

    let caller = match caller(&headers) {
        Ok(caller) => caller,
        Err(error) => return fail(error, &common),
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let mut error = ApiError::invalid("The request body is too large.");
            error.status = StatusCode::PAYLOAD_TOO_LARGE;
            return fail(error, &common);
        }
        Err(rejection) => return fail(ApiError::invalid(format!("Could not read the request body: {rejection}")), &common),
    };
    let raw = if method == Method::GET || method == Method::DELETE {
        uri.query().unwrap_or_default().to_owned()
    } else {
        match std::str::from_utf8(&body) {
            Ok(text) => text.to_owned(),
            Err(_) => return fail(ApiError::invalid("Invalid request: the body is not UTF-8 form data."), &common),
        }
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if method == Method::POST && !raw.is_empty() && content_type.starts_with("application/json") {
        return fail(ApiError::invalid("Invalid request: Stripe's API takes application/x-www-form-urlencoded bodies, not JSON."), &common);
    }
    let params = match Params::parse(&raw) {
        Ok(params) => params,
        Err(error) => return fail(ApiError::invalid(format!("Invalid request: {error}")), &common),
    };
    logged.params = params.to_json();

    // Idempotency applies to POSTs that carry a key.
    let key = idempotency_key.filter(|_| method == Method::POST);
    if let Some(key) = &key {
        match shared.idempotency.claim(key, &path, &format!("{params:?}"), wall_clock()) {
            Ok(Claim::Proceed) => {}
            Ok(Claim::Replay { status, body }) => {
                let mut headers = common.clone();
                headers.push(("idempotent-replayed", "true".into()));
                logged.replayed = true;
                return after_faults(shared, &method, &path, status, body, &headers).await;
            }
            Err(error) => return fail(error, &common),
        }
    }

    // The work runs in its own task: like Stripe, it finishes (and its idempotency key
    // records the result) even if the client hangs up or times out meanwhile.
    let work = {
        let shared = Arc::clone(shared);
        let (method, path, key, request_id) = (method.clone(), path.clone(), key.clone(), request_id.clone());
        tokio::spawn(async move {
            if let Some(delay) = slow {
                tokio::time::sleep(delay).await;
            }
            process(&shared, caller, &method, &path, &params, request_id, key)
        })
    };
    let (status, bytes) = match work.await {
        Ok(reply) => reply,
        Err(_) => {
            let error = ApiError::api(StatusCode::INTERNAL_SERVER_ERROR);
            (error.status, serde_json::to_vec_pretty(&error.body()).unwrap_or_default())
        }
    };
    after_faults(shared, &method, &path, status, bytes, &common).await
}

/// One API call on the account; its reply is stored under its idempotency key before
/// the events it emitted go out.
fn process(
    shared: &Arc<Shared>,
    caller: Caller,
    method: &Method,
    path: &str,
    params: &Params,
    request_id: String,
    key: Option<String>,
) -> (StatusCode, Vec<u8>) {
    let request = RequestInfo { id: Some(request_id), idempotency_key: key.clone() };
    shared.run(caller, request, |ctx| {
        let (status, body, validation) = match api::dispatch(ctx, method, path.strip_prefix("/v1/").unwrap_or_default(), params) {
            Ok(object) => (StatusCode::OK, object, false),
            Err(error) => (error.status, error.body(), error.is_validation()),
        };
        let bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
        if let Some(key) = &key {
            if validation {
                shared.idempotency.release(key);
            } else {
                shared.idempotency.finish(key, status, bytes.clone(), wall_clock());
            }
        }
        (status, bytes)
    })
}

/// Sends a reply (first or replayed), unless an "after" fault loses or delays it.
async fn after_faults(
    shared: &Shared,
    method: &Method,
    path: &str,
    status: StatusCode,
    bytes: Vec<u8>,
    headers: &[(&str, String)],
) -> Response {
    match shared.faults.take(method.as_str(), path, Phase::After) {
        Some(Action::Status { status, should_retry }) => fault_reply(status, should_retry, headers),
        Some(Action::Drop { .. }) => dropped(),
        Some(Action::Delay { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            bytes_reply(status, bytes, headers)
        }
        None => bytes_reply(status, bytes, headers),
    }
}
