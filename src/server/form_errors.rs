//! A refused form post without JavaScript is answered with a redirect back to the page,
//! the error in the address (`__err`, `__path`: Leptos' way), which the page shows.
//! Anyone can write such an address, so an unsealed one would let a link put any
//! words on the shop's own page in its error style ("call this number", "pay to this
//! account"). The server seals the redirects it sends (`__seal`, an HMAC of the path
//! and the error) and a page shows only an error whose seal it can check.
//!
//! The key is derived from the Stripe secret key, so every instance of one shop shares
//! it; with the embedded emulator (one process, a key everyone knows) it is random.

use axum::response::Response;
use hmac::{Hmac, Mac};
use http::{HeaderValue, header};
use leptos::server::ServerActionError;
use sha2::Sha256;
use std::collections::HashMap;

/// Seals and opens the errors that redirects carry in the address.
#[derive(Clone)]
pub struct FormErrors {
    key: [u8; 32],
}

impl std::fmt::Debug for FormErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormErrors([key redacted])")
    }
}

impl FormErrors {
    /// Keyed by the Stripe secret key (every instance the same), or at random.
    pub fn new(stripe_secret_key: Option<&str>) -> FormErrors {
        let key = match stripe_secret_key {
            Some(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
                mac.update(b"storefront: errors of form posts, in addresses");
                mac.finalize().into_bytes().into()
            }
            None => rand::random(),
        };
        FormErrors { key }
    }

    fn seal(&self, path: &str, error: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(error.as_bytes());
        mac
    }

    /// Adds the seal to a server function's redirect that carries an error.
    pub fn seal_redirect(&self, mut response: Response) -> Response {
        let Some(location) = response.headers().get(header::LOCATION).and_then(|value| value.to_str().ok()) else { return response };
        let query = query_of(location);
        let (Some(path), Some(error)) = (query.get("__path"), query.get("__err")) else { return response };
        let seal = hex::encode(self.seal(path, error).finalize().into_bytes());
        if let Ok(value) = HeaderValue::from_str(&format!("{location}&__seal={seal}")) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }

    /// The error an address carries, if the server sealed it.
    pub fn open(&self, query: &HashMap<String, String>) -> Option<ServerActionError> {
        let (path, error, seal) = (query.get("__path")?, query.get("__err")?, hex::decode(query.get("__seal")?).ok()?);
        self.seal(path, error).verify_slice(&seal).ok()?;
        Some(ServerActionError::new(path, error))
    }
}

/// The query of an address (absolute or a path), decoded; empty when it does not parse.
pub fn query_of(address: &str) -> HashMap<String, String> {
    address
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| axum::extract::Query::<HashMap<String, String>>::try_from_uri(&uri).ok())
        .map(|query| query.0)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(location: &str) -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
        response
    }

    fn query(response: &Response) -> HashMap<String, String> {
        query_of(response.headers()[header::LOCATION].to_str().unwrap())
    }

    #[test]
    fn only_an_error_the_server_sealed_opens() {
        let errors = FormErrors::new(Some("sk_test_123"));
        let sealed = errors.seal_redirect(redirect("http://shop.test/cart?__path=/api/cart/set&__err=eyJJbnZhbGlkIjoiTm8ifQ%3D%3D"));
        let query = query(&sealed);
        assert!(errors.open(&query).is_some(), "{query:?}");
        // Another shop's key, a changed error, a missing seal: nothing is shown.
        assert!(FormErrors::new(Some("sk_test_other")).open(&query).is_none());
        let mut forged = query.clone();
        forged.insert("__err".into(), "eyJJbnZhbGlkIjoiQ2FsbCB1cyJ9".into());
        assert!(errors.open(&forged).is_none());
        forged.remove("__seal");
        assert!(errors.open(&forged).is_none());
        // Instances of one shop share the key; the emulator's processes do not.
        assert!(FormErrors::new(Some("sk_test_123")).open(&query).is_some());
        assert!(FormErrors::new(None).open(&query).is_none());
    }

    #[test]
    fn a_redirect_without_an_error_is_left_as_it_is() {
        let errors = FormErrors::new(None);
        let plain = errors.seal_redirect(redirect("/cart"));
        assert_eq!(plain.headers()[header::LOCATION], "/cart");
    }
}
