//! What one request brings with it — the shopper's language, session cookie, address,
//! browser and whether the shop is served over HTTPS — read once, at the edge (a server
//! function or a page render), and passed to the services as an argument. Services
//! never read the Leptos context; they are given a [`Request`].

use crate::error::AppError;
use crate::i18n::{Locale, Texts};
use crate::state::AppState;
use http::HeaderValue;
use leptos_axum::ResponseOptions;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

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
    /// The session cookie's value, when it has the shape of a token the server issues.
    pub(crate) session_token: Option<String>,
    /// What the request knows of its session, looked up once: a page render asks from
    /// several resources (header, page), and each lookup is a database round trip. Set
    /// again whenever the request starts, replaces or ends the session.
    pub(crate) session: Arc<Mutex<Option<Option<crate::session::LiveSession>>>>,
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
            default_locale: Locale::parse(&state.config.store.default_locale).unwrap_or_default(),
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
            session_token: crate::session::token_of(&parts.headers),
            session: Arc::default(),
            response,
        }
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

/// Put in the context of every request by the router: the shop's settings, and the
/// [`Request`] once the edge has read it (a page render reads it once for all of its
/// server functions).
#[derive(Clone, Debug)]
pub struct Edge {
    reading: Reading,
    request: Arc<OnceLock<Request>>,
}

impl Edge {
    pub fn new(reading: Reading) -> Edge {
        Edge { reading, request: Arc::default() }
    }
}

/// At the edge of a server function or page render: the shop's state and the request
/// being served, from the Leptos context.
pub fn edge() -> Result<(AppState, Request), AppError> {
    let state = AppState::from_context()?;
    Ok((state, current()))
}

/// The request being served, from the Leptos context (read on first use). Outside a
/// request (never in practice) a request with no headers.
pub fn current() -> Request {
    use leptos::prelude::use_context;
    let edge = use_context::<Edge>();
    let read = |reading: Reading| {
        let response = use_context::<ResponseOptions>();
        match use_context::<http::request::Parts>() {
            Some(parts) => Request::read(&parts, reading, response),
            None => Request::read(&http::Request::new(()).into_parts().0, reading, response),
        }
    };
    match edge {
        Some(edge) => edge.request.get_or_init(|| read(edge.reading)).clone(),
        None => read(Reading { default_locale: Locale::default(), trust_forwarded_for: false, secure: false }),
    }
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
    fn language_browser_and_session_cookie_are_read_once_from_the_head() {
        let token = "a".repeat(43);
        let head = parts(&[("accept-language", "en-GB"), ("user-agent", "Firefox"), ("cookie", &format!("x=1; sf_session={token}"))]);
        let request = Request::read(&head, reading(false), None);
        assert_eq!((request.locale, request.user_agent.as_deref(), request.secure), (Locale::En, Some("Firefox"), true));
        assert_eq!(request.session_token.as_deref(), Some(token.as_str()));
        let bare = Request::read(&parts(&[("cookie", "sf_session=short")]), reading(false), None);
        assert_eq!((bare.locale, bare.session_token), (Locale::Fr, None), "the shop's language; a malformed token is no token");
    }
}
