//! Disputes, as the dispute test card makes them: the cardholder disputes a paid charge
//! (`needs_response`, funds and a fee withdrawn). <https://docs.stripe.com/api/disputes>

use super::Ctx;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

/// The fee Stripe withdraws with a disputed amount (minor units).
const DISPUTE_FEE: i64 = 1500;
/// How long the merchant has to respond.
const RESPONSE_WINDOW_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Opens a dispute on `charge` (a fraud chargeback) and marks the charge disputed.
pub fn open(ctx: &mut Ctx<'_>, mut charge: Value) {
    let now = ctx.now();
    let id = new_id("dp");
    let amount = charge["amount"].as_i64().unwrap_or(0);
    let currency = charge["currency"].clone();
    let evidence_fields = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ];
    let mut evidence: serde_json::Map<String, Value> = evidence_fields.iter().map(|field| ((*field).to_owned(), Value::Null)).collect();
    evidence.insert("enhanced_evidence".into(), json!({}));
    let dispute = json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [{
            "id": new_id("txn"),
            "object": "balance_transaction",
            "amount": -amount,
            "available_on": now,
            "balance_type": "payments",
            "created": now,
            "currency": currency,
            "description": format!("Chargeback withdrawal for {}", charge["id"].as_str().unwrap_or_default()),
            "exchange_rate": null,
            "fee": DISPUTE_FEE,
            "fee_details": [{ "amount": DISPUTE_FEE, "application": null, "currency": currency, "description": "Dispute fee", "type": "stripe_fee" }],
            "net": -amount - DISPUTE_FEE,
            "reporting_category": "dispute",
            "source": id,
            "status": "available",
            "type": "adjustment",
        }],
        "charge": charge["id"],
        "created": now,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": now + RESPONSE_WINDOW_SECONDS,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": null,
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": "fraudulent",
        "status": "needs_response",
    });
    ctx.account.put(dispute.clone());
    charge["disputed"] = json!(true);
    ctx.account.put(charge);
    ctx.emit("charge.dispute.created", &dispute, None);
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, "dispute", "/v1/disputes", &[("charge", "charge"), ("payment_intent", "payment_intent")], params)
}
