//! The checkout page's data (server only): the priced cart, what Elements is created
//! with, and a signed-in shopper's saved cards with the CustomerSession that shows them.

use super::CheckoutView;
use crate::account::SavedMethod;
use crate::config::{PaymentElementLayout, PaymentMethodCreation};
use crate::error::AppError;
use crate::i18n::fill;
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::stripe::ids::CustomerId;
use crate::stripe::types::{
    CreateCustomerSession, CustomerSession, CustomerSessionComponents, PaymentElementComponent, PaymentElementFeatures, Shipping,
};

/// The checkout page's data, from its visitor as read for the page (the saved cards of
/// a signed-in shopper come from Stripe).
pub async fn view(state: &AppState, request: &Request, visit: &session::Visit) -> Result<CheckoutView, AppError> {
    let cart = crate::cart::priced(state, request.locale, &visit.cart)?;
    let layout = match state.config.store.payment_element_layout {
        PaymentElementLayout::Accordion => "accordion",
        PaymentElementLayout::Tabs => "tabs",
    };
    let settings = &state.config.store;
    let account = visit.account.clone();
    // A subscription: Stripe bills the renewals with the card that pays the first
    // invoice (so no setup_future_usage or manual capture of the shop's), and it is
    // always confirmed with a ConfirmationToken.
    let subscribing = cart.subscription().is_some_and(|line| line.recurring.is_some());
    let signed_in = account.is_some();
    let manual = settings.payment_method_creation == PaymentMethodCreation::Manual && !subscribing;
    let setup_future_usage = settings.setup_future_usage_for(account.is_some()).filter(|_| !subscribing).map(str::to_owned);
    let email = match &account {
        Some(account) => Some(account.email.clone()),
        None => visit.email.clone(),
    };
    // A subscription the shopper has already (or whose first payment is on its way) is
    // not bought twice: the page sends them to their account, with no form (nor saved
    // cards) to show.
    let cannot_subscribe = match (&account, cart.subscription()) {
        (Some(account), Some(line)) => crate::subscriptions::cannot_subscribe(state, request, &account.id, line).await,
        _ => None,
    };
    // The rest of what a signed-in checkout reads, in one read.
    let trial = crate::subscriptions::trial_offered(state, &cart);
    let account_reads = match &account {
        Some(account) if !cart.lines.is_empty() => {
            match state.store.account_for_checkout(&account.id, trial.map(|(product, _)| product)).await {
                Ok(reads) => Some(reads),
                Err(error) => {
                    // A convenience (the address filled in) and a precaution (saved cards
                    // not removable) are lost; checkout goes on.
                    tracing::warn!(?error, account = %account.id, "the account's checkout reads failed");
                    None
                }
            }
        }
        _ => None,
    };
    // A guest is shown what a new subscriber gets (signing in shows what their account does).
    let first_subscription = account.is_none() || account_reads.as_ref().is_some_and(|reads| !reads.subscribed_before);
    let (customer_session_client_secret, saved_methods) = match &account {
        Some(account) if settings.saved_methods.enabled && !manual && !cart.lines.is_empty() && cannot_subscribe.is_none() => {
            // Elements cannot tell the card a subscription renews with from the others:
            // none is removable there while one does (nor when that could not be read).
            let removable = account_reads.as_ref().is_some_and(|reads| !reads.a_card_pays_renewals);
            let session = visit.session.as_ref().map(session::SessionId::as_str);
            match saved_methods_session(state, request, session, account, removable).await {
                Ok((secret, saved)) => (Some(secret), saved),
                Err(error) => {
                    // Saved cards are a convenience: checkout goes on without them.
                    tracing::warn!(account = %account.id, ?error, "no CustomerSession: checkout proceeds without saved payment methods");
                    (None, Vec::new())
                }
            }
        }
        _ => (None, Vec::new()),
    };
    let recorded_shipping = match &account {
        _ if cart.lines.is_empty() => None,
        Some(_) => account_reads.and_then(|reads| reads.last_shipping),
        None => visit.shipping.clone(),
    };
    let shipping_defaults = recorded_shipping.as_deref().and_then(address_defaults);
    let needs_account = subscribing && !signed_in;
    // An account's first subscription to a product with a trial: nothing is charged today.
    let trial_days = trial.filter(|_| first_subscription).map(|(_, days)| days);
    let cart = match trial_days {
        Some(days) => crate::cart::with_trial(cart, days, request.locale),
        None => cart,
    };
    let subscription_terms = subscription_terms(&cart, trial_days, request);
    Ok(CheckoutView {
        cart,
        publishable_key: state.payments.publishable_key.clone(),
        layout: layout.into(),
        return_url: format!("{}/checkout/complete", state.public_url),
        customer_session_client_secret,
        saved_methods,
        require_cvc_recollection: settings.saved_methods.require_cvc_recollection,
        manual_payment_method_creation: manual,
        capture_method: settings.capture_method_param().filter(|_| !subscribing).map(str::to_owned),
        setup_future_usage,
        payment_method_types: settings.payment_method_types.clone(),
        email,
        subscription_terms,
        needs_account,
        cannot_subscribe,
        shipping_defaults,
    })
}

/// What the shopper agrees to by subscribing with `cart` (a subscription's), its first
/// `trial_days` free or not, in their words: what is charged, when, and that the card
/// is kept for the renewals.
fn subscription_terms(cart: &crate::cart::Cart, trial_days: Option<u32>, request: &Request) -> Option<String> {
    let line = cart.subscription()?;
    let recurring = line.recurring?;
    let (locale, t) = (request.locale, request.texts());
    let price = crate::catalog::price_label(line.line_total, Some(recurring), locale);
    let period = recurring.period(locale);
    Some(match trial_days {
        Some(days) => fill(t.subscription_terms_trial(), &[&line.quantity, &line.name, &days, &price, &period]),
        None => fill(t.subscription_terms(), &[&line.quantity, &line.name, &price, &period]),
    })
}

/// The Address Element's `defaultValues` from a recorded shipping address (a signed-in
/// shopper's latest order's, or where a guest's session last shipped to): name and
/// address, as JSON. A convenience: none when it cannot be read.
fn address_defaults(recorded: &str) -> Option<String> {
    let shipping = serde_json::from_str::<Shipping>(recorded).ok()?;
    // Only what `defaultValues` takes: the phone is not asked for on this form.
    serde_json::to_string(&Shipping { phone: None, ..shipping }).ok()
}

/// A CustomerSession for the Payment Element (save, redisplay and, if `removable`,
/// remove enabled) and the cards it will show, so the page can say which one is being
/// charged. Remove is off while one of the account's subscriptions will charge a
/// renewal to a card: Elements would detach it unasked (Stripe's documentation warns
/// of it), and the account page, which says which card that is, removes the others.
/// Refused past the saved cards' rate limit (each view asks Stripe).
async fn saved_methods_session(
    state: &AppState,
    request: &Request,
    session: Option<&str>,
    account: &crate::store::AccountRecord,
    removable: bool,
) -> Result<(String, Vec<SavedMethod>), AppError> {
    let limit = crate::rate_limit::take(state, request, crate::rate_limit::SAVED_CARDS, session);
    if let Some(retry_after_secs) = limit.await? {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let locale = request.locale;
    let customer = crate::account::customer_of(state, account, locale).await?;
    let customer_session = |customer| customer_session(state, customer, removable);
    let (session, customer) = match customer_session(&customer).await {
        // Deleted at Stripe, unbeknown to the shop: the account gets a new Customer now.
        Err(error) if crate::account::forget_if_gone(state, customer.as_str(), &error).await => {
            let renewed = crate::store::AccountRecord {
                stripe_customer_id: None,
                deleted_stripe_customer_id: Some(customer.to_string()),
                ..account.clone()
            };
            let customer = crate::account::customer_of(state, &renewed, locale).await?;
            (customer_session(&customer).await?, customer)
        }
        session => (session?, customer),
    };
    let saved = crate::account::list_saved(state, &customer).await?;
    Ok((session.client_secret, saved))
}

/// A CustomerSession of `customer` for the Payment Element; `removable`: the shopper
/// may remove saved cards in it.
async fn customer_session(state: &AppState, customer: &CustomerId, removable: bool) -> Result<CustomerSession, crate::stripe::Error> {
    let settings = &state.config.store.saved_methods;
    let features = PaymentElementFeatures {
        payment_method_save: "enabled",
        payment_method_redisplay: "enabled",
        payment_method_remove: if removable { "enabled" } else { "disabled" },
        // None when the store sets setup_future_usage (Stripe refuses both).
        payment_method_save_usage: settings.save_usage.as_deref(),
        payment_method_redisplay_limit: Some(settings.redisplay_limit),
    };
    state
        .payments
        .stripe
        .create_customer_session(&CreateCustomerSession {
            customer,
            components: CustomerSessionComponents { payment_element: PaymentElementComponent { enabled: true, features } },
        })
        .await
}
