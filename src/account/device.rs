//! Device cookies, after OWASP's "slow down online guessing attacks with device
//! cookies". Five wrong passwords lock an account for a quarter of an hour
//! (`rate_limit`), and anyone who knows a shopper's email can spend those five. A
//! browser that has signed in to the account before carries a cookie that vouches for
//! it there, and its sign-ins are counted on their own: a stranger's guesses lock out
//! strangers, not the shopper on their own browser.
//!
//! The cookie names no account: it is a random nonce and an HMAC of the nonce and the
//! account's email, under a key of the server's (`secret::DerivedKey`). It vouches for
//! that email only, cannot be made without the key, and is sent only to the sign-in
//! endpoint. Signing out keeps it: it proves where the shopper signed in, not that they
//! are signed in.

use hmac::{Hmac, Mac};
use leptos::server_fn::ServerFn;
use sha2::Sha256;

/// Name of the device cookie.
pub const COOKIE_NAME: &str = "sf_device";
/// How long a browser stays known after its last sign-in there.
const LIFETIME_SECS: i64 = 365 * 24 * 3600;
/// Bytes of the nonce, and so of the name its failures are counted under.
const NONCE_BYTES: usize = 16;

/// Issues and checks device cookies.
#[derive(Clone, Debug)]
pub struct DeviceCookies {
    key: crate::secret::DerivedKey,
}

impl DeviceCookies {
    pub fn new(stripe_secret_key: Option<&str>) -> DeviceCookies {
        DeviceCookies { key: crate::secret::DerivedKey::new(stripe_secret_key, "storefront: device cookies of sign-ins") }
    }

    fn mac(&self, email_key: &str, nonce: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
        mac.update(nonce);
        mac.update(email_key.as_bytes());
        mac
    }

    /// The browser's name (its nonce, in hex) when its device cookie (`cookie`, the
    /// value) vouches for the account of `email_key`; `None` for any other cookie.
    pub fn vouched(&self, cookie: Option<&str>, email_key: &str) -> Option<String> {
        let (nonce, mac) = cookie?.split_once('.')?;
        let nonce = hex::decode(nonce).ok().filter(|nonce| nonce.len() == NONCE_BYTES)?;
        self.mac(email_key, &nonce).verify_slice(&hex::decode(mac).ok()?).ok()?;
        Some(hex::encode(nonce))
    }

    /// A `Set-Cookie` value: a new device cookie vouching for the account of `email_key`.
    pub fn issue(&self, email_key: &str, secure: bool) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let value = format!("{}.{}", hex::encode(nonce), hex::encode(self.mac(email_key, &nonce).finalize().into_bytes()));
        cookie::Cookie::build((COOKIE_NAME, value))
            // The only address the browser sends it to: the sign-in server function's.
            .path(super::SignIn::PATH)
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .secure(secure)
            .max_age(cookie::time::Duration::seconds(LIFETIME_SECS))
            .build()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(set_cookie: &str) -> &str {
        set_cookie.split(';').next().unwrap().strip_prefix("sf_device=").unwrap()
    }

    #[test]
    fn a_device_cookie_vouches_for_its_own_email_only() {
        let devices = DeviceCookies::new(Some("sk_test_one"));
        let issued = devices.issue("jenny@example.com", true);
        let cookie = value(&issued);
        let name = devices.vouched(Some(cookie), "jenny@example.com").expect("vouches for jenny");
        assert_eq!(name.len(), 2 * NONCE_BYTES);
        assert_eq!(devices.vouched(Some(cookie), "john@example.com"), None, "another account");
        assert_eq!(DeviceCookies::new(Some("sk_test_two")).vouched(Some(cookie), "jenny@example.com"), None, "another shop's key");
        let (nonce, mac) = cookie.split_once('.').unwrap();
        let other_nonce = format!("{}{}", if nonce.starts_with('0') { '1' } else { '0' }, &nonce[1..]);
        assert_eq!(devices.vouched(Some(&format!("{other_nonce}.{mac}")), "jenny@example.com"), None, "a nonce it was not made for");
        for forged in ["", ".", "zz.zz", &format!("{nonce}."), &format!("{nonce}.{}", &mac[2..])] {
            assert_eq!(devices.vouched(Some(forged), "jenny@example.com"), None, "{forged:?}");
        }
        assert_ne!(value(&devices.issue("jenny@example.com", true)), cookie, "each sign-in gets its own");
    }

    #[test]
    fn the_cookie_goes_to_the_sign_in_endpoint_only() {
        let issued = DeviceCookies::new(None).issue("jenny@example.com", true);
        for part in ["Path=/api/account/sign-in", "HttpOnly", "SameSite=Strict", "Secure", "Max-Age=31536000"] {
            assert!(issued.contains(part), "{part}: {issued}");
        }
        assert!(!DeviceCookies::new(None).issue("jenny@example.com", false).contains("Secure"));
    }
}
