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

/// A key of the server's own for one purpose (what it seals or signs), derived from the
/// Stripe secret key so that every instance of one shop derives the same; random without
/// one (the embedded emulator: one process, and a key everyone knows). `Debug` redacts it.
#[derive(Clone)]
pub struct DerivedKey([u8; 32]);

impl DerivedKey {
    pub fn new(stripe_secret_key: Option<&str>, purpose: &str) -> DerivedKey {
        DerivedKey(match stripe_secret_key {
            Some(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
                mac.update(purpose.as_bytes());
                mac.finalize().into_bytes().into()
            }
            None => rand::random(),
        })
    }

    /// An HMAC-SHA256 under this key, to feed what is sealed or signed.
    pub fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key")
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey([redacted])")
    }
}
