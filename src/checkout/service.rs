//! Paying for the cart (server only): price it from the catalog, record the order and
//! the attempt, check the card against the shop's rules, then create and confirm the
//! PaymentIntent in one Stripe request whose idempotency key belongs to the attempt.

use super::{PaymentReply, PaymentStatus};
use crate::config::PaymentMethodCreation;
use crate::error::AppError;
use crate::i18n::{Locale, Texts, fill};
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::store::{Attempt, AttemptOutcome, AttemptResult, AttemptStart, NewOrder, OrderLine, OrderStatus, PaymentDetails};
use crate::stripe::FormBody;
use crate::stripe::ids::{ConfirmationTokenId, CustomerId, PaymentIntentId, PaymentMethodId};
use crate::stripe::types::{
    AutomaticPaymentMethods, CardOptions, CardPreview, CreateAndConfirmPaymentIntent, CustomerAcceptance, Expandable, MandateData,
    OnlineAcceptance, PaidWith, PaymentIntent, PaymentIntentStatus, PaymentMethodChoice, PaymentMethodOptions, Shipping,
};

/// What pays an attempt: a ConfirmationToken, or (legacy path) a PaymentMethod made by
/// `stripe.createPaymentMethod`. Recorded in the attempt by its id.
#[derive(Debug, Clone)]
pub enum Credential {
    Token(ConfirmationTokenId),
    PaymentMethod(PaymentMethodId),
}

impl Credential {
    fn parse(recorded: &str) -> Option<Credential> {
        match ConfirmationTokenId::parse(recorded) {
            Ok(token) => Some(Credential::Token(token)),
            Err(_) => PaymentMethodId::parse(recorded).ok().map(Credential::PaymentMethod),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Credential::Token(token) => token.as_str(),
            Credential::PaymentMethod(method) => method.as_str(),
        }
    }
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pays the session's cart with `token` (a ConfirmationToken, or on the legacy path a
/// PaymentMethod with the shipping address the page collected).
#[tracing::instrument(name = "confirm a payment", skip_all, fields(token = %token), err(level = "info", Debug))]
pub async fn confirm(state: &AppState, request: &Request, token: &Credential, payment: PaymentRequest) -> Result<PaymentReply, AppError> {
    let (locale, t) = (request.locale, request.texts());
    let session = session::current(&state.store, &request.session).await?.ok_or_else(|| empty_cart(locale))?;
    crate::rate_limit::check(state, request, crate::rate_limit::CONFIRM, Some(session.as_str())).await?;
    // What the payment starts from, in one read.
    let basis = state.store.payment_basis(session.as_str(), token.as_str()).await?;
    // A token seen before is the same attempt again (a double submit, a retried
    // request, the page asking again after an unknown outcome), even though the cart
    // may have become the order since.
    if let Some((attempt, own)) = basis.token_attempt {
        return match (own, &attempt.outcome) {
            (false, _) => Err(AppError::invalid(t.details_used())),
            (true, Some(AttemptOutcome::RefusedByShop)) => Err(refused(state, locale)),
            (true, Some(AttemptOutcome::NotSent)) => Err(AppError::invalid(t.details_unusable())),
            (true, _) => pay(state, locale, &attempt, &body_of(&attempt, &payment)?).await,
        };
    }
    // The shopper pays for what the page showed, or for nothing: checked before an
    // earlier payment waiting for authentication is given up for this one.
    let as_shown = |cart: crate::cart::Cart| match payment.quote.as_deref() {
        Some(shown) if !cart.lines.is_empty() && shown != cart.quote => {
            tracing::info!("the cart changed since the page was shown: nothing charged");
            Err(AppError::CartChanged(fill(t.cart_changed(), &[&locale.money(cart.total)])))
        }
        _ => Ok(cart),
    };
    let priced = crate::cart::priced(state, locale, &basis.cart)?;
    let cart = as_shown(crate::subscriptions::with_any_trial(state, request, priced).await?)?;
    let cart = if basis.awaiting_action.is_empty() {
        cart
    } else {
        abandon_pending_authentications(state, locale, basis.awaiting_action).await?;
        // Read again once the earlier payment is settled (which may have emptied it).
        as_shown(crate::cart::view(state, request, Some(&session)).await?)?
    };
    if let Credential::Token(token) = token
        && (cart.subscription().is_some() || (cart.lines.is_empty() && state.store.token_subscribed(token.as_str()).await?))
    {
        // A subscription's cart is paid by subscribing (its own requests and keys),
        // always with a ConfirmationToken; an empty cart may be a subscription's, paid
        // already: the same token again.
        return crate::subscriptions::subscribe(state, request, &session, token, &cart, payment.email).await;
    }
    let legacy = state.config.store.payment_method_creation == PaymentMethodCreation::Manual;
    if legacy != matches!(token, Credential::PaymentMethod(_)) {
        return Err(AppError::invalid(if legacy { t.wrong_path_legacy() } else { t.wrong_path_token() }));
    }
    let (order, lines) = priced_cart(locale, &cart)?;
    // A signed-in shopper pays as their Customer (saved cards belong to it), and their
    // emails go to the account's address unless they gave another.
    let mut payment = payment;
    let customer = match crate::account::current_account(state, request).await? {
        Some(account) => {
            payment.email = payment.email.or_else(|| crate::mail::address(&account.email).map(str::to_owned));
            Some(crate::account::customer_of(state, &account, request.locale).await?)
        }
        None => None,
    };
    let order = NewOrder { email: payment.email.clone(), locale: request.locale.tag().to_owned(), ..order };
    // At most two rounds: resolving an earlier attempt of unknown outcome, then ours.
    for _ in 0..2 {
        let body_for = {
            let payment = payment.clone();
            move |attempt: &Attempt| match payment.body(attempt) {
                Ok(body) => Some(body.into_string()),
                Err(error) => {
                    tracing::error!(%error, "cannot make the payment request");
                    None
                }
            }
        };
        let start = state
            .store
            .start_attempt(
                session.as_str(),
                &NewOrder { id: session::random_id("ord"), lines: lines.clone(), ..order.clone() },
                token.as_str(),
                customer.as_ref().map(CustomerId::as_str),
                session::now(),
                body_for,
            )
            .await?;
        match start {
            AttemptStart::CartEmpty => return Err(empty_cart(locale)),
            AttemptStart::OutOfStock { name, available } => return Err(out_of_stock(locale, available, &name)),
            AttemptStart::TokenUsedElsewhere => return Err(AppError::invalid(t.details_used())),
            AttemptStart::Replay(attempt) if attempt.outcome == Some(AttemptOutcome::RefusedByShop) => return Err(refused(state, locale)),
            AttemptStart::Replay(attempt) => return pay(state, locale, &attempt, &body_of(&attempt, &payment)?).await,
            AttemptStart::New(attempt) => {
                check_card(state, locale, &attempt).await?;
                return pay(state, locale, &attempt, &body_of(&attempt, &payment)?).await;
            }
            AttemptStart::Unresolved(previous) => {
                // Stripe never answered this one: ask again with the same key and body.
                // If it had gone through, this returns that result and nothing more is
                // charged.
                tracing::warn!(order = %previous.order_id, attempt = previous.number, "replaying an attempt of unknown outcome");
                match pay(state, locale, &previous, &body_of(&previous, &payment)?).await {
                    Ok(reply) => return Ok(reply),
                    Err(AppError::Declined { .. } | AppError::Invalid(_)) => continue,
                    Err(other) => return Err(other),
                }
            }
        }
    }
    Err(AppError::PaymentUnavailable)
}

/// A new payment while an earlier one still waits for 3-D Secure or a redirect: cancel
/// the earlier PaymentIntent first, so that finishing its authentication later (in
/// another tab) cannot charge a second time.
async fn abandon_pending_authentications(state: &AppState, locale: Locale, awaiting: Vec<Attempt>) -> Result<(), AppError> {
    for attempt in awaiting {
        abandon(state, locale, &attempt).await?;
    }
    Ok(())
}

/// Cancels the PaymentIntent of `attempt`, left waiting for 3-D Secure or a redirect
/// (`cancellation_reason=abandoned`), and fails its order, whose stock goes back. If it
/// went through or failed meanwhile, records that instead: the cart is then already
/// an order, or the order failed anyway. The same key and body from the shopper's next
/// checkout and from reconciliation, so that both settle it once.
pub(super) async fn abandon(state: &AppState, locale: Locale, attempt: &Attempt) -> Result<(), AppError> {
    let Some(id) = attempt.payment_intent_id.as_deref().and_then(|id| PaymentIntentId::parse(id).ok()) else { return Ok(()) };
    let key = format!("{}-cancel", attempt.idempotency_key);
    let intent = match state.payments.stripe.cancel_payment_intent(&id, Some("abandoned"), &key).await {
        Ok(intent) => intent,
        // Not cancelable any more (it succeeded or failed): read where it stands.
        Err(crate::stripe::Error::Api(api)) if api.status == 400 => state.payments.stripe.retrieve_payment_intent(&id).await?,
        // Deleted with the test data, or asked of another account (a key changed): it
        // can charge nothing here, and the 404 says nothing more, so its order is left
        // as it is, for someone to look at; the next payment, or the next abandoned
        // one, goes on.
        Err(error) if error.is_missing_object() => {
            tracing::error!(%error, order = %attempt.order_id, intent = %id, "Stripe has no such PaymentIntent (test data deleted, or another account's key?): the order is left as it is");
            return Ok(());
        }
        Err(error) => return Err(AppError::from(error)),
    };
    tracing::info!(order = %attempt.order_id, intent = %id, status = ?intent.status, "settled an abandoned authentication");
    match intent.status {
        PaymentIntentStatus::Canceled => {
            record(state, attempt, Some(id.as_str()), AttemptOutcome::Canceled, OrderStatus::Failed, None).await
        }
        _ => {
            let _ = settle(state, locale, attempt, &intent).await;
            Ok(())
        }
    }
}

/// Others bought (or are paying for) what the cart holds since it was filled.
fn out_of_stock(locale: Locale, available: u32, name: &str) -> AppError {
    AppError::invalid(fill(locale.texts().stock_short(), &[&available, &name]))
}

/// The order the cart makes (total after discount, lines), refused when empty or when
/// Stripe could not charge its total. (The stock is checked, and taken, as the attempt starts.)
fn priced_cart(locale: Locale, cart: &crate::cart::Cart) -> Result<(NewOrder, Vec<OrderLine>), AppError> {
    if cart.lines.is_empty() {
        return Err(empty_cart(locale));
    }
    if cart.subscription().is_some() {
        // Only a ConfirmationToken subscribes (`confirm`); this is the legacy path.
        return Err(AppError::invalid(locale.texts().wrong_path_token()));
    }
    if let Some(reason) = cart.charge_limit.clone() {
        return Err(AppError::invalid(reason));
    }
    let lines = cart
        .lines
        .iter()
        .map(|line| OrderLine {
            product_id: line.product_id.to_string(),
            name: line.name.clone(),
            unit_amount: line.unit_price.amount,
            quantity: line.quantity,
        })
        .collect::<Vec<_>>();
    let order = NewOrder {
        id: String::new(),
        amount: cart.total.amount,
        discount_amount: cart.discount.as_ref().map_or(0, |d| d.amount.amount),
        discount_code: cart.discount.as_ref().map(|d| d.code.clone()),
        currency: cart.total.currency.to_string(),
        lines: Vec::new(),
        email: None,
        locale: locale.tag().to_owned(),
    };
    Ok((order, lines))
}

fn refused(state: &AppState, locale: Locale) -> AppError {
    let t = locale.texts();
    let message =
        if state.config.store.blocked_card_countries.is_empty() { t.prepaid_refused() } else { t.card_refused_by_shop() }.to_owned();
    AppError::Declined { message, decline_code: None }
}

/// The shop's rules on the card, checked on the ConfirmationToken (or PaymentMethod)
/// before charging. A PaymentMethod named by the browser (legacy path) must be new or
/// the shopper's own: anyone else's is refused as if it did not exist.
async fn check_card(state: &AppState, locale: Locale, attempt: &Attempt) -> Result<(), AppError> {
    let rules = &state.config.store;
    let credential = Credential::parse(&attempt.confirmation_token_id).ok_or(AppError::Internal)?;
    let checks_rules = rules.refuse_prepaid_cards || !rules.blocked_card_countries.is_empty();
    if !checks_rules && matches!(credential, Credential::Token(_)) {
        return Ok(());
    }
    let card: Option<CardPreview> = match &credential {
        Credential::Token(token) => match state.payments.stripe.retrieve_confirmation_token(token).await {
            Ok(token) => token.payment_method_preview.and_then(|preview| preview.card),
            Err(error) => return Err(not_sent(state, locale, attempt, error).await),
        },
        Credential::PaymentMethod(method) => match state.payments.stripe.retrieve_payment_method(method).await {
            Ok(method)
                if method.customer.is_none() || method.customer.as_ref().map(CustomerId::as_str) == attempt.customer_id.as_deref() =>
            {
                method.card
            }
            Ok(method) => {
                tracing::warn!(order = %attempt.order_id, method = %method.id, "refused a payment method of another customer");
                record(state, attempt, None, AttemptOutcome::NotSent, OrderStatus::Failed, None).await?;
                return Err(details_not_found(locale));
            }
            Err(error) => return Err(not_sent(state, locale, attempt, error).await),
        },
    };
    let prepaid = card.as_ref().and_then(|c| c.funding.as_deref()) == Some("prepaid");
    let blocked =
        card.as_ref().and_then(|c| c.country.as_deref()).is_some_and(|country| rules.blocked_card_countries.iter().any(|b| b == country));
    if (rules.refuse_prepaid_cards && prepaid) || blocked {
        tracing::info!(order = %attempt.order_id, prepaid, blocked, "card refused by the shop's rules");
        record(state, attempt, None, AttemptOutcome::RefusedByShop, OrderStatus::Failed, None).await?;
        return Err(refused(state, locale));
    }
    Ok(())
}

/// The credential could not be read: the attempt is closed without calling Stripe.
async fn not_sent(state: &AppState, locale: Locale, attempt: &Attempt, error: crate::stripe::Error) -> AppError {
    if let Err(failure) = record(state, attempt, None, AttemptOutcome::NotSent, OrderStatus::Failed, None).await {
        return failure;
    }
    match error {
        crate::stripe::Error::Api(api) if api.status == 404 || api.status == 400 => details_not_found(locale),
        other => AppError::from(other),
    }
}

fn details_not_found(locale: Locale) -> AppError {
    AppError::invalid(locale.texts().details_not_found())
}

/// What a create-and-confirm request carries besides the attempt itself, taken from
/// the configuration and the confirming request. Turned into the request's body once,
/// when the attempt is recorded: every retry sends that body again.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    return_url: String,
    config: std::sync::Arc<crate::config::Config>,
    /// Legacy path: the shopper's address and browser, for the mandate.
    client: (String, String),
    /// Legacy path: the Address Element's value.
    shipping: Option<Shipping>,
    /// Where the order's emails (and Stripe's receipt) go.
    email: Option<String>,
    /// The cart's [`quote`](crate::cart::Cart::quote) as the page showed it, if the
    /// page sent it: a cart that has changed since is not charged.
    quote: Option<String>,
}

impl PaymentRequest {
    /// For a confirmation made now, by `request`.
    pub fn of_request(
        state: &AppState,
        request: &Request,
        shipping: Option<Shipping>,
        email: Option<String>,
        quote: Option<String>,
    ) -> PaymentRequest {
        PaymentRequest {
            return_url: format!("{}/checkout/complete", state.public_url),
            config: state.config.clone(),
            client: (
                request.client_address.map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string()),
                request.user_agent.clone().unwrap_or_else(|| "unknown".to_owned()),
            ),
            shipping,
            email,
            quote,
        }
    }

    /// The form body of `attempt`'s create-and-confirm request.
    fn body(&self, attempt: &Attempt) -> Result<FormBody, crate::stripe::Error> {
        let unusable = |what: &str| crate::stripe::Error::Encode(format!("the attempt's {what} is not usable"));
        let credential = Credential::parse(&attempt.confirmation_token_id).ok_or_else(|| unusable("credential"))?;
        let customer = attempt.customer_id.as_deref().map(CustomerId::parse).transpose().map_err(|_| unusable("customer"))?;
        let (ip_address, user_agent) = (&self.client.0, &self.client.1);
        let store = &self.config.store;
        let (paid_with, shipping) = match &credential {
            // The ConfirmationToken carries the shipping address the Address Element collected.
            Credential::Token(token) => (PaidWith::ConfirmationToken { confirmation_token: token }, None),
            Credential::PaymentMethod(method) => (
                PaidWith::PaymentMethod {
                    payment_method: method,
                    use_stripe_sdk: true,
                    mandate_data: MandateData {
                        customer_acceptance: CustomerAcceptance { kind: "online", online: OnlineAcceptance { ip_address, user_agent } },
                    },
                },
                self.shipping.as_ref(),
            ),
        };
        FormBody::encode(&CreateAndConfirmPaymentIntent {
            amount: attempt.amount,
            currency: &attempt.currency,
            confirm: true,
            paid_with,
            // Each of these equals what the checkout page gave Elements (`view`).
            methods: match &store.payment_method_types {
                Some(types) => PaymentMethodChoice::Listed { allowed_payment_method_types: types },
                None => PaymentMethodChoice::Dashboard { automatic_payment_methods: AutomaticPaymentMethods { enabled: true } },
            },
            return_url: &self.return_url,
            metadata: [("order_id", attempt.order_id.as_str())].into_iter().collect(),
            customer: customer.as_ref(),
            capture_method: store.capture_method_param(),
            setup_future_usage: store.setup_future_usage_for(customer.is_some()),
            payment_method_options: store
                .saved_methods
                .require_cvc_recollection
                .then_some(PaymentMethodOptions { card: CardOptions { require_cvc_recollection: true } }),
            shipping,
            receipt_email: self.email.as_deref(),
            expand: ["payment_method"],
        })
    }
}

/// The email address a shopper typed, trimmed; `None` when left empty; refused unless
/// it is an address mail can be sent to.
pub fn parse_email(email: Option<String>, t: &Texts) -> Result<Option<String>, AppError> {
    match email.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(typed) => crate::mail::address(typed).map(|email| Some(email.to_owned())).ok_or_else(|| AppError::invalid(t.email_format())),
    }
}

/// The body to send for `attempt`: the one recorded with it, or (an attempt recorded
/// before bodies were kept) one made now.
fn body_of(attempt: &Attempt, payment: &PaymentRequest) -> Result<FormBody, AppError> {
    match &attempt.request_body {
        Some(body) => Ok(FormBody::recorded(body.clone())),
        None => payment.body(attempt).map_err(|error| {
            tracing::error!(%error, order = %attempt.order_id, "cannot make the payment request");
            AppError::Internal
        }),
    }
}

/// One create-and-confirm request for an attempt (the same key and body every time).
pub(super) async fn pay(state: &AppState, locale: Locale, attempt: &Attempt, body: &FormBody) -> Result<PaymentReply, AppError> {
    match state.payments.stripe.create_and_confirm_payment_intent(body, &attempt.idempotency_key).await {
        Ok(intent) => settle(state, locale, attempt, &intent).await.map(|status| PaymentReply {
            order_id: attempt.order_id.clone(),
            payment_intent: intent.id.to_string(),
            status,
            client_secret: intent.client_secret.clone().unwrap_or_default(),
        }),
        Err(error) => Err(refusal(state, locale, attempt, error).await),
    }
}

/// What a failed create-and-confirm request means, recorded when it is known.
async fn refusal(state: &AppState, locale: Locale, attempt: &Attempt, error: crate::stripe::Error) -> AppError {
    let order = attempt.order_id.as_str();
    if let Some(card) = error.card_error() {
        let intent_id = card.payment_intent.as_ref().map(|pi| pi.id.as_str());
        let outcome = AttemptOutcome::Refused(card.decline_code.clone().or(card.code.clone()).unwrap_or_else(|| "card_error".into()));
        if let Err(failure) = record(state, attempt, intent_id, outcome, OrderStatus::Failed, None).await {
            return failure;
        }
        return AppError::Declined {
            message: locale.decline(card.decline_code.as_deref(), card.code.as_deref(), &card.message),
            decline_code: card.decline_code.clone(),
        };
    }
    if error.outcome_unknown() {
        // The attempt stays open: asking again under its key (the shopper's next
        // confirmation, or reconciliation) returns what Stripe did, and cannot charge twice.
        tracing::warn!(order, attempt = attempt.number, %error, "no usable answer from Stripe to a payment: its outcome is unknown for now");
        return AppError::PaymentUnknown { order_id: attempt.order_id.clone() };
    }
    let crate::stripe::Error::Api(api) = &error else {
        tracing::error!(order, %error, "cannot send the payment request");
        return AppError::Internal;
    };
    let request_id = api.request_id.as_deref().unwrap_or("-");
    let code = api.code.as_deref().unwrap_or(&api.kind);
    if api.status == 429 {
        // Refused before Stripe acted on it; the attempt is replayed under its key next time.
        tracing::warn!(order, request_id, "Stripe rate-limited a payment");
        return AppError::PaymentUnavailable;
    }
    let outcome = if api.kind == "idempotency_error" {
        // The recorded body is replayed byte for byte, so this is a bug: say so loudly
        // and close the attempt, so that the next confirmation starts a new one.
        tracing::error!(order, request_id, key = %attempt.idempotency_key, message = %api.message, "Stripe refused a retry under the attempt's idempotency key");
        Err(AppError::Internal)
    } else if matches!(api.code.as_deref(), Some("payment_intent_incompatible_payment_method" | "payment_method_currency_mismatch")) {
        // A kind of payment method this shop does not take for this order.
        tracing::info!(order, request_id, code, message = %api.message, "Stripe refused a payment method the shop does not accept");
        Err(AppError::invalid(locale.texts().method_not_accepted()))
    } else if let Some(customer) = attempt.customer_id.as_deref()
        && crate::account::forget_if_gone(state, customer, &error).await
    {
        // Deleted at Stripe, unbeknown to the shop: the next try makes a new one.
        Err(AppError::invalid(locale.texts().customer_renewed()))
    } else if matches!(api.param.as_deref(), Some("confirmation_token" | "payment_method")) {
        // The shopper's details: used, expired or unknown. New ones will do.
        tracing::info!(order, request_id, code, message = %api.message, "Stripe refused the payment details");
        Err(AppError::invalid(locale.texts().details_expired()))
    } else {
        // The request as the shop made it (a parameter, the currency, the customer, the
        // account's settings, the API key): nothing the shopper can change.
        tracing::error!(order, request_id, status = api.status, code, param = ?api.param, message = %api.message, "Stripe refused a payment as the shop made it: the shop's integration or settings need fixing");
        Err(AppError::PaymentSetupFault)
    };
    if let Err(failure) = record(state, attempt, None, AttemptOutcome::Refused(code.to_owned()), OrderStatus::Failed, None).await {
        return failure;
    }
    outcome.unwrap_or_else(|error| error)
}

/// Records what Stripe says of an intent. A payment that went through takes the
/// order's lines out of the cart (once, however many times this runs). Fulfilment
/// waits for the webhook.
pub(super) async fn settle(state: &AppState, locale: Locale, attempt: &Attempt, intent: &PaymentIntent) -> Result<PaymentStatus, AppError> {
    let id = Some(intent.id.as_str());
    let details = payment_details(intent);
    let status = match intent.status {
        PaymentIntentStatus::Succeeded => PaymentStatus::Succeeded,
        PaymentIntentStatus::Processing => PaymentStatus::Processing,
        PaymentIntentStatus::RequiresCapture => PaymentStatus::RequiresCapture,
        PaymentIntentStatus::RequiresAction => {
            let outcome = match &intent.next_action {
                Some(action) if action.is_authentication() => AttemptOutcome::Authenticating,
                _ => AttemptOutcome::RequiresAction,
            };
            record(state, attempt, id, outcome, OrderStatus::Confirming, Some(&details)).await?;
            return Ok(PaymentStatus::RequiresAction);
        }
        PaymentIntentStatus::RequiresPaymentMethod => {
            let failure = intent.last_payment_error.as_ref();
            let outcome = AttemptOutcome::Refused(
                failure.and_then(|f| f.decline_code.clone().or(f.code.clone())).unwrap_or_else(|| "requires_payment_method".into()),
            );
            record(state, attempt, id, outcome, OrderStatus::Failed, None).await?;
            let message = failure
                .and_then(|f| f.message.as_deref().map(|m| locale.decline(f.decline_code.as_deref(), f.code.as_deref(), m)))
                .unwrap_or_else(|| locale.texts().payment_not_through().into());
            return Err(AppError::Declined { message, decline_code: failure.and_then(|f| f.decline_code.clone()) });
        }
        ref other => {
            tracing::error!(status = ?other, intent = %intent.id, "unexpected PaymentIntent status after confirmation");
            record(state, attempt, id, AttemptOutcome::UnexpectedStatus, OrderStatus::Failed, None).await?;
            return Err(AppError::Internal);
        }
    };
    let (outcome, order_status) = match status {
        PaymentStatus::Succeeded => (AttemptOutcome::Succeeded, OrderStatus::Confirming),
        PaymentStatus::Processing => (AttemptOutcome::Processing, OrderStatus::Confirming),
        // Authorised: the merchant captures it (or cancels it) from the order view.
        _ => (AttemptOutcome::RequiresCapture, OrderStatus::Authorized),
    };
    let result = AttemptResult { payment_intent_id: id, outcome: &outcome, order_status, clear_cart: true, details: Some(&details) };
    state.store.finish_attempt(attempt, result, session::now()).await?;
    Ok(status)
}

/// Where to ship and what paid, as the PaymentIntent says.
fn payment_details(intent: &PaymentIntent) -> PaymentDetails {
    let shipping = intent.shipping.as_ref().and_then(|shipping| serde_json::to_string(shipping).ok());
    let (method_id, method) = match &intent.payment_method {
        Some(Expandable::Id(id)) => (Some(id.clone()), None),
        Some(Expandable::Object(method)) => (Some(method.id.to_string()), Some(method)),
        None => (None, None),
    };
    let card = method.and_then(|method| method.card.as_ref());
    PaymentDetails {
        shipping,
        payment_method_id: method_id,
        payment_method_type: method.map(|method| method.kind.clone()),
        card_brand: card.and_then(|card| card.brand.clone()),
        last4: card.and_then(|card| card.last4.clone()),
    }
}

async fn record(
    state: &AppState,
    attempt: &Attempt,
    intent: Option<&str>,
    outcome: AttemptOutcome,
    order_status: OrderStatus,
    details: Option<&PaymentDetails>,
) -> Result<(), AppError> {
    let result = AttemptResult { payment_intent_id: intent, outcome: &outcome, order_status, clear_cart: false, details };
    state.store.finish_attempt(attempt, result, session::now()).await.map_err(AppError::from)
}

/// A shipping address from the browser, checked: a name, a first line, a city and a
/// two-letter country, every field of a sensible length and without control characters.
pub fn parse_shipping(input: super::ShippingAddress, t: &Texts) -> Result<Shipping, AppError> {
    let clean = |value: String, required: bool| -> Result<Option<String>, AppError> {
        let value = value.trim().to_owned();
        if value.chars().count() > 200 || value.chars().any(char::is_control) || (required && value.is_empty()) {
            return Err(AppError::invalid(t.address_incomplete()));
        }
        Ok((!value.is_empty()).then_some(value))
    };
    let optional = |value: Option<String>| clean(value.unwrap_or_default(), false);
    let country = input.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AppError::invalid(t.address_incomplete()));
    }
    Ok(Shipping {
        name: clean(input.name, true)?.unwrap_or_default(),
        phone: optional(input.phone)?,
        address: crate::stripe::types::Address {
            line1: clean(input.line1, true)?,
            line2: optional(input.line2)?,
            city: clean(input.city, true)?,
            state: optional(input.state)?,
            postal_code: optional(input.postal_code)?,
            country: Some(country),
        },
    })
}

fn empty_cart(locale: Locale) -> AppError {
    AppError::invalid(locale.texts().cart_empty_pay())
}
