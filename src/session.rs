//! Shopper sessions: an opaque random token in an `HttpOnly; SameSite=Lax` cookie,
//! known to the database only by its SHA-256. A session is started lazily, the first
//! time something must be remembered (adding to the cart), so browsing writes nothing.
//! Signing in always issues a new token (the old one stops working), so a token
//! planted before sign-in is worth nothing after it; signing out ends the session.

use crate::store::{AccountRecord, CartContents, Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use leptos_axum::ResponseOptions;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// A request's side of its session: the cookie it came with, where a new cookie goes,
/// and what was looked up. Looked up once (a page's `visit`, or the first service that
/// asks), then remembered for the rest of the request; set again whenever the request
/// starts, replaces or ends the session. Clones share it.
#[derive(Clone, Debug)]
pub struct SessionCookie {
    /// The cookie's value, when it has the shape of a token the server issues.
    token: Option<String>,
    /// Whether a cookie set on the reply must carry `Secure`.
    secure: bool,
    known: Arc<Mutex<Option<Option<LiveSession>>>>,
    reply: Option<ResponseOptions>,
}

/// A live session and the account it is signed in to (its record too, once read).
#[derive(Clone, Debug)]
struct LiveSession {
    id: SessionId,
    account_id: Option<String>,
    account: Option<AccountRecord>,
}

/// What a page knows about its visitor, read once (`visit`).
#[derive(Debug, Default)]
pub struct Visit {
    /// The live session the cookie names.
    pub session: Option<SessionId>,
    /// The account it is signed in to.
    pub account: Option<AccountRecord>,
    /// The session's cart lines and discount code.
    pub cart: CartContents,
    /// The email address the session last paid with.
    pub email: Option<String>,
    /// Where the session last shipped to (Stripe's `shipping` as JSON).
    pub shipping: Option<String>,
    /// Stock on hand of the products the page asked about.
    pub stock: HashMap<String, u32>,
}

impl SessionCookie {
    /// The session cookie of a request with `headers`; `reply` is where a new one goes.
    pub fn read(headers: &http::HeaderMap, secure: bool, reply: Option<ResponseOptions>) -> SessionCookie {
        SessionCookie { token: token_of(headers), secure, known: Arc::default(), reply }
    }

    fn remember(&self, session: Option<LiveSession>) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = Some(session);
    }

    fn set(&self, cookie: &str) {
        if let (Some(reply), Ok(value)) = (&self.reply, http::HeaderValue::from_str(cookie)) {
            reply.append_header(http::header::SET_COOKIE, value);
        }
    }
}

async fn live(store: &Store, cookie: &SessionCookie) -> Result<Option<LiveSession>, StoreError> {
    if let Some(known) = cookie.known.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(known);
    }
    let session = match &cookie.token {
        None => None,
        Some(token) => {
            let id = SessionId::of_token(token);
            let now = now();
            match store.live_session(id.as_str(), now - IDLE_LIFETIME_SECS).await? {
                Some((account_id, last_seen)) => {
                    keep_alive(store, cookie, token, &id, last_seen, now).await?;
                    Some(LiveSession { id, account_id, account: None })
                }
                None => None,
            }
        }
    };
    cookie.remember(session.clone());
    Ok(session)
}

/// Moves a session in use on (its record and its cookie), once a day at most.
async fn keep_alive(
    store: &Store,
    cookie: &SessionCookie,
    token: &str,
    id: &SessionId,
    last_seen: i64,
    now: i64,
) -> Result<(), StoreError> {
    if now - last_seen >= TOUCH_EVERY_SECS {
        store.touch_session(id.as_str(), now).await?;
        cookie.set(&cookie_for(token, cookie.secure));
    }
    Ok(())
}

/// A page's visitor in one read of the store (`Store::visit`): the session the cookie
/// names, its account, cart and last email, and the stock of `products`. The session
/// and account are remembered for the rest of the request.
pub async fn visit(store: &Store, cookie: &SessionCookie, products: Vec<String>) -> Result<Visit, StoreError> {
    let id = cookie.token.as_deref().map(SessionId::of_token);
    let now = now();
    let record = store.visit(id.as_ref().map(SessionId::as_str), now - IDLE_LIFETIME_SECS, products).await?;
    let session = match (&cookie.token, id, record.last_seen) {
        (Some(token), Some(id), Some(last_seen)) => {
            keep_alive(store, cookie, token, &id, last_seen, now).await?;
            Some(id)
        }
        _ => None,
    };
    cookie.remember(session.clone().map(|id| LiveSession {
        id,
        account_id: record.account.as_ref().map(|account| account.id.clone()),
        account: record.account.clone(),
    }));
    Ok(Visit { session, account: record.account, cart: record.cart, email: record.email, shipping: record.shipping, stock: record.stock })
}

/// The account record of the request's session, when a visit has read it already.
pub fn known_account(cookie: &SessionCookie) -> Option<AccountRecord> {
    cookie.known.lock().unwrap_or_else(|e| e.into_inner()).clone().flatten()?.account
}

/// The session named by the request's cookie, if it is one the server issued.
pub async fn current(store: &Store, cookie: &SessionCookie) -> Result<Option<SessionId>, StoreError> {
    Ok(live(store, cookie).await?.map(|session| session.id))
}

/// The session and the account it is signed in to (`None` for a guest).
pub async fn current_with_account(store: &Store, cookie: &SessionCookie) -> Result<Option<(SessionId, Option<String>)>, StoreError> {
    Ok(live(store, cookie).await?.map(|session| (session.id, session.account_id)))
}

/// The current session, or a new one whose cookie is set on the reply.
pub async fn current_or_start(store: &Store, cookie: &SessionCookie) -> Result<SessionId, StoreError> {
    if let Some(id) = current(store, cookie).await? {
        return Ok(id);
    }
    let token = new_token();
    let id = SessionId::of_token(&token);
    store.create_session(id.as_str(), now()).await?;
    cookie.set(&cookie_for(&token, cookie.secure));
    cookie.remember(Some(LiveSession { id: id.clone(), account_id: None, account: None }));
    Ok(id)
}

/// Signs the browser in to `account_id`: a new session and cookie replace the current
/// ones, carrying a guest cart over (see `Store::sign_in`).
pub async fn sign_in(store: &Store, cookie: &SessionCookie, account_id: &str) -> Result<SessionId, StoreError> {
    let previous = current(store, cookie).await?;
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
    cookie.set(&cookie_for(&token, cookie.secure));
    cookie.remember(Some(LiveSession { id: id.clone(), account_id: Some(account_id.to_owned()), account: None }));
    Ok(id)
}

/// Ends the current session (if any) and tells the browser to forget its cookie.
pub async fn sign_out(store: &Store, cookie: &SessionCookie) -> Result<(), StoreError> {
    if let Some(id) = current(store, cookie).await? {
        store.end_session(id.as_str(), now()).await?;
    }
    cookie.set(&expired_cookie(cookie.secure));
    cookie.remember(None);
    Ok(())
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

/// 256 random bits from the OS generator, URL-safe: a session's token, an order's view
/// key.
pub fn new_token() -> String {
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

/// The session token in a request's cookies, if it has the shape of one we issue.
fn token_of(headers: &http::HeaderMap) -> Option<String> {
    // A token we issued is exactly 43 URL-safe characters; anything else is noise.
    cookie_in(headers.get_all(http::header::COOKIE), COOKIE_NAME).filter(|token| token.len() == 43)
}

/// The value of the cookie `name` in a request's `Cookie` headers, if it has one.
pub fn cookie_in<'a>(headers: impl IntoIterator<Item = &'a http::HeaderValue>, name: &str) -> Option<String> {
    headers
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
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
    fn only_a_cookie_shaped_like_an_issued_token_names_a_session() {
        let token = new_token();
        let headers = |cookie: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::COOKIE, http::HeaderValue::from_str(cookie).unwrap());
            headers
        };
        assert_eq!(token_of(&headers(&format!("a=1; {COOKIE_NAME}={token}; b=2"))), Some(token));
        assert_eq!(token_of(&headers(&format!("{COOKIE_NAME}=short"))), None);
        assert_eq!(token_of(&http::HeaderMap::new()), None);
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
