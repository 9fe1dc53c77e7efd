//! `POST /webhook`: Stripe's events, verified (`stripe::webhook`), applied exactly once
//! to their orders (`Store::apply_payment_event`; a dispute's events, and an early
//! fraud warning before them, flag its order beside its own flag, from the warning to
//! the outcome, `Store::flag_dispute`; a deleted Customer is forgotten by its account,
//! `Store::forget_stripe_customer`; a subscription's events, and the SetupIntent of
//! one the customer's credit paid, `subscriptions::on_event` and
//! `subscriptions::setup_succeeded`). A bad signature is a 400 with the
//! reason in the log only; an event type the shop does not act on is a 200; a failure
//! to record is a 500, so that Stripe retries.

use crate::error::AppError;
use crate::session;
use crate::state::AppState;
use crate::store::{DisputeReport, DisputeStage, EventEffect, PaymentEvent, RefundReport, RefundStatus};
use crate::stripe::webhook;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let secrets = &state.payments.webhook_secrets;
    if let Err(reason) = webhook::verify(&body, signature, secrets, state.config.stripe.webhook_tolerance, session::now()) {
        tracing::warn!(%reason, "refused a webhook delivery");
        return (StatusCode::BAD_REQUEST, "invalid signature");
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!("refused a signed webhook delivery that is not JSON");
        return (StatusCode::BAD_REQUEST, "not an event");
    };
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "not an event");
    };
    let event = Event { id, kind, object: &event["data"]["object"] };
    let applied = match kind {
        _ if kind.starts_with("charge.dispute.") || kind == "radar.early_fraud_warning.created" => dispute(&state, &event).await,
        "refund.created" | "refund.updated" | "refund.failed" => refund(&state, &event).await,
        "customer.deleted" => customer_deleted(&state, &event).await,
        _ if kind.starts_with("customer.subscription.") || matches!(kind, "invoice.paid" | "invoice.payment_failed") => {
            // Subscription mode: what Stripe says of the subscription now is kept, and a
            // paid invoice becomes an order (each once, whatever the order of events).
            crate::subscriptions::on_event(&state, kind, event.object).await.map(|effect| {
                tracing::info!(event_id = id, event_type = kind, effect, "subscription event applied");
                Applied::Done
            })
        }
        // The card of a subscription the customer's credit paid, authenticated.
        "setup_intent.succeeded" => crate::subscriptions::setup_succeeded(&state, event.object)
            .await
            .map(|subscriptions| if subscriptions { Applied::Done } else { Applied::Ignored }),
        _ if kind.starts_with("payment_intent.") => payment(&state, &event).await,
        _ => {
            tracing::debug!(event_id = id, event_type = kind, "ignored an event type the shop does not act on");
            Ok(Applied::Ignored)
        }
    };
    match applied {
        Ok(Applied::Done) => (StatusCode::OK, "ok"),
        Ok(Applied::Ignored) => (StatusCode::OK, "ignored"),
        Err(error) => {
            tracing::error!(?error, event_id = id, event_type = kind, "applying a webhook failed; Stripe will retry");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}

/// A verified event: its id, its type and its `data.object`.
struct Event<'a> {
    id: &'a str,
    kind: &'a str,
    object: &'a serde_json::Value,
}

/// What a delivery came to, when it was recorded (a failure is retried by Stripe).
enum Applied {
    Done,
    /// Nothing of the shop's, or nothing the shop acts on.
    Ignored,
}

/// A dispute's event, or an early fraud warning before any dispute: its order is
/// flagged with where the dispute stands, whichever of its events says so.
async fn dispute(state: &AppState, event: &Event<'_>) -> Result<Applied, AppError> {
    let object = event.object;
    let stage = match event.kind.strip_prefix("charge.dispute.") {
        // The cardholder disputes a charge (or their bank asks about it first): the
        // merchant must answer within days, in the Stripe Dashboard.
        Some(kind) => match object["status"].as_str().map(DisputeStage::of) {
            Some(Some(stage)) => stage,
            // A status added after this code: a new dispute needs the merchant anyway.
            _ if kind == "created" => DisputeStage::Opened,
            _ => return Ok(Applied::Ignored),
        },
        // The issuer reported the payment as fraud: a refund now avoids a dispute. (Its
        // `.updated`, once refunded or disputed, tells nothing new.)
        None => DisputeStage::FraudWarning,
    };
    let Some(payment_intent_id) = object["payment_intent"].as_str() else { return Ok(Applied::Ignored) };
    // For the merchant's email: when the answer is due, and why the cardholder disputes
    // (a warning's `fraud_type`), in Stripe's words.
    let report = DisputeReport {
        stage,
        due_by: object["evidence_details"]["due_by"].as_i64(),
        reason: object["reason"].as_str().or(object["fraud_type"].as_str()),
    };
    let effect = state.store.flag_dispute(event.id, event.kind, payment_intent_id, &report, session::now()).await?;
    let (event_id, status) = (event.id, stage.as_str());
    match stage {
        DisputeStage::FraudWarning => tracing::warn!(
            event_id,
            payment_intent_id,
            status,
            ?effect,
            "the card's issuer reported a payment as fraud: refunding it now avoids a dispute"
        ),
        DisputeStage::Inquiry | DisputeStage::Opened | DisputeStage::Lost => {
            tracing::warn!(event_id, payment_intent_id, status, ?effect, "a payment is disputed: see it in the Stripe Dashboard")
        }
        DisputeStage::Won | DisputeStage::InquiryClosed | DisputeStage::Prevented => {
            tracing::info!(event_id, payment_intent_id, status, ?effect, "a dispute ended in the merchant's favour")
        }
    }
    Ok(Applied::Done)
}

/// A refund made by the merchant's page or in the Dashboard, or one that failed later.
async fn refund(state: &AppState, event: &Event<'_>) -> Result<Applied, AppError> {
    let refund = event.object;
    let (Some(id), Some(payment_intent_id), Some(amount)) =
        (refund["id"].as_str(), refund["payment_intent"].as_str(), refund["amount"].as_i64().filter(|a| *a > 0))
    else {
        return Ok(Applied::Ignored);
    };
    let report = RefundReport {
        id,
        order_id: refund["metadata"]["order_id"].as_str(),
        payment_intent_id,
        amount,
        currency: refund["currency"].as_str().unwrap_or_default(),
        reason: refund["reason"].as_str(),
        status: RefundStatus::parse(refund["status"].as_str().unwrap_or("pending")),
        failure_reason: refund["failure_reason"].as_str(),
        restock: refund["metadata"]["restock"] == "true",
    };
    let effect = state.store.record_refund(&report, session::now()).await?;
    tracing::info!(event_id = event.id, event_type = event.kind, refund = id, ?effect, "refund recorded");
    Ok(Applied::Done)
}

/// A Customer deleted at Stripe (in the Dashboard, say): its account gets a new one the
/// next time it needs one, rather than payments refused for a Customer that is gone.
async fn customer_deleted(state: &AppState, event: &Event<'_>) -> Result<Applied, AppError> {
    let Some(customer_id) = event.object["id"].as_str() else { return Ok(Applied::Ignored) };
    let forgotten = state.store.forget_stripe_customer(customer_id).await?;
    tracing::info!(event_id = event.id, customer_id, forgotten, "a Stripe Customer was deleted");
    Ok(Applied::Done)
}

/// A PaymentIntent of one of the shop's orders: applied once, never moving the order
/// backwards (`Store::apply_payment_event`).
async fn payment(state: &AppState, event: &Event<'_>) -> Result<Applied, AppError> {
    let (event_id, event_type, object) = (event.id, event.kind, event.object);
    let Some(order_id) = object["metadata"]["order_id"].as_str() else {
        tracing::info!(event_id, event_type, "ignored a PaymentIntent event without an order");
        return Ok(Applied::Ignored);
    };
    let payment = PaymentEvent {
        event_id,
        event_type,
        order_id,
        payment_intent_id: object["id"].as_str().unwrap_or_default(),
        amount: object["amount"].as_i64().unwrap_or(-1),
        amount_received: object["amount_received"].as_i64().or(object["amount"].as_i64()).unwrap_or(-1),
        currency: object["currency"].as_str().unwrap_or_default(),
    };
    // The store applies it to the end even if Stripe hangs up first.
    match state.store.apply_payment_event(&payment, session::now()).await? {
        EventEffect::AmountMismatch => {
            tracing::error!(event_id, order_id, "charged amount differs from the order: flagged, not fulfilled")
        }
        EventEffect::Fulfilled { oversold: true } => {
            tracing::error!(event_id, order_id, "order paid but stock ran out: flagged as oversold")
        }
        effect => tracing::info!(event_id, event_type, order_id, ?effect, "webhook applied"),
    }
    Ok(Applied::Done)
}
