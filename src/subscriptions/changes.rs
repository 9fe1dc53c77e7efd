//! What a subscriber changes from the account page: cancel at the period's end (and
//! undo it), end a subscription on hold, the quantity, the card renewals are charged to,
//! and paying an overdue renewal. Each one is the signed-in shopper's own subscription,
//! counted against the rate limits, and what Stripe answers is kept.

use super::OverduePayment;
use super::sync::{item_of, now_ms, refresh, state_of};
use crate::account::{current_account, list_saved};
use crate::error::AppError;
use crate::money::{Currency, MAXIMUM_CHARGE, Money};
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::store::{AccountRecord, SubscriptionRecord, SubscriptionState};
use crate::stripe::ids::{CustomerId, InvoiceId, PaymentMethodId, SubscriptionId};
use crate::stripe::types::{Expandable, PaymentIntentStatus, Subscription, SubscriptionStatus};

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

/// Ends the signed-in shopper's subscription now, if it is on hold: `unpaid` (a
/// subscriber who will not pay its renewal to resume it stops it, rather than leave it
/// billing drafts every period) or `paused` (one the shop, or its trial's end without a
/// card, paused: it bills nothing, and the subscriber need not wait for it to resume). Stripe stops collecting its invoices, and its
/// `customer.subscription.deleted` tells the subscriber it ended. Any other subscription
/// is canceled at its period's end instead ([`set_cancel_at_period_end`]).
pub async fn end_on_hold(state: &AppState, request: &Request, id: &str) -> Result<(), AppError> {
    let (_, id, record) = own_subscription(state, request, id).await?;
    match record.state.status.as_str() {
        "unpaid" | "paused" => {}
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
/// then on (Stripe does not retry an old card that a shopper replaced). A `paused` one
/// is resumed, its new period charged to that card ([`resume_paused`]).
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
    if !super::awaits_payment(&record.state.status) {
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
        // Paused: its resumption's invoice if one is open (a resume declined, or the
        // shop's); else resumed now, its new period charged to the card. An invoice from
        // before the pause stays Stripe's to retry: paying it would leave it paused.
        _ if subscription.status == SubscriptionStatus::Paused => match subscription.resumption_to_pay() {
            Some(invoice) => invoice.clone(),
            None => {
                // One resumption per paused state, whichever tab or card asks: keyed by
                // the subscription and the invoice it had last, so that two tabs' clicks
                // at once make one new period (Stripe gives the second the first's reply,
                // a 409 meanwhile), and a resumption whose invoice lapsed unpaid is made
                // afresh. Without an invoice, the form's.
                let since = subscription.latest_invoice_id().map_or_else(|| format!("{attempt}-{method}"), str::to_owned);
                let key = |step: &str| format!("{step}-{id}-{since}");
                match resume_paused(state, request, &id, &key).await? {
                    Resumption::Paid => return Ok(OverduePayment::Paid),
                    // Its bank wants the shopper: paid on session below, where it can ask.
                    Resumption::Authenticate(invoice) if on_session => invoice,
                    Resumption::Authenticate(_) => {
                        return Err(AppError::Declined { message: t.overdue_needs_authentication().to_owned(), decline_code: None });
                    }
                    Resumption::ToPay(invoice) => invoice,
                }
            }
        },
        Some(Expandable::Object(invoice)) if invoice.awaits_payment() => invoice.id.clone(),
        // An `unpaid` subscription's renewal, a draft Stripe does not advance by itself:
        // finalized to be paid (paying the latest invoice makes the subscription active).
        // Keyed by the invoice, not the form: a tab that read it a draft after another
        // finalized it is given the invoice as finalized, and pays it (or is told it is
        // paid), rather than being refused.
        Some(Expandable::Object(invoice)) if invoice.status.as_deref() == Some("draft") => {
            match state.payments.stripe.finalize_invoice(&invoice.id, &format!("finalize-{}", invoice.id)).await {
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

/// What resuming a paused subscription came to.
enum Resumption {
    /// Resumed: its new period paid.
    Paid,
    /// Its new period's invoice, whose charge the card's bank wants the shopper to
    /// authenticate.
    Authenticate(InvoiceId),
    /// Its new period's invoice, not charged yet: paid with the card below.
    ToPay(InvoiceId),
}

/// Resumes the signed-in shopper's paused subscription `id`, whose card is set: a new
/// period starts now, charged at once, off session as a renewal is
/// (`resume_on_payment_success`, which Stripe's pause guide recommends). It stays paused
/// until that charge succeeds, so a declined card changes nothing but leaves the
/// period's invoice open, which the next try ([`pay_overdue`]) pays rather than resuming
/// again. Declined, why; a bank that wants the shopper, the invoice to authenticate.
///
/// Stripe refuses `resume_on_payment_success` when it has no default payment method to
/// charge ("Otherwise, Stripe returns an error"), which its guide ties to the customer,
/// where the shop sets the card on the subscription. Refused so, with the subscription
/// still paused and nothing invoiced, it is resumed on the payment's attempt instead,
/// and its invoice is paid with the card. `key`s: one resumption per paused state
/// ([`pay_overdue`]'s).
async fn resume_paused(
    state: &AppState,
    request: &Request,
    id: &SubscriptionId,
    key: &(dyn Fn(&str) -> String + Sync),
) -> Result<Resumption, AppError> {
    let stripe = &state.payments.stripe;
    let resumed = match stripe.resume_subscription(id, true, &key("resume")).await {
        Ok(resumed) => resumed,
        // A decline told as the request's error rather than in its reply: what became
        // of the subscription and its resumption invoice is read again, and said below.
        Err(crate::stripe::Error::Api(api)) if api.status == 402 => {
            tracing::info!(subscription = %id, code = ?api.code, "Stripe answered a resumption with a decline");
            stripe.retrieve_subscription(id).await?
        }
        Err(crate::stripe::Error::Api(api)) if api.status == 400 => {
            let now = stripe.retrieve_subscription(id).await?;
            if let Some(invoice) = now.resumption_to_pay() {
                // Resumed on the payment's attempt meanwhile (by the shop, or this
                // click's first try in another tab): that new period is what to pay.
                tracing::info!(subscription = %id, message = %api.message, "a paused subscription's resumption is open already");
                refresh(state, id).await?;
                return Ok(Resumption::ToPay(invoice.clone()));
            }
            if now.status != SubscriptionStatus::Paused {
                // Resumed by the shop, or ended, meanwhile: said as it is now.
                tracing::info!(subscription = %id, message = %api.message, "Stripe would not resume a paused subscription");
                return Err(no_longer_overdue(state, request, id).await?);
            }
            tracing::info!(subscription = %id, message = %api.message, "Stripe would not resume on the payment's success; resuming on its attempt");
            let resumed = match stripe.resume_subscription(id, false, &key("resume-on-attempt")).await {
                Ok(resumed) => resumed,
                Err(crate::stripe::Error::Api(api)) if api.status == 400 => {
                    tracing::info!(subscription = %id, message = %api.message, "Stripe would not resume a paused subscription");
                    return Err(no_longer_overdue(state, request, id).await?);
                }
                Err(error) => return Err(AppError::from(error)),
            };
            refresh(state, id).await?;
            return Ok(match resumed.latest_invoice {
                Some(Expandable::Object(invoice)) if invoice.awaits_payment() => Resumption::ToPay(invoice.id),
                // Nothing to pay (the customer's credit covered it): resumed.
                _ => Resumption::Paid,
            });
        }
        Err(error) => return Err(AppError::from(error)),
    };
    refresh(state, id).await?;
    if resumed.status != SubscriptionStatus::Paused {
        tracing::info!(subscription = %id, status = resumed.status.as_str(), "a paused subscription was resumed by its subscriber");
        return Ok(Resumption::Paid);
    }
    // Still paused: its new period's charge was declined, or waits for the bank.
    let (invoice, intent) = match &resumed.latest_invoice {
        Some(Expandable::Object(invoice)) if invoice.awaits_payment() => (invoice.id.clone(), invoice.payment_intent()),
        _ => {
            tracing::error!(subscription = %id, "a paused subscription resumed without a new period's invoice to pay");
            return Err(AppError::Internal);
        }
    };
    let Some(intent) = intent else {
        tracing::error!(subscription = %id, invoice = %invoice, "a paused subscription resumed with no payment to show for it");
        return Err(AppError::Internal);
    };
    let intent = stripe.retrieve_payment_intent(&intent).await?;
    let error = intent.last_payment_error.unwrap_or_default();
    let why = error.decline_code.as_deref().or(error.code.as_deref());
    if intent.status == PaymentIntentStatus::RequiresAction || why == Some("authentication_required") {
        tracing::info!(subscription = %id, invoice = %invoice, "resuming a paused subscription needs the shopper's 3-D Secure");
        return Ok(Resumption::Authenticate(invoice));
    }
    tracing::info!(subscription = %id, code = ?error.code, decline_code = ?error.decline_code, "resuming a paused subscription was declined");
    let message = request.locale.decline(
        error.decline_code.as_deref(),
        error.code.as_deref(),
        error.message.as_deref().unwrap_or("Your card was declined."),
    );
    Err(AppError::Declined { message, decline_code: error.decline_code })
}

/// Why Stripe refused to go on with an overdue payment of `id`, once the subscription is
/// read again and recorded: nothing is overdue any more (paid, voided or ended
/// meanwhile); still overdue, the refusal was unexpected.
async fn no_longer_overdue(state: &AppState, request: &Request, id: &SubscriptionId) -> Result<AppError, AppError> {
    refresh(state, id).await?;
    let overdue = state.store.subscription(id.as_str()).await?.is_some_and(|record| super::awaits_payment(&record.state.status));
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
