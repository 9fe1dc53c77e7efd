//! Limits on how often one shopper (session) and one client address may do the things
//! attackers repeat: confirming payments (card testing: trying stolen card numbers one
//! after another), trying discount codes (guessing them), signing in (guessing
//! passwords), and anything else that makes the shop call Stripe on a shopper's behalf.
//! Counted in the database,
//! so every instance shares them. Refused: 429 with `Retry-After`, nothing done.

use crate::error::AppError;
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::store::Limit;
use std::net::IpAddr;

/// One action attackers repeat, by its name in the counts, and how often one session
/// and one client address may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub per_session: Limit,
    pub per_address: Limit,
}

/// An action counted over ten minutes.
const fn per_ten_minutes(name: &'static str, per_session: i64, per_address: i64) -> Action {
    Action { name, per_session: Limit { max: per_session, window_secs: 600 }, per_address: Limit { max: per_address, window_secs: 600 } }
}

/// Payment confirmations.
pub const CONFIRM: Action = per_ten_minutes("confirm", 20, 100);
/// Discount codes tried.
pub const DISCOUNT: Action = per_ten_minutes("discount", 20, 100);
/// Cards added (SetupIntents confirmed): saving a card checks it with the bank, which
/// is another way to test stolen card numbers.
pub const CARD_SETUP: Action = per_ten_minutes("card_setup", 10, 50);
/// Changes to subscriptions (cancel, keep, quantity, paying an overdue renewal): each is
/// a call or two to Stripe, whose own rate limit the whole shop shares.
pub const SUBSCRIPTION_CHANGE: Action = per_ten_minutes("subscription_change", 20, 100);
/// Payments' outcomes looked up by their client secret, from a browser that did not
/// make them (`/checkout/complete` after a redirect): each is a call to Stripe.
pub const PAYMENT_LOOKUP: Action = per_ten_minutes("payment_lookup", 20, 100);
/// Receipts and invoices looked up (`/orders/{id}/receipt`, `/orders/{id}/invoice`),
/// together: each is a call to Stripe.
pub const DOCUMENT: Action = per_ten_minutes("document", 20, 100);
/// Saved cards read from Stripe for a page (the checkout's CustomerSession and list,
/// the account page's list, `account/payment-methods`): one or two calls to Stripe a
/// view, whose rate limit the whole shop shares, and a script reloading a page would
/// spend it. Past it, the checkout shows no saved cards (it works without them) and the
/// account page says when to look again.
pub const SAVED_CARDS: Action = per_ten_minutes("saved_cards", 60, 600);
/// Accounts created per client address in an hour (each new account is a fresh
/// session and a fresh Customer, which would dodge the limits above).
pub const SIGN_UP: Action =
    Action { name: "sign_up", per_session: Limit { max: 10, window_secs: 3600 }, per_address: Limit { max: 10, window_secs: 3600 } };
/// Sign-ins per account, and per client address (a shared address, an office or a
/// proxy, has more room), in a quarter of an hour, counted until the password proves
/// right: only failures are left counted (`account::service::sign_in`).
pub const SIGN_IN_FAILURES_PER_ACCOUNT: Limit = Limit { max: 5, window_secs: 900 };
pub const SIGN_IN_FAILURES_PER_ADDRESS: Limit = Limit { max: 20, window_secs: 900 };

/// Counts one `action` for this session (when there is one) and this client's address,
/// or refuses it.
pub async fn check(state: &AppState, request: &Request, action: Action, session: Option<&str>) -> Result<(), AppError> {
    match take(state, request, action, session).await? {
        None => Ok(()),
        Some(retry_after) => Err(refused(request, retry_after)),
    }
}

/// Counts one `action` as [`check`] does; when it is refused, how many seconds until
/// it would not be, with nothing said to the client (for a page that goes on without).
pub async fn take(state: &AppState, request: &Request, action: Action, session: Option<&str>) -> Result<Option<u64>, AppError> {
    let mut scopes = vec![(format!("{}:ip:{}", action.name, address_of(request.client_address)), action.per_address)];
    if let Some(session) = session {
        scopes.push((format!("{}:session:{session}", action.name), action.per_session));
    }
    let refused = state.store.take_rate_slot(&scopes, None, session::now()).await?;
    if refused.is_some() {
        tracing::warn!(action = action.name, "refused: rate limit reached");
    }
    Ok(refused.map(|retry_after| u64::try_from(retry_after).unwrap_or(1)))
}

/// The client's address as the limits count it. An IPv6 client is its /64: that is what
/// one subscriber, or one server, is given, and counted address by address it would
/// have 2^64 fresh ones to try from. An IPv4 address reached over IPv6 counts as itself.
pub fn address_of(client: Option<IpAddr>) -> String {
    match client {
        None => "unknown".to_owned(),
        Some(IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Some(ip) => ip.to_canonical().to_string(),
    }
}

/// [`check`] for the request's own session (its cookie's, if it names a live one).
pub async fn check_current(state: &AppState, request: &Request, action: Action) -> Result<(), AppError> {
    let session = session::current(&state.store, &request.session).await?;
    check(state, request, action, session.as_ref().map(session::SessionId::as_str)).await
}

/// A 429 for `request`, with `Retry-After`.
pub fn refused(request: &Request, retry_after_secs: u64) -> AppError {
    request.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(retry_after_secs));
    AppError::RateLimited { retry_after_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_as_its_64_and_an_ipv4_one_as_itself() {
        let address = |text: &str| address_of(Some(text.parse().unwrap()));
        assert_eq!(address("2001:db8:1:2:aaaa::1"), address("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(address("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address("192.0.2.7"), "192.0.2.7");
        assert_ne!(address("192.0.2.7"), address("192.0.2.8"));
        assert_eq!(address_of(None), "unknown");
    }
}
