//! `POST /webhook`: Stripe's events, verified (`stripe::webhook`), applied exactly once
//! to their orders (`Store::apply_payment_event`; a dispute's events, and an early
//! fraud warning before them, flag its order beside its own flag, from the warning to
//! the outcome, `Store::flag_dispute`; a deleted Customer is forgotten by its account,
//! `Store::forget_stripe_customer`). A bad signature is a 400 with the
//! reason in the log only; an event type the shop does not act on is a 200; a failure
//! to record is a 500, so that Stripe retries.

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
    let (Some(event_id), Some(event_type)) = (event["id"].as_str(), event["type"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "not an event");
    };
    let dispute_stage = match event_type.strip_prefix("charge.dispute.") {
        // The cardholder disputes a charge (or their bank asks about it first): the
        // merchant must answer within days, in the Stripe Dashboard; the order shows
        // where the dispute stands, whichever of its events says so.
        Some(kind) => match event["data"]["object"]["status"].as_str().map(DisputeStage::of) {
            Some(Some(stage)) => Some(stage),
            // A status added after this code: a new dispute needs the merchant anyway.
            _ if kind == "created" => Some(DisputeStage::Opened),
            _ => return (StatusCode::OK, "ignored"),
        },
        // The issuer reported the payment as fraud, before any dispute: a refund now
        // avoids one. (Its `.updated`, once refunded or disputed, tells nothing new.)
        None if event_type == "radar.early_fraud_warning.created" => Some(DisputeStage::FraudWarning),
        None => None,
    };
    if let Some(stage) = dispute_stage {
        let Some(payment_intent_id) = event["data"]["object"]["payment_intent"].as_str() else {
            return (StatusCode::OK, "ignored");
        };
        // For the merchant's email: when the answer is due, and why the cardholder
        // disputes (a warning's `fraud_type`), in Stripe's words.
        let object = &event["data"]["object"];
        let report = DisputeReport {
            stage,
            due_by: object["evidence_details"]["due_by"].as_i64(),
            reason: object["reason"].as_str().or(object["fraud_type"].as_str()),
        };
        return match state.store.flag_dispute(event_id, event_type, payment_intent_id, &report, session::now()).await {
            Ok(effect) => {
                let status = stage.as_str();
                match stage {
                    DisputeStage::FraudWarning => tracing::warn!(
                        event_id,
                        payment_intent_id,
                        status,
                        ?effect,
                        "the card's issuer reported a payment as fraud: refunding it now avoids a dispute"
                    ),
                    DisputeStage::Inquiry | DisputeStage::Opened | DisputeStage::Lost => {
                        tracing::warn!(
                            event_id,
                            payment_intent_id,
                            status,
                            ?effect,
                            "a payment is disputed: see it in the Stripe Dashboard"
                        )
                    }
                    DisputeStage::Won | DisputeStage::InquiryClosed | DisputeStage::Prevented => {
                        tracing::info!(event_id, payment_intent_id, status, ?effect, "a dispute ended in the merchant's favour")
                    }
                }
                (StatusCode::OK, "ok")
            }
            Err(error) => {
                tracing::error!(error = ?error, event_id, "recording a dispute failed; Stripe will retry");
                (StatusCode::INTERNAL_SERVER_ERROR, "try again")
            }
        };
    }
    if matches!(event_type, "refund.created" | "refund.updated" | "refund.failed") {
        let refund = &event["data"]["object"];
        let (Some(id), Some(payment_intent_id), Some(amount)) =
            (refund["id"].as_str(), refund["payment_intent"].as_str(), refund["amount"].as_i64().filter(|a| *a > 0))
        else {
            return (StatusCode::OK, "ignored");
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
        return match state.store.record_refund(&report, session::now()).await {
            Ok(effect) => {
                tracing::info!(event_id, event_type, refund = id, ?effect, "refund recorded");
                (StatusCode::OK, "ok")
            }
            Err(error) => {
                tracing::error!(error = ?error, event_id, "recording a refund failed; Stripe will retry");
                (StatusCode::INTERNAL_SERVER_ERROR, "try again")
            }
        };
    }
    if event_type == "customer.deleted" {
        // Deleted at Stripe (in the Dashboard, say): its account gets a new Customer the
        // next time it needs one, rather than payments refused for a Customer that is gone.
        let Some(customer_id) = event["data"]["object"]["id"].as_str() else { return (StatusCode::OK, "ignored") };
        return match state.store.forget_stripe_customer(customer_id).await {
            Ok(forgotten) => {
                tracing::info!(event_id, customer_id, forgotten, "a Stripe Customer was deleted");
                (StatusCode::OK, "ok")
            }
            Err(error) => {
                tracing::error!(error = ?error, event_id, "forgetting a deleted Customer failed; Stripe will retry");
                (StatusCode::INTERNAL_SERVER_ERROR, "try again")
            }
        };
    }
    if event_type.starts_with("customer.subscription.") || matches!(event_type, "invoice.paid" | "invoice.payment_failed") {
        // Subscription mode: what Stripe says of the subscription now is kept, and a
        // paid invoice becomes an order (each once, whatever the order of events).
        return match crate::subscriptions::on_event(&state, event_type, &event["data"]["object"]).await {
            Ok(effect) => {
                tracing::info!(event_id, event_type, effect, "subscription event applied");
                (StatusCode::OK, "ok")
            }
            Err(error) => {
                tracing::error!(error = ?error, event_id, event_type, "applying a subscription event failed; Stripe will retry");
                (StatusCode::INTERNAL_SERVER_ERROR, "try again")
            }
        };
    }
    if !event_type.starts_with("payment_intent.") {
        tracing::debug!(event_id, event_type, "ignored an event type the shop does not act on");
        return (StatusCode::OK, "ignored");
    }
    let object = &event["data"]["object"];
    let Some(order_id) = object["metadata"]["order_id"].as_str() else {
        tracing::info!(event_id, event_type, "ignored a PaymentIntent event without an order");
        return (StatusCode::OK, "ignored");
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
    match state.store.apply_payment_event(&payment, session::now()).await {
        Ok(effect) => {
            match effect {
                EventEffect::AmountMismatch => {
                    tracing::error!(event_id, order_id, "charged amount differs from the order: flagged, not fulfilled")
                }
                EventEffect::Fulfilled { oversold: true } => {
                    tracing::error!(event_id, order_id, "order paid but stock ran out: flagged as oversold")
                }
                effect => tracing::info!(event_id, event_type, order_id, ?effect, "webhook applied"),
            }
            (StatusCode::OK, "ok")
        }
        Err(error) => {
            tracing::error!(error = ?error, event_id, "recording a webhook failed; Stripe will retry");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}
