//! Refunds of a captured charge, in full or in part. Card refunds succeed at once; a
//! SEPA Debit refund, or one of the pending-refund test card (`4000000000007726`,
//! `pm_card_pendingRefund`), is `pending` for the processing delay, then succeeds
//! (`refund.updated`); a refund of the refund-failure test card (`4000000000005126`,
//! `pm_card_refundFail`) is `succeeded`, then fails after the processing delay
//! (`refund.updated`, `refund.failed`): the money goes back to the balance, not to the
//! card. <https://docs.stripe.com/api/refunds>

use super::Ctx;
use super::payment_methods::DELAYED_TYPE;
use crate::cards::Behaviour;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

/// The charge a refund request names, by `charge` or by `payment_intent`.
fn charge_to_refund(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let by_charge = params.str("charge")?.filter(|c| !c.is_empty());
    let by_intent = params.str("payment_intent")?.filter(|p| !p.is_empty());
    let charge = match (by_charge, by_intent) {
        (Some(charge), _) => {
            ctx.account.get_kind("charge", charge).cloned().ok_or_else(|| ApiError::no_such_param("charge", charge, "charge"))?
        }
        (None, Some(intent)) => {
            let found = ctx
                .account
                .get_kind("payment_intent", intent)
                .ok_or_else(|| ApiError::no_such_param("payment_intent", intent, "payment_intent"))?;
            let charge = found["latest_charge"].as_str().and_then(|id| ctx.account.get(id)).filter(|c| c["status"] == "succeeded");
            charge.cloned().ok_or_else(|| {
                ApiError::invalid_param(
                    "payment_intent",
                    format!("This PaymentIntent ({intent}) does not have a successful charge to refund."),
                )
            })?
        }
        (None, None) => {
            return Err(ApiError::invalid("One of the following params should be provided for this request: payment_intent or charge.")
                .with_code("parameter_missing"));
        }
    };
    if let (Some(_), Some(intent)) = (by_charge, by_intent)
        && charge["payment_intent"] != intent
    {
        return Err(ApiError::invalid_param("payment_intent", "The charge does not belong to this PaymentIntent."));
    }
    Ok(charge)
}

fn money(amount: i64, currency: &str) -> String {
    format!("{}.{:02} {}", amount / 100, amount % 100, currency.to_uppercase())
}

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut charge = charge_to_refund(ctx, params)?;
    let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
    let currency = charge["currency"].as_str().unwrap_or_default().to_owned();
    if charge["captured"] != true {
        return Err(ApiError::invalid(format!(
            "Charge {charge_id} has not been captured: cancel its PaymentIntent to release the authorization."
        ))
        .with_code("charge_not_refundable"));
    }
    if charge["disputed"] == true && super::disputes::blocks_refund(ctx, &charge_id) {
        return Err(ApiError::invalid(format!("Charge {charge_id} has been disputed.")).with_code("charge_disputed"));
    }
    let refundable = charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0);
    if refundable <= 0 {
        return Err(ApiError::invalid(format!("Charge {charge_id} has already been refunded.")).with_code("charge_already_refunded"));
    }
    let amount = match params.int("amount")? {
        None => refundable,
        Some(amount) if amount <= 0 => return Err(ApiError::invalid_param("amount", "The refund amount must be a positive integer.")),
        Some(amount) if amount > refundable => {
            return Err(ApiError::invalid_param(
                "amount",
                format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
                    money(amount, &currency),
                    money(refundable, &currency)
                ),
            ));
        }
        Some(amount) => amount,
    };
    let reason = super::payment_intents::one_of(params, "reason", &["duplicate", "fraudulent", "requested_by_customer"])?;
    let method = charge["payment_method"].as_str().unwrap_or_default();
    let pending =
        charge["payment_method_details"]["type"] == DELAYED_TYPE || card_behaviour(ctx, method) == Some(Behaviour::SucceedsRefundPending);
    let id = new_id("re");
    let refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": if pending { Value::Null } else { json!(new_id("txn")) },
        "charge": charge_id,
        "created": ctx.now(),
        "currency": currency,
        "customer": charge["customer"],
        "customer_account": null,
        "metadata": params.string_map("metadata")?,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": if pending { "pending" } else { "succeeded" },
        "transfer_reversal": null,
    });
    ctx.account.put(refund.clone());
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) + amount;
    charge["amount_refunded"] = json!(refunded);
    charge["refunded"] = json!(refunded >= charge["amount"].as_i64().unwrap_or(0));
    ctx.account.put(charge.clone());
    ctx.emit("refund.created", &refund, None);
    ctx.emit("charge.refunded", &charge, None);
    if charge["refunded"] == true {
        super::disputes::refunded_in_full(ctx, &charge_id);
        super::radar::settled(ctx, &charge_id);
    }
    if pending || fails_later(ctx, &refund) {
        ctx.to_settle.push(id);
    }
    ctx.expand(refund, params)
}

/// How the test card behind a PaymentMethod behaves (`None`: no card).
fn card_behaviour(ctx: &Ctx<'_>, method: &str) -> Option<Behaviour> {
    ctx.account.cards.get(method).map(|card| card.behaviour)
}

/// Whether the refund is of the refund-failure test card.
fn fails_later(ctx: &Ctx<'_>, refund: &Value) -> bool {
    card_behaviour(ctx, refund["payment_method"].as_str().unwrap_or_default()) == Some(Behaviour::SucceedsRefundFails)
}

/// The processing delay has passed: a pending refund goes through, and a refund of the
/// refund-failure card fails.
pub fn settle(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let mut refund = ctx.account.get_kind("refund", id).cloned().ok_or_else(|| ApiError::no_such("refund", id))?;
    if refund["status"] == "pending" {
        refund["status"] = json!("succeeded");
        refund["balance_transaction"] = json!(new_id("txn"));
        ctx.account.put(refund.clone());
        ctx.emit("refund.updated", &refund, Some(json!({ "status": "pending", "balance_transaction": null })));
    } else if refund["status"] == "succeeded" && fails_later(ctx, &refund) {
        fail(ctx, &mut refund)?;
    }
    Ok(refund)
}

/// The bank sent the refund back: it failed, and what it had taken off the charge's
/// refunded amount is given back (a new refund may be tried). Stripe's testing guide
/// names no reason for this card; `expired_or_canceled_card` is the emulator's.
fn fail(ctx: &mut Ctx<'_>, refund: &mut Value) -> Result<(), ApiError> {
    let charge_id = refund["charge"].as_str().unwrap_or_default().to_owned();
    let mut charge = ctx.account.get_kind("charge", &charge_id).cloned().ok_or_else(|| ApiError::no_such("charge", &charge_id))?;
    refund["status"] = json!("failed");
    refund["failure_reason"] = json!("expired_or_canceled_card");
    refund["failure_balance_transaction"] = json!(new_id("txn"));
    ctx.account.put(refund.clone());
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) - refund["amount"].as_i64().unwrap_or(0);
    charge["amount_refunded"] = json!(refunded.max(0));
    charge["refunded"] = json!(false);
    ctx.account.put(charge);
    ctx.emit("refund.updated", refund, Some(json!({ "status": "succeeded" })));
    ctx.emit("refund.failed", refund, None);
    Ok(())
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut refund = ctx.account.get_kind("refund", id).cloned().ok_or_else(|| ApiError::no_such("refund", id))?;
    let before = refund["metadata"].clone();
    super::merge_metadata(&mut refund, params)?;
    ctx.account.put(refund.clone());
    if refund["metadata"] != before {
        ctx.emit("refund.updated", &refund, Some(json!({ "metadata": before })));
    }
    ctx.expand(refund, params)
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, "refund", "/v1/refunds", &[("charge", "charge"), ("payment_intent", "payment_intent")], params)
}
