//! `GET /health`: 200 `ok` when the store and its database answer, 503 otherwise.

use crate::store::Store;
use axum::extract::State;
use axum::http::StatusCode;

pub async fn health(State(store): State<Store>) -> (StatusCode, &'static str) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::error!(error = ?error, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
