//! The Stripe.js stand-in, served at `/v3/` (see `assets/`).

use crate::engine::Shared;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

const STRIPE_JS: &str = include_str!("../assets/stripe.js");
const PAYMENT_FRAME: &str = include_str!("../assets/payment-frame.html");

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let script = || async {
        ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STRIPE_JS).into_response()
    };
    Router::new().route("/v3", get(script)).route("/v3/", get(script)).route("/v3/stripe.js", get(script)).route(
        "/v3/payment-frame.html",
        get(|| async {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], PAYMENT_FRAME).into_response()
        }),
    )
}
