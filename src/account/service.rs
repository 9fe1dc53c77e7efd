//! Accounts on the server: sign-up, sign-in (rate-limited), sign-out, the lazily
//! created Stripe Customer, saved payment methods and adding a card.

use super::{AccountOrder, AccountSummary, CardSetupView, SavedMethod, SetupReply, password};
use crate::error::AppError;
use crate::i18n::{Locale, fill};
use crate::money::{Currency, Money};
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::store::AccountRecord;
use crate::stripe::ids::{ConfirmationTokenId, CustomerId, PaymentMethodId, SetupIntentId};
use crate::stripe::types::{AutomaticPaymentMethods, CreateAndConfirmSetupIntent, CreateCustomer, SetupIntentStatus};
use crate::subscriptions::AccountSubscription;

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 128;

/// How many orders the account page lists at a time.
const ORDERS_PAGE: usize = 20;

/// The signed-in shopper's account and a page of their orders (the latest, or those
/// older than the order `orders_after` names, as `{created_at}.{id}`: a cursor, so a
/// page holds the same orders however many are placed meanwhile); `None` for a guest. A
/// cursor that does not read is the latest page.
pub async fn summary(
    state: &AppState,
    locale: Locale,
    account: Option<AccountRecord>,
    orders_after: Option<&str>,
) -> Result<Option<AccountSummary>, AppError> {
    let Some(account) = account else { return Ok(None) };
    let after = orders_after.and_then(|cursor| {
        let (at, id) = cursor.split_once('.')?;
        Some((at.parse::<i64>().ok()?, id.to_owned()))
    });
    let older_page = after.is_some();
    let (mut orders, subscriptions) = state.store.account_history(&account.id, ORDERS_PAGE as i64 + 1, after).await?;
    let older_orders = (orders.len() > ORDERS_PAGE).then(|| {
        orders.truncate(ORDERS_PAGE);
        orders.last().map(|last| format!("{}.{}", last.created_at, last.id))
    });
    let orders = orders
        .into_iter()
        .filter_map(|order| {
            let currency = Currency::parse(&order.currency).ok()?;
            Some(AccountOrder {
                status: order.shown_status().to_owned(),
                id: order.id,
                total: Money::new(order.amount, currency),
                placed_at: order.created_at,
            })
        })
        .collect();
    let subscriptions = subscriptions
        .into_iter()
        .filter_map(|record| {
            let terms = &record.terms;
            let currency = Currency::parse(&terms.currency).ok()?;
            let recurring = crate::catalog::Recurring {
                interval: crate::catalog::Interval::parse(&terms.interval)?,
                count: u32::try_from(terms.interval_count).ok()?,
            };
            let total = crate::subscriptions::period_total(terms.unit_amount, terms.quantity, currency);
            let renews = record.state.renews();
            let next_payment_attempt = record.state.next_retry(crate::session::now());
            Some(AccountSubscription {
                price: crate::catalog::price_label(total, Some(recurring), locale),
                name: terms.name.clone(),
                quantity: terms.quantity,
                id: record.id,
                pay_attempt: crate::subscriptions::awaits_payment(&record.state.status).then(|| crate::session::random_id("overdue")),
                status: record.state.status,
                cancellation_reason: record.state.cancellation_reason,
                period_end: record.state.current_period_end,
                cancel_at_period_end: record.state.cancel_at_period_end,
                ends_on: record.state.cancel_at.or(record.state.current_period_end.filter(|_| record.state.cancel_at_period_end)),
                payments_paused: record.state.collection_paused,
                payments_resume_on: record.state.collection_resumes_at,
                renews,
                next_payment_attempt,
                renewal_card: record.state.renewal_card,
            })
        })
        .collect();
    Ok(Some(AccountSummary { email: account.email, orders, subscriptions, older_orders: older_orders.flatten(), older_page }))
}

/// The account the request's session is signed in to.
pub async fn current_account(state: &AppState, request: &Request) -> Result<Option<AccountRecord>, AppError> {
    if let Some(account) = session::known_account(&request.session) {
        return Ok(Some(account));
    }
    // A guest's session names no account: no second lookup.
    match session::current_with_account(&state.store, &request.session).await? {
        Some((session, Some(_))) => state.store.account_of_session(session.as_str()).await.map_err(AppError::from),
        _ => Ok(None),
    }
}

pub async fn sign_up(state: &AppState, request: &Request, email: &str, password: &str) -> Result<(), AppError> {
    let t = request.texts();
    let (email, key) = checked_email(email).ok_or_else(|| AppError::invalid(t.email_format()))?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(fill(t.password_too_short(), &[&MIN_PASSWORD_CHARS])));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(fill(t.password_too_long(), &[&MAX_PASSWORD_CHARS])));
    }
    crate::rate_limit::check(state, request, crate::rate_limit::SIGN_UP, None).await?;
    let hash = password::hash(password.to_owned()).await.map_err(hashing_failed)?;
    let id = session::random_id("acct");
    if !state.store.create_account(&id, email, &key, &hash, session::now()).await? {
        return Err(AppError::invalid(t.account_exists()));
    }
    tracing::info!(account = %id, "account created");
    session::sign_in(&state.store, &request.session, &id).await?;
    vouch_for_this_browser(state, request, &key);
    Ok(())
}

pub async fn sign_in(state: &AppState, request: &Request, email: &str, password: &str) -> Result<(), AppError> {
    // As typed, but with control characters (which no stored email has, and which
    // PostgreSQL refuses in text) made harmless: such an email simply matches no account.
    let key: String = email.trim().to_lowercase().chars().take(254).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    use crate::rate_limit::{SIGN_IN_FAILURES_PER_ACCOUNT, SIGN_IN_FAILURES_PER_ADDRESS};
    // A browser the account signed in on before has failures of its own to spend: the
    // account's are anyone's who knows the email (`DeviceCookies`).
    let vouched = state.devices.vouched(request.cookie(super::DEVICE_COOKIE).as_deref(), &key);
    let scopes = match &vouched {
        Some(browser) => vec![(format!("sign_in:device:{browser}"), SIGN_IN_FAILURES_PER_ACCOUNT)],
        None => {
            let address = crate::rate_limit::address_of(request.client_address);
            vec![
                (format!("sign_in:email:{key}"), SIGN_IN_FAILURES_PER_ACCOUNT),
                (format!("sign_in:ip:{address}"), SIGN_IN_FAILURES_PER_ADDRESS),
            ]
        }
    };
    // Counted as failed until the password proves right.
    let attempt = session::random_id("signin");
    if let Some(retry_after) = state.store.take_rate_slot(&scopes, Some(&attempt), session::now()).await? {
        tracing::warn!("sign-in refused: too many failures");
        return Err(crate::rate_limit::refused(request, u64::try_from(retry_after).unwrap_or(1)));
    }
    let account = state.store.account_by_email(&key).await?;
    let stored = account.as_ref().map(|account| account.password_hash.clone());
    let matched = password::check(password.to_owned(), stored).await.map_err(hashing_failed)?;
    let Some(account) = account.filter(|_| matched) else {
        return Err(AppError::invalid(request.texts().wrong_credentials()));
    };
    // Whoever proved to be the shopper has their failures forgotten: the vouched
    // browser's own, or else the account's. Strangers' failures on the account outlast a
    // sign-in on the shopper's own browser.
    state.store.forgive(&attempt, &scopes[0].0).await?;
    session::sign_in(&state.store, &request.session, &account.id).await?;
    vouch_for_this_browser(state, request, &key);
    tracing::info!(account = %account.id, "signed in");
    Ok(())
}

/// Gives the browser a new device cookie for the account of `email_key` (another year).
fn vouch_for_this_browser(state: &AppState, request: &Request, email_key: &str) {
    if let Ok(cookie) = http::HeaderValue::from_str(&state.devices.issue(email_key, request.secure)) {
        request.append_header(http::header::SET_COOKIE, cookie);
    }
}

/// The cookie that brings the email of a refused sign-in or sign-up back to the account
/// page's forms, so that the shopper does not type it again. The forms are plain HTML:
/// a refusal loads the page again, and an email in its address would end up in history
/// and access logs.
const TYPED_EMAIL_COOKIE: &str = "sf_typed_email";

/// Keeps the email of a refused sign-in or sign-up for the account page (five minutes,
/// or until the page shows it).
pub fn keep_typed_email(request: &Request, email: &str) {
    use base64::Engine;
    let email: String = email.trim().chars().take(254).collect();
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(email);
    typed_email_cookie(request, value, cookie::time::Duration::minutes(5));
}

/// The email a refused sign-in or sign-up kept, told to the browser to forget.
pub fn typed_email(request: &Request) -> Option<String> {
    use base64::Engine;
    let value = request.cookie(TYPED_EMAIL_COOKIE)?;
    typed_email_cookie(request, String::new(), cookie::time::Duration::ZERO);
    let email = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
    Some(email).filter(|email| !email.is_empty() && email.chars().count() <= 254)
}

fn typed_email_cookie(request: &Request, value: String, max_age: cookie::time::Duration) {
    let cookie = cookie::Cookie::build((TYPED_EMAIL_COOKIE, value))
        .path("/account")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(request.secure)
        .max_age(max_age);
    if let Ok(cookie) = http::HeaderValue::from_str(&cookie.build().to_string()) {
        request.append_header(http::header::SET_COOKIE, cookie);
    }
}

pub async fn sign_out(state: &AppState, request: &Request) -> Result<(), AppError> {
    session::sign_out(&state.store, &request.session).await.map_err(AppError::from)
}

/// The account's Stripe Customer, created the first time it is needed, preferring the
/// language the shopper is using (`locale`): Stripe writes the receipts, invoices and
/// pages it sends them in it.
///
/// - **Made.** The idempotency key names the account and the language, so two first
///   requests racing in one language get one Customer (in two languages, two: the
///   account keeps the first stored, and neither request fails, as it would if one key
///   carried two sets of parameters). After Stripe deleted the account's Customer
///   (`customer.deleted`), the key names the deleted one too, or Stripe would replay it.
/// - **Kept in step.** When the shopper uses another language than Stripe was last told,
///   the Customer is updated first. A convenience: if Stripe does not take it, the
///   payment goes on, and the shop tells it again the next time. If Stripe answers that
///   the Customer is gone, the account gets a new one now.
pub async fn customer_of(state: &AppState, account: &AccountRecord, locale: crate::i18n::Locale) -> Result<CustomerId, AppError> {
    let deleted = match account.stripe_customer_id.as_deref().and_then(|id| CustomerId::parse(id).ok()) {
        None => account.deleted_stripe_customer_id.clone(),
        Some(id) if account.stripe_customer_locale.as_deref() == Some(locale.tag()) => return Ok(id),
        Some(id) => match state.payments.stripe.set_preferred_locale(&id, locale.tag()).await {
            Ok(_) => {
                if let Err(failure) = state.store.set_stripe_customer_locale(&account.id, id.as_str(), locale.tag()).await {
                    tracing::warn!(?failure, customer = %id, "could not record the Customer's new language");
                }
                tracing::info!(customer = %id, locale = locale.tag(), "Stripe Customer's language changed");
                return Ok(id);
            }
            Err(error) if forget_if_gone(state, id.as_str(), &error).await => Some(id.to_string()),
            Err(error) => {
                tracing::warn!(%error, customer = %id, "Stripe did not take the Customer's new language: told again next time");
                return Ok(id);
            }
        },
    };
    let key = match &deleted {
        None => format!("customer-{}-{}", account.id, locale.tag()),
        Some(deleted) => format!("customer-{}-after-{deleted}-{}", account.id, locale.tag()),
    };
    // (An account made before sign-up checked addresses as `mail::address` does may hold
    // one Stripe refuses: its Customer is then made without it.)
    let params = CreateCustomer {
        email: crate::mail::address(&account.email),
        preferred_locales: [locale.tag()],
        metadata: [("account_id", account.id.as_str())].into_iter().collect(),
    };
    let customer = state.payments.stripe.create_customer(&params, &key).await?;
    let stored = state.store.set_stripe_customer(&account.id, customer.id.as_str(), locale.tag()).await?;
    tracing::info!(account = %account.id, customer = %stored, "Stripe Customer created");
    CustomerId::parse(&stored).map_err(|_| AppError::Internal)
}

/// Whether `error` is Stripe saying that `customer`, an account's, is gone (deleted in
/// the Dashboard, and the `customer.deleted` webhook missed, as when no webhook reaches a
/// developer's machine). The account then forgets it, as that webhook would: it gets a
/// new Customer the next time it needs one.
pub async fn forget_if_gone(state: &AppState, customer: &str, error: &crate::stripe::Error) -> bool {
    error.is_missing_customer() && forget_customer(state, customer).await
}

/// The account forgets `customer`, which Stripe no longer has; whether it did.
pub async fn forget_customer(state: &AppState, customer: &str) -> bool {
    match state.store.forget_stripe_customer(customer).await {
        Ok(_) => {
            tracing::warn!(customer, "Stripe has no such Customer any more (deleted, its webhook missed): its account gets a new one");
            true
        }
        Err(failure) => {
            tracing::error!(?failure, customer, "could not forget a Customer that Stripe no longer has");
            false
        }
    }
}

/// The signed-in shopper's saved cards, newest first (as Stripe lists them).
pub async fn saved_methods(state: &AppState, request: &Request) -> Result<Vec<SavedMethod>, AppError> {
    let account = signed_in(state, request).await?;
    let Some(customer) = account.stripe_customer_id.as_deref().and_then(|id| CustomerId::parse(id).ok()) else {
        return Ok(Vec::new());
    };
    crate::rate_limit::check_current(state, request, crate::rate_limit::SAVED_CARDS).await?;
    match list_saved(state, &customer).await {
        Ok(saved) => Ok(saved),
        // The request names only the Customer: deleted at Stripe, unbeknown to the shop.
        // Its cards went with it; the account gets a new one when it next needs one.
        Err(error) if error.is_missing_object() && forget_customer(state, customer.as_str()).await => Ok(Vec::new()),
        Err(error) => Err(AppError::from(error)),
    }
}

/// A customer's saved cards as the pages show them.
pub async fn list_saved(state: &AppState, customer: &CustomerId) -> Result<Vec<SavedMethod>, crate::stripe::Error> {
    let list = state.payments.stripe.list_customer_payment_methods(customer).await?;
    Ok(list
        .data
        .into_iter()
        .filter_map(|method| {
            let card = method.card?;
            Some(SavedMethod {
                id: method.id.to_string(),
                brand: card.brand.unwrap_or_default(),
                last4: card.last4.unwrap_or_default(),
                exp_month: card.exp_month.unwrap_or_default(),
                exp_year: card.exp_year.unwrap_or_default(),
            })
        })
        .collect())
}

/// Detaches one of the shopper's own saved cards.
pub async fn remove_method(state: &AppState, request: &Request, id: &str) -> Result<(), AppError> {
    let not_found = || AppError::NotFound(request.texts().no_such_card().into());
    let account = signed_in(state, request).await?;
    let id = PaymentMethodId::parse(id).map_err(|_| not_found())?;
    let customer = account.stripe_customer_id.as_deref().ok_or_else(not_found)?;
    let method = match state.payments.stripe.retrieve_payment_method(&id).await {
        Ok(method) => method,
        Err(crate::stripe::Error::Api(api)) if api.status == 404 => return Err(not_found()),
        Err(error) => return Err(AppError::from(error)),
    };
    if method.customer.as_ref().map(CustomerId::as_str) != Some(customer) {
        tracing::warn!(account = %account.id, method = %id, "refused to remove a payment method of another customer");
        return Err(not_found());
    }
    // The card a subscription's next renewal is charged to stays until another takes
    // its place: removed, that renewal would fail.
    let live = state.store.live_subscriptions_with_a_card(&account.id).await?;
    let renewing = |s: &&crate::store::SubscriptionRecord| s.state.renews() && s.state.renewal_card.as_deref() == Some(id.as_str());
    if let Some(subscription) = live.iter().find(renewing) {
        return Err(AppError::invalid(crate::i18n::fill(request.texts().card_pays_renewals(), &[&subscription.terms.name])));
    }
    match state.payments.stripe.detach_payment_method(&id).await {
        Ok(_) => {}
        // Hers a moment ago, and no longer attached: the same form sent twice, or
        // another tab, got there first. Removed, as she asked.
        Err(crate::stripe::Error::Api(api))
            if api.status == 400
                && state.payments.stripe.retrieve_payment_method(&id).await.is_ok_and(|method| method.customer.is_none()) =>
        {
            tracing::info!(account = %account.id, method = %id, "saved card removed meanwhile");
        }
        Err(error) => return Err(AppError::from(error)),
    }
    tracing::info!(account = %account.id, method = %id, "saved card removed");
    Ok(())
}

pub async fn card_setup(state: &AppState, request: &Request) -> Result<CardSetupView, AppError> {
    signed_in(state, request).await?;
    Ok(CardSetupView {
        publishable_key: state.payments.publishable_key.clone(),
        currency: state.config.store.currency.to_string(),
        return_url: format!("{}/account", state.public_url),
    })
}

/// Creates and confirms a SetupIntent for the shopper's Customer. The idempotency key
/// is the token's: the token is single-use, so a retried request replays the same
/// SetupIntent instead of making another.
pub async fn confirm_setup(state: &AppState, request: &Request, token: &ConfirmationTokenId) -> Result<SetupReply, AppError> {
    let t = request.texts();
    let account = signed_in(state, request).await?;
    crate::rate_limit::check_current(state, request, crate::rate_limit::CARD_SETUP).await?;
    let customer = customer_of(state, &account, request.locale).await?;
    let return_url = format!("{}/account", state.public_url);
    let params = CreateAndConfirmSetupIntent {
        confirm: true,
        confirmation_token: token,
        customer: &customer,
        automatic_payment_methods: AutomaticPaymentMethods { enabled: true },
        return_url: &return_url,
        usage: Some(state.config.store.card_setup_usage()),
    };
    let intent = match state.payments.stripe.create_and_confirm_setup_intent(&params, &format!("setup-{token}")).await {
        Ok(intent) => intent,
        Err(error) => {
            if let Some(card) = error.card_error() {
                return Err(AppError::Declined {
                    message: request.locale.decline(card.decline_code.as_deref(), card.code.as_deref(), &card.message),
                    decline_code: card.decline_code.clone(),
                });
            }
            // Perhaps saved, the reply lost: the page asks again with the same token,
            // whose key makes Stripe answer what it did (and save the card once).
            if error.outcome_unknown() {
                tracing::warn!(%error, "no usable answer to a card setup; the page asks again");
                return Err(AppError::PaymentUnknown { order_id: String::new() });
            }
            if forget_if_gone(state, customer.as_str(), &error).await {
                return Err(AppError::invalid(t.customer_renewed()));
            }
            if let crate::stripe::Error::Api(api) = &error
                && api.status == 400
            {
                tracing::warn!(code = ?api.code, message = %api.message, "Stripe refused the SetupIntent");
                return Err(AppError::invalid(t.card_details_expired()));
            }
            return Err(AppError::from(error));
        }
    };
    let status = match intent.status {
        SetupIntentStatus::Succeeded => "succeeded",
        SetupIntentStatus::Processing => "processing",
        SetupIntentStatus::RequiresAction => "requires_action",
        SetupIntentStatus::RequiresPaymentMethod => {
            return Err(AppError::Declined { message: t.card_not_saved().into(), decline_code: None });
        }
        ref other => {
            tracing::error!(status = ?other, intent = %intent.id, "unexpected SetupIntent status");
            return Err(AppError::Internal);
        }
    };
    tracing::info!(account = %account.id, intent = %intent.id, status, "card setup confirmed");
    Ok(SetupReply { status: status.into(), client_secret: intent.client_secret.unwrap_or_default() })
}

/// What became of a card setup that came back from a redirect, as Stripe says it (the
/// `setup_intent` that Stripe adds to `return_url`, not its `redirect_status`, which
/// anyone can type): the message for the add-card form, `Ok` for its result line and
/// `Err` for its error line. Nothing for a SetupIntent that is not this account's.
pub async fn setup_return(state: &AppState, request: &Request, setup_intent: &str) -> Option<Result<String, String>> {
    let t = request.texts();
    let id = SetupIntentId::parse(setup_intent.trim()).ok()?;
    let customer = signed_in(state, request).await.ok()?.stripe_customer_id?;
    let looked_up = async {
        crate::rate_limit::check_current(state, request, crate::rate_limit::PAYMENT_LOOKUP).await?;
        match state.payments.stripe.retrieve_setup_intent(&id).await {
            Ok(intent) => Ok(Some(intent)),
            Err(crate::stripe::Error::Api(api)) if api.status == 404 => Ok(None),
            Err(error) => Err(AppError::from(error)),
        }
    };
    let intent = match looked_up.await {
        Ok(intent) => intent?,
        Err(error) => return Some(Err(error.message(request.locale))),
    };
    if intent.customer.as_deref() != Some(customer.as_str()) {
        tracing::warn!(intent = %id, "a card setup's outcome was asked for by another account");
        return None;
    }
    match intent.status {
        SetupIntentStatus::Succeeded => Some(Ok(t.card_saved().into())),
        SetupIntentStatus::Processing => Some(Ok(t.card_being_checked().into())),
        SetupIntentStatus::RequiresPaymentMethod => Some(Err(t.card_not_saved().into())),
        _ => None,
    }
}

async fn signed_in(state: &AppState, request: &Request) -> Result<AccountRecord, AppError> {
    current_account(state, request).await?.ok_or_else(|| AppError::NotFound(request.texts().sign_in_for_cards().into()))
}

/// Trimmed email and its lookup key (lowercased); `None` when it is not an address the
/// shop's emails and Stripe's Customer can take (`mail::address`).
fn checked_email(email: &str) -> Option<(&str, String)> {
    crate::mail::address(email).map(|email| (email, email.to_lowercase()))
}

fn hashing_failed(error: password::HashingError) -> AppError {
    tracing::error!(%error, "a password could not be hashed or checked");
    AppError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_lowercased() {
        let (email, key) = checked_email("  Jenny.Rosen@Example.com ").unwrap();
        assert_eq!((email, key.as_str()), ("Jenny.Rosen@Example.com", "jenny.rosen@example.com"));
        for bad in ["", "jenny", "@example.com", "jenny@", "jenny@example", "jen ny@example.com", "a@b@c.com", "jenny@.com"] {
            assert!(checked_email(bad).is_none(), "{bad:?} was accepted");
        }
    }
}
