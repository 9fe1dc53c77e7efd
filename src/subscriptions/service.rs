//! Subscription mode on the server: create the Subscription (`default_incomplete`, the
//! price from the catalog), confirm its first invoice's PaymentIntent with the
//! shopper's ConfirmationToken, keep what Stripe says of it, and turn each paid invoice
//! into an order.

use super::OverduePayment;
use crate::account::{current_account, customer_of, list_saved};
use crate::cart::{Cart, CartLine};
use crate::checkout::{PaymentReply, PaymentResult, PaymentStatus};
use crate::error::AppError;
use crate::i18n::Locale;
use crate::money::{Currency, MAXIMUM_CHARGE, Money};
use crate::request::Request;
use crate::session::{self, SessionId};
use crate::state::AppState;
use crate::store::{
    AccountRecord, InvoiceEffect, ItemTerms, NewSubscription, PaidInvoice, SubscriptionRecord, SubscriptionState, SubscriptionTerms,
};
use crate::stripe::ids::{ConfirmationTokenId, CustomerId, InvoiceId, PaymentIntentId, PaymentMethodId, SetupIntentId, SubscriptionId};
use crate::stripe::types::{
    ConfirmPaymentIntent, ConfirmSetupIntent, CreateProduct, CreateSubscription, Expandable, Invoice, PaymentIntent, PaymentIntentStatus,
    PriceData, RecurringParams, SetupIntent, SetupIntentStatus, Subscription, SubscriptionItemParams, SubscriptionPaymentSettings,
    SubscriptionStatus,
};

/// Milliseconds: when a read (or change) of a subscription was sent to Stripe, which
/// is what orders the reads kept. A reply that tells the state before some change was
/// sent before that change was made, and every change is followed by its webhook, whose
/// read is sent later still; so a slow reply can never overwrite a newer state. (Stamped
/// when the reply came back, a slow reply of the old state would win over that newer
/// read.)
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// What the subscription's item bills as Stripe says it (the shop's subscriptions have
/// one item).
fn item_of(subscription: &Subscription) -> ItemTerms {
    let item = subscription.items.data.first();
    ItemTerms { quantity: item.and_then(|item| item.quantity).map(i64::from), unit_amount: item.and_then(|item| item.price.unit_amount) }
}

fn state_of(subscription: &Subscription) -> SubscriptionState {
    SubscriptionState {
        status: subscription.status.as_str().to_owned(),
        current_period_end: subscription.current_period_end(),
        cancel_at_period_end: subscription.cancel_at_period_end,
        cancel_at: subscription.cancel_at,
        collection_paused: subscription.pause_collection.is_some(),
        collection_resumes_at: subscription.pause_collection.as_ref().and_then(|pause| pause.resumes_at),
        renewal_card: subscription.renewal_card().map(str::to_owned),
        cancellation_reason: subscription.cancellation_details.as_ref().and_then(|details| details.reason.clone()),
        next_payment_attempt: match &subscription.latest_invoice {
            Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("open") => invoice.next_payment_attempt,
            _ => None,
        },
    }
}

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
/// by paying its renewal, not bought a second time).
fn already_subscribed(request: &Request, open: &SubscriptionRecord, line: &CartLine) -> Option<String> {
    let t = request.texts();
    let words = match open.state.status.as_str() {
        "unpaid" => t.already_subscribed_overdue(),
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

/// Reads subscription `id` from Stripe and keeps what it says (if it is this shop's),
/// and records its latest invoice once paid. Returns that invoice's order.
pub async fn refresh(state: &AppState, id: &SubscriptionId) -> Result<Option<String>, AppError> {
    let Some(record) = state.store.subscription(id.as_str()).await? else { return Ok(None) };
    let asked_at = now_ms();
    let subscription = match state.payments.stripe.retrieve_subscription(id).await {
        Ok(subscription) => subscription,
        // No longer at Stripe: the merchant deleted their test data, which sends no
        // webhooks. It bills nothing more: ended, for the shop and the shopper.
        Err(error) if error.is_missing_object() => {
            tracing::warn!(subscription = %id, "Stripe has no such subscription any more (test data deleted?): recorded as ended");
            let ended = SubscriptionState { status: SubscriptionStatus::Canceled.as_str().to_owned(), ..record.state };
            state.store.sync_subscription(id.as_str(), ended, ItemTerms::default(), asked_at, session::now()).await?;
            return Ok(None);
        }
        Err(error) => return Err(AppError::from(error)),
    };
    state.store.sync_subscription(id.as_str(), state_of(&subscription), item_of(&subscription), asked_at, session::now()).await?;
    match &subscription.latest_invoice {
        Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("paid") => record_invoice(state, invoice).await,
        _ => Ok(None),
    }
}

/// A paid invoice of one of the shop's subscriptions becomes an order, once.
async fn record_invoice(state: &AppState, invoice: &Invoice) -> Result<Option<String>, AppError> {
    let Some(subscription) = invoice.subscription() else { return Ok(None) };
    let paid = PaidInvoice {
        invoice_id: invoice.id.to_string(),
        subscription_id: subscription.to_owned(),
        payment_intent_id: invoice.payment_intent().map(|intent| intent.to_string()),
        amount: invoice.amount_paid,
        total: invoice.total,
        currency: invoice.currency.clone(),
        quantity: invoice.lines.data.first().and_then(|line| line.quantity).map(i64::from),
    };
    match state.store.record_paid_invoice(paid, session::now()).await? {
        InvoiceEffect::Fulfilled { order_id } | InvoiceEffect::AlreadyFulfilled { order_id } => Ok(Some(order_id)),
        InvoiceEffect::UnknownSubscription => Ok(None),
    }
}

/// A webhook about a subscription or one of its invoices: what Stripe says now is
/// read and kept (so events in any order, or twice, leave the newest state), a paid
/// invoice becomes an order, and a renewal that failed, a free trial about to end, a
/// subscription put on hold or one that ended is told to the subscriber. Returns what was done, for the log.
pub async fn on_event(state: &AppState, event_type: &str, object: &serde_json::Value) -> Result<&'static str, AppError> {
    let subscription = match event_type {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.trial_will_end" => object["id"].as_str(),
        "invoice.paid" | "invoice.payment_failed" => invoice_subscription(object),
        _ => None,
    };
    let Some(id) = subscription.and_then(|id| SubscriptionId::parse(id).ok()) else { return Ok("ignored") };
    let Some(record) = state.store.subscription(id.as_str()).await? else { return Ok("not this shop's subscription") };
    if event_type == "invoice.paid"
        && let Some(invoice) = object["id"].as_str().and_then(|id| InvoiceId::parse(id).ok())
    {
        // The event's invoice has no `payments` (Stripe includes them only when asked).
        let invoice = state.payments.stripe.retrieve_invoice(&invoice).await?;
        record_invoice(state, &invoice).await?;
    }
    refresh(state, &id).await?;
    // A renewal that could not be charged: the subscriber is told (once per invoice),
    // after the refresh above, so that the sender sees the subscription `past_due`. Any
    // invoice but the first (whose failure the checkout showed) is charged without the
    // shopper there: a period's renewal (`subscription_cycle`), or one the merchant's
    // change started, such as a trial ended early (`subscription_update`).
    if event_type == "invoice.payment_failed"
        && let Some(invoice) = object["id"].as_str()
        && invoice != record.first_invoice_id
        && state.store.queue_renewal_failed(id.as_str(), invoice, session::now()).await?
    {
        return Ok("subscription updated; the subscriber is told its renewal failed");
    }
    // A free trial ends in three days: the subscriber is told when, and what is charged
    // then (once; whether it still will be is read again as the email goes out).
    if event_type == "customer.subscription.trial_will_end"
        && let Some(trial_end) = object["trial_end"].as_i64()
        && state.store.queue_trial_ending(id.as_str(), trial_end, session::now()).await?
    {
        return Ok("subscription updated; the subscriber is told the trial ends soon");
    }
    // On hold (`unpaid`: the merchant's settings keep a subscription whose renewal Stripe
    // gave up on): the subscriber is told how to resume it, once per renewal given up on.
    if let Some(invoice) = given_up_on(state, &id, event_type, object).await?
        && state.store.queue_subscription_on_hold(id.as_str(), invoice.as_str(), session::now()).await?
    {
        return Ok("subscription on hold; the subscriber is told");
    }
    // Ended (at the period's end the subscriber chose, by the merchant, or after
    // renewals Stripe could not charge): the subscriber is told, once, that nothing more
    // is charged.
    if event_type == "customer.subscription.deleted" && state.store.queue_subscription_ended(id.as_str(), session::now()).await? {
        return Ok("subscription ended; the subscriber is told");
    }
    Ok("subscription updated")
}

/// The renewal Stripe gave up on, when the event tells that subscription `id` (as just
/// read again) is now `unpaid`: the invoice whose last retry failed, or the subscription's
/// latest invoice while it is still to be paid (the subscription changed as its retries
/// ran out; the merchant's settings may have marked it uncollectible then). A
/// later renewal's draft, or any other event, says nothing new.
async fn given_up_on(
    state: &AppState,
    id: &SubscriptionId,
    event_type: &str,
    object: &serde_json::Value,
) -> Result<Option<InvoiceId>, AppError> {
    let invoice = match event_type {
        "invoice.payment_failed" => object["id"].as_str(),
        "customer.subscription.updated" if object["status"] == "unpaid" => object["latest_invoice"].as_str(),
        _ => None,
    };
    let Some(invoice) = invoice.and_then(|invoice| InvoiceId::parse(invoice).ok()) else { return Ok(None) };
    if !state.store.subscription(id.as_str()).await?.is_some_and(|record| record.state.status == "unpaid") {
        return Ok(None);
    }
    if event_type != "invoice.payment_failed" && !state.payments.stripe.retrieve_invoice(&invoice).await?.awaits_payment() {
        return Ok(None);
    }
    Ok(Some(invoice))
}

/// The subscription an invoice of an event belongs to. In the pinned API version (as in
/// every one since 2025-03-31.basil) an invoice names it under `parent`; an endpoint on
/// an older version gets the invoice as that version had it, with a `subscription`
/// field instead. (`stripe listen` renders events in the account's default version,
/// which an older account may have kept.) The rest of what the shop reads from the
/// invoice is asked of Stripe in the pinned version.
fn invoice_subscription(invoice: &serde_json::Value) -> Option<&str> {
    invoice["parent"]["subscription_details"]["subscription"].as_str().or_else(|| invoice["subscription"].as_str())
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

/// Cancels the signed-in shopper's subscription at its period's end, or undoes that.
pub async fn set_cancel_at_period_end(state: &AppState, request: &Request, id: &str, cancel: bool) -> Result<(), AppError> {
    let (id, _) = own_changeable(state, request, id).await?;
    // A fresh key: setting the same flag twice (a double click) is harmless anyway.
    let key = session::random_id("subscription-update");
    let asked_at = now_ms();
    keep_change(state, request, &id, asked_at, state.payments.stripe.set_cancel_at_period_end(&id, cancel, &key).await).await?;
    tracing::info!(subscription = %id, cancel, "subscription's cancel at period end set");
    Ok(())
}

/// Ends the signed-in shopper's subscription now, if it is on hold (`unpaid`): a
/// subscriber who will not pay its renewal to resume it stops it, rather than leave it
/// billing drafts every period. Stripe stops collecting its invoices, and its
/// `customer.subscription.deleted` tells the subscriber it ended. Any other subscription
/// is canceled at its period's end instead ([`set_cancel_at_period_end`]).
pub async fn end_on_hold(state: &AppState, request: &Request, id: &str) -> Result<(), AppError> {
    let (_, id, record) = own_subscription(state, request, id).await?;
    match record.state.status.as_str() {
        "unpaid" => {}
        status if SubscriptionState { status: status.to_owned(), ..record.state }.is_live() => {
            return Err(AppError::invalid(request.texts().end_only_on_hold()));
        }
        _ => return Err(AppError::invalid(request.texts().subscription_ended())),
    }
    let asked_at = now_ms();
    keep_change(state, request, &id, asked_at, state.payments.stripe.cancel_subscription(&id).await).await?;
    tracing::info!(subscription = %id, "a subscription on hold was ended by its subscriber");
    Ok(())
}

/// Sets the quantity of the signed-in shopper's subscription from its next renewal on:
/// no proration, so nothing is charged or credited for the period under way, and each
/// invoice from then on bills `quantity` (a shop's subscription has one item). Setting
/// the quantity it already has changes nothing at Stripe.
pub async fn set_quantity(state: &AppState, request: &Request, id: &str, quantity: crate::cart::Quantity) -> Result<(), AppError> {
    let (id, record) = own_changeable(state, request, id).await?;
    if i64::from(quantity.get()) == record.terms.quantity {
        return Ok(());
    }
    // Each renewal is one payment: Stripe could not charge more than eight digits.
    if record.terms.unit_amount.saturating_mul(i64::from(quantity.get())) > MAXIMUM_CHARGE {
        let currency = Currency::parse(&record.terms.currency).map_err(|_| AppError::Internal)?;
        let most = request.locale.money(Money::new(MAXIMUM_CHARGE, currency));
        return Err(AppError::invalid(crate::i18n::fill(request.texts().maximum_charge_renewal(), &[&most])));
    }
    let current = match state.payments.stripe.retrieve_subscription(&id).await {
        Ok(current) => current,
        Err(error) if error.is_missing_object() => return Err(ended_meanwhile(state, request, &id).await),
        Err(error) => return Err(AppError::from(error)),
    };
    let Some(item) = current.items.data.first() else { return Err(AppError::Internal) };
    // A fresh key: the same quantity set twice (a double click) is harmless anyway.
    let key = session::random_id("subscription-quantity");
    let asked_at = now_ms();
    let answer = state.payments.stripe.set_subscription_quantity(&id, &item.id, quantity.get(), &key).await;
    keep_change(state, request, &id, asked_at, answer).await?;
    tracing::info!(subscription = %id, quantity = quantity.get(), "subscription's quantity changed from its next renewal");
    Ok(())
}

/// Charges the signed-in shopper's subscription's renewals to another of their saved
/// cards, from the next one on (Stripe's `default_payment_method`). Nothing is charged
/// now; an overdue renewal is paid with [`pay_overdue`], which sets the card too.
/// Choosing the card it already has changes nothing at Stripe.
pub async fn set_renewal_card(state: &AppState, request: &Request, id: &str, payment_method: &str) -> Result<(), AppError> {
    let no_card = || AppError::NotFound(request.texts().no_such_card().into());
    let (account, id, record) = own_subscription(state, request, id).await?;
    if !record.state.is_live() {
        return Err(AppError::invalid(request.texts().subscription_ended()));
    }
    let method = PaymentMethodId::parse(payment_method).map_err(|_| no_card())?;
    if record.state.renewal_card.as_deref() == Some(method.as_str()) {
        return Ok(());
    }
    // One of this account's own cards (Stripe would refuse another customer's anyway).
    let customer = account.stripe_customer_id.as_deref().and_then(|c| CustomerId::parse(c).ok()).ok_or_else(no_card)?;
    let saved = match list_saved(state, &customer).await {
        Ok(saved) => saved,
        // The Customer deleted at Stripe, unbeknown to the shop: its subscriptions ended
        // with it.
        Err(error) if error.is_missing_object() => {
            crate::account::forget_customer(state, customer.as_str()).await;
            return Err(ended_meanwhile(state, request, &id).await);
        }
        Err(error) => return Err(AppError::from(error)),
    };
    if !saved.iter().any(|card| card.id == method.as_str()) {
        return Err(no_card());
    }
    // A fresh key: the same card chosen twice (a double click) is harmless anyway, and
    // going back to an earlier card must not replay the answer to choosing it before.
    let key = session::random_id("subscription-card");
    let asked_at = now_ms();
    let answer = state.payments.stripe.set_default_payment_method(&id, &method, &key).await;
    // Refused: the card removed in another tab since it was listed, or the subscription
    // ended meanwhile; said as it is now.
    if let Err(crate::stripe::Error::Api(api)) = &answer
        && api.status == 400
        && !list_saved(state, &customer).await?.iter().any(|card| card.id == method.as_str())
    {
        tracing::info!(subscription = %id, message = %api.message, "Stripe would not charge renewals to a card removed meanwhile");
        return Err(no_card());
    }
    keep_change(state, request, &id, asked_at, answer).await?;
    tracing::info!(subscription = %id, "subscription's renewals charged to another saved card");
    Ok(())
}

/// The signed-in shopper's subscription `id` and its record, if it can still be changed.
async fn own_changeable(state: &AppState, request: &Request, id: &str) -> Result<(SubscriptionId, SubscriptionRecord), AppError> {
    let (_, id, record) = own_subscription(state, request, id).await?;
    if !record.state.is_live() {
        return Err(AppError::invalid(request.texts().subscription_ended()));
    }
    Ok((id, record))
}

/// Keeps what Stripe answered to a change of subscription `id` sent at `asked_at`
/// ([`now_ms`]). Refused, it has ended meanwhile (at Stripe): that is read again and
/// kept, and the shopper told.
async fn keep_change(
    state: &AppState,
    request: &Request,
    id: &SubscriptionId,
    asked_at: i64,
    answer: Result<Subscription, crate::stripe::Error>,
) -> Result<(), AppError> {
    let updated = match answer {
        Ok(updated) => updated,
        Err(error) if error.is_missing_object() || matches!(&error, crate::stripe::Error::Api(api) if api.status == 400) => {
            tracing::info!(subscription = %id, %error, "Stripe refused to change a subscription");
            return Err(ended_meanwhile(state, request, id).await);
        }
        Err(error) => return Err(AppError::from(error)),
    };
    state.store.sync_subscription(id.as_str(), state_of(&updated), item_of(&updated), asked_at, session::now()).await?;
    Ok(())
}

/// Subscription `id`, which Stripe would not change, has ended (at Stripe, unbeknown to
/// the shop): read again and kept, and the shopper told.
async fn ended_meanwhile(state: &AppState, request: &Request, id: &SubscriptionId) -> AppError {
    if let Err(error) = refresh(state, id).await {
        tracing::warn!(?error, subscription = %id, "could not read again a subscription Stripe would not change");
    }
    AppError::invalid(request.texts().subscription_ended())
}

/// Pays the latest invoice of the signed-in shopper's overdue subscription
/// ([`super::is_overdue`]: `past_due`, or `unpaid`, whose latest invoice may be a draft,
/// finalized first) now with
/// one of their saved cards, which the subscription's renewals are charged to from
/// then on (Stripe does not retry an old card that a shopper replaced).
///
/// `on_session`: the shopper's browser can authenticate (the account page's island
/// says so). The invoice is then paid with the customer present (`off_session=false`),
/// and a bank that wants 3-D Secure is answered with the client secret of the invoice's
/// PaymentIntent, for `stripe.handleNextAction`; [`refresh_own`] then reads the outcome.
/// Without it (a plain form post), the payment is off session, as a renewal is, and
/// such a card is refused with words that say what to do. The idempotency keys carry
/// the form's `attempt` nonce, so a form sent twice pays once; a new page is a new
/// attempt.
pub async fn pay_overdue(
    state: &AppState,
    request: &Request,
    id: &str,
    payment_method: &str,
    attempt: &str,
    on_session: bool,
) -> Result<OverduePayment, AppError> {
    let t = request.texts();
    let no_card = || AppError::NotFound(t.no_such_card().into());
    let (account, id, record) = own_subscription(state, request, id).await?;
    if !super::is_overdue(&record.state.status) {
        return Err(AppError::invalid(t.nothing_overdue()));
    }
    if attempt.is_empty() || attempt.len() > 64 || !attempt.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(AppError::invalid(t.pay_form_expired()));
    }
    // One of this account's own cards (Stripe would refuse another customer's anyway).
    let method = PaymentMethodId::parse(payment_method).map_err(|_| no_card())?;
    let customer = account.stripe_customer_id.as_deref().and_then(|c| CustomerId::parse(c).ok()).ok_or_else(no_card)?;
    let saved = match list_saved(state, &customer).await {
        Ok(saved) => saved,
        // The Customer deleted at Stripe, unbeknown to the shop: its subscriptions ended
        // with it. Forgotten, and the subscription read again.
        Err(error) if error.is_missing_object() => {
            crate::account::forget_customer(state, customer.as_str()).await;
            return Err(no_longer_overdue(state, request, &id).await?);
        }
        Err(error) => return Err(AppError::from(error)),
    };
    if !saved.iter().any(|card| card.id == method.as_str()) {
        return Err(no_card());
    }
    let key = |step: &str| format!("overdue-{step}-{attempt}-{method}");
    let subscription = match state.payments.stripe.set_default_payment_method(&id, &method, &key("default")).await {
        Ok(subscription) => subscription,
        // The card removed in another tab since it was listed, or the subscription
        // ended meanwhile (Stripe's last retry gave up): said as it is now.
        Err(crate::stripe::Error::Api(api)) if api.status == 400 => {
            tracing::info!(subscription = %id, message = %api.message, "Stripe would not charge an overdue renewal to this card");
            if !list_saved(state, &customer).await?.iter().any(|card| card.id == method.as_str()) {
                return Err(no_card());
            }
            return Err(no_longer_overdue(state, request, &id).await?);
        }
        Err(error) => return Err(AppError::from(error)),
    };
    let invoice = match &subscription.latest_invoice {
        Some(Expandable::Object(invoice)) if invoice.awaits_payment() => invoice.id.clone(),
        // An `unpaid` subscription's renewal, a draft Stripe does not advance by itself:
        // finalized to be paid (paying the latest invoice makes the subscription active).
        Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("draft") => {
            match state.payments.stripe.finalize_invoice(&invoice.id, &key("finalize")).await {
                // The customer's credit paid it as it was finalized: resumed, nothing charged.
                Ok(finalized) if finalized.status.as_deref() == Some("paid") => {
                    refresh(state, &id).await?;
                    tracing::info!(subscription = %id, invoice = %invoice.id, "an unpaid subscription's renewal was paid from the customer's credit");
                    return Ok(OverduePayment::Paid);
                }
                Ok(_) => invoice.id.clone(),
                // Finalized, voided or deleted meanwhile: said as it is now.
                Err(crate::stripe::Error::Api(api)) if api.status == 400 || api.status == 404 => {
                    tracing::info!(subscription = %id, invoice = %invoice.id, message = %api.message, "Stripe would not finalize an overdue draft");
                    return Err(no_longer_overdue(state, request, &id).await?);
                }
                Err(error) => return Err(AppError::from(error)),
            }
        }
        // Paid meanwhile (a renewal retried, another tab): nothing to charge.
        _ => {
            refresh(state, &id).await?;
            return Err(AppError::invalid(t.nothing_overdue()));
        }
    };
    let pay_key = key(if on_session { "pay-on-session" } else { "pay" });
    match state.payments.stripe.pay_invoice(&invoice, &method, !on_session, &pay_key).await {
        Ok(_) => {}
        Err(crate::stripe::Error::Api(api)) if api.status == 402 => {
            let needs_authentication =
                matches!(api.code.as_deref(), Some("invoice_payment_intent_requires_action" | "authentication_required"));
            if needs_authentication
                && on_session
                && let Some(client_secret) = awaiting_authentication(state, &invoice).await?
            {
                tracing::info!(subscription = %id, invoice = %invoice, "an overdue renewal waits for the shopper's 3-D Secure");
                return Ok(OverduePayment::Authenticate { client_secret });
            }
            tracing::info!(subscription = %id, code = ?api.code, decline_code = ?api.decline_code, "an overdue renewal was declined again");
            let message = if needs_authentication {
                t.overdue_needs_authentication().to_owned()
            } else {
                request.locale.decline(api.decline_code.as_deref(), api.code.as_deref(), &api.message)
            };
            return Err(AppError::Declined { message, decline_code: api.decline_code });
        }
        // Paid (a renewal retried, another tab) or voided since it was read: what
        // Stripe says now is kept, and the shopper told there is nothing to pay.
        Err(crate::stripe::Error::Api(api)) if api.status == 400 => {
            tracing::info!(subscription = %id, invoice = %invoice, message = %api.message, "Stripe would not pay an overdue invoice");
            return Err(no_longer_overdue(state, request, &id).await?);
        }
        Err(error) => return Err(AppError::from(error)),
    }
    // Active again; the invoice becomes the renewal's order (its webhooks find it done).
    refresh(state, &id).await?;
    tracing::info!(subscription = %id, invoice = %invoice, "an overdue renewal was paid with another card");
    Ok(OverduePayment::Paid)
}

/// Why Stripe refused to go on with an overdue payment of `id`, once the subscription is
/// read again and recorded: nothing is overdue any more (paid, voided or ended
/// meanwhile); still overdue, the refusal was unexpected.
async fn no_longer_overdue(state: &AppState, request: &Request, id: &SubscriptionId) -> Result<AppError, AppError> {
    refresh(state, id).await?;
    let overdue = state.store.subscription(id.as_str()).await?.is_some_and(|record| super::is_overdue(&record.state.status));
    if overdue {
        tracing::error!(subscription = %id, "Stripe refused to go on with a renewal that is still overdue");
        return Ok(AppError::Internal);
    }
    Ok(AppError::invalid(request.texts().nothing_overdue()))
}

/// The client secret of `invoice`'s PaymentIntent, if it waits for the customer.
async fn awaiting_authentication(state: &AppState, invoice: &InvoiceId) -> Result<Option<String>, AppError> {
    let stripe = &state.payments.stripe;
    let Some(intent) = stripe.retrieve_invoice(invoice).await?.payment_intent() else { return Ok(None) };
    let intent = stripe.retrieve_payment_intent(&intent).await?;
    Ok(intent.client_secret.filter(|_| intent.status == PaymentIntentStatus::RequiresAction))
}

/// The signed-in shopper's account and their subscription `id`, as recorded; another
/// account's is not found. Each call counts against the subscription changes' rate
/// limits (`rate_limit::SUBSCRIPTION_CHANGE_*`): its caller asks Stripe next.
async fn own_subscription(
    state: &AppState,
    request: &Request,
    id: &str,
) -> Result<(AccountRecord, SubscriptionId, SubscriptionRecord), AppError> {
    let not_found = || AppError::NotFound(request.texts().no_such_subscription().into());
    // Every caller goes on to ask Stripe: counted first, found or not.
    crate::rate_limit::check_current(state, request, crate::rate_limit::SUBSCRIPTION_CHANGE).await?;
    let account = current_account(state, request).await?.ok_or_else(not_found)?;
    let id = SubscriptionId::parse(id).map_err(|_| not_found())?;
    let record = state.store.subscription(id.as_str()).await?.filter(|record| record.account_id == account.id).ok_or_else(not_found)?;
    Ok((account, id, record))
}

/// Reads the signed-in shopper's subscription `id` from Stripe again and records it
/// (after the shopper authenticated its overdue renewal's payment); its status now.
pub async fn refresh_own(state: &AppState, request: &Request, id: &str) -> Result<String, AppError> {
    let (_, id, _) = own_subscription(state, request, id).await?;
    refresh(state, &id).await?;
    let record = state.store.subscription(id.as_str()).await?.ok_or(AppError::Internal)?;
    Ok(record.state.status)
}
