//! Shopper sessions: an opaque random token in an `HttpOnly; SameSite=Lax` cookie,
//! known to the database only by its SHA-256. A session is started lazily, the first
//! time something must be remembered (adding to the cart), so browsing writes nothing.
//! Signing in always issues a new token (the old one stops working), so a token
//! planted before sign-in is worth nothing after it; signing out ends the session.

use crate::store::{Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "sf_session";
/// How long a session lives without being used: the browser keeps the cookie this
/// long, and the server forgets an idle session after it. Both slide on use.
pub const IDLE_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// How often a session in use has its lifetime moved on (one write, and the cookie
/// sent again, per session and day at most).
const TOUCH_EVERY_SECS: i64 = 24 * 3600;

/// A session as the database knows it (the token's hash). Obtainable only from a token
/// the server issued and still has on record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn of_token(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }
}

/// What one request knows of its session, looked up once: a page render asks from
/// several resources (header, page), and each lookup is a database round trip. Set
/// again whenever the request starts, replaces or ends the session.
#[derive(Clone, Default)]
pub struct RequestSession(std::sync::Arc<std::sync::Mutex<Option<Option<LiveSession>>>>);

/// A live session and the account it is signed in to.
#[derive(Clone, Debug)]
struct LiveSession {
    id: SessionId,
    account_id: Option<String>,
}

impl RequestSession {
    fn get(&self) -> Option<Option<LiveSession>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, session: Option<LiveSession>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(session);
    }
}

fn remember(session: Option<LiveSession>) {
    if let Some(memo) = leptos::prelude::use_context::<RequestSession>() {
        memo.set(session);
    }
}

async fn live(store: &Store) -> Result<Option<LiveSession>, StoreError> {
    let memo = leptos::prelude::use_context::<RequestSession>();
    if let Some(known) = memo.as_ref().and_then(RequestSession::get) {
        return Ok(known);
    }
    let session = match token_from_request() {
        None => None,
        Some(token) => {
            let id = SessionId::of_token(&token);
            let now = now();
            match store.live_session(id.as_str(), now - IDLE_LIFETIME_SECS).await? {
                Some((account_id, last_seen)) => {
                    if now - last_seen >= TOUCH_EVERY_SECS {
                        store.touch_session(id.as_str(), now).await?;
                        let secure = leptos::prelude::use_context::<crate::state::AppState>().is_some_and(|state| state.is_https());
                        set_cookie(&cookie_for(&token, secure));
                    }
                    Some(LiveSession { id, account_id })
                }
                None => None,
            }
        }
    };
    if let Some(memo) = memo {
        memo.set(session.clone());
    }
    Ok(session)
}

/// The session named by the request's cookie, if it is one the server issued.
pub async fn current(store: &Store) -> Result<Option<SessionId>, StoreError> {
    Ok(live(store).await?.map(|session| session.id))
}

/// The session and the account it is signed in to (`None` for a guest).
pub async fn current_with_account(store: &Store) -> Result<Option<(SessionId, Option<String>)>, StoreError> {
    Ok(live(store).await?.map(|session| (session.id, session.account_id)))
}

/// The current session, or a new one whose cookie is set on the reply.
pub async fn current_or_start(store: &Store, secure: bool) -> Result<SessionId, StoreError> {
    if let Some(id) = current(store).await? {
        return Ok(id);
    }
    let token = new_token();
    let id = SessionId::of_token(&token);
    store.create_session(id.as_str(), now()).await?;
    set_cookie(&cookie_for(&token, secure));
    remember(Some(LiveSession { id: id.clone(), account_id: None }));
    Ok(id)
}

/// Signs the browser in to `account_id`: a new session and cookie replace the current
/// ones, carrying a guest cart over (see `Store::sign_in`).
pub async fn sign_in(store: &Store, account_id: &str, secure: bool) -> Result<SessionId, StoreError> {
    let previous = current(store).await?;
    let token = new_token();
    let id = SessionId::of_token(&token);
    store
        .sign_in(crate::store::SignIn {
            account_id,
            previous_session: previous.as_ref().map(SessionId::as_str),
            new_session: id.as_str(),
            now: now(),
        })
        .await?;
    set_cookie(&cookie_for(&token, secure));
    remember(Some(LiveSession { id: id.clone(), account_id: Some(account_id.to_owned()) }));
    Ok(id)
}

/// Ends the current session (if any) and tells the browser to forget its cookie.
pub async fn sign_out(store: &Store, secure: bool) -> Result<(), StoreError> {
    if let Some(id) = current(store).await? {
        store.end_session(id.as_str(), now()).await?;
    }
    set_cookie(&expired_cookie(secure));
    remember(None);
    Ok(())
}

fn set_cookie(cookie: &str) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) = http::HeaderValue::from_str(cookie)
    {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// The client's address: the TCP peer, or with `trust_forwarded_for` the address the
/// proxy in front appended last to `X-Forwarded-For`.
pub fn client_address(trust_forwarded_for: bool) -> Option<std::net::IpAddr> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    if trust_forwarded_for {
        let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back();
        if let Some(ip) = forwarded.and_then(|list| list.rsplit(',').next()).and_then(|ip| ip.trim().parse().ok()) {
            return Some(ip);
        }
    }
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip())
}

/// The request's `User-Agent`.
pub fn user_agent() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts.headers.get(http::header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// A new record id: `prefix` and 96 random bits in hex (`ord_…`, `acct_…`). Not a
/// secret: ids name records, the session cookie is what proves who someone is.
pub fn random_id(prefix: &str) -> String {
    let bytes: [u8; 12] = rand::random();
    format!("{prefix}_{}", hex::encode(bytes))
}

/// 256 random bits from the OS generator, URL-safe.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie_for(token: &str, secure: bool) -> String {
    Cookie::build((COOKIE_NAME, token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(IDLE_LIFETIME_SECS))
        .build()
        .to_string()
}

fn expired_cookie(secure: bool) -> String {
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

fn token_from_request() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE_NAME)
        .map(|cookie| cookie.value().to_owned())
        // A token we issued is exactly 43 URL-safe characters; anything else is noise.
        .filter(|token| token.len() == 43)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn record_ids_carry_their_prefix_and_96_random_bits() {
        let (a, b) = (random_id("ord"), random_id("ord"));
        assert_ne!(a, b);
        assert!(a.starts_with("ord_") && a.len() == 4 + 24 && a[4..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn the_database_never_sees_the_token_itself() {
        let token = new_token();
        let id = SessionId::of_token(&token);
        assert_ne!(id.as_str(), token);
        assert_eq!(id.as_str().len(), 64);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_lax() {
        let plain = cookie_for("abc", false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && plain.contains("Path=/"));
        assert!(!plain.contains("Secure"));
        assert!(cookie_for("abc", true).contains("Secure"));
    }
}
