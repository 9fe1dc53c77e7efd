//! A refused form post without JavaScript is answered with a redirect back to the page,
//! the error in the address (`__err`, `__path`: Leptos' way), which the page shows.
//! Anyone can write such an address, so an unsealed one would let a link put any
//! words on the shop's own page in its error style ("call this number", "pay to this
//! account"). The server seals the redirects it sends (`__seal`, an HMAC of the path
//! and the error) and a page shows only an error whose seal it can check.
//!
//! The merchant's pages (`/admin/orders/{id}`) say what their forms did the same way
//! ("Refund re_… sent to Stripe.", "Stripe refused: …"), and are sealed the same way
//! (`seal`, an HMAC of the page's path and the notice), so that a link sent to the
//! merchant cannot show them a refund that was never made, or words of its own.
//!
//! The key is derived from the Stripe secret key (`secret::DerivedKey`), so every
//! instance of one shop shares it; with the embedded emulator it is random.

use axum::response::Response;
use hmac::{Hmac, Mac};
use http::{HeaderValue, header};
use leptos::server::ServerActionError;
use sha2::Sha256;
use std::collections::HashMap;

/// Seals and opens the errors that redirects carry in the address.
#[derive(Clone, Debug)]
pub struct FormErrors {
    key: crate::secret::DerivedKey,
}

impl FormErrors {
    /// Keyed by the Stripe secret key (every instance the same), or at random.
    pub fn new(stripe_secret_key: Option<&str>) -> FormErrors {
        FormErrors { key: crate::secret::DerivedKey::new(stripe_secret_key, "storefront: errors of form posts, in addresses") }
    }

    fn seal(&self, path: &str, error: &str) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
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

impl FormErrors {
    fn notice_seal(&self, path: &str, key: &str, value: &str) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
        for part in ["notice", path, key, value] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    /// The query that tells the merchant's page at `path` what its form did (`key` =
    /// `value`), with its seal.
    pub fn notice_query(&self, path: &str, key: &str, value: &str) -> String {
        let seal = hex::encode(self.notice_seal(path, key, value).finalize().into_bytes());
        serde_qs::to_string(&std::collections::BTreeMap::from([(key, value), ("seal", seal.as_str())])).unwrap_or_default()
    }

    /// The notice of `query` that the server sealed for the page at `path`, alone; an
    /// empty query when there is none.
    pub fn open_notice(&self, path: &str, query: &HashMap<String, String>) -> HashMap<String, String> {
        let Some(seal) = query.get("seal").and_then(|seal| hex::decode(seal).ok()) else { return HashMap::new() };
        query
            .iter()
            .find(|(key, value)| *key != "seal" && self.notice_seal(path, key, value).verify_slice(&seal).is_ok())
            .map(|(key, value)| HashMap::from([(key.clone(), value.clone())]))
            .unwrap_or_default()
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
    fn only_a_notice_the_server_sealed_for_the_page_opens() {
        let errors = FormErrors::new(Some("sk_test_123"));
        let path = "/admin/orders/ord_1";
        let sealed = query_of(&format!("{path}?{}", errors.notice_query(path, "refunded", "re_1")));
        assert_eq!(errors.open_notice(path, &sealed), HashMap::from([("refunded".to_owned(), "re_1".to_owned())]));
        // Another page, another shop, another notice or value beside the seal: nothing.
        assert!(errors.open_notice("/admin/orders/ord_2", &sealed).is_empty());
        assert!(FormErrors::new(Some("sk_test_other")).open_notice(path, &sealed).is_empty());
        for (key, value) in [("refunded", "re_2"), ("error", "re_1"), ("error", "Call us")] {
            let mut forged = sealed.clone();
            forged.remove("refunded");
            forged.insert(key.into(), value.into());
            assert!(errors.open_notice(path, &forged).is_empty(), "{key}={value}");
        }
        // A sealed notice keeps its words only: what is added beside it is not shown.
        let mut padded = sealed.clone();
        padded.insert("error".into(), "Call us".into());
        assert_eq!(errors.open_notice(path, &padded).len(), 1);
        // An error of a shopper's form, sealed for its own page, is no merchant's notice.
        let shopper = query(&errors.seal_redirect(redirect(&format!("{path}?__path={path}&__err=refunded"))));
        assert!(
            errors
                .open_notice(path, &HashMap::from([("refunded".into(), "re_1".into()), ("seal".into(), shopper["__seal"].clone())]))
                .is_empty()
        );
    }

    #[test]
    fn a_redirect_without_an_error_is_left_as_it_is() {
        let errors = FormErrors::new(None);
        let plain = errors.seal_redirect(redirect("/cart"));
        assert_eq!(plain.headers()[header::LOCATION], "/cart");
    }
}
