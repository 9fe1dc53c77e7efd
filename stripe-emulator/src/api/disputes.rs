//! Disputes, as the dispute test cards make them: the cardholder disputes a paid charge
//! (`needs_response`, funds and a fee withdrawn), or the issuer first opens an inquiry
//! (`warning_needs_response`, nothing withdrawn, the charge still refundable). The
//! merchant answers with evidence or accepts the loss by closing it; in test mode the
//! evidence text `winning_evidence` wins at once and `losing_evidence` loses, as Stripe's
//! testing guide describes. An inquiry won is `warning_closed`; an inquiry lost becomes a
//! chargeback (`needs_response`, funds withdrawn), which is the emulator's reading: the
//! guide does not say what the two texts do to an inquiry.
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

/// Opens a dispute on `charge` for `reason` (a chargeback, or an `inquiry` before one)
/// and marks the charge disputed.
pub fn open(ctx: &mut Ctx<'_>, mut charge: Value, reason: &str, inquiry: bool) {
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
        "balance_transactions": [],
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
        "is_charge_refundable": inquiry,
        "livemode": false,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": if inquiry { "warning_needs_response" } else { "needs_response" },
    });
    charge["disputed"] = json!(true);
    let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
    ctx.account.put(charge);
    super::radar::settled(ctx, &charge_id);
    if inquiry {
        ctx.account.put(dispute.clone());
        ctx.emit("charge.dispute.created", &dispute, None);
    } else {
        let dispute = withdraw(ctx, dispute);
        ctx.emit("charge.dispute.created", &dispute, None);
        ctx.emit("charge.dispute.funds_withdrawn", &dispute, None);
    }
}

/// The disputed amount and the dispute fee taken from the merchant's balance: a chargeback.
fn withdraw(ctx: &mut Ctx<'_>, mut dispute: Value) -> Value {
    let now = ctx.now();
    let amount = dispute["amount"].as_i64().unwrap_or(0);
    let currency = dispute["currency"].clone();
    let charge = dispute["charge"].as_str().unwrap_or_default().to_owned();
    let withdrawal = json!({
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": -amount,
        "available_on": now,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": format!("Chargeback withdrawal for {charge}"),
        "exchange_rate": null,
        "fee": DISPUTE_FEE,
        "fee_details": [{ "amount": DISPUTE_FEE, "application": null, "currency": currency, "description": "Dispute fee", "type": "stripe_fee" }],
        "net": -amount - DISPUTE_FEE,
        "reporting_category": "dispute",
        "source": dispute["id"],
        "status": "available",
        "type": "adjustment",
    });
    dispute["balance_transactions"] = json!([withdrawal]);
    dispute["is_charge_refundable"] = json!(false);
    ctx.account.put(dispute.clone());
    dispute
}

/// Whether a refund of `charge_id` is refused because of a dispute: a chargeback took
/// the funds already (an inquiry leaves the charge refundable).
pub fn blocks_refund(ctx: &Ctx<'_>, charge_id: &str) -> bool {
    ctx.account.list("dispute", |dispute| dispute["charge"] == charge_id).iter().any(|dispute| dispute["is_charge_refundable"] != true)
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

/// Whether the merchant may still answer (`needs_response`, or an inquiry's).
fn open_to_evidence(dispute: &Value) -> bool {
    matches!(dispute["status"].as_str(), Some("needs_response" | "warning_needs_response"))
}

/// A charge refunded in full resolves the inquiries about it (`warning_closed`): Stripe's
/// guide offers the refund as the other answer to an inquiry.
pub fn refunded_in_full(ctx: &mut Ctx<'_>, charge_id: &str) {
    let inquiries: Vec<Value> =
        ctx.account.list("dispute", |dispute| dispute["charge"] == charge_id && is_inquiry(dispute)).into_iter().cloned().collect();
    for inquiry in inquiries.into_iter().filter(|inquiry| inquiry["status"] != "warning_closed") {
        settle(ctx, inquiry, "warning_closed");
    }
}

/// Whether the dispute is an inquiry, before any chargeback.
fn is_inquiry(dispute: &Value) -> bool {
    dispute["status"].as_str().is_some_and(|status| status.starts_with("warning_"))
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
            dispute["status"] = json!(if is_inquiry(&dispute) { "warning_under_review" } else { "under_review" });
        }
    }
    // Evidence submitted now: the bank decides (at once, on the test texts).
    let submitted = dispute["status"] != before["status"];
    let changed: serde_json::Map<String, Value> = ["evidence", "evidence_details", "metadata", "status"]
        .into_iter()
        .filter(|field| dispute[*field] != before[*field])
        .map(|field| (field.to_owned(), before[field].clone()))
        .collect();
    ctx.account.put(dispute.clone());
    if !changed.is_empty() {
        ctx.emit("charge.dispute.updated", &dispute, Some(Value::Object(changed)));
    }
    if submitted {
        let inquiry = is_inquiry(&dispute);
        match dispute["evidence"]["uncategorized_text"].as_str() {
            Some("winning_evidence") => dispute = settle(ctx, dispute, if inquiry { "warning_closed" } else { "won" }),
            Some("losing_evidence") if inquiry => dispute = escalate(ctx, dispute),
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
    if !open_to_evidence(&dispute) && !matches!(dispute["status"].as_str(), Some("under_review" | "warning_under_review")) {
        return Err(ApiError::invalid(format!("This dispute is already closed ({}).", dispute["status"].as_str().unwrap_or_default())));
    }
    let dispute = settle(ctx, dispute, "lost");
    ctx.expand(dispute, params)
}

/// An inquiry the issuer turns into a chargeback: the funds are withdrawn and the
/// merchant must answer again (`needs_response`).
fn escalate(ctx: &mut Ctx<'_>, mut dispute: Value) -> Value {
    let previous = json!({ "status": dispute["status"], "balance_transactions": [] });
    dispute["status"] = json!("needs_response");
    dispute["evidence_details"]["due_by"] = json!(ctx.now() + RESPONSE_WINDOW_SECONDS);
    let dispute = withdraw(ctx, dispute);
    ctx.emit("charge.dispute.updated", &dispute, Some(previous));
    ctx.emit("charge.dispute.funds_withdrawn", &dispute, None);
    dispute
}

/// Ends a dispute `won` (the funds come back: `charge.dispute.funds_reinstated`), `lost`,
/// or an inquiry `warning_closed` (nothing was withdrawn).
fn settle(ctx: &mut Ctx<'_>, mut dispute: Value, outcome: &str) -> Value {
    let previous = dispute["status"].clone();
    dispute["status"] = json!(outcome);
    let withdrawn = dispute["balance_transactions"].as_array().is_some_and(|transactions| !transactions.is_empty());
    let reinstated = outcome == "won" && withdrawn;
    if reinstated {
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
    if reinstated {
        ctx.emit("charge.dispute.funds_reinstated", &dispute, None);
    }
    dispute
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, "dispute", "/v1/disputes", &[("charge", "charge"), ("payment_intent", "payment_intent")], params)
}
