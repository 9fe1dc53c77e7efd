//! What Stripe says of the shop's subscriptions, kept: each read stamped with when it
//! was asked (so the newest wins, whatever order the replies and webhooks come in), each
//! paid invoice made an order once, and what the subscriber must be told queued.

use crate::error::AppError;
use crate::session;
use crate::state::AppState;
use crate::store::{InvoiceEffect, ItemTerms, PaidInvoice, SubscriptionState};
use crate::stripe::ids::{InvoiceId, SubscriptionId};
use crate::stripe::types::{Expandable, Invoice, Subscription, SubscriptionStatus};

/// Milliseconds: when a read (or change) of a subscription was sent to Stripe, which
/// is what orders the reads kept. A reply that tells the state before some change was
/// sent before that change was made, and every change is followed by its webhook, whose
/// read is sent later still; so a slow reply can never overwrite a newer state. (Stamped
/// when the reply came back, a slow reply of the old state would win over that newer
/// read.)
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// What the subscription's item bills as Stripe says it (the shop's subscriptions have
/// one item).
pub(super) fn item_of(subscription: &Subscription) -> ItemTerms {
    let item = subscription.items.data.first();
    ItemTerms { quantity: item.and_then(|item| item.quantity).map(i64::from), unit_amount: item.and_then(|item| item.price.unit_amount) }
}

pub(super) fn state_of(subscription: &Subscription) -> SubscriptionState {
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
/// subscription put on hold, paused or ended is told to the subscriber. Returns what was done, for the log.
pub async fn on_event(state: &AppState, event_type: &str, object: &serde_json::Value) -> Result<&'static str, AppError> {
    let subscription = match event_type {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed"
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
    // Paused (its free trial ended without a card, or the shop paused it): the
    // subscriber is told, once per pause, that nothing is charged meanwhile and how to
    // resume it.
    if event_type == "customer.subscription.paused"
        && let Some(paused_at) = object["status_details"]["paused"]["transitioned_at"].as_i64()
        && let why = object["status_details"]["paused"]["subscription"]["type"].as_str().unwrap_or("unknown")
        && why.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && state.store.queue_subscription_paused(id.as_str(), paused_at, why, session::now()).await?
    {
        return Ok("subscription paused; the subscriber is told");
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
