//! Disputes, as the dispute test card makes them: the cardholder disputes a paid charge
//! (`needs_response`, funds and a fee withdrawn). The merchant answers with evidence or
//! accepts the loss by closing it; in test mode the evidence text `winning_evidence`
//! wins at once and `losing_evidence` loses, as Stripe's testing guide describes.
//! <https://docs.stripe.com/api/disputes>

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
    ctx.emit("charge.dispute.funds_withdrawn", &dispute, None);
}

/// The evidence a dispute takes as text (the others are uploaded files, which the
/// emulator lacks).
pub(super) const TEXT_EVIDENCE: [&str; 18] = [
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
];

/// Whether the merchant may still answer (`needs_response`, or a warning's).
fn open_to_evidence(dispute: &Value) -> bool {
    matches!(dispute["status"].as_str(), Some("needs_response" | "warning_needs_response"))
}

/// `POST /v1/disputes/{id}`: evidence (and metadata). Evidence is submitted to the bank
/// unless `submit=false`, after which nothing can be added; in test mode the bank decides
/// at once on `winning_evidence` or `losing_evidence` in `uncategorized_text`, and
/// anything else stays `under_review`.
pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut dispute = ctx.account.get_kind("dispute", id).cloned().ok_or_else(|| ApiError::no_such("dispute", id))?;
    let before = dispute.clone();
    super::merge_metadata(&mut dispute, params)?;
    let evidence = params.object("evidence")?;
    let submit = params.bool("submit")?.unwrap_or(true);
    if evidence.is_some() || params.bool("submit")? == Some(true) {
        if !open_to_evidence(&dispute) {
            return Err(ApiError::invalid_param(
                "evidence",
                format!("This dispute is {} and its evidence can no longer be changed.", dispute["status"].as_str().unwrap_or("closed")),
            ));
        }
        for field in TEXT_EVIDENCE {
            if let Some(value) = evidence.as_ref().map(|evidence| evidence.str(field)).transpose()?.flatten() {
                dispute["evidence"][field] = if value.is_empty() { Value::Null } else { json!(value) };
            }
        }
        let has_evidence = TEXT_EVIDENCE.iter().any(|field| !dispute["evidence"][field].is_null());
        dispute["evidence_details"]["has_evidence"] = json!(has_evidence);
        if submit {
            let count = dispute["evidence_details"]["submission_count"].as_i64().unwrap_or(0);
            dispute["evidence_details"]["submission_count"] = json!(count + 1);
            dispute["evidence_details"]["submission_method"] = json!("manual");
            dispute["status"] = json!("under_review");
        }
    }
    let changed: serde_json::Map<String, Value> = ["evidence", "evidence_details", "metadata", "status"]
        .into_iter()
        .filter(|field| dispute[*field] != before[*field])
        .map(|field| (field.to_owned(), before[field].clone()))
        .collect();
    ctx.account.put(dispute.clone());
    if !changed.is_empty() {
        ctx.emit("charge.dispute.updated", &dispute, Some(Value::Object(changed)));
    }
    if submit && dispute["status"] == "under_review" {
        match dispute["evidence"]["uncategorized_text"].as_str() {
            Some("winning_evidence") => dispute = settle(ctx, dispute, "won"),
            Some("losing_evidence") => dispute = settle(ctx, dispute, "lost"),
            _ => {}
        }
    }
    ctx.expand(dispute, params)
}

/// `POST /v1/disputes/{id}/close`: the merchant accepts the dispute as lost.
pub fn close(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let dispute = ctx.account.get_kind("dispute", id).cloned().ok_or_else(|| ApiError::no_such("dispute", id))?;
    if !open_to_evidence(&dispute) && dispute["status"] != "under_review" {
        return Err(ApiError::invalid(format!("This dispute is already closed ({}).", dispute["status"].as_str().unwrap_or_default())));
    }
    let dispute = settle(ctx, dispute, "lost");
    ctx.expand(dispute, params)
}

/// Ends a dispute `won` (the funds come back: `charge.dispute.funds_reinstated`) or `lost`.
fn settle(ctx: &mut Ctx<'_>, mut dispute: Value, outcome: &str) -> Value {
    let previous = dispute["status"].clone();
    dispute["status"] = json!(outcome);
    if outcome == "won" {
        let now = ctx.now();
        let amount = dispute["amount"].as_i64().unwrap_or(0);
        let currency = dispute["currency"].clone();
        let (source, charge) = (dispute["id"].clone(), dispute["charge"].as_str().unwrap_or_default().to_owned());
        if let Some(transactions) = dispute["balance_transactions"].as_array_mut() {
            transactions.push(json!({
                "id": new_id("txn"),
                "object": "balance_transaction",
                "amount": amount,
                "available_on": now,
                "balance_type": "payments",
                "created": now,
                "currency": currency,
                "description": format!("Chargeback reversal for {charge}"),
                "exchange_rate": null,
                "fee": 0,
                "fee_details": [],
                "net": amount,
                "reporting_category": "dispute_reversal",
                "source": source,
                "status": "available",
                "type": "adjustment",
            }));
        }
    }
    ctx.account.put(dispute.clone());
    ctx.emit("charge.dispute.closed", &dispute, Some(json!({ "status": previous })));
    if outcome == "won" {
        ctx.emit("charge.dispute.funds_reinstated", &dispute, None);
    }
    dispute
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, "dispute", "/v1/disputes", &[("charge", "charge"), ("payment_intent", "payment_intent")], params)
}
