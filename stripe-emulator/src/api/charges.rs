//! Charges (read-only: a PaymentIntent makes them) and what time does to an
//! authorization that is never captured. <https://docs.stripe.com/api/charges>

use super::Ctx;
use crate::error::ApiError;
use crate::form::Params;
use serde_json::{Value, json};

/// How long a card authorization can wait for capture (online card payments).
pub const AUTHORIZATION_LIFETIME_SECONDS: i64 = 7 * 24 * 60 * 60;

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, "charge", "/v1/charges", &[("payment_intent", "payment_intent"), ("customer", "customer")], params)
}

/// Authorizations older than their lifetime expire: the PaymentIntent is canceled
/// (`automatic`), its charge refunded in full (`charge.expired`). Run when the
/// emulator's clock moves.
pub fn expire_authorizations(ctx: &mut Ctx<'_>) {
    let now = ctx.now();
    let expired: Vec<Value> = ctx
        .account
        .list("payment_intent", |pi| pi["status"] == "requires_capture")
        .into_iter()
        .filter(|pi| {
            let charge = pi["latest_charge"].as_str().and_then(|id| ctx.account.get(id));
            charge.is_some_and(|charge| charge["created"].as_i64().unwrap_or(now) + AUTHORIZATION_LIFETIME_SECONDS <= now)
        })
        .cloned()
        .collect();
    for mut intent in expired {
        if let Some(mut charge) = intent["latest_charge"].as_str().and_then(|id| ctx.account.get(id)).cloned() {
            charge["amount_refunded"] = charge["amount"].clone();
            charge["refunded"] = json!(true);
            ctx.account.put(charge.clone());
            ctx.emit("charge.expired", &charge, None);
        }
        intent["status"] = json!("canceled");
        intent["cancellation_reason"] = json!("automatic");
        intent["canceled_at"] = json!(now);
        intent["amount_capturable"] = json!(0);
        ctx.account.put(intent.clone());
        ctx.emit("payment_intent.canceled", &intent, None);
    }
}

/// Where a charge's `receipt_url` points, below the emulator's address: as Stripe's
/// `https://pay.stripe.com/receipts/payment/{token}`.
pub const RECEIPTS: &str = "/receipts/payment/";
