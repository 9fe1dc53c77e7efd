//! `Secret`: a configuration value (an API key, a webhook secret, the merchant's token)
//! that must never be printed, and the keys the server derives from one. A leaf module:
//! the Stripe client and the configuration both use it without depending on each other.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// A value that must never be printed: `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A key of the server's own for one `purpose` (what it seals or signs), derived from
/// the Stripe secret key so that every instance of one shop derives the same; random
/// without one (the embedded emulator: one process, and a key everyone knows).
pub fn derived_key(stripe_secret_key: Option<&str>, purpose: &str) -> [u8; 32] {
    match stripe_secret_key {
        Some(secret) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().into()
        }
        None => rand::random(),
    }
}
