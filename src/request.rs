//! What one request brings with it — the shopper's language, session cookie, address,
//! browser and whether the shop is served over HTTPS — read once, at the edge (a server
//! function or a page render), and passed to the services as an argument. Services
//! never read the Leptos context; they are given a [`Request`].

use crate::error::AppError;
use crate::i18n::{Locale, Texts};
use crate::session::SessionCookie;
use crate::state::AppState;
use http::HeaderValue;
use leptos_axum::ResponseOptions;
use std::net::IpAddr;

/// The request being served.
#[derive(Clone, Debug)]
pub struct Request {
    /// The language its replies and messages are written in.
    pub locale: Locale,
    /// The client's address (see [`client_address`]).
    pub client_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Whether cookies must carry `Secure` (the shop's public URL is `https://`).
    pub secure: bool,
    /// The session it names, if any (see `crate::session`).
    pub session: SessionCookie,
    /// Its `Cookie` headers, for the cookies only some requests read ([`Request::cookie`]).
    cookies: Vec<HeaderValue>,
    response: Option<ResponseOptions>,
}

/// The shop's settings that shape how a request is read.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    /// `STORE_DEFAULT_LOCALE`: the language of a request that asks for none we speak.
    pub default_locale: Locale,
    /// Take the client's address from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    pub secure: bool,
}

impl Reading {
    pub fn of(state: &AppState) -> Reading {
        Reading {
            default_locale: state.config.store.default_locale,
            trust_forwarded_for: state.config.trust_forwarded_for,
            secure: state.is_https(),
        }
    }
}

impl Request {
    /// Reads a request's head. `response` is where cookies and headers for the reply go.
    pub fn read(parts: &http::request::Parts, reading: Reading, response: Option<ResponseOptions>) -> Request {
        Request {
            locale: crate::i18n::locale_of(&parts.headers, reading.default_locale),
            client_address: client_address(parts, reading.trust_forwarded_for),
            user_agent: parts.headers.get(http::header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned),
            secure: reading.secure,
            session: SessionCookie::read(&parts.headers, reading.secure, response.clone()),
            cookies: parts.headers.get_all(http::header::COOKIE).iter().cloned().collect(),
            response,
        }
    }

    /// The value of the cookie `name`, if the request has one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        crate::session::cookie_in(&self.cookies, name)
    }

    /// The interface's strings in the request's language.
    pub fn texts(&self) -> &'static Texts {
        self.locale.texts()
    }

    /// Adds a header to the reply (`Set-Cookie`).
    pub fn append_header(&self, name: http::HeaderName, value: HeaderValue) {
        if let Some(response) = &self.response {
            response.append_header(name, value);
        }
    }

    /// Sets a header of the reply (`Retry-After`).
    pub fn insert_header(&self, name: http::HeaderName, value: HeaderValue) {
        if let Some(response) = &self.response {
            response.insert_header(name, value);
        }
    }
}

/// Reads the request being served and puts it, and its language, in the Leptos context:
/// called once per server-function request, before the function runs. (Pages read it
/// with `Request::read` and pass it on.)
pub fn provide(reading: Reading) {
    use leptos::prelude::{provide_context, use_context};
    let response = use_context::<ResponseOptions>();
    let request = match use_context::<http::request::Parts>() {
        Some(parts) => Request::read(&parts, reading, response),
        None => Request::read(&http::Request::new(()).into_parts().0, reading, response),
    };
    provide_context(request.locale);
    provide_context(request);
}

/// At the edge of a server function: the shop's state and the request
/// being served, from the Leptos context.
pub fn edge() -> Result<(AppState, Request), AppError> {
    let state = AppState::from_context()?;
    let request = leptos::prelude::use_context::<Request>().ok_or_else(|| {
        tracing::error!("the request is missing from the Leptos context");
        AppError::Internal
    })?;
    Ok((state, request))
}

/// The client's address: the TCP peer, or with `trust_forwarded_for` the address the
/// proxy in front appended last to `X-Forwarded-For`.
fn client_address(parts: &http::request::Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back();
        if let Some(ip) = forwarded.and_then(|list| list.rsplit(',').next()).and_then(|ip| ip.trim().parse().ok()) {
            return Some(ip);
        }
    }
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(trust_forwarded_for: bool) -> Reading {
        Reading { default_locale: Locale::Fr, trust_forwarded_for, secure: true }
    }

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut parts = request.body(()).unwrap().into_parts().0;
        parts.extensions.insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 0, 0, 1], 4000))));
        parts
    }

    #[test]
    fn the_address_is_the_peers_unless_the_proxy_in_front_is_trusted() {
        let head = parts(&[("x-forwarded-for", "1.2.3.4, 5.6.7.8")]);
        assert_eq!(Request::read(&head, reading(false), None).client_address, Some([10, 0, 0, 1].into()));
        assert_eq!(Request::read(&head, reading(true), None).client_address, Some([5, 6, 7, 8].into()));
    }

    #[test]
    fn language_and_browser_are_read_from_the_head() {
        let token = "a".repeat(43);
        let head = parts(&[("accept-language", "en-GB"), ("user-agent", "Firefox"), ("cookie", &format!("x=1; sf_session={token}"))]);
        let request = Request::read(&head, reading(false), None);
        assert_eq!((request.locale, request.user_agent.as_deref(), request.secure), (Locale::En, Some("Firefox"), true));
        let bare = Request::read(&parts(&[("cookie", "sf_session=short")]), reading(false), None);
        assert_eq!(bare.locale, Locale::Fr, "the shop's language");
    }
}
