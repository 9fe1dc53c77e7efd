//! What happens when a PaymentIntent or SetupIntent is confirmed with a payment
//! method: the test card's behaviour, 3-D Secure and redirects, delayed methods,
//! saving the method, charges, and the events of each step.

use super::Ctx;
use super::charges::RECEIPTS;
use super::payment_methods::{self, DELAYED_TYPE, REDIRECT_TYPE};
use crate::cards::{Behaviour, Decline};
use crate::error::ApiError;
use crate::state::{new_id, random_suffix};
use serde_json::{Value, json};

/// PaymentIntent or SetupIntent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Payment,
    Setup,
}

impl Kind {
    pub fn of(intent: &Value) -> Kind {
        if intent["object"] == "setup_intent" { Kind::Setup } else { Kind::Payment }
    }

    /// Event name prefix: `payment_intent` / `setup_intent`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Payment => "payment_intent",
            Kind::Setup => "setup_intent",
        }
    }

    fn error_field(self) -> &'static str {
        match self {
            Kind::Payment => "last_payment_error",
            Kind::Setup => "last_setup_error",
        }
    }

    fn failed_event(self) -> &'static str {
        match self {
            Kind::Payment => "payment_intent.payment_failed",
            Kind::Setup => "setup_intent.setup_failed",
        }
    }
}

/// How confirmation was asked for.
pub struct Confirmation {
    pub off_session: bool,
    /// `error_on_requires_action`: fail the attempt instead of asking for an action.
    pub error_on_requires_action: bool,
}

/// What an attempt that needed authentication it could not get records.
const AUTHENTICATION_REQUIRED: Decline = Decline {
    code: "authentication_required",
    decline_code: "authentication_required",
    message: "Your card was declined. This transaction requires authentication.",
};

/// Confirms `intent` (already stored) with the PaymentMethod `pm`; stores and returns
/// the outcome. A decline is the 402 error Stripe returns, carrying the intent.
pub fn confirm(ctx: &mut Ctx<'_>, mut intent: Value, pm: Value, how: Confirmation) -> Result<Value, ApiError> {
    let kind = Kind::of(&intent);
    let pm_id = pm["id"].as_str().unwrap_or_default().to_owned();
    intent["payment_method"] = json!(pm_id);
    intent[kind.error_field()] = Value::Null;
    intent["next_action"] = Value::Null;

    let behaviour = match pm["type"].as_str() {
        Some("card") => ctx.account.cards.get(&pm_id).map_or(Behaviour::Succeeds, |card| card.behaviour),
        _ => Behaviour::Succeeds,
    };
    let saved = pm["customer"].is_string();

    let needs_action = pm["type"] == REDIRECT_TYPE
        || matches!(behaviour, Behaviour::Authenticate { when_saved, .. } if !(how.off_session && saved && !when_saved));
    if needs_action && how.error_on_requires_action && !how.off_session {
        return decline_with(ctx, intent, &pm, AUTHENTICATION_REQUIRED);
    }
    if pm["type"] == REDIRECT_TYPE {
        let action = redirect_action(ctx, &intent);
        return requires_action(ctx, intent, action);
    }
    if pm["type"] == DELAYED_TYPE && kind == Kind::Payment {
        return processing(ctx, intent);
    }
    match behaviour {
        Behaviour::Succeeds
        | Behaviour::SucceedsThenDisputed { .. }
        | Behaviour::SucceedsThenInquiry
        | Behaviour::SucceedsThenEarlyFraudWarning
        | Behaviour::SucceedsRefundPending
        | Behaviour::SucceedsRefundFails => succeed(ctx, intent),
        Behaviour::AttachesThenDeclines(_) if kind == Kind::Setup => succeed(ctx, intent),
        Behaviour::Declines(decline) | Behaviour::AttachesThenDeclines(decline) => decline_with(ctx, intent, &pm, decline),
        Behaviour::Authenticate { when_saved, .. } if how.off_session => {
            if saved && !when_saved {
                succeed(ctx, intent)
            } else {
                decline_with(ctx, intent, &pm, AUTHENTICATION_REQUIRED)
            }
        }
        Behaviour::Authenticate { .. } => {
            let id = intent_id(&intent);
            let action = json!({
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": format!("{}/_emulator/3ds/{id}", ctx.base_url),
                    "source": new_id("src"),
                },
            });
            requires_action(ctx, intent, action)
        }
    }
}

fn intent_id(intent: &Value) -> String {
    intent["id"].as_str().unwrap_or_default().to_owned()
}

fn redirect_action(ctx: &Ctx<'_>, intent: &Value) -> Value {
    let id = intent["id"].as_str().unwrap_or_default();
    let secret = intent["client_secret"].as_str().unwrap_or_default();
    json!({
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": format!("{}/_emulator/redirect/{id}?client_secret={secret}", ctx.base_url),
            "return_url": Value::Null,
        },
    })
}

fn requires_action(ctx: &mut Ctx<'_>, mut intent: Value, mut action: Value) -> Result<Value, ApiError> {
    let kind = Kind::of(&intent);
    if action["type"] == "redirect_to_url" {
        let url = ctx.account.return_urls.get(&intent_id(&intent)).cloned();
        action["redirect_to_url"]["return_url"] = json!(url);
    }
    intent["status"] = json!("requires_action");
    intent["next_action"] = action;
    ctx.account.put(intent.clone());
    ctx.emit(&format!("{}.requires_action", kind.name()), &intent, Some(json!({ "status": "requires_payment_method" })));
    if kind == Kind::Payment {
        super::invoices::intent_requires_action(ctx, &intent);
    }
    Ok(intent)
}

fn processing(ctx: &mut Ctx<'_>, mut intent: Value) -> Result<Value, ApiError> {
    save_method_if_asked(ctx, &intent)?;
    // `processing` (the field) describes card payments awaiting a customer's
    // notification; a bank debit in flight leaves it null.
    intent["status"] = json!("processing");
    ctx.account.put(intent.clone());
    ctx.emit("payment_intent.processing", &intent, Some(json!({ "status": "requires_payment_method" })));
    ctx.to_settle.push(intent_id(&intent));
    Ok(intent)
}

/// Attaches the intent's PaymentMethod to its customer when the intent asks for it to
/// be saved (`setup_future_usage`, or any SetupIntent with a customer).
fn save_method_if_asked(ctx: &mut Ctx<'_>, intent: &Value) -> Result<(), ApiError> {
    let wants = Kind::of(intent) == Kind::Setup || !intent["setup_future_usage"].is_null();
    if let (true, Some(customer), Some(pm)) = (wants, intent["customer"].as_str(), intent["payment_method"].as_str()) {
        let (customer, pm) = (customer.to_owned(), pm.to_owned());
        payment_methods::attach_to(ctx, &pm, &customer, "payment_method")?;
    }
    Ok(())
}

fn charge(ctx: &mut Ctx<'_>, intent: &Value, status: &str, captured: bool, decline: Option<&Decline>) -> Value {
    let pm_id = intent["payment_method"].as_str().unwrap_or_default();
    let pm = ctx.account.get(pm_id).cloned().unwrap_or(Value::Null);
    let amount = intent["amount"].as_i64().unwrap_or(0);
    let risk_level = ctx.account.cards.get(pm_id).map_or("normal", |card| card.risk_level);
    // Radar's default rules block the highest risk before the card network sees it.
    let blocked = decline.is_some() && risk_level == "highest";
    let outcome = json!({
        "advice_code": null,
        "network_advice_code": null,
        "network_decline_code": null,
        "network_status": match (decline, blocked) {
            (_, true) => "not_sent_to_network",
            (Some(_), false) => "declined_by_network",
            (None, _) => "approved_by_network",
        },
        "reason": if blocked { Some("highest_risk_level") } else { decline.map(|d| d.decline_code) },
        "risk_level": risk_level,
        "seller_message": match (decline, blocked) {
            (_, true) => "Stripe blocked this payment as too risky.",
            (Some(_), false) => "The bank did not return any further details with this decline.",
            (None, _) => "Payment complete.",
        },
        "type": match (decline, blocked) {
            (_, true) => "blocked",
            (Some(_), false) => "issuer_declined",
            (None, _) => "authorized",
        },
    });
    let charge = json!({
        "id": new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": if captured { amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": if captured { json!(new_id("txn")) } else { Value::Null },
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "STRIPE EMULATOR",
        "captured": captured,
        "created": ctx.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": decline.map(|d| d.code),
        "failure_message": decline.map(|d| d.message),
        "fraud_details": {},
        "livemode": false,
        "metadata": intent["metadata"],
        "on_behalf_of": null,
        "outcome": outcome,
        "paid": decline.is_none(),
        "payment_intent": intent["id"],
        "payment_method": pm_id,
        "payment_method_details": payment_method_details(&pm, amount, decline.is_none()),
        "receipt_email": intent["receipt_email"],
        "receipt_number": null,
        // Stripe's page for it, kept up to date with its refunds: served at this address
        // by the control face (the token is the address's secret).
        "receipt_url": format!("{}{RECEIPTS}{}", ctx.base_url, random_suffix(40)),
        "refunded": false,
        "review": null,
        "shipping": intent["shipping"],
        "source": null,
        "source_transfer": null,
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": status,
        "transfer_data": null,
        "transfer_group": intent["transfer_group"],
    });
    ctx.account.put(charge.clone());
    charge
}

/// A charge's `payment_method_details`: what the payment network reported about the
/// method, shaped per type as Stripe's Charge has it (not a copy of the PaymentMethod).
fn payment_method_details(pm: &Value, amount: i64, authorized: bool) -> Value {
    let kind = pm["type"].as_str().unwrap_or("card");
    let details = match kind {
        "card" => {
            let card = &pm["card"];
            json!({
                "amount_authorized": if authorized { json!(amount) } else { Value::Null },
                "authorization_code": if authorized { json!("123456") } else { Value::Null },
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "electronic_commerce_indicator": null,
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "extended_authorization": { "status": "disabled" },
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "incremental_authorization": { "status": "unavailable" },
                "installments": null,
                "last4": card["last4"],
                "mandate": null,
                "multicapture": { "status": "unavailable" },
                "network": card["brand"],
                "network_token": { "used": false },
                "network_transaction_id": if authorized { json!("104557651805572") } else { Value::Null },
                "overcapture": { "maximum_amount_capturable": amount, "status": "unavailable" },
                "regulated_status": card["regulated_status"],
                "three_d_secure": null,
                "transaction_link_id": null,
                "wallet": null,
            })
        }
        DELAYED_TYPE => {
            let sepa = &pm[DELAYED_TYPE];
            json!({
                "bank_code": sepa["bank_code"],
                "branch_code": sepa["branch_code"],
                "country": sepa["country"],
                "fingerprint": sepa["fingerprint"],
                "last4": sepa["last4"],
                "mandate": null,
            })
        }
        REDIRECT_TYPE => {
            let ideal = &pm[REDIRECT_TYPE];
            json!({
                "bank": ideal["bank"],
                "bic": ideal["bic"],
                "generated_sepa_debit": null,
                "generated_sepa_debit_mandate": null,
                "iban_last4": "5264",
                "transaction_id": if authorized { json!("0000000000000001") } else { Value::Null },
                "verified_name": pm["billing_details"]["name"],
            })
        }
        _ => json!({}),
    };
    json!({ "type": kind, kind: details })
}

/// The successful end of a confirmation (or of authentication, or of processing).
pub fn succeed(ctx: &mut Ctx<'_>, mut intent: Value) -> Result<Value, ApiError> {
    let kind = Kind::of(&intent);
    let previous_status = intent["status"].clone();
    save_method_if_asked(ctx, &intent)?;
    intent["next_action"] = Value::Null;
    if kind == Kind::Setup {
        intent["status"] = json!("succeeded");
        ctx.account.put(intent.clone());
        ctx.emit("setup_intent.succeeded", &intent, Some(json!({ "status": previous_status })));
        super::subscriptions::setup_succeeded(ctx, &intent);
        return Ok(intent);
    }
    let amount = intent["amount"].clone();
    if intent["capture_method"] == "manual" {
        let charge = charge(ctx, &intent, "succeeded", false, None);
        intent["status"] = json!("requires_capture");
        intent["amount_capturable"] = amount;
        intent["latest_charge"] = charge["id"].clone();
        ctx.account.put(intent.clone());
        ctx.emit("charge.succeeded", &charge, None);
        ctx.emit("payment_intent.amount_capturable_updated", &intent, Some(json!({ "amount_capturable": 0, "status": previous_status })));
        return Ok(intent);
    }
    let charge = charge(ctx, &intent, "succeeded", true, None);
    intent["status"] = json!("succeeded");
    intent["amount_received"] = amount;
    intent["latest_charge"] = charge["id"].clone();
    ctx.account.put(intent.clone());
    ctx.emit("charge.succeeded", &charge, None);
    ctx.emit("payment_intent.succeeded", &intent, Some(json!({ "amount_received": 0, "status": previous_status })));
    super::invoices::intent_succeeded(ctx, &intent);
    let pm_id = intent["payment_method"].as_str().unwrap_or_default();
    match ctx.account.cards.get(pm_id).map(|card| card.behaviour) {
        Some(Behaviour::SucceedsThenDisputed { reason }) => super::disputes::open(ctx, charge, reason, false),
        Some(Behaviour::SucceedsThenInquiry) => super::disputes::open(ctx, charge, "fraudulent", true),
        Some(Behaviour::SucceedsThenEarlyFraudWarning) => super::radar::warn(ctx, &charge),
        _ => {}
    }
    Ok(intent)
}

/// A declined confirmation: the intent goes back to `requires_payment_method` with the
/// error recorded, and the reply is Stripe's 402 `card_error` carrying the intent.
fn decline_with(ctx: &mut Ctx<'_>, intent: Value, pm: &Value, decline: Decline) -> Result<Value, ApiError> {
    let (intent, error) = record_decline(ctx, intent, pm, decline);
    let kind = Kind::of(&intent);
    Err(error.attach(kind.name(), intent).attach("payment_method", pm.clone()))
}

fn record_decline(ctx: &mut Ctx<'_>, mut intent: Value, pm: &Value, decline: Decline) -> (Value, ApiError) {
    let kind = Kind::of(&intent);
    let previous_status = intent["status"].clone();
    let mut error = ApiError::card(decline.code, Some(decline.decline_code), decline.message);
    let mut recorded = json!({
        "type": "card_error",
        "code": decline.code,
        "decline_code": decline.decline_code,
        "message": decline.message,
        "doc_url": format!("https://stripe.com/docs/error-codes/{}", decline.code.replace('_', "-")),
        "payment_method": pm,
    });
    if kind == Kind::Payment {
        let charge = charge(ctx, &intent, "failed", false, Some(&decline));
        recorded["charge"] = charge["id"].clone();
        error = error.attach("charge", charge["id"].clone());
        intent["latest_charge"] = charge["id"].clone();
        ctx.emit("charge.failed", &charge, None);
    }
    intent["status"] = json!("requires_payment_method");
    intent["payment_method"] = Value::Null;
    intent["next_action"] = Value::Null;
    intent[kind.error_field()] = recorded;
    ctx.account.put(intent.clone());
    ctx.emit(kind.failed_event(), &intent, Some(json!({ "status": previous_status })));
    if kind == Kind::Payment {
        super::invoices::intent_failed(ctx, &intent);
    }
    (intent, error)
}

/// The end of a 3-D Secure challenge or a redirect (the modal's Complete / Fail, the
/// bank page's Authorize / Fail): applies the outcome and returns the intent.
pub fn authenticate(ctx: &mut Ctx<'_>, id: &str, client_secret: &str, approved: bool) -> Result<Value, ApiError> {
    let intent = ctx
        .account
        .get(id)
        .filter(|o| o["object"] == "payment_intent" || o["object"] == "setup_intent")
        .filter(|o| o["client_secret"] == client_secret)
        .cloned()
        .ok_or_else(|| ApiError::no_such("intent", id))?;
    if intent["status"] != "requires_action" {
        return Err(ApiError::invalid(format!("This intent is not waiting for authentication (status {}).", intent["status"]))
            .with_code(&format!("{}_unexpected_state", Kind::of(&intent).name())));
    }
    let pm_id = intent["payment_method"].as_str().unwrap_or_default().to_owned();
    let pm = ctx.account.get(&pm_id).cloned().unwrap_or(Value::Null);
    if !approved {
        return Ok(authentication_failed(ctx, intent, &pm));
    }
    let then = match ctx.account.cards.get(&pm_id).map(|card| card.behaviour) {
        Some(Behaviour::Authenticate { then, .. }) => then,
        _ => None,
    };
    match then {
        Some(decline) => Ok(record_decline(ctx, intent, &pm, decline).0),
        None if pm["type"] == DELAYED_TYPE && Kind::of(&intent) == Kind::Payment => processing(ctx, intent),
        None => succeed(ctx, intent),
    }
}

fn authentication_failed(ctx: &mut Ctx<'_>, mut intent: Value, pm: &Value) -> Value {
    let kind = Kind::of(&intent);
    intent["status"] = json!("requires_payment_method");
    intent["next_action"] = Value::Null;
    intent["payment_method"] = Value::Null;
    intent[kind.error_field()] = json!({
        "type": "invalid_request_error",
        "code": format!("{}_authentication_failure", kind.name()),
        "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
        "doc_url": format!("https://stripe.com/docs/error-codes/{}-authentication-failure", kind.name().replace('_', "-")),
        "payment_method": pm,
    });
    ctx.account.put(intent.clone());
    ctx.emit(kind.failed_event(), &intent, Some(json!({ "status": "requires_action" })));
    if kind == Kind::Payment {
        super::invoices::intent_failed(ctx, &intent);
    }
    intent
}

/// How a delayed payment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// As the bank account's test IBAN says (Stripe's failing IBANs fail).
    AsTheAccountSays,
    Succeed,
    Fail,
}

/// What a failed SEPA debit records.
const DEBIT_FAILED: Decline = Decline {
    code: "insufficient_funds",
    decline_code: "insufficient_funds",
    message: "The customer's account has insufficient funds to cover this payment.",
};

/// A delayed method's payment clears (`processing` → `succeeded`) or fails
/// (→ `requires_payment_method`, with `charge.failed` and `payment_intent.payment_failed`).
pub fn settle_processing(ctx: &mut Ctx<'_>, id: &str, how: Settlement) -> Result<Value, ApiError> {
    let intent = ctx.account.get_kind("payment_intent", id).cloned().ok_or_else(|| ApiError::no_such("payment_intent", id))?;
    if intent["status"] != "processing" {
        return Ok(intent);
    }
    let pm = ctx.account.get(intent["payment_method"].as_str().unwrap_or_default()).cloned().unwrap_or(Value::Null);
    let fails = match how {
        Settlement::AsTheAccountSays => payment_methods::debit_fails(&pm),
        Settlement::Succeed => false,
        Settlement::Fail => true,
    };
    if fails {
        return Ok(record_decline(ctx, intent, &pm, DEBIT_FAILED).0);
    }
    succeed(ctx, intent)
}
