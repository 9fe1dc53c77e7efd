//! Shopper sessions: an opaque random token in an `HttpOnly; SameSite=Lax` cookie,
//! known to the database only by its SHA-256. A session is started lazily, the first
//! time something must be remembered (adding to the cart), so browsing writes nothing.
//! Signing in always issues a new token (the old one stops working), so a token
//! planted before sign-in is worth nothing after it; signing out ends the session.

use crate::request::Request;
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

/// A live session and the account it is signed in to.
#[derive(Clone, Debug)]
pub(crate) struct LiveSession {
    id: SessionId,
    account_id: Option<String>,
}

fn remember(request: &Request, session: Option<LiveSession>) {
    *request.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(session);
}

async fn live(store: &Store, request: &Request) -> Result<Option<LiveSession>, StoreError> {
    if let Some(known) = request.session.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(known);
    }
    let session = match &request.session_token {
        None => None,
        Some(token) => {
            let id = SessionId::of_token(token);
            let now = now();
            match store.live_session(id.as_str(), now - IDLE_LIFETIME_SECS).await? {
                Some((account_id, last_seen)) => {
                    if now - last_seen >= TOUCH_EVERY_SECS {
                        store.touch_session(id.as_str(), now).await?;
                        set_cookie(request, &cookie_for(token, request.secure));
                    }
                    Some(LiveSession { id, account_id })
                }
                None => None,
            }
        }
    };
    remember(request, session.clone());
    Ok(session)
}

/// The session named by the request's cookie, if it is one the server issued.
pub async fn current(store: &Store, request: &Request) -> Result<Option<SessionId>, StoreError> {
    Ok(live(store, request).await?.map(|session| session.id))
}

/// The session and the account it is signed in to (`None` for a guest).
pub async fn current_with_account(store: &Store, request: &Request) -> Result<Option<(SessionId, Option<String>)>, StoreError> {
    Ok(live(store, request).await?.map(|session| (session.id, session.account_id)))
}

/// The current session, or a new one whose cookie is set on the reply.
pub async fn current_or_start(store: &Store, request: &Request) -> Result<SessionId, StoreError> {
    if let Some(id) = current(store, request).await? {
        return Ok(id);
    }
    let token = new_token();
    let id = SessionId::of_token(&token);
    store.create_session(id.as_str(), now()).await?;
    set_cookie(request, &cookie_for(&token, request.secure));
    remember(request, Some(LiveSession { id: id.clone(), account_id: None }));
    Ok(id)
}

/// Signs the browser in to `account_id`: a new session and cookie replace the current
/// ones, carrying a guest cart over (see `Store::sign_in`).
pub async fn sign_in(store: &Store, request: &Request, account_id: &str) -> Result<SessionId, StoreError> {
    let previous = current(store, request).await?;
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
    set_cookie(request, &cookie_for(&token, request.secure));
    remember(request, Some(LiveSession { id: id.clone(), account_id: Some(account_id.to_owned()) }));
    Ok(id)
}

/// Ends the current session (if any) and tells the browser to forget its cookie.
pub async fn sign_out(store: &Store, request: &Request) -> Result<(), StoreError> {
    if let Some(id) = current(store, request).await? {
        store.end_session(id.as_str(), now()).await?;
    }
    set_cookie(request, &expired_cookie(request.secure));
    remember(request, None);
    Ok(())
}

fn set_cookie(request: &Request, cookie: &str) {
    if let Ok(value) = http::HeaderValue::from_str(cookie) {
        request.append_header(http::header::SET_COOKIE, value);
    }
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

/// The session token in a request's cookies, if it has the shape of one we issue.
pub(crate) fn token_of(headers: &http::HeaderMap) -> Option<String> {
    headers
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
