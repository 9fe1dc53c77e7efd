//! Subscribing, on the server: create the Subscription (`default_incomplete`, the price
//! from the catalog, a free trial for a new subscriber) and confirm its first invoice's
//! PaymentIntent with the shopper's ConfirmationToken. What Stripe says of it afterwards
//! is kept by [`super::sync`]; what the subscriber changes later is in
//! [`super::changes`].

use super::sync::{item_of, now_ms, refresh, state_of};
use crate::account::{current_account, customer_of};
use crate::cart::{Cart, CartLine};
use crate::checkout::{PaymentReply, PaymentResult, PaymentStatus};
use crate::error::AppError;
use crate::i18n::Locale;
use crate::request::Request;
use crate::session::{self, SessionId};
use crate::state::AppState;
use crate::store::{AccountRecord, NewSubscription, SubscriptionRecord, SubscriptionTerms};
use crate::stripe::ids::{ConfirmationTokenId, PaymentIntentId, PaymentMethodId, SetupIntentId, SubscriptionId};
use crate::stripe::types::{
    ConfirmPaymentIntent, ConfirmSetupIntent, CreateProduct, CreateSubscription, Expandable, PaymentIntent, PaymentIntentStatus, PriceData,
    RecurringParams, SetupIntent, SetupIntentStatus, SubscriptionItemParams, SubscriptionPaymentSettings,
};

/// Pays for the cart's subscription with `token`: creates the Subscription (or, after a
/// declined first payment, takes up the one still waiting for it) and confirms its
/// first invoice's PaymentIntent. Both requests are keyed by the token, so a double
/// submit or a retried request subscribes once. An account that already subscribes to
/// the product is refused: it changes that subscription's quantity instead.
///
/// The caller (`checkout::confirm`) has counted the confirmation against the rate limits
/// and read `session`'s `cart`.
#[tracing::instrument(name = "subscribe", skip_all, fields(token = %token), err(level = "info", Debug))]
pub async fn subscribe(
    state: &AppState,
    request: &Request,
    session: &SessionId,
    token: &ConfirmationTokenId,
    cart: &Cart,
    email: Option<String>,
) -> Result<PaymentReply, AppError> {
    let t = request.texts();
    let account = current_account(state, request).await?.ok_or_else(|| AppError::invalid(t.subscribe_needs_account()))?;
    // The same token again: the same confirmation (Stripe replays it under its key).
    if let Some((subscription, intent)) = state.store.subscription_attempt(token.as_str(), &account.id).await?
        && let Ok(subscription) = SubscriptionId::parse(&subscription)
    {
        if let Ok(intent) = PaymentIntentId::parse(&intent) {
            return confirm_first_payment(state, request.locale, token, &subscription, &intent).await;
        }
        if let Ok(setup) = SetupIntentId::parse(&intent) {
            return paid_by_credit(state, request, token, &subscription, Some(&setup)).await;
        }
    }
    if cart.is_mixed() {
        return Err(AppError::invalid(t.subscription_alone()));
    }
    let (line, recurring) = cart
        .subscription()
        .and_then(|line| line.recurring.map(|recurring| (line, recurring)))
        .ok_or_else(|| AppError::invalid(t.cart_empty_pay()))?;
    if let Some(reason) = cart.charge_limit.clone() {
        return Err(AppError::invalid(reason));
    }
    let product = state.catalog.find(line.product_id.as_str()).ok_or_else(|| AppError::invalid(t.not_in_catalog()))?;
    // One request at a time buys this subscription for this account: another window
    // paying meanwhile (another token) would otherwise make a second one.
    let now = session::now();
    if !state.store.claim_subscription(&account.id, product.id.as_str(), token.as_str(), now, now + claim_secs(state)).await? {
        return Err(AppError::invalid(t.subscription_in_progress()));
    }
    let subscribed = async {
        let (subscription_id, intent_id) = match earlier_subscription(state, request, &account, product.id.as_str(), line).await? {
            Some(found) => found,
            None => {
                ensure_product(state, product.id.as_str(), &product.name).await?;
                let customer = customer_of(state, &account, request.locale).await?;
                // The claim may have lapsed while the steps above waited on a slow
                // Stripe: renewed before the one request that makes a subscription,
                // unless another window took it meanwhile (then that one pays).
                let until = session::now() + claim_secs(state);
                if !state.store.renew_subscription_claim(&account.id, product.id.as_str(), token.as_str(), until).await? {
                    return Err(AppError::invalid(t.subscription_in_progress()));
                }
                let params = CreateSubscription {
                    customer: &customer,
                    items: [SubscriptionItemParams {
                        price_data: PriceData {
                            currency: line.unit_price.currency.as_str(),
                            product: product.id.as_str(),
                            unit_amount: line.unit_price.amount,
                            recurring: RecurringParams { interval: recurring.interval.as_str(), interval_count: recurring.count },
                        },
                        quantity: line.quantity,
                    }],
                    payment_behavior: "default_incomplete",
                    payment_settings: SubscriptionPaymentSettings { save_default_payment_method: "on_subscription" },
                    trial_period_days: product.trial_days.filter(|_| cart.is_trial()),
                    metadata: [("account_id", account.id.as_str()), ("product_id", product.id.as_str())].into_iter().collect(),
                    expand: ["latest_invoice.payments", "pending_setup_intent"],
                };
                let synced_at = now_ms();
                let created = match state.payments.stripe.create_subscription(&params, &format!("subscribe-{token}")).await {
                    Ok(created) => created,
                    // Deleted at Stripe, unbeknown to the shop: the next try makes a new one.
                    Err(error) if crate::account::forget_if_gone(state, customer.as_str(), &error).await => {
                        return Err(AppError::invalid(request.texts().customer_renewed()));
                    }
                    Err(error) => {
                        tracing::error!(%error, "creating a subscription failed");
                        return Err(unknown_or(error));
                    }
                };
                let Some(Expandable::Object(invoice)) = &created.latest_invoice else {
                    tracing::error!(subscription = %created.id, "a new subscription came back without its first invoice");
                    return Err(AppError::Internal);
                };
                let intent = invoice.payment_intent();
                let new = NewSubscription {
                    id: created.id.to_string(),
                    account_id: account.id.clone(),
                    session_id: session.as_str().to_owned(),
                    terms: SubscriptionTerms {
                        product_id: product.id.to_string(),
                        name: product.name.clone(),
                        quantity: i64::from(line.quantity),
                        unit_amount: line.unit_price.amount,
                        currency: line.unit_price.currency.to_string(),
                        interval: recurring.interval.as_str().to_owned(),
                        interval_count: i64::from(recurring.count),
                    },
                    first_invoice_id: invoice.id.to_string(),
                    first_payment_intent_id: intent.as_ref().map(ToString::to_string),
                    email: email.or_else(|| crate::mail::address(&account.email).map(str::to_owned)),
                    locale: request.locale.tag().to_owned(),
                    state: state_of(&created),
                };
                state.store.insert_subscription(new, synced_at, session::now()).await?;
                tracing::info!(subscription = %created.id, account = %account.id, "subscription created; confirming its first invoice");
                let Some(intent) = intent else {
                    // Nothing to charge: the customer's credit (or a coupon) paid the first
                    // invoice, and Stripe made the subscription active at once, with a
                    // SetupIntent for the card the renewals will charge.
                    let setup = match &created.pending_setup_intent {
                        Some(Expandable::Object(setup)) => Some(setup.id.clone()),
                        Some(Expandable::Id(id)) => SetupIntentId::parse(id).ok(),
                        None => None,
                    };
                    if let Some(setup) = &setup {
                        state
                            .store
                            .record_subscription_attempt(token.as_str(), created.id.as_str(), setup.as_str(), session::now())
                            .await?;
                    }
                    return paid_by_credit(state, request, token, &created.id, setup.as_ref()).await;
                };
                (created.id, intent)
            }
        };

        state.store.record_subscription_attempt(token.as_str(), subscription_id.as_str(), intent_id.as_str(), session::now()).await?;
        confirm_first_payment(state, request.locale, token, &subscription_id, &intent_id).await
    }
    .await;
    if let Err(error) = state.store.release_subscription_claim(&account.id, product.id.as_str(), token.as_str()).await {
        tracing::warn!(?error, "could not release a subscription's claim; it lapses by itself");
    }
    subscribed
}

/// The account's earlier subscription to `product`, as the cart's `line` would buy it
/// again: a live one refuses the purchase (both would bill every period; its quantity
/// is changed from the account page), one still waiting for its first payment on the
/// same terms is the one to pay (its subscription and PaymentIntent), and one waiting
/// on other terms is given up. `None`: a new subscription is to be made.
async fn earlier_subscription(
    state: &AppState,
    request: &Request,
    account: &AccountRecord,
    product: &str,
    line: &CartLine,
) -> Result<Option<(SubscriptionId, PaymentIntentId)>, AppError> {
    match open_subscription(state, &account.id, product).await? {
        Some(record) if let Some(refusal) = already_subscribed(request, &record, line) => {
            tracing::info!(subscription = %record.id, "refused a second subscription to the same product");
            Err(AppError::invalid(refusal))
        }
        Some(record) if record.terms.quantity == i64::from(line.quantity) && record.terms.unit_amount == line.unit_price.amount => {
            waiting_for_payment(state, request, &record.id, &line.name).await
        }
        Some(record) => {
            give_up(state, request, &record.id, &line.name).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The product of a subscription's cart, if it offers a free trial, and its days.
pub fn trial_offered<'a>(state: &'a AppState, cart: &Cart) -> Option<(&'a str, u32)> {
    let product = state.catalog.find(cart.subscription()?.product_id.as_str())?;
    Some((product.id.as_str(), product.trial_days?))
}

/// `cart` as the signed-in shopper would buy it: a subscription's that offers a free
/// trial has it when the account never had a subscription to the product (as the
/// checkout page showed it; its quote covers the trial).
pub async fn with_any_trial(state: &AppState, request: &Request, cart: Cart) -> Result<Cart, AppError> {
    let Some((product, days)) = trial_offered(state, &cart) else { return Ok(cart) };
    let Some(account) = current_account(state, request).await? else { return Ok(cart) };
    if state.store.subscribed_before(&account.id, product).await? {
        return Ok(cart);
    }
    Ok(crate::cart::with_trial(cart, days, request.locale))
}

/// The account's open subscription to `product` ([`crate::store::Store::open_subscription`]).
/// What the shop recorded may be late (a webhook not yet in, or missed): it is read
/// again from Stripe, which says whether one recorded live still bills, and whether one
/// recorded waiting has been paid meanwhile (its challenge finished in another tab).
async fn open_subscription(state: &AppState, account_id: &str, product: &str) -> Result<Option<SubscriptionRecord>, AppError> {
    let Some(record) = state.store.open_subscription(account_id, product).await? else { return Ok(None) };
    if let Ok(id) = SubscriptionId::parse(&record.id) {
        refresh(state, &id).await?;
    }
    Ok(state.store.open_subscription(account_id, product).await?)
}

/// Why the account cannot buy the cart's subscription `line` now, in the shopper's
/// words (for the checkout page, which then says so instead of offering a second
/// subscription): it subscribes to it already, or its first payment is on its way.
/// When that cannot be told now, nothing: paying checks again.
pub async fn cannot_subscribe(state: &AppState, request: &Request, account_id: &str, line: &CartLine) -> Option<String> {
    let t = request.texts();
    let unknown = |error: AppError| tracing::warn!(?error, "could not tell whether the shopper can subscribe; the checkout is shown");
    let open = open_subscription(state, account_id, line.product_id.as_str()).await.map_err(unknown).ok()??;
    if let Some(refusal) = already_subscribed(request, &open, line) {
        return Some(refusal);
    }
    let intent = open.first_payment_intent_id.as_deref().and_then(|id| PaymentIntentId::parse(id).ok())?;
    still_processing(state, &intent).await.map_err(unknown).ok()?.then(|| crate::i18n::fill(t.first_payment_processing(), &[&line.name]))
}

/// Why the cart's `line` cannot be bought while `open` is the account's subscription to
/// it, if that is so: it is billed each period already, or it is `unpaid` (to be resumed
/// by paying its renewal, not bought a second time) or `paused` (to be resumed by the
/// shop).
fn already_subscribed(request: &Request, open: &SubscriptionRecord, line: &CartLine) -> Option<String> {
    let t = request.texts();
    let words = match open.state.status.as_str() {
        "unpaid" => t.already_subscribed_overdue(),
        "paused" => t.already_subscribed_paused(),
        _ if open.state.is_live() => t.already_subscribed(),
        _ => return None,
    };
    Some(crate::i18n::fill(words, &[&line.name]))
}

/// Whether `intent`, the first payment of a subscription still `incomplete`, is on its
/// way (a bank debit takes days): it can then be neither confirmed again nor given up,
/// and the subscription becomes active once it clears.
async fn still_processing(state: &AppState, intent: &PaymentIntentId) -> Result<bool, AppError> {
    Ok(state.payments.stripe.retrieve_payment_intent(intent).await?.status == PaymentIntentStatus::Processing)
}

fn processing_refusal(request: &Request, name: &str) -> AppError {
    AppError::invalid(crate::i18n::fill(request.texts().first_payment_processing(), &[&name]))
}

/// How long a request holds its claim to buy a subscription (see `subscribe`) from each
/// time it takes or renews it: two minutes, or more than one request to Stripe can take
/// with its retries if that is longer (a long `STRIPE_TIMEOUT_SECS`). A request cut off
/// before its end (the server stopped, the future dropped) leaves its claim to lapse.
fn claim_secs(state: &AppState) -> i64 {
    let longest = i64::try_from(state.payments.stripe.longest_request().as_secs()).unwrap_or(i64::MAX / 2);
    longest.saturating_add(30).max(120)
}

/// Confirms the first invoice's PaymentIntent with the shopper's token, under a key of
/// the token's (a retry or a double submit is answered with the first reply).
async fn confirm_first_payment(
    state: &AppState,
    locale: Locale,
    token: &ConfirmationTokenId,
    subscription: &SubscriptionId,
    intent: &PaymentIntentId,
) -> Result<PaymentReply, AppError> {
    let return_url = format!("{}/checkout/complete", state.public_url);
    let params = ConfirmPaymentIntent { confirmation_token: token, return_url: &return_url, expand: ["payment_method"] };
    match state.payments.stripe.confirm_payment_intent(intent, &params, &format!("subscribe-{token}-confirm")).await {
        Ok(intent) => settle(state, locale, subscription, &intent).await,
        Err(error) => Err(refusal(locale, error)),
    }
}

/// A subscription whose first invoice needed no payment (the customer's credit paid it):
/// its order is made now (its webhook would make it too), and the shopper's card is set
/// up for the renewals through `setup`, the SetupIntent Stripe made for it, and made the
/// subscription's default. Then it is paid, with no PaymentIntent: the reply names the
/// order only. A bank that wants the shopper to authenticate the card gets the
/// SetupIntent's client secret to do so in the browser, which then comes back to
/// `/checkout/complete` ([`setup_return`]), as a redirect does. When the card is not
/// kept (declined), the shopper is told that the first renewal will ask for a card, as
/// an overdue one does. Every step is keyed by the token: the same request again does
/// nothing twice.
async fn paid_by_credit(
    state: &AppState,
    request: &Request,
    token: &ConfirmationTokenId,
    subscription: &SubscriptionId,
    setup: Option<&SetupIntentId>,
) -> Result<PaymentReply, AppError> {
    let card = match setup {
        // No answer: the page asks again with the same token (`unknown_or`).
        Some(setup) => set_card_up(state, token, subscription, setup).await.map_err(unknown_or)?,
        None => CardSetup::NotKept,
    };
    let order_id = refresh(state, subscription).await?.unwrap_or_default();
    let (status, client_secret) = match card {
        CardSetup::Kept => (PaymentStatus::Succeeded, String::new()),
        CardSetup::Authenticate(secret) => (PaymentStatus::RequiresAction, secret),
        CardSetup::NotKept => return Err(not_kept(state, request, subscription).await),
    };
    Ok(PaymentReply { order_id, payment_intent: String::new(), status, client_secret })
}

/// What became of the card of a subscription the customer's credit paid.
enum CardSetup {
    /// Set up, and the subscription's default payment method.
    Kept,
    /// The bank wants the shopper to authenticate it: the SetupIntent's client secret.
    Authenticate(String),
    NotKept,
}

/// Subscribed without the card (see [`paid_by_credit`]): what the shopper is told, as
/// the subscription is recorded (a free trial begun, or a period the credit paid).
async fn not_kept(state: &AppState, request: &Request, subscription: &SubscriptionId) -> AppError {
    tracing::warn!(%subscription, "a first invoice paid without a charge: subscribed, the card not set up");
    let t = request.texts();
    let trialing = matches!(state.store.subscription(subscription.as_str()).await, Ok(Some(record)) if record.state.status == "trialing");
    AppError::invalid(if trialing { t.trial_started_without_card() } else { t.subscribed_without_charge() })
}

/// Whether Stripe may yet do what it was asked (unavailable, or its answer lost): then
/// the request is made again (the shopper's, or the webhook's retry), not given up.
fn try_again(error: &crate::stripe::Error) -> bool {
    error.is_unavailable() || error.outcome_unknown()
}

/// Confirms `setup` with the shopper's `token`; set up, makes its card `subscription`'s
/// default payment method. `Err`: Stripe could not say (the same request again will).
async fn set_card_up(
    state: &AppState,
    token: &ConfirmationTokenId,
    subscription: &SubscriptionId,
    setup: &SetupIntentId,
) -> Result<CardSetup, crate::stripe::Error> {
    let return_url = format!("{}/checkout/complete", state.public_url);
    let params = ConfirmSetupIntent { confirmation_token: token, return_url: &return_url };
    match state.payments.stripe.confirm_setup_intent(setup, &params, &format!("subscribe-{token}-setup")).await {
        Ok(setup) => keep_card(state, token.as_str(), subscription, setup).await,
        Err(error) if try_again(&error) => Err(error),
        Err(error) => {
            tracing::warn!(%subscription, %error, "the card for a subscription's renewals was not set up");
            Ok(CardSetup::NotKept)
        }
    }
}

/// `setup` as Stripe reports it: its card made `subscription`'s default once set up
/// (keyed by the `token` that confirmed it, however often this runs). `Err`: Stripe
/// could not say.
async fn keep_card(
    state: &AppState,
    token: &str,
    subscription: &SubscriptionId,
    setup: SetupIntent,
) -> Result<CardSetup, crate::stripe::Error> {
    let method = match setup {
        SetupIntent { status: SetupIntentStatus::Succeeded, payment_method: Some(method), .. } => method,
        SetupIntent { status: SetupIntentStatus::RequiresAction, client_secret: Some(secret), .. } => {
            return Ok(CardSetup::Authenticate(secret));
        }
        setup => {
            tracing::info!(%subscription, status = ?setup.status, "the card for a subscription's renewals was not set up");
            return Ok(CardSetup::NotKept);
        }
    };
    let Ok(method) = PaymentMethodId::parse(&method) else { return Ok(CardSetup::NotKept) };
    match state.payments.stripe.set_default_payment_method(subscription, &method, &format!("subscribe-{token}-default")).await {
        Ok(_) => Ok(CardSetup::Kept),
        Err(error) if try_again(&error) => Err(error),
        // (The subscription ended meanwhile, say.)
        Err(error) => {
            tracing::warn!(%subscription, %error, "the card set up for a subscription could not be made its default");
            Ok(CardSetup::NotKept)
        }
    }
}

/// Back at `/checkout/complete` from authenticating the card of a subscription the
/// customer's credit paid (the checkout's 3-D Secure, or a redirect's return): the
/// SetupIntent as Stripe reports it now, its card made the subscription's default once
/// set up. The subscription's order, or what the shopper is told (the card not kept).
/// `None`: `setup` is none of the signed-in shopper's.
pub async fn setup_return(state: &AppState, request: &Request, setup: &SetupIntentId) -> Result<Option<String>, AppError> {
    let Some(account) = current_account(state, request).await? else { return Ok(None) };
    let Some((token, subscription, owner)) = state.store.subscription_setup(setup.as_str()).await? else { return Ok(None) };
    let Ok(subscription) = SubscriptionId::parse(&subscription) else { return Ok(None) };
    if owner != account.id {
        return Ok(None);
    }
    let now = match state.payments.stripe.retrieve_setup_intent(setup).await {
        Ok(now) => now,
        // Deleted with the test data: there is nothing to tell.
        Err(error) if error.is_missing_object() => return Ok(None),
        Err(error) => return Err(AppError::from(error)),
    };
    let kept = keep_card(state, &token, &subscription, now).await?;
    let order_id = refresh(state, &subscription).await?.unwrap_or_default();
    match kept {
        CardSetup::Kept => Ok(Some(order_id)),
        CardSetup::Authenticate(_) | CardSetup::NotKept => Err(not_kept(state, request, &subscription).await),
    }
}

/// `setup_intent.succeeded`: a SetupIntent of a subscription the customer's credit paid
/// has its card made the subscription's default, as the shopper's return does
/// ([`setup_return`]); a shopper who authenticated and never came back (the tab closed
/// in the bank's app) still has the renewals charged to it. Whether it was one.
pub async fn setup_succeeded(state: &AppState, object: &serde_json::Value) -> Result<bool, AppError> {
    let Ok(setup) = serde_json::from_value::<SetupIntent>(object.clone()) else { return Ok(false) };
    let Some((token, subscription, _)) = state.store.subscription_setup(setup.id.as_str()).await? else { return Ok(false) };
    let Ok(subscription) = SubscriptionId::parse(&subscription) else { return Ok(false) };
    let kept = keep_card(state, &token, &subscription, setup).await?;
    tracing::info!(%subscription, kept = matches!(kept, CardSetup::Kept), "a subscription's card set up");
    Ok(true)
}

/// The reply to the shopper once Stripe has answered the confirmation.
async fn settle(state: &AppState, locale: Locale, subscription: &SubscriptionId, intent: &PaymentIntent) -> Result<PaymentReply, AppError> {
    let status = match intent.status {
        PaymentIntentStatus::Succeeded => PaymentStatus::Succeeded,
        PaymentIntentStatus::Processing => PaymentStatus::Processing,
        PaymentIntentStatus::RequiresAction => PaymentStatus::RequiresAction,
        PaymentIntentStatus::RequiresPaymentMethod => {
            let failure = intent.last_payment_error.as_ref();
            let message = failure
                .and_then(|f| f.message.as_deref().map(|m| locale.decline(f.decline_code.as_deref(), f.code.as_deref(), m)))
                .unwrap_or_else(|| locale.texts().payment_not_through().into());
            return Err(AppError::Declined { message, decline_code: failure.and_then(|f| f.decline_code.clone()) });
        }
        ref other => {
            tracing::error!(status = ?other, intent = %intent.id, "unexpected status of a subscription's first payment");
            return Err(AppError::Internal);
        }
    };
    let mut order_id = String::new();
    if status != PaymentStatus::RequiresAction {
        // Paid: the subscription is active and the invoice an order. The webhook would
        // say so too; doing it now lets the result page show it at once.
        match refresh(state, subscription).await {
            Ok(order) => order_id = order.unwrap_or_default(),
            Err(error) => tracing::warn!(?error, %subscription, "could not read the subscription after its payment; its webhooks will"),
        }
    }
    Ok(PaymentReply {
        order_id,
        payment_intent: intent.id.to_string(),
        status,
        client_secret: intent.client_secret.clone().unwrap_or_default(),
    })
}

/// What a refused confirmation means for the shopper. Nothing was charged; the
/// subscription waits for its first payment, which the next try pays.
fn refusal(locale: Locale, error: crate::stripe::Error) -> AppError {
    if let Some(card) = error.card_error() {
        return AppError::Declined {
            message: locale.decline(card.decline_code.as_deref(), card.code.as_deref(), &card.message),
            decline_code: card.decline_code.clone(),
        };
    }
    if let crate::stripe::Error::Api(api) = &error
        && api.status == 400
    {
        if matches!(api.code.as_deref(), Some("payment_intent_incompatible_payment_method" | "payment_method_currency_mismatch")) {
            return AppError::invalid(locale.texts().method_not_accepted());
        }
        if matches!(api.param.as_deref(), Some("confirmation_token" | "payment_method")) {
            return AppError::invalid(locale.texts().details_expired());
        }
    }
    tracing::error!(%error, "confirming a subscription's first payment failed");
    unknown_or(error)
}

/// A request that may have been carried out although no answer came: the page asks
/// again with the same token, whose keys make Stripe answer what it did (and do
/// nothing twice). Any other failure as it is.
fn unknown_or(error: crate::stripe::Error) -> AppError {
    if error.outcome_unknown() { AppError::PaymentUnknown { order_id: String::new() } } else { AppError::from(error) }
}

/// The shopper's incomplete subscription `id`, of other terms than the cart's (its first
/// payment waited for 3-D Secure, then the shopper changed the quantity): its first
/// invoice is voided, which cancels that payment, and the subscription is canceled, so
/// that finishing the old challenge in another tab charges nothing and starts no second
/// subscription. One paid meanwhile is kept, and the shopper told.
async fn give_up(state: &AppState, request: &Request, id: &str, name: &str) -> Result<(), AppError> {
    let Ok(id) = SubscriptionId::parse(id) else { return Ok(()) };
    let stripe = &state.payments.stripe;
    let asked_at = now_ms();
    let subscription = stripe.retrieve_subscription(&id).await?;
    let open = match &subscription.latest_invoice {
        Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("open") => Some(invoice),
        _ => None,
    };
    if subscription.status.as_str() != "incomplete" {
        // Ended (or paid) already: kept as Stripe says.
        let now = state_of(&subscription);
        let paid = now.is_live();
        state.store.sync_subscription(id.as_str(), now, item_of(&subscription), asked_at, session::now()).await?;
        return if paid { Err(AppError::invalid(request.texts().subscription_paid_meanwhile())) } else { Ok(()) };
    }
    if let Some(invoice) = open {
        // A bank debit on its way cannot be called back: that subscription stays.
        if let Some(intent) = invoice.payment_intent()
            && still_processing(state, &intent).await?
        {
            return Err(processing_refusal(request, name));
        }
        let invoice = &invoice.id;
        match stripe.void_invoice(invoice, &format!("give-up-{invoice}")).await {
            Ok(_) => {}
            // Paid, or ended, since it was read; or still waiting, and Stripe would not
            // void it (then a second subscription could bill beside it: none is made).
            Err(crate::stripe::Error::Api(api)) if api.status == 400 => {
                refresh(state, &id).await?;
                return match state.store.subscription(id.as_str()).await? {
                    Some(record) if record.state.is_live() => Err(AppError::invalid(request.texts().subscription_paid_meanwhile())),
                    Some(record) if record.state.status == "incomplete" => {
                        Err(AppError::invalid(request.texts().subscription_in_progress()))
                    }
                    _ => Ok(()),
                };
            }
            Err(error) => return Err(AppError::from(error)),
        }
    }
    let asked_at = now_ms();
    let ended = match stripe.cancel_subscription(&id).await {
        Ok(ended) => ended,
        // Ended meanwhile (its 23 hours up, or canceled in the Dashboard: Stripe then
        // says there is no such subscription to cancel). Its first invoice is void
        // either way: it is kept as Stripe says.
        Err(crate::stripe::Error::Api(api)) if matches!(api.status, 400 | 404) => stripe.retrieve_subscription(&id).await?,
        Err(error) => return Err(AppError::from(error)),
    };
    state.store.sync_subscription(id.as_str(), state_of(&ended), item_of(&ended), asked_at, session::now()).await?;
    tracing::info!(subscription = %id, "gave up an incomplete subscription of other terms: its first invoice is void");
    Ok(())
}

/// The subscription `id` and its first invoice's PaymentIntent, if it still waits for
/// that payment (a declined first try); it is read from Stripe, and kept. One paid
/// meanwhile refuses the purchase (paying again would subscribe twice), and so does
/// one whose payment is on its way (Stripe would not take another).
async fn waiting_for_payment(
    state: &AppState,
    request: &Request,
    id: &str,
    name: &str,
) -> Result<Option<(SubscriptionId, PaymentIntentId)>, AppError> {
    let Ok(id) = SubscriptionId::parse(id) else { return Ok(None) };
    let asked_at = now_ms();
    let subscription = state.payments.stripe.retrieve_subscription(&id).await?;
    let now = state_of(&subscription);
    let paid = now.is_live();
    state.store.sync_subscription(id.as_str(), now, item_of(&subscription), asked_at, session::now()).await?;
    if paid {
        return Err(AppError::invalid(request.texts().subscription_paid_meanwhile()));
    }
    let intent = match &subscription.latest_invoice {
        Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("open") => invoice.payment_intent(),
        _ => None,
    };
    let Some(intent) = intent.filter(|_| subscription.status.as_str() == "incomplete") else { return Ok(None) };
    if still_processing(state, &intent).await? {
        return Err(processing_refusal(request, name));
    }
    Ok(Some((id, intent)))
}

/// Makes sure Stripe has the catalog's product (its id is the catalog's), which the
/// subscription's price names.
async fn ensure_product(state: &AppState, id: &str, name: &str) -> Result<(), AppError> {
    match state.payments.stripe.create_product(&CreateProduct { id, name }, &format!("product-{id}")).await {
        Ok(_) => Ok(()),
        Err(crate::stripe::Error::Api(api)) if api.code.as_deref() == Some("resource_already_exists") => Ok(()),
        Err(error) => {
            tracing::error!(%error, product = id, "cannot make the subscription's product at Stripe");
            Err(AppError::from(error))
        }
    }
}

/// The result page of a subscription's first payment (after 3-D Secure): `None` when
/// `intent` pays none of the signed-in shopper's subscriptions.
pub async fn outcome(state: &AppState, request: &Request, intent: &PaymentIntentId) -> Result<Option<PaymentResult>, AppError> {
    let Some(account) = current_account(state, request).await? else { return Ok(None) };
    let Some(record) = state.store.subscription_for_payment_intent(intent.as_str(), &account.id).await? else { return Ok(None) };
    let paid = match state.payments.stripe.retrieve_payment_intent(intent).await {
        Ok(paid) => paid,
        // Deleted with the test data: there is nothing to tell.
        Err(error) if error.is_missing_object() => return Ok(None),
        Err(error) => return Err(AppError::from(error)),
    };
    let mut order_id = None;
    if matches!(paid.status, PaymentIntentStatus::Succeeded | PaymentIntentStatus::Processing)
        && let Ok(id) = SubscriptionId::parse(&record.id)
    {
        order_id = refresh(state, &id).await?;
    }
    Ok(Some(crate::checkout::payment_result(&paid, request.locale, order_id.unwrap_or_default(), true)))
}
