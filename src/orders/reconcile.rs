//! Reconciliation: orders still settling after a while are checked against Stripe and
//! moved by the same rules as webhooks, so an event lost for good still ends in the
//! right state. Runs at start-up and periodically; safe on every instance (each change
//! is recorded once, under an id derived from the PaymentIntent and its status).

use crate::session;
use crate::state::AppState;
use crate::store::{EventEffect, PaymentEvent};
use crate::stripe::ids::PaymentIntentId;
use crate::stripe::types::PaymentIntentStatus;

/// Checks every order settling for longer than the configured age, and asks Stripe again
/// about payments whose answer never came; returns how many changed.
#[tracing::instrument(name = "reconcile settling orders", skip_all)]
pub async fn run_once(state: &AppState) -> usize {
    let cutoff = session::now() - state.config.reconcile_after.as_secs() as i64;
    let resolved = crate::checkout::resolve_unknown_attempts(state, cutoff).await;
    let orders = match state.store.orders_to_reconcile(cutoff).await {
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
            Err(error) => {
                tracing::warn!(%error, order = %order_id, "cannot reach Stripe to reconcile; will try again");
                return changed;
            }
        };
        let event_type = match intent.status {
            PaymentIntentStatus::Succeeded => "payment_intent.succeeded",
            PaymentIntentStatus::RequiresPaymentMethod => "payment_intent.payment_failed",
            PaymentIntentStatus::Canceled => "payment_intent.canceled",
            _ => continue,
        };
        let event_id = format!("reconcile:{intent_id}:{event_type}");
        let event = PaymentEvent {
            event_id: &event_id,
            event_type,
            order_id: &order_id,
            payment_intent_id: &intent_id,
            amount: intent.amount,
            currency: &intent.currency,
        };
        match state.store.apply_payment_event(&event, session::now()).await {
            Ok(EventEffect::Duplicate | EventEffect::Ignored) => {}
            Ok(effect) => {
                changed += 1;
                tracing::info!(order = %order_id, intent = %intent_id, ?effect, "reconciled an order with Stripe");
            }
            Err(error) => tracing::error!(error = ?error, order = %order_id, "cannot record a reconciliation"),
        }
    }
    changed
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
