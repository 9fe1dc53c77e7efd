//! The request log (`GET /_emulator/requests`): every `/v1` request as the API saw it —
//! method, path, parameters, `Idempotency-Key`, whether the reply was a replay, its
//! status and `Request-Id` — so that a client's tests can check what it sent (every
//! write under a key, the amount its own).

use serde::Serialize;
use serde_json::Value;
use std::sync::Mutex;

/// The most requests kept: the oldest go first.
const KEPT: usize = 10_000;

/// One `/v1` request.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoggedRequest {
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// The decoded form or query (`null` when it could not be read).
    pub params: Value,
    pub idempotency_key: Option<String>,
    /// The stored reply of an earlier request with the same key was sent.
    pub replayed: bool,
    pub status: u16,
}

#[derive(Default)]
pub struct RequestLog(Mutex<Vec<LoggedRequest>>);

impl RequestLog {
    pub fn record(&self, request: LoggedRequest) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= KEPT {
            log.remove(0);
        }
        log.push(request);
    }

    pub fn list(&self) -> Vec<LoggedRequest> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
