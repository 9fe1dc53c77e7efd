//! Invoices: a subscription's invoice finalized (numbered, the customer's balance
//! applied, its PaymentIntent made), paid, retried, marked uncollectible or voided, and
//! what its PaymentIntent's outcome does to it (and, through [`super::subscriptions`],
//! to its subscription). Shapes follow API version 2026-10-28: an invoice reaches its
//! subscription through `parent` and its PaymentIntent through `payments` (includable)
//! and `confirmation_secret`.
//! <https://docs.stripe.com/api/invoices>,
//! <https://docs.stripe.com/invoicing/integration/workflow-transitions>

use super::intents::{self, Confirmation};
use super::payment_intents::{self, one_of};
use super::subscriptions::settled;
use super::{Ctx, list_object, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

/// Where an invoice's page (`hosted_invoice_url`) and its PDF (`invoice_pdf`, this and
/// `{token}/pdf`) are, below the emulator's address: as Stripe's
/// `https://invoice.stripe.com/i/…` and `https://pay.stripe.com/invoice/…/pdf`, they
/// exist once the invoice is finalized, and the random token in them is the secret.
pub const INVOICE_PAGES: &str = "/i/";
pub const INVOICE_PDFS: &str = "/invoice/";

/// The number the customer's next finalized invoice takes, given to `invoice`, with the
/// time it took effect and the addresses of its page and PDF.
pub(super) fn numbered(ctx: &mut Ctx<'_>, mut invoice: Value) -> Value {
    let now = ctx.now();
    let token = crate::state::random_suffix(40);
    invoice["hosted_invoice_url"] = json!(format!("{}{INVOICE_PAGES}{token}", ctx.base_url));
    invoice["invoice_pdf"] = json!(format!("{}{INVOICE_PDFS}{token}/pdf", ctx.base_url));
    let customer_id = invoice["customer"].as_str().unwrap_or_default().to_owned();
    if let Some(customer) = ctx.account.get_mut(&customer_id) {
        let sequence = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
        customer["next_invoice_sequence"] = json!(sequence + 1);
        invoice["number"] = json!(format!("{}-{sequence:04}", customer["invoice_prefix"].as_str().unwrap_or("EMU")));
    }
    invoice["effective_at"] = json!(now);
    invoice["status_transitions"]["finalized_at"] = json!(now);
    invoice
}

/// Finalizes a draft invoice: numbered, the customer's balance applied (a credit, which
/// is negative, pays what it can and only the rest is due; a debt is added; what is left
/// of a credit stays on the customer), and what is due asked for with a PaymentIntent,
/// or paid at once when nothing is. `auto_advance`: as asked, else on while open (a
/// subscription's invoice made now). The caller tells of it ([`tell_finalized`]).
pub(super) fn finalize(ctx: &mut Ctx<'_>, invoice: Value, auto_advance: Option<bool>) -> Result<Value, ApiError> {
    let now = ctx.now();
    let mut invoice = numbered(ctx, invoice);
    let id = invoice["id"].as_str().unwrap_or_default().to_owned();
    let customer_id = invoice["customer"].as_str().unwrap_or_default().to_owned();
    let currency = invoice["currency"].as_str().unwrap_or_default().to_owned();
    let total = invoice["total"].as_i64().unwrap_or(0);
    let balance = ctx.account.get(&customer_id).and_then(|c| c["balance"].as_i64()).unwrap_or(0);
    let due = (total + balance).max(0);
    if let Some(stored) = ctx.account.get_mut(&customer_id) {
        stored["balance"] = json!((total + balance).min(0));
    }
    let intent = if due > 0 {
        let description = if invoice["billing_reason"] == "subscription_create" { "Subscription creation" } else { "Subscription update" };
        let form = format!("amount={due}&currency={currency}&customer={customer_id}&description={}", description.replace(' ', "+"));
        let saves =
            subscription_of(ctx, &invoice).is_some_and(|sub| sub["payment_settings"]["save_default_payment_method"] == "on_subscription");
        let form = if saves { format!("{form}&setup_future_usage=off_session") } else { form };
        let form = Params::parse(&form).map_err(|e| ApiError::invalid(e.to_string()))?;
        let mut intent = payment_intents::create(ctx, &form)?;
        // An invoice's intent offers the invoice's methods, not automatic ones.
        intent["automatic_payment_methods"] = Value::Null;
        ctx.account.put(intent.clone());
        Some(intent)
    } else {
        None
    };
    let paid = intent.is_none();
    invoice["status"] = json!(if paid { "paid" } else { "open" });
    invoice["amount_due"] = json!(due);
    invoice["amount_remaining"] = json!(if paid { 0 } else { due });
    invoice["attempted"] = json!(paid);
    invoice["auto_advance"] = json!(auto_advance.unwrap_or(!paid) && !paid);
    invoice["starting_balance"] = json!(balance);
    invoice["ending_balance"] = json!((total + balance).min(0));
    invoice["confirmation_secret"] =
        json!(intent.as_ref().map(|pi| json!({ "client_secret": pi["client_secret"], "type": "payment_intent" })));
    if paid {
        invoice["status_transitions"]["paid_at"] = json!(now);
    }
    ctx.account.put(invoice.clone());
    if let Some(intent) = &intent {
        let pi = intent["id"].as_str().unwrap_or_default().to_owned();
        ctx.account.put(json!({
            "id": new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": null,
            "amount_requested": total,
            "created": now,
            "currency": currency,
            "invoice": id,
            "is_default": true,
            "livemode": false,
            "payment": { "payment_intent": pi, "type": "payment_intent" },
            "status": "open",
            "status_transitions": { "canceled_at": null, "paid_at": null },
        }));
        ctx.account.invoice_of_intent.insert(pi, id.clone());
    }
    Ok(invoice)
}

/// The webhooks of an invoice just finalized: `invoice.finalized`, and `invoice.paid`
/// when nothing was due.
pub(super) fn tell_finalized(ctx: &mut Ctx<'_>, invoice: &Value) {
    ctx.emit("invoice.finalized", invoice, None);
    if invoice["status"] == "paid" {
        ctx.emit("invoice.paid", invoice, None);
    }
}

/// The invoice an intent pays, if it pays one that is still to be paid: open, or
/// uncollectible (which "can still be paid": `invoice.paid`, or `invoice.payment_failed`
/// and it stays uncollectible).
fn invoice_of(ctx: &Ctx<'_>, intent: &Value) -> Option<Value> {
    let invoice = ctx.account.invoice_of_intent.get(intent["id"].as_str()?)?;
    ctx.account.get_kind("invoice", invoice).filter(|invoice| payable(invoice)).cloned()
}

/// Whether `invoice` is finalized and still to be paid.
fn payable(invoice: &Value) -> bool {
    invoice["status"] == "open" || invoice["status"] == "uncollectible"
}

/// Marks `invoice` uncollectible at `now`, for `reason`: its `status_details`, which
/// Stripe includes only while an invoice is uncollectible (API version 2026-09-30.endive
/// on; `max_payment_attempts`, `subscription_paused`, …).
pub(super) fn mark_uncollectible(invoice: &mut Value, reason: &str, now: i64) {
    invoice["status"] = json!("uncollectible");
    invoice["status_transitions"]["marked_uncollectible_at"] = json!(now);
    invoice["status_details"] = json!({ "uncollectible": { "reason": reason } });
}

/// `invoice`, uncollectible until now, is paid or void: its `status` says so, and the
/// `status_details` of an uncollectible one are gone.
fn settle_status(invoice: &mut Value, status: &str) {
    invoice["status"] = json!(status);
    if let Some(fields) = invoice.as_object_mut() {
        fields.remove("status_details");
    }
}

pub(super) fn subscription_of(ctx: &Ctx<'_>, invoice: &Value) -> Option<Value> {
    let id = invoice["parent"]["subscription_details"]["subscription"].as_str()?;
    ctx.account.get_kind("subscription", id).cloned()
}

/// An invoice's PaymentIntent succeeded: the invoice is paid, and its subscription
/// active (keeping the method as its default when asked to).
pub fn intent_succeeded(ctx: &mut Ctx<'_>, intent: &Value) {
    let Some(mut invoice) = invoice_of(ctx, intent) else { return };
    let now = ctx.now();
    let amount = intent["amount_received"].clone();
    settle_status(&mut invoice, "paid");
    invoice["amount_paid"] = amount.clone();
    invoice["amount_remaining"] = json!(0);
    count_first_attempt(&mut invoice);
    invoice["auto_advance"] = json!(false);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["status_transitions"]["paid_at"] = json!(now);
    ctx.account.put(invoice.clone());
    let invoice_id = invoice["id"].clone();
    let payments: Vec<Value> = ctx.account.list("invoice_payment", |p| p["invoice"] == invoice_id).into_iter().cloned().collect();
    for mut payment in payments {
        if payment["payment"]["payment_intent"] == intent["id"] {
            payment["status"] = json!("paid");
            payment["amount_paid"] = amount.clone();
            payment["status_transitions"]["paid_at"] = json!(now);
            ctx.account.put(payment);
        }
    }
    ctx.emit("invoice.paid", &invoice, None);
    ctx.emit("invoice.payment_succeeded", &invoice, None);
    settled(ctx, &invoice, intent["payment_method"].as_str());
}

/// `attempt_count` as Stripe counts it, "from the perspective of the payment retry
/// schedule": "any payment attempt counts as the first attempt, and subsequently only
/// automatic retries increment the attempt count" (an automatic retry counts itself).
fn count_first_attempt(invoice: &mut Value) {
    invoice["attempted"] = json!(true);
    if invoice["attempt_count"].as_i64().unwrap_or(0) == 0 {
        invoice["attempt_count"] = json!(1);
    }
}

/// Stripe's recommended Smart Retries policy, on by default for new accounts: up to 8
/// retries within 2 weeks of an invoice's first failed charge. Stripe chooses each
/// retry's time; the emulator spreads them evenly, the last two weeks after the first
/// attempt, and says when the next is in the invoice's `next_payment_attempt`.
pub(super) const RETRIES: i64 = 8;

const RETRY_WINDOW_SECS: i64 = 14 * 86_400;

/// Decline codes that "Stripe doesn't retry" (hard declines: the issuer will never
/// approve that card, as the card networks' "do not retry" category says). Retries
/// stay scheduled, but are "only executed if a new payment method is obtained".
pub(super) const HARD_DECLINES: &[&str] = &[
    "incorrect_number",
    "lost_card",
    "pickup_card",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "stolen_card",
    "stop_payment_order",
];

/// When automatic attempt `attempt + 1` of `invoice` comes, if one is left: none for a
/// subscription's first invoice, which the customer pays on session (unpaid, the
/// subscription expires instead).
pub(super) fn retry_at(invoice: &Value, attempt: i64) -> Option<i64> {
    let first_at = invoice["status_transitions"]["finalized_at"].as_i64()?;
    (invoice["billing_reason"] != "subscription_create" && attempt <= RETRIES).then(|| first_at + attempt * RETRY_WINDOW_SECS / RETRIES)
}

/// An invoice's PaymentIntent failed: the attempt is recorded (the first one schedules
/// the automatic retries), and a renewal that cannot be charged makes its subscription
/// `past_due`. (The first invoice's failure leaves the subscription `incomplete`: the
/// shopper can try another method.)
pub fn intent_failed(ctx: &mut Ctx<'_>, intent: &Value) {
    let Some(mut invoice) = invoice_of(ctx, intent) else { return };
    // A resumption invoice whose subscription resumes on the payment's attempt is not
    // retried.
    let resumed_on_attempt =
        ctx.account.resumptions.get(invoice["id"].as_str().unwrap_or_default()).is_some_and(|resumption| resumption.on_attempt);
    if invoice["attempt_count"].as_i64().unwrap_or(0) == 0 && !resumed_on_attempt {
        invoice["next_payment_attempt"] = json!(retry_at(&invoice, 1));
    }
    count_first_attempt(&mut invoice);
    ctx.account.put(invoice.clone());
    ctx.emit("invoice.payment_failed", &invoice, None);
    let Some(mut subscription) = subscription_of(ctx, &invoice) else { return };
    // Resumed on the payment's attempt: the attempt failed, so it is `past_due` (it
    // "doesn't automatically revert to `paused`").
    if resumed_on_attempt && subscription["status"] == "paused" && subscription["latest_invoice"] == invoice["id"] {
        let mut previous = json!({ "status": "paused" });
        if let Some(details) = subscription.as_object_mut().and_then(|fields| fields.remove("status_details")) {
            previous["status_details"] = details;
        }
        subscription["status"] = json!("past_due");
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.resumed", &subscription, None);
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
        return;
    }
    // Any invoice but the first (whose failure leaves the subscription `incomplete`): a
    // renewal, or one an update started (a trial ended now).
    if invoice["billing_reason"] != "subscription_create" && subscription["status"] == "active" {
        subscription["status"] = json!("past_due");
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(json!({ "status": "active" })));
    }
}

/// An invoice's PaymentIntent needs the customer (3-D Secure).
pub fn intent_requires_action(ctx: &mut Ctx<'_>, intent: &Value) {
    if let Some(invoice) = invoice_of(ctx, intent) {
        ctx.emit("invoice.payment_action_required", &invoice, None);
    }
}

pub fn list_invoices(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.str("customer")?;
    let subscription = params.str("subscription")?;
    let status = one_of(params, "status", &["draft", "open", "paid", "uncollectible", "void"])?;
    let created = super::created_filter(params)?;
    let items = ctx.account.list("invoice", |invoice| {
        customer.is_none_or(|c| invoice["customer"] == c)
            && subscription.is_none_or(|s| invoice["parent"]["subscription_details"]["subscription"] == s)
            && status.as_deref().is_none_or(|s| invoice["status"] == s)
            && created(invoice)
    });
    let (data, has_more) = page(items, params)?;
    Ok(list_object("/v1/invoices", data, has_more))
}

/// The PaymentMethod `pm`, named by `param`, if it is attached to `customer`.
pub(super) fn customers_method(ctx: &Ctx<'_>, pm: &str, customer: &Value, param: &str) -> Result<Value, ApiError> {
    let method = ctx.account.get_kind("payment_method", pm).cloned().ok_or_else(|| ApiError::no_such_param("payment_method", pm, param))?;
    if method["customer"] != *customer {
        return Err(ApiError::invalid_param(
            param,
            "The customer does not have a payment method with the ID given. The payment method must be attached to the customer.",
        ));
    }
    Ok(method)
}

/// The PaymentIntent that pays `invoice`.
pub(super) fn intent_of(ctx: &Ctx<'_>, invoice: &Value) -> Option<Value> {
    let intent = ctx.account.invoice_of_intent.iter().find(|(_, inv)| invoice["id"] == inv.as_str()).map(|(pi, _)| pi)?;
    ctx.account.get(intent).cloned()
}

/// What a subscription's invoices are charged to: its default payment method, or its
/// customer's.
pub(super) fn default_method(ctx: &Ctx<'_>, subscription: &Value, customer: &Value) -> Option<Value> {
    subscription["default_payment_method"]
        .as_str()
        .or_else(|| customer["invoice_settings"]["default_payment_method"].as_str())
        .and_then(|pm| ctx.account.get(pm))
        .cloned()
}

/// `POST /v1/invoices/{id}/pay`: charges an open (or uncollectible) invoice now, to `payment_method` (one
/// of the invoice's customer's) or else the default one, off session unless
/// `off_session=false`. A decline is the card error, the invoice left open (and its
/// attempt counted); a payment that needs the customer (3-D Secure, on session) is
/// `invoice_payment_intent_requires_action`, its PaymentIntent left `requires_action`.
pub fn pay_invoice(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut invoice = ctx.account.get_kind("invoice", id).cloned().ok_or_else(|| ApiError::no_such("invoice", id))?;
    let customer = ctx.account.get(invoice["customer"].as_str().unwrap_or_default()).cloned().unwrap_or(Value::Null);
    let method = match params.str("payment_method")? {
        Some(pm) => Some(customers_method(ctx, pm, &invoice["customer"], "payment_method")?),
        None => subscription_of(ctx, &invoice).and_then(|subscription| default_method(ctx, &subscription, &customer)),
    };
    match invoice["status"].as_str().unwrap_or_default() {
        "open" | "uncollectible" => {}
        // "Stripe automatically finalizes drafts before attempting payment on invoices."
        "draft" => {
            let auto_advance = invoice["auto_advance"].as_bool();
            invoice = finalize(ctx, invoice, auto_advance)?;
            tell_finalized(ctx, &invoice);
            if invoice["status"] == "paid" {
                settled(ctx, &invoice, None);
                let invoice = ctx.account.get(id).cloned().unwrap_or(invoice);
                return ctx.expand(invoice, params);
            }
        }
        "paid" => return Err(ApiError::invalid("Invoice is already paid")),
        status => return Err(ApiError::invalid(format!("You can only pay an open or uncollectible invoice. This invoice is {status}."))),
    }
    let Some(method) = method else {
        return Err(ApiError::invalid("The invoice has no payment method to charge: pass `payment_method`, or set a default one."));
    };
    let intent = intent_of(ctx, &invoice).ok_or_else(|| ApiError::invalid("This invoice has nothing to charge."))?;
    let off_session = params.bool("off_session")?.unwrap_or(true);
    let intent = intents::confirm(ctx, intent, method, Confirmation { off_session, error_on_requires_action: false })?;
    if intent["status"] == "requires_action" {
        return Err(ApiError::card(
            "invoice_payment_intent_requires_action",
            None,
            "This payment requires additional user action before it can be completed successfully. Payment can be completed \
             using the PaymentIntent associated with the invoice.",
        ));
    }
    let invoice = ctx.account.get(id).cloned().unwrap_or(invoice);
    ctx.expand(invoice, params)
}

/// `POST /v1/invoices/{id}/finalize`: a draft invoice is finalized now (an `unpaid`
/// subscription's renewal, or one kept as a draft while collection was paused), open
/// with its PaymentIntent (or paid, with nothing due), its `auto_advance` as given, else
/// as the draft had it (off for those drafts). The emulator does not charge it by
/// itself, whatever `auto_advance` says: it is paid with `POST /v1/invoices/{id}/pay`,
/// or by its PaymentIntent.
pub fn finalize_invoice(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let invoice = ctx.account.get_kind("invoice", id).cloned().ok_or_else(|| ApiError::no_such("invoice", id))?;
    if invoice["status"] != "draft" {
        return Err(ApiError::invalid("This invoice is already finalized, you can't re-finalize a non-draft invoice."));
    }
    // Without `auto_advance`, the draft's own setting stays.
    let auto_advance = params.bool("auto_advance")?.or(invoice["auto_advance"].as_bool());
    let invoice = finalize(ctx, invoice, auto_advance)?;
    tell_finalized(ctx, &invoice);
    if invoice["status"] == "paid" {
        settled(ctx, &invoice, None);
    }
    ctx.expand(invoice, params)
}

/// `POST /v1/invoices/{id}/mark_uncollectible`: the merchant writes an open invoice off
/// as a bad debt (the Dashboard's "Mark uncollectible"). Stripe charges it no more by
/// itself, but it can still be paid; `status_details` gives the reason `user_forgiven`
/// ("marked uncollectible by the user", in Stripe's changelog of 2026-09-30). A
/// `past_due` subscription whose latest invoice it is becomes `active` again, as Stripe's
/// support describes it (forgiven, the debt no longer holds the subscription back), and
/// so does a `paused` one whose resumption invoice it is. Any other invoice is refused
/// (the emulator's wording).
pub fn mark_uncollectible_invoice(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut invoice = ctx.account.get_kind("invoice", id).cloned().ok_or_else(|| ApiError::no_such("invoice", id))?;
    if invoice["status"] != "open" {
        let status = invoice["status"].as_str().unwrap_or_default().to_owned();
        return Err(ApiError::invalid(format!("You can only mark an open invoice as uncollectible. This invoice is {status}.")));
    }
    mark_uncollectible(&mut invoice, "user_forgiven", ctx.now());
    invoice["auto_advance"] = json!(false);
    invoice["next_payment_attempt"] = Value::Null;
    ctx.account.put(invoice.clone());
    ctx.emit("invoice.marked_uncollectible", &invoice, None);
    // A paused one whose resumption invoice it is resumes too ("The subscription becomes
    // `active` once the invoice is paid or marked uncollectible").
    let resumption = ctx.account.resumptions.contains_key(invoice["id"].as_str().unwrap_or_default());
    if let Some(mut subscription) = subscription_of(ctx, &invoice)
        .filter(|sub| (sub["status"] == "past_due" || (sub["status"] == "paused" && resumption)) && sub["latest_invoice"] == invoice["id"])
    {
        let mut previous = json!({ "status": subscription["status"].take() });
        subscription["status"] = json!("active");
        if let Some(details) = subscription.as_object_mut().and_then(|fields| fields.remove("status_details")) {
            previous["status_details"] = details;
        }
        ctx.account.put(subscription.clone());
        if previous["status"] == "paused" {
            ctx.emit("customer.subscription.resumed", &subscription, None);
        }
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    }
    ctx.expand(invoice, params)
}

/// `POST /v1/invoices/{id}/void`: an open invoice is void for good (kept, as Stripe
/// keeps it), and its PaymentIntent canceled (`void_invoice`): nothing can pay it any
/// more, not even a 3-D Secure challenge finished later.
pub fn void_invoice(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let invoice = ctx.account.get_kind("invoice", id).cloned().ok_or_else(|| ApiError::no_such("invoice", id))?;
    match invoice["status"].as_str().unwrap_or_default() {
        "open" | "uncollectible" => {}
        status => return Err(ApiError::invalid(format!("You can only void an open or uncollectible invoice. This invoice is {status}."))),
    }
    let invoice = void(ctx, invoice);
    ctx.expand(invoice, params)
}

/// Makes an open (or uncollectible) invoice void: its PaymentIntent canceled, its
/// payments too, and `invoice.voided` sent.
pub(super) fn void(ctx: &mut Ctx<'_>, mut invoice: Value) -> Value {
    let id = invoice["id"].clone();
    let now = ctx.now();
    if let Some(intent) = intent_of(ctx, &invoice).filter(|intent| intent["status"] != "succeeded" && intent["status"] != "canceled") {
        payment_intents::canceled(ctx, intent, Some("void_invoice".to_owned()));
    }
    let payments: Vec<Value> =
        ctx.account.list("invoice_payment", |p| p["invoice"] == id && p["status"] == "open").into_iter().cloned().collect();
    for mut payment in payments {
        payment["status"] = json!("canceled");
        payment["status_transitions"]["canceled_at"] = json!(now);
        ctx.account.put(payment);
    }
    settle_status(&mut invoice, "void");
    invoice["auto_advance"] = json!(false);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["status_transitions"]["voided_at"] = json!(now);
    ctx.account.put(invoice.clone());
    ctx.emit("invoice.voided", &invoice, Some(json!({ "status": "open" })));
    invoice
}
