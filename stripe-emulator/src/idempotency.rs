//! Idempotency keys, as Stripe keeps them: the first reply of an endpoint that started
//! executing is stored (even an error) and replayed for 24 hours to requests with the
//! same key and parameters, with `Idempotent-Replayed: true`; the same key with other
//! parameters, or at another endpoint, is a 400 `idempotency_error`; a key whose first request is still running
//! is a 409. A request refused by parameter validation never started executing: its
//! key is released, and a corrected retry with it goes through.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a key is remembered.
const RETENTION_SECONDS: i64 = 24 * 60 * 60;
/// Stripe's limit on key length.
pub const MAX_KEY_LENGTH: usize = 255;

/// What a key was first used for: the endpoint (`/v1/customers`) and its parameters.
#[derive(PartialEq, Eq)]
struct Fingerprint {
    endpoint: String,
    params: String,
}

enum Entry {
    Running { fingerprint: Fingerprint },
    Done { fingerprint: Fingerprint, status: StatusCode, body: Vec<u8>, at: i64 },
}

/// What to do with a request that carries a key.
pub enum Claim {
    /// First use: go ahead, then `finish`.
    Proceed,
    /// Seen before with the same parameters: send this stored reply.
    Replay { status: StatusCode, body: Vec<u8> },
}

#[derive(Default)]
pub struct Store {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Store {
    /// Claims `key` for a request to `endpoint` (its path) whose parameters give `params`.
    pub fn claim(&self, key: &str, endpoint: &str, params: &str, now: i64) -> Result<Claim, ApiError> {
        if key.len() > MAX_KEY_LENGTH {
            return Err(ApiError::invalid(format!("Idempotency-Key is too long: at most {MAX_KEY_LENGTH} characters.")));
        }
        let fingerprint = Fingerprint { endpoint: endpoint.to_owned(), params: params.to_owned() };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some(Entry::Done { at, .. }) if now - at > RETENTION_SECONDS => {}
            Some(Entry::Done { fingerprint: first, status, body, .. }) => {
                if *first != fingerprint {
                    return Err(mismatch(key, first, &fingerprint));
                }
                return Ok(Claim::Replay { status: *status, body: body.clone() });
            }
            Some(Entry::Running { fingerprint: first }) => {
                if *first != fingerprint {
                    return Err(mismatch(key, first, &fingerprint));
                }
                return Err(ApiError::idempotency(
                    StatusCode::CONFLICT,
                    "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): try again later.",
                )
                .with_code("idempotency_key_in_use"));
            }
            None => {}
        }
        entries.insert(key.to_owned(), Entry::Running { fingerprint });
        Ok(Claim::Proceed)
    }

    /// Stores the reply to a claimed key.
    pub fn finish(&self, key: &str, status: StatusCode, body: Vec<u8>, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Entry::Running { fingerprint }) = entries.remove(key) {
            entries.insert(key.to_owned(), Entry::Done { fingerprint, status, body, at: now });
        }
    }

    /// Forgets a claimed key whose request never started executing.
    pub fn release(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(entries.get(key), Some(Entry::Running { .. })) {
            entries.remove(key);
        }
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn mismatch(key: &str, first: &Fingerprint, now: &Fingerprint) -> ApiError {
    let retry = format!("Try using a key other than '{key}' if you meant to execute a different request.");
    let message = if first.endpoint == now.endpoint {
        format!("Keys for idempotent requests can only be used with the same parameters they were first used with. {retry}")
    } else {
        format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{}'). {retry}",
            first.endpoint, now.endpoint
        )
    };
    ApiError::idempotency(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_request_is_replayed_for_the_same_parameters_only() {
        let store = Store::default();
        assert!(matches!(store.claim("k", "/v1/customers", "a=1", 0), Ok(Claim::Proceed)));
        store.finish("k", StatusCode::PAYMENT_REQUIRED, b"declined".to_vec(), 0);
        match store.claim("k", "/v1/customers", "a=1", 10) {
            Ok(Claim::Replay { status, body }) => assert_eq!((status, body.as_slice()), (StatusCode::PAYMENT_REQUIRED, &b"declined"[..])),
            _ => panic!("expected a replay"),
        }
        let error = store.claim("k", "/v1/customers", "a=2", 10).err().unwrap();
        assert_eq!((error.status, error.kind), (StatusCode::BAD_REQUEST, "idempotency_error"));
        assert!(error.message.contains("the same parameters"), "{}", error.message);
        // Another endpoint, in Stripe's words for that.
        let elsewhere = store.claim("k", "/v1/products", "a=1", 10).err().unwrap();
        assert_eq!(
            elsewhere.message,
            "Keys for idempotent requests can only be used for the same endpoint they were first used for ('/v1/customers' vs '/v1/products'). Try using a key other than 'k' if you meant to execute a different request."
        );
    }

    #[test]
    fn a_running_request_makes_a_second_one_409() {
        let store = Store::default();
        assert!(matches!(store.claim("k", "/v1/customers", "a=1", 0), Ok(Claim::Proceed)));
        assert_eq!(store.claim("k", "/v1/customers", "a=1", 0).err().unwrap().status, StatusCode::CONFLICT);
    }

    #[test]
    fn keys_expire_after_a_day() {
        let store = Store::default();
        let _ = store.claim("k", "/v1/customers", "a=1", 0);
        store.finish("k", StatusCode::OK, b"{}".to_vec(), 0);
        assert!(matches!(store.claim("k", "/v1/customers", "a=2", RETENTION_SECONDS + 1), Ok(Claim::Proceed)));
    }

    #[test]
    fn overlong_keys_are_refused() {
        assert!(Store::default().claim(&"k".repeat(256), "/v1/customers", "", 0).is_err());
    }
}
