//! Reconciliation: orders still settling after a while (and authorisations older than
//! Stripe keeps them) are checked against Stripe and moved by the same rules as
//! webhooks, so an event lost for good still ends in the right state; payments left
//! waiting for 3-D Secure or a redirect for too long are canceled, their stock back. Runs at start-up
//! and periodically; safe on every instance (each change is recorded once, under an id
//! derived from the PaymentIntent and its status).

use crate::session;
use crate::state::AppState;
use crate::store::{EventEffect, PaymentEvent, StoreError};
use crate::stripe::ids::PaymentIntentId;
use crate::stripe::types::{PaymentIntent, PaymentIntentStatus};

/// Checks every order settling for longer than the configured age, asks Stripe again
/// about payments whose answer never came, and cancels those left waiting for the
/// shopper's authentication for longer than `ABANDON_AFTER_SECS`; returns how many changed.
#[tracing::instrument(name = "reconcile settling orders", skip_all)]
pub async fn run_once(state: &AppState) -> usize {
    let now = session::now();
    let cutoff = now - state.config.reconcile_after.as_secs() as i64;
    let resolved = crate::checkout::resolve_unknown_attempts(state, cutoff).await
        + crate::checkout::abandon_stale_authentications(state, now - state.config.abandon_after.as_secs() as i64).await;
    let orders = match state.store.orders_to_reconcile(cutoff, now - AUTHORIZATION_LIFETIME_SECS).await {
        Ok(orders) => orders,
        Err(error) => {
            tracing::error!(error = ?error, "cannot list orders to reconcile");
            return 0;
        }
    };
    let mut changed = resolved;
    for (order_id, intent_id) in orders {
        let Ok(id) = PaymentIntentId::parse(&intent_id) else { continue };
        let intent = match state.payments.stripe.retrieve_payment_intent(&id).await {
            Ok(intent) => intent,
            // Deleted with the test data, or asked of another account (a key changed):
            // the 404 says nothing of whether it was paid, so the order stays as it is,
            // for someone to look at; the others are still reconciled.
            Err(error) if error.is_missing_object() => {
                tracing::error!(%error, order = %order_id, intent = %intent_id, "Stripe has no such PaymentIntent (test data deleted, or another account's key?): the order is left as it is");
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, order = %order_id, "cannot reach Stripe to reconcile; will try again");
                return changed;
            }
        };
        match apply_intent(state, &order_id, &intent).await {
            Ok(None | Some(EventEffect::Duplicate | EventEffect::Ignored)) => {}
            Ok(Some(effect)) => {
                changed += 1;
                tracing::info!(order = %order_id, intent = %intent_id, ?effect, "reconciled an order with Stripe");
            }
            Err(error) => tracing::error!(error = ?error, order = %order_id, "cannot record a reconciliation"),
        }
    }
    changed
}

/// How long Stripe keeps a card authorisation before it cancels it (7 days for most
/// cards): an order still `authorized` after that is checked.
const AUTHORIZATION_LIFETIME_SECS: i64 = 7 * 24 * 3600;

/// Moves `order_id` as `intent` (just read from Stripe, or its answer to a capture or
/// a cancel) says, by the webhooks' rules, once per status; `None` when the status
/// settles nothing.
pub async fn apply_intent(state: &AppState, order_id: &str, intent: &PaymentIntent) -> Result<Option<EventEffect>, StoreError> {
    let event_type = match intent.status {
        PaymentIntentStatus::Succeeded => "payment_intent.succeeded",
        PaymentIntentStatus::RequiresPaymentMethod => "payment_intent.payment_failed",
        PaymentIntentStatus::Canceled => "payment_intent.canceled",
        PaymentIntentStatus::RequiresCapture => "payment_intent.amount_capturable_updated",
        _ => return Ok(None),
    };
    let event_id = format!("reconcile:{}:{event_type}", intent.id);
    let event = PaymentEvent {
        event_id: &event_id,
        event_type,
        order_id,
        payment_intent_id: intent.id.as_str(),
        amount: intent.amount,
        amount_received: intent.amount_received,
        currency: &intent.currency,
    };
    state.store.apply_payment_event(&event, session::now()).await.map(Some)
}

/// Runs reconciliation now and then every `reconcile_every`, for the life of the process;
/// idle sessions are forgotten on the same schedule.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.config.reconcile_every.max(std::time::Duration::from_secs(1)));
        loop {
            ticks.tick().await;
            run_once(&state).await;
            let now = session::now();
            match state.store.expire_sessions(now - session::IDLE_LIFETIME_SECS, now).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "forgot idle sessions"),
                Err(error) => tracing::error!(error = ?error, "cannot forget idle sessions"),
            }
        }
    });
}
