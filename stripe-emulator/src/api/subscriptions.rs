//! Subscriptions, as the "finalize payments on the server" guide uses them (their
//! invoices' own life is in [`super::invoices`]): a subscription created `default_incomplete` gets an open first invoice
//! whose PaymentIntent the server confirms; paying it makes the subscription `active`.
//! One with a trial is `trialing` at once, its first invoice for nothing, and its card
//! set up through its `pending_setup_intent`. When the emulator's clock passes a period's end, the subscription renews: a new
//! invoice, charged off-session to the saved method (or it ends, when it was set to
//! cancel at the period's end). While the merchant has paused its payment collection
//! (`pause_collection`), renewals go on making invoices, none of them charged, until
//! `resumes_at`. Shapes follow API version 2026-10-28: periods live on
//! the items, an invoice reaches its subscription through `parent` and its
//! PaymentIntent through `payments` (includable) and `confirmation_secret`.
//! <https://docs.stripe.com/api/subscriptions>

use super::calendar::add_interval;
use super::intents::{self, Confirmation};
use super::invoices::{
    HARD_DECLINES, RETRIES, customers_method, default_method, finalize, intent_failed, intent_of, mark_uncollectible, numbered, retry_at,
    subscription_of, tell_finalized, void,
};
use super::payment_intents::{self, one_of, one_of_at};
use super::setup_intents;
use super::{Ctx, list_object, merge_metadata, page, products};
use crate::error::ApiError;
use crate::form::{Param, Params};
use crate::state::{Resumption, RetriesSpent, new_id};
use serde_json::{Value, json};

/// Statuses a subscription can still change from.
const LIVE: &[&str] = &["incomplete", "active", "past_due", "trialing", "unpaid", "paused"];

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer_id = params.required_str("customer")?.to_owned();
    let customer = ctx
        .account
        .get_kind("customer", &customer_id)
        .filter(|c| c["deleted"] != true)
        .cloned()
        .ok_or_else(|| ApiError::no_such_param("customer", &customer_id, "customer"))?;
    match one_of(params, "payment_behavior", &["allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"])? {
        Some(behaviour) if behaviour == "default_incomplete" => {}
        _ => {
            return Err(ApiError::invalid_param(
                "payment_behavior",
                "The emulator creates subscriptions with payment_behavior=default_incomplete only: the first invoice's PaymentIntent is then confirmed by your server with the ConfirmationToken.",
            ));
        }
    }
    let save = match params.object("payment_settings")? {
        Some(settings) => one_of_at(
            &settings,
            "save_default_payment_method",
            "payment_settings[save_default_payment_method]",
            &["off", "on_subscription"],
        )?,
        None => None,
    };
    let items = item_params(params)?;
    if items.is_empty() {
        return Err(ApiError::missing_param("items"));
    }
    let mut prices = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let price = match (item.str("price")?, item.object("price_data")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_param(
                    &format!("items[{index}][price_data]"),
                    "You may only specify one of price and price_data.",
                ));
            }
            (Some(id), None) => ctx
                .account
                .get_kind("price", id)
                .cloned()
                .ok_or_else(|| ApiError::no_such_param("price", id, &format!("items[{index}][price]")))?,
            (None, Some(data)) => {
                if data.object("recurring")?.is_none() {
                    return Err(ApiError::missing_param(&format!("items[{index}][price_data][recurring]")));
                }
                products::new_price(ctx, &data, &format!("items[{index}][price_data]"), false)?
            }
            (None, None) => return Err(ApiError::missing_param(&format!("items[{index}][price]"))),
        };
        if price["recurring"].is_null() {
            return Err(ApiError::invalid_param(
                &format!("items[{index}][price]"),
                format!("The price specified ({}) is a one-time price. Subscriptions take recurring prices only.", price["id"]),
            ));
        }
        let quantity = item.int("quantity")?.unwrap_or(1);
        if quantity < 1 {
            return Err(ApiError::invalid_param(&format!("items[{index}][quantity]"), "Invalid quantity: must be at least 1"));
        }
        prices.push((price, quantity, item.string_map("metadata")?));
    }
    let (currency, recurring) = (prices[0].0["currency"].clone(), prices[0].0["recurring"].clone());
    if prices.iter().any(|(price, _, _)| price["currency"] != currency) {
        return Err(ApiError::invalid_param("items", "All prices on a subscription must have the same currency."));
    }
    if prices.iter().any(|(price, _, _)| {
        price["recurring"]["interval"] != recurring["interval"] || price["recurring"]["interval_count"] != recurring["interval_count"]
    }) {
        return Err(ApiError::invalid_param(
            "items",
            "All prices on a subscription must have the same recurring interval and interval_count.",
        ));
    }
    let total: i64 = prices.iter().map(|(price, quantity, _)| price["unit_amount"].as_i64().unwrap_or(0) * quantity).sum();
    let currency_code = currency.as_str().unwrap_or_default().to_owned();
    let minimum = payment_intents::minimum(&currency_code);
    if total != 0 && total < minimum {
        return Err(ApiError::invalid_param(
            "items",
            format!("The first invoice's total must be at least {minimum} {currency_code} (minor units), or zero."),
        )
        .with_code("amount_too_small"));
    }

    // A trial: the subscription is `trialing` until `trial_end`, its first invoice is
    // for nothing, and the first charge is the renewal at the trial's end.
    let trial_days = params.int("trial_period_days")?.unwrap_or(0);
    if !(0..=MAX_TRIAL_DAYS).contains(&trial_days) {
        return Err(ApiError::invalid_param(
            "trial_period_days",
            format!("Invalid trial_period_days: must be between 0 and {MAX_TRIAL_DAYS} days."),
        ));
    }
    let now = ctx.now();
    // Or the trial's end itself (`trial_end`): a Unix time in the future, or `now` for
    // no trial.
    if params.get("trial_end").is_some() && params.get("trial_period_days").is_some() {
        return Err(ApiError::invalid("You may only specify one of these parameters: trial_end, trial_period_days."));
    }
    let trial_end = match trial_end_param(params, now)? {
        Some(end) => checked_trial_end(end, now)?.filter(|end| *end > now),
        None => (trial_days > 0).then(|| now + trial_days * 86_400),
    };
    let billing_mode = billing_mode(params, now)?;
    let missing_payment_method = missing_payment_method(params)?.unwrap_or_else(|| "create_invoice".to_owned());
    let id = new_id("sub");
    let period_end = trial_end.unwrap_or_else(|| add_interval(now, &recurring, 1));
    let items: Vec<Value> = prices
        .iter()
        .map(|(price, quantity, metadata)| {
            json!({
                "id": new_id("si"),
                "object": "subscription_item",
                "billing_thresholds": null,
                "created": now,
                "current_period_end": period_end,
                "current_period_start": now,
                "current_trial": null,
                "discounts": [],
                "metadata": metadata,
                "plan": products::plan_of(price),
                "price": price,
                "quantity": quantity,
                "subscription": id,
                "tax_rates": [],
            })
        })
        .collect();
    let mut subscription = json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
        "billing_cycle_anchor": trial_end.unwrap_or(now),
        "billing_cycle_anchor_config": null,
        "billing_mode": billing_mode,
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": { "comment": null, "feedback": null, "feedback_option": null, "reason": null },
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer_id,
        "customer_account": null,
        "days_until_due": null,
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": params.str("description")?,
        "discounts": [],
        "ended_at": null,
        "invoice_settings": { "account_tax_ids": null, "custom_fields": null, "description": null, "footer": null, "issuer": { "type": "self" } },
        "items": list_object(&format!("/v1/subscription_items?subscription={id}"), items, false),
        "latest_invoice": null,
        "livemode": false,
        "managed_payments": null,
        "metadata": {},
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": { "payment_method_options": null, "payment_method_types": null, "save_default_payment_method": save },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": now,
        "status": if trial_end.is_some() { "trialing" } else { "incomplete" },
        "test_clock": null,
        "transfer_data": null,
        "trial_end": trial_end,
        "trial_settings": { "end_behavior": { "billing_cycle_anchor": null, "missing_payment_method": missing_payment_method } },
        "trial_start": trial_end.map(|_| now),
    });
    merge_metadata(&mut subscription, params)?;
    ctx.account.put(subscription.clone());
    ctx.emit("customer.subscription.created", &subscription, None);
    let invoice = open_invoice(ctx, &subscription, &customer, "subscription_create", (now, now))?;
    subscription["latest_invoice"] = invoice["id"].clone();
    // Nothing to pay now (a trial, or the customer's credit paid the first invoice):
    // active (or trialing) at once, with a SetupIntent for the customer's card, which
    // the renewals will charge.
    if invoice["status"] == "paid" {
        if subscription["status"] == "incomplete" {
            subscription["status"] = json!("active");
        }
        let form = Params::parse(&format!("customer={customer_id}&usage=off_session")).map_err(|e| ApiError::invalid(e.to_string()))?;
        subscription["pending_setup_intent"] = setup_intents::create(ctx, &form)?["id"].clone();
    }
    ctx.account.put(subscription.clone());
    tell_trials_ending(ctx);
    ctx.expand(subscription, params)
}

/// `billing_mode` as created: `flexible` unless the caller asks for `classic` ("If no
/// value is passed, the default is `flexible`", since API version 2025-09-30.clover),
/// with `proration_discounts` `included` unless asked to be `itemized` (the emulator
/// makes no prorations, so neither changes an invoice).
fn billing_mode(params: &Params, now: i64) -> Result<Value, ApiError> {
    let Some(mode) = params.object("billing_mode")? else {
        return Ok(json!({ "flexible": { "proration_discounts": "included" }, "type": "flexible", "updated_at": now }));
    };
    let kind = one_of_at(&mode, "type", "billing_mode[type]", &["classic", "flexible"])?
        .ok_or_else(|| ApiError::missing_param("billing_mode[type]"))?;
    let flexible = mode.object("flexible")?;
    if kind == "classic" {
        if flexible.is_some() {
            return Err(ApiError::invalid_param(
                "billing_mode[flexible]",
                "billing_mode[flexible] can only be set when billing_mode[type] is flexible.",
            ));
        }
        return Ok(json!({ "flexible": null, "type": "classic", "updated_at": now }));
    }
    let discounts = match flexible {
        Some(flexible) => {
            one_of_at(&flexible, "proration_discounts", "billing_mode[flexible][proration_discounts]", &["included", "itemized"])?
        }
        None => None,
    };
    Ok(json!({ "flexible": { "proration_discounts": discounts.as_deref().unwrap_or("included") }, "type": "flexible", "updated_at": now }))
}

/// `trial_settings[end_behavior][missing_payment_method]`, if given: what a trial that
/// ends with no payment method to charge does: `create_invoice` (the default: the
/// subscription becomes `past_due`, its invoice open) or `pause` (it becomes `paused`,
/// invoicing nothing until it is resumed). `cancel` is not emulated.
fn missing_payment_method(params: &Params) -> Result<Option<String>, ApiError> {
    const PATH: &str = "trial_settings[end_behavior][missing_payment_method]";
    let Some(settings) = params.object("trial_settings")? else { return Ok(None) };
    let Some(end) = settings.object("end_behavior")? else { return Err(ApiError::missing_param("trial_settings[end_behavior]")) };
    match one_of_at(&end, "missing_payment_method", PATH, &["cancel", "create_invoice", "pause"])? {
        Some(value) if value == "cancel" => {
            Err(ApiError::invalid_param(PATH, "The emulator does not emulate missing_payment_method=cancel: use create_invoice or pause."))
        }
        Some(value) => Ok(Some(value)),
        None => Err(ApiError::missing_param(PATH)),
    }
}

/// The longest trial Stripe takes (`trial_period_days`), two years.
const MAX_TRIAL_DAYS: i64 = 730;

/// How long before a trial's end Stripe sends `customer.subscription.trial_will_end`.
const TRIAL_ENDING_NOTICE_SECS: i64 = 3 * 86_400;

/// `customer.subscription.trial_will_end`, once per trialing subscription, "three days
/// before a subscription's trial period is scheduled to end" (at once for a shorter
/// trial).
fn tell_trials_ending(ctx: &mut Ctx<'_>) {
    let now = ctx.now();
    let told = &ctx.account.trials_told;
    let ending = subscriptions_where(ctx, |sub| {
        sub["status"] == "trialing"
            && sub["trial_end"].as_i64().is_some_and(|end| end - TRIAL_ENDING_NOTICE_SECS <= now)
            && !told.contains(sub["id"].as_str().unwrap_or_default())
    });
    for subscription in ending {
        ctx.account.trials_told.insert(subscription["id"].as_str().unwrap_or_default().to_owned());
        ctx.emit("customer.subscription.trial_will_end", &subscription, None);
    }
}

/// Copies of the subscriptions `wanted`, newest first, to change and put back.
fn subscriptions_where(ctx: &Ctx<'_>, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
    ctx.account.list("subscription", wanted).into_iter().cloned().collect()
}

/// `items[0][…]`, `items[1][…]`, … in order.
fn item_params(params: &Params) -> Result<Vec<Params>, ApiError> {
    let invalid = || ApiError::invalid_param("items", "Invalid array: items must be an array of hashes");
    match params.get("items") {
        None => Ok(Vec::new()),
        Some(Param::Map(map)) => {
            let mut indexed = map
                .iter()
                .map(|(index, item)| match (index.parse::<usize>(), item) {
                    (Ok(index), Param::Map(item)) => Ok((index, Params(item.clone()))),
                    _ => Err(invalid()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            indexed.sort_by_key(|(index, _)| *index);
            Ok(indexed.into_iter().map(|(_, item)| item).collect())
        }
        Some(_) => Err(invalid()),
    }
}

/// The subscription's invoice for `period`, billed for `reason`, as the subscription's
/// state has it: finalized and its payment asked for (a PaymentIntent, or none for
/// nothing due: paid at once); while its payment collection is paused, a draft, or at
/// once uncollectible or void, with no webhook; while it is `unpaid`, a draft that is
/// not advanced ("invoices continue to be generated each billing cycle and remain in
/// draft state"), which finalizing or paying it makes open.
fn open_invoice(ctx: &mut Ctx<'_>, subscription: &Value, customer: &Value, reason: &str, period: (i64, i64)) -> Result<Value, ApiError> {
    let invoice = draft_invoice(ctx, subscription, customer, reason, period);
    match subscription["pause_collection"]["behavior"].as_str() {
        Some("keep_as_draft") => {
            ctx.account.put(invoice.clone());
            Ok(invoice)
        }
        Some(behavior) => {
            let mut invoice = numbered(ctx, invoice);
            invoice["ending_balance"] = json!(0);
            if behavior == "mark_uncollectible" {
                mark_uncollectible(&mut invoice, "subscription_paused", ctx.now());
            } else {
                invoice["status"] = json!("void");
                invoice["status_transitions"]["voided_at"] = json!(ctx.now());
            }
            ctx.account.put(invoice.clone());
            Ok(invoice)
        }
        None if subscription["status"] == "unpaid" => {
            ctx.account.put(invoice.clone());
            ctx.emit("invoice.created", &invoice, None);
            Ok(invoice)
        }
        None => {
            let invoice = finalize(ctx, invoice, None)?;
            ctx.emit("invoice.created", &invoice, None);
            tell_finalized(ctx, &invoice);
            Ok(invoice)
        }
    }
}

/// A draft of the subscription's invoice: its lines, nothing applied or asked for yet.
fn draft_invoice(ctx: &Ctx<'_>, subscription: &Value, customer: &Value, reason: &str, period: (i64, i64)) -> Value {
    let now = ctx.now();
    let id = new_id("in");
    let sub_id = subscription["id"].as_str().unwrap_or_default();
    let currency = subscription["currency"].as_str().unwrap_or_default().to_owned();
    // A trial's first invoice: one line per item, for nothing.
    let trial = reason == "subscription_create" && subscription["status"] == "trialing";
    let lines: Vec<Value> = subscription["items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let price = &item["price"];
            let quantity = item["quantity"].as_i64().unwrap_or(1);
            let amount = if trial { 0 } else { price["unit_amount"].as_i64().unwrap_or(0) * quantity };
            let product = price["product"].as_str().unwrap_or_default();
            let name = ctx.account.get(product).and_then(|p| p["name"].as_str()).unwrap_or(product).to_owned();
            let description = if trial { format!("Trial period for {name}") } else { format!("{quantity} × {name}") };
            json!({
                "id": new_id("il"),
                "object": "line_item",
                "amount": amount,
                "currency": currency,
                "description": description,
                "discount_amounts": [],
                "discountable": true,
                "discounts": [],
                "invoice": id,
                "livemode": false,
                "metadata": item["metadata"],
                "parent": {
                    "invoice_item_details": null,
                    "subscription_item_details": {
                        "invoice_item": null,
                        "proration": false,
                        "proration_details": { "credited_items": null },
                        "subscription": sub_id,
                        "subscription_item": item["id"],
                    },
                    "type": "subscription_item_details",
                },
                "period": { "end": item["current_period_end"], "start": item["current_period_start"] },
                "pretax_credit_amounts": [],
                "pricing": { "price_details": { "price": price["id"], "product": product }, "type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"] },
                "quantity": quantity,
                "quantity_decimal": quantity.to_string(),
                "subscription": sub_id,
                "subtotal": amount,
                "taxes": [],
            })
        })
        .collect();
    let total: i64 = lines.iter().map(|line| line["amount"].as_i64().unwrap_or(0)).sum();
    json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe Emulator",
        "account_tax_ids": null,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": null,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": false,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null },
        "automatically_finalizes_at": null,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "confirmation_secret": null,
        "created": now,
        "currency": currency,
        "custom_fields": null,
        "customer": customer["id"],
        "customer_account": null,
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": customer["shipping"],
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "due_date": null,
        "effective_at": null,
        "ending_balance": null,
        "footer": null,
        "from_invoice": null,
        "hosted_invoice_url": null,
        "invoice_pdf": null,
        "issuer": { "type": "self" },
        "last_finalization_error": null,
        "latest_revision": null,
        "lines": list_object(&format!("/v1/invoices/{id}/lines"), lines, false),
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": null,
        "number": null,
        "on_behalf_of": null,
        "parent": {
            "quote_details": null,
            "subscription_details": { "metadata": subscription["metadata"], "subscription": sub_id },
            "type": "subscription_details",
        },
        "payment_settings": { "default_mandate": null, "payment_method_options": null, "payment_method_types": null },
        "period_end": period.1,
        "period_start": period.0,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": null,
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": null,
        "status": "draft",
        "status_transitions": {
            "finalized_at": null,
            "marked_uncollectible_at": null,
            "paid_at": null,
            "voided_at": null,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": null,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": now,
    })
}

/// `invoice` is paid (by `method`, or with nothing to charge): its subscription is
/// active again if it was the most recent invoice, and keeps the method as its default
/// when asked to.
pub(super) fn settled(ctx: &mut Ctx<'_>, invoice: &Value, method: Option<&str>) {
    let Some(mut subscription) = subscription_of(ctx, invoice) else { return };
    let mut previous = json!({});
    // Paying the most recent invoice makes it active again ("to move the subscription
    // to `active`, pay the most recent invoice"); an older one paid changes nothing.
    // A paused one resumes when its resumption invoice is paid; an invoice from before
    // the pause, paid, leaves it paused ("existing subscription invoices advance without
    // affecting the paused status").
    let resumed = subscription["status"] == "paused";
    let resumption = ctx.account.resumptions.contains_key(invoice["id"].as_str().unwrap_or_default());
    if ["incomplete", "past_due", "unpaid", "paused"].contains(&subscription["status"].as_str().unwrap_or_default())
        && subscription["latest_invoice"] == invoice["id"]
        && (!resumed || resumption)
    {
        previous["status"] = subscription["status"].clone();
        subscription["status"] = json!("active");
        if let Some(details) = subscription.as_object_mut().and_then(|fields| fields.remove("status_details")) {
            previous["status_details"] = details;
        }
        if resumed {
            ctx.account.put(subscription.clone());
            ctx.emit("customer.subscription.resumed", &subscription, None);
        }
    }
    // `on_subscription`: each successful payment makes its method the default (an
    // overdue invoice paid with a new card moves the renewals to that card).
    if subscription["payment_settings"]["save_default_payment_method"] == "on_subscription"
        && let Some(method) = method
        && subscription["default_payment_method"] != method
    {
        previous["default_payment_method"] = subscription["default_payment_method"].clone();
        subscription["default_payment_method"] = json!(method);
    }
    if previous.as_object().is_some_and(|changed| !changed.is_empty()) {
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    }
}

/// A SetupIntent succeeded: a subscription it was pending for has nothing pending any
/// more (its `pending_setup_intent` is `null`, as Stripe's deferred-payment guide says).
pub fn setup_succeeded(ctx: &mut Ctx<'_>, intent: &Value) {
    for mut subscription in subscriptions_where(ctx, |sub| sub["pending_setup_intent"] == intent["id"]) {
        let previous = json!({ "pending_setup_intent": subscription["pending_setup_intent"].take() });
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    }
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.str("customer")?;
    let status = one_of(
        params,
        "status",
        &["active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"],
    )?;
    let created = super::created_filter(params)?;
    let items = ctx.account.list("subscription", |sub| {
        let shown = match status.as_deref() {
            None => sub["status"] != "canceled" && sub["status"] != "incomplete_expired",
            Some("all") => true,
            Some("ended") => sub["status"] == "canceled" || sub["status"] == "incomplete_expired",
            Some(wanted) => sub["status"] == wanted,
        };
        shown && customer.is_none_or(|c| sub["customer"] == c) && created(sub)
    });
    let (data, has_more) = page(items, params)?;
    Ok(list_object("/v1/subscriptions", data, has_more))
}

/// Subscription `id`, if it has not ended (Stripe's words when it has).
fn live(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
    if !LIVE.contains(&subscription["status"].as_str().unwrap_or_default()) {
        return Err(ApiError::invalid("You cannot update a subscription that is `canceled` or `incomplete_expired`."));
    }
    Ok(subscription)
}

/// The end of the subscription's current period (its items share it).
fn period_end(subscription: &Value) -> Value {
    subscription["items"]["data"][0]["current_period_end"].clone()
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut subscription = live(ctx, id)?;
    let trial_end = new_trial_end(ctx, &subscription, params)?;
    let mut previous = json!({});
    if params.get("cancel_at").is_some() && params.get("cancel_at_period_end").is_some() {
        return Err(ApiError::invalid("You may only specify one of these parameters: cancel_at, cancel_at_period_end."));
    }
    // A date of the caller's (the Dashboard's "cancel on a custom date"), or "" to
    // clear whichever end was set.
    if let Some(raw) = params.str("cancel_at")? {
        let at = match raw {
            "" => None,
            _ => match params.int("cancel_at")? {
                Some(at) if at > ctx.now() => Some(at),
                Some(_) => return Err(ApiError::invalid_param("cancel_at", "cancel_at must be in the future.")),
                None => {
                    return Err(ApiError::invalid_param(
                        "cancel_at",
                        "The emulator takes a Unix timestamp for cancel_at (or an empty string to clear it), not min_period_end or max_period_end.",
                    ));
                }
            },
        };
        if subscription["cancel_at"] != json!(at) || subscription["cancel_at_period_end"] == true {
            for field in ["cancel_at", "cancel_at_period_end", "canceled_at", "cancellation_details"] {
                previous[field] = subscription[field].clone();
            }
            subscription["cancel_at"] = json!(at);
            subscription["cancel_at_period_end"] = json!(false);
            subscription["canceled_at"] = if at.is_some() { json!(ctx.now()) } else { Value::Null };
            subscription["cancellation_details"]["reason"] = if at.is_some() { json!("cancellation_requested") } else { Value::Null };
        }
    }
    if let Some(at_end) = params.bool("cancel_at_period_end")?
        && (subscription["cancel_at_period_end"] != at_end || (at_end && subscription["cancel_at"] != period_end(&subscription)))
    {
        for field in ["cancel_at", "cancel_at_period_end", "canceled_at", "cancellation_details"] {
            previous[field] = subscription[field].clone();
        }
        subscription["cancel_at_period_end"] = json!(at_end);
        subscription["cancel_at"] = if at_end { period_end(&subscription) } else { Value::Null };
        subscription["canceled_at"] = if at_end { json!(ctx.now()) } else { Value::Null };
        subscription["cancellation_details"]["reason"] = if at_end { json!("cancellation_requested") } else { Value::Null };
    }
    // The Dashboard's "pause payment collection" (until `resumes_at`, or for good), or ""
    // to resume it now.
    if params.get("pause_collection").is_some() {
        let pause = match params.object("pause_collection")? {
            None => Value::Null,
            Some(pause) => {
                let behavior =
                    one_of_at(&pause, "behavior", "pause_collection[behavior]", &["keep_as_draft", "mark_uncollectible", "void"])?
                        .ok_or_else(|| ApiError::missing_param("pause_collection[behavior]"))?;
                let resumes_at = pause.int("resumes_at").map_err(|error| error.with_param("pause_collection[resumes_at]"))?;
                if resumes_at.is_some_and(|at| at <= ctx.now()) {
                    return Err(ApiError::invalid_param("pause_collection[resumes_at]", "resumes_at must be in the future."));
                }
                json!({ "behavior": behavior, "resumes_at": resumes_at })
            }
        };
        if subscription["pause_collection"] != pause {
            previous["pause_collection"] = subscription["pause_collection"].clone();
            subscription["pause_collection"] = pause;
        }
    }
    let proration = one_of(params, "proration_behavior", &["always_invoice", "create_prorations", "none"])?;
    let quantities = item_params(params)?;
    if !quantities.is_empty() {
        // Stripe's default is `create_prorations`: the change's share of the period under
        // way, on the next invoice. The emulator keeps no pending invoice items.
        if proration.as_deref() != Some("none") {
            return Err(ApiError::invalid_param(
                "proration_behavior",
                "The emulator changes items with proration_behavior=none only: the new quantity is billed from the next period on, and nothing is prorated.",
            ));
        }
        let mut items = subscription["items"].clone();
        for (index, change) in quantities.iter().enumerate() {
            let param = |name: &str| format!("items[{index}][{name}]");
            let id = change.str("id")?.ok_or_else(|| {
                ApiError::invalid_param(&param("id"), "The emulator changes existing items only: pass each item's id (si_…).")
            })?;
            let item = items["data"]
                .as_array_mut()
                .and_then(|data| data.iter_mut().find(|item| item["id"] == id))
                .ok_or_else(|| ApiError::no_such_param("subscription_item", id, &param("id")))?;
            if let Some(quantity) = change.int("quantity")? {
                if quantity < 0 {
                    return Err(ApiError::invalid_param(&param("quantity"), "Invalid quantity: must be at least 0"));
                }
                item["quantity"] = json!(quantity);
            }
            if let Some(price_id) = change.str("price")? {
                let price = ctx
                    .account
                    .get_kind("price", price_id)
                    .cloned()
                    .ok_or_else(|| ApiError::no_such_param("price", price_id, &param("price")))?;
                if price["recurring"].is_null() {
                    return Err(ApiError::invalid_param(
                        &param("price"),
                        format!("The price specified ({price_id}) is a one-time price. Subscriptions take recurring prices only."),
                    ));
                }
                if price["currency"] != subscription["currency"] {
                    return Err(ApiError::invalid_param(&param("price"), "All prices on a subscription must have the same currency."));
                }
                // A new interval starts a new billing cycle at once (an invoice now), which
                // the emulator does not do.
                let recurring = &item["price"]["recurring"];
                if price["recurring"]["interval"] != recurring["interval"]
                    || price["recurring"]["interval_count"] != recurring["interval_count"]
                {
                    return Err(ApiError::invalid_param(
                        &param("price"),
                        "The emulator changes a price for one of the same interval only: the new price is billed from the next period on.",
                    ));
                }
                item["plan"] = products::plan_of(&price);
                item["price"] = price;
            }
        }
        if items != subscription["items"] {
            previous["items"] = subscription["items"].clone();
            subscription["items"] = items;
        }
    }
    if let Some(behavior) = missing_payment_method(params)? {
        let settings = &mut subscription["trial_settings"];
        if settings["end_behavior"]["missing_payment_method"] != behavior.as_str() {
            previous["trial_settings"] = settings.clone();
            settings["end_behavior"]["missing_payment_method"] = json!(behavior);
        }
    }
    if let Some(pm) = params.str("default_payment_method")? {
        customers_method(ctx, pm, &subscription["customer"], "default_payment_method")?;
        previous["default_payment_method"] = subscription["default_payment_method"].clone();
        subscription["default_payment_method"] = json!(pm);
    }
    if let Some(description) = params.str("description")? {
        previous["description"] = subscription["description"].clone();
        subscription["description"] = json!(description);
    }
    if params.get("metadata").is_some() {
        previous["metadata"] = subscription["metadata"].clone();
        merge_metadata(&mut subscription, params)?;
    }
    if let Some(end) = trial_end.filter(|end| subscription["trial_end"] != *end) {
        for field in ["trial_end", "billing_cycle_anchor"] {
            previous[field] = subscription[field].clone();
        }
        subscription["trial_end"] = json!(end);
        subscription["billing_cycle_anchor"] = json!(end);
        if let Some(items) = subscription["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_end"] = json!(end);
            }
        }
        if end <= ctx.now() {
            // Ended now (the Dashboard's "end trial now"): Stripe says so at once
            // ("or when a trial is ended immediately"), and the first period starts now,
            // charged as an update's invoice.
            ctx.account.trials_told.insert(id.to_owned());
            ctx.emit("customer.subscription.trial_will_end", &subscription, None);
            renew_one(ctx, subscription, "subscription_update", previous);
            let subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
            return ctx.expand(subscription, params);
        }
        // A new end: told again three days before it (at once if that is sooner).
        ctx.account.trials_told.remove(id);
    }
    if previous.as_object().is_some_and(|changed| !changed.is_empty()) {
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
        tell_trials_ending(ctx);
    }
    ctx.expand(subscription, params)
}

/// `trial_end` of an update, if given: a Unix timestamp in the future or `now`, for a
/// subscription in its trial (the end moved, or the trial ended now). A trial added to
/// a subscription under way (with its prorations) is not emulated, nor is the trial of
/// one set to end.
fn new_trial_end(ctx: &Ctx<'_>, subscription: &Value, params: &Params) -> Result<Option<i64>, ApiError> {
    if params.get("trial_end").is_none() {
        return Ok(None);
    }
    if subscription["status"] != "trialing" {
        return Err(ApiError::invalid_param(
            "trial_end",
            "The emulator changes trial_end of a trialing subscription only: a trial added to a subscription under way, with its prorations, is not emulated.",
        ));
    }
    if subscription["cancel_at"].is_i64() || params.get("cancel_at").is_some() || params.get("cancel_at_period_end").is_some() {
        return Err(ApiError::invalid_param(
            "trial_end",
            "The emulator does not change the trial of a subscription set to end, nor in the same request as its end.",
        ));
    }
    let now = ctx.now();
    let Some(end) = trial_end_param(params, now)? else { return Ok(None) };
    checked_trial_end(end, subscription["trial_start"].as_i64().unwrap_or(now))
}

/// `trial_end`, if given: `now`, or a Unix time after `now`.
fn trial_end_param(params: &Params, now: i64) -> Result<Option<i64>, ApiError> {
    match params.str("trial_end")? {
        None => Ok(None),
        Some("now") => Ok(Some(now)),
        Some(_) => match params.int("trial_end")? {
            Some(end) if end > now => Ok(Some(end)),
            _ => Err(ApiError::invalid_param("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")),
        },
    }
}

/// A trial from `start` to `end`, refused if longer than Stripe's longest.
fn checked_trial_end(end: i64, start: i64) -> Result<Option<i64>, ApiError> {
    if end - start > MAX_TRIAL_DAYS * 86_400 {
        return Err(ApiError::invalid_param(
            "trial_end",
            format!("trial_end can be at most {MAX_TRIAL_DAYS} days from the trial's start."),
        ));
    }
    Ok(Some(end))
}

/// `DELETE /v1/subscriptions/{id}`: ends it now.
pub fn cancel(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let subscription = live(ctx, id)?;
    let comment =
        params.object("cancellation_details")?.map(|details| details.str("comment").map(|c| c.map(str::to_owned))).transpose()?.flatten();
    let subscription = end(ctx, subscription, "cancellation_requested", comment);
    ctx.expand(subscription, params)
}

/// A customer is being deleted: as at Stripe, its subscriptions end now.
pub fn end_all_of(ctx: &mut Ctx<'_>, customer: &str) {
    let ending = subscriptions_where(ctx, |sub| sub["customer"] == customer && LIVE.contains(&sub["status"].as_str().unwrap_or_default()));
    for subscription in ending {
        end(ctx, subscription, "cancellation_requested", None);
    }
}

fn end(ctx: &mut Ctx<'_>, mut subscription: Value, reason: &str, comment: Option<String>) -> Value {
    let now = ctx.now();
    subscription["status"] = json!("canceled");
    subscription["ended_at"] = json!(now);
    if subscription["canceled_at"].is_null() {
        subscription["canceled_at"] = json!(now);
    }
    subscription["cancellation_details"]["reason"] = json!(reason);
    if comment.is_some() {
        subscription["cancellation_details"]["comment"] = json!(comment);
    }
    ctx.account.put(subscription.clone());
    // "Upon subscription cancellation, Stripe will stop automatic collection of all
    // finalized invoices": its open ones stay open, with no retry to come.
    let id = subscription["id"].clone();
    let open: Vec<Value> = ctx
        .account
        .list("invoice", |invoice| invoice["status"] == "open" && invoice["parent"]["subscription_details"]["subscription"] == id)
        .into_iter()
        .cloned()
        .collect();
    for mut invoice in open {
        invoice["auto_advance"] = json!(false);
        invoice["next_payment_attempt"] = Value::Null;
        ctx.account.put(invoice);
    }
    ctx.emit("customer.subscription.deleted", &subscription, None);
    subscription
}

/// What time does to subscriptions: one whose first invoice went unpaid for 23 hours
/// expires; each one whose period has ended, or whose `cancel_at` has come, either ends
/// (set to cancel by then) or renews, and the renewal's invoice is charged off-session
/// to the subscription's (or the customer's) default method. A paused collection
/// resumes once its `resumes_at` has come. Run when the emulator's clock moves; a clock
/// moved by several periods renews once per period.
pub fn renew(ctx: &mut Ctx<'_>) {
    expire_incomplete(ctx);
    expire_resumptions(ctx);
    tell_trials_ending(ctx);
    let now = ctx.now();
    // One thing at a time, the earliest first: a renewal that fails is retried before
    // the next period comes, and may end the subscription before it.
    loop {
        let renewals = ctx
            .account
            .list("subscription", |sub| ["active", "past_due", "trialing", "unpaid"].contains(&sub["status"].as_str().unwrap_or_default()))
            .into_iter()
            .filter_map(|sub| Some((due_at(sub, now)?, sub)));
        let retries = ctx
            .account
            .list("invoice", |invoice| invoice["status"] == "open")
            .into_iter()
            .filter_map(|invoice| Some((invoice["next_payment_attempt"].as_i64().filter(|at| *at <= now)?, invoice)));
        let Some((_, due)) = renewals.chain(retries).min_by_key(|(at, _)| *at) else { break };
        let due = due.clone();
        if due["object"] == "invoice" {
            retry(ctx, due);
        } else {
            renew_one(ctx, due, "subscription_cycle", json!({}));
        }
    }
}

/// An automatic retry of `invoice`'s charge, at its `next_payment_attempt`: charged
/// off session to its subscription's default method as it is now (a card the customer
/// has set since is tried), unless that is the card the issuer declined for good or
/// there is none. After the last one, an invoice still unpaid is left open, no longer
/// advanced, and its subscription becomes what the account's settings say "if all
/// retries for a payment fail" ("`canceled` or `unpaid` depending on your subscriptions
/// settings", or left `past_due`): by default it ends (`cancellation_details.reason`
/// `payment_failed`). The account may also have the invoice marked uncollectible then.
fn retry(ctx: &mut Ctx<'_>, mut invoice: Value) {
    let attempt = invoice["attempt_count"].as_i64().unwrap_or(0) + 1;
    invoice["attempt_count"] = json!(attempt);
    invoice["next_payment_attempt"] = json!(retry_at(&invoice, attempt));
    ctx.account.put(invoice.clone());
    let live = |sub: &Value| LIVE.contains(&sub["status"].as_str().unwrap_or_default());
    let Some(subscription) = subscription_of(ctx, &invoice).filter(live) else { return };
    let customer = ctx.account.get(subscription["customer"].as_str().unwrap_or_default()).cloned().unwrap_or(Value::Null);
    let intent = intent_of(ctx, &invoice).filter(|intent| intent["status"] == "requires_payment_method");
    if let Some(intent) = intent
        && let Some(method) = default_method(ctx, &subscription, &customer)
    {
        let error = &intent["last_payment_error"];
        let declined_for_good =
            HARD_DECLINES.contains(&error["decline_code"].as_str().unwrap_or_default()) && error["payment_method"]["id"] == method["id"];
        if !declined_for_good {
            // A decline is the intent's outcome (and the invoice's, through its hooks).
            let _ = intents::confirm(ctx, intent, method, Confirmation { off_session: true, error_on_requires_action: false });
        }
    }
    let Some(mut invoice) =
        ctx.account.get(invoice["id"].as_str().unwrap_or_default()).filter(|invoice| invoice["status"] == "open").cloned()
    else {
        return;
    };
    if attempt <= RETRIES {
        return;
    }
    // No automatic attempt is left: the invoice stays open for the customer to pay, or
    // is marked uncollectible if the account says so (which can still be paid).
    invoice["auto_advance"] = json!(false);
    ctx.account.put(invoice.clone());
    if ctx.account.billing.mark_invoice_uncollectible {
        mark_uncollectible(&mut invoice, "max_payment_attempts", ctx.now());
        ctx.account.put(invoice.clone());
        ctx.emit("invoice.marked_uncollectible", &invoice, None);
    }
    // A paused subscription whose resumption invoice this was is not resumed: it stays
    // paused, the invoice open until its resumption lapses (the account's setting is
    // what becomes of a subscription whose renewal went unpaid).
    let Some(mut subscription) = subscription_of(ctx, &invoice).filter(live).filter(|sub| sub["status"] != "paused") else { return };
    match ctx.account.billing.retries_spent {
        RetriesSpent::Cancel => {
            end(ctx, subscription, "payment_failed", None);
        }
        // "The latest invoice remains open but payments aren't attempted", and the
        // renewals that follow are drafts (`open_invoice`) until the customer pays.
        RetriesSpent::Unpaid if subscription["status"] == "past_due" => {
            subscription["status"] = json!("unpaid");
            ctx.account.put(subscription.clone());
            ctx.emit("customer.subscription.updated", &subscription, Some(json!({ "status": "past_due" })));
        }
        RetriesSpent::Unpaid | RetriesSpent::PastDue => {}
    }
}

/// How long Stripe waits for a subscription's first invoice to be paid.
const FIRST_PAYMENT_WAITS_SECS: i64 = 23 * 3_600;

/// Each `incomplete` subscription whose first invoice has gone unpaid for 23 hours
/// becomes `incomplete_expired`, "a terminal status: the open invoice will be voided and
/// no further invoices will be generated" (Stripe's `status`): its invoice is voided
/// (its PaymentIntent canceled, so a 3-D Secure challenge finished later fails), and
/// `customer.subscription.updated` says so, with `canceled_at` and `ended_at` set and no
/// `cancellation_details.reason`, as Stripe's own events show. One whose payment is
/// `processing` (a bank debit on its way: Stripe cannot cancel it) waits for its outcome.
fn expire_incomplete(ctx: &mut Ctx<'_>) {
    let now = ctx.now();
    let expiring = subscriptions_where(ctx, |sub| {
        sub["status"] == "incomplete" && sub["created"].as_i64().is_some_and(|at| at + FIRST_PAYMENT_WAITS_SECS <= now)
    });
    for mut subscription in expiring {
        let invoice = subscription["latest_invoice"].as_str().and_then(|id| ctx.account.get_kind("invoice", id)).cloned();
        if let Some(invoice) = invoice.filter(|invoice| invoice["status"] == "open") {
            if intent_of(ctx, &invoice).is_some_and(|intent| intent["status"] == "processing") {
                continue;
            }
            void(ctx, invoice);
        }
        let previous = json!({ "status": "incomplete", "canceled_at": null, "ended_at": null });
        subscription["status"] = json!("incomplete_expired");
        subscription["canceled_at"] = json!(now);
        subscription["ended_at"] = json!(now);
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    }
}

/// How long a resumption waits for its invoice to be paid: "Pending update expiration
/// time", 23 hours after the resume request on the payment's attempt, and a year on its
/// success (<https://docs.stripe.com/billing/subscriptions/pause>).
const RESUMPTION_ON_ATTEMPT_LASTS_SECS: i64 = 23 * 3_600;
const RESUMPTION_ON_SUCCESS_LASTS_SECS: i64 = 365 * 86_400;

/// Each resumption whose invoice is still unpaid when it lapses: "The resumption invoice
/// will void automatically if not paid by the expiration date" (Stripe's resume
/// reference), and the subscription stays `paused`. One already resumed (`past_due`
/// after a failed attempt) has nothing pending.
fn expire_resumptions(ctx: &mut Ctx<'_>) {
    let now = ctx.now();
    let lapsed: Vec<String> =
        ctx.account.resumptions.iter().filter(|(_, resumption)| resumption.expires_at <= now).map(|(id, _)| id.clone()).collect();
    for id in lapsed {
        ctx.account.resumptions.remove(&id);
        let Some(invoice) = ctx.account.get_kind("invoice", &id).filter(|invoice| invoice["status"] == "open").cloned() else { continue };
        if subscription_of(ctx, &invoice).is_some_and(|sub| sub["status"] == "paused" && sub["latest_invoice"] == invoice["id"]) {
            void(ctx, invoice);
        }
    }
}

/// Whether the subscription's period has ended, or its `cancel_at` come, by `now`.
fn renewal_due(subscription: &Value, now: i64) -> bool {
    period_end(subscription).as_i64().is_some_and(|end| end <= now) || subscription["cancel_at"].as_i64().is_some_and(|at| at <= now)
}

/// When the subscription's next change came, if it has by `now`: its period's end, its
/// `cancel_at`, or the end of its paused collection.
fn due_at(subscription: &Value, now: i64) -> Option<i64> {
    [period_end(subscription).as_i64(), subscription["cancel_at"].as_i64(), resumes_at(subscription)]
        .into_iter()
        .flatten()
        .filter(|at| *at <= now)
        .min()
}

/// When its paused collection resumes, if it is paused until a date.
fn resumes_at(subscription: &Value) -> Option<i64> {
    subscription["pause_collection"]["resumes_at"].as_i64()
}

/// Moves `subscription` into its next period (or ends it, set to end by then), its
/// invoice billed for `reason` and charged; `changed`: what an update changed with it,
/// for the one `customer.subscription.updated` event.
fn renew_one(ctx: &mut Ctx<'_>, mut subscription: Value, reason: &str, changed: Value) {
    // Collection resumes first when it resumes by the period's end: that renewal is charged.
    if let Some(at) = resumes_at(&subscription)
        && at <= ctx.now()
        && period_end(&subscription).as_i64().is_none_or(|end| at <= end)
    {
        let previous = json!({ "pause_collection": subscription["pause_collection"].take() });
        ctx.account.put(subscription.clone());
        ctx.emit("customer.subscription.updated", &subscription, Some(previous));
        if !renewal_due(&subscription, ctx.now()) {
            return;
        }
    }
    // Set to end by the period's end (at it, or on a date within it): it ends, and
    // what is left of the period is not credited (the emulator makes no prorations).
    let ends = subscription["cancel_at"].as_i64().is_some_and(|at| period_end(&subscription).as_i64().is_some_and(|end| at <= end));
    if subscription["cancel_at_period_end"] == true || ends {
        end(ctx, subscription, "cancellation_requested", None);
        return;
    }
    // A trial that ends with no card to charge, set to pause then: paused, nothing
    // invoiced, the period left where the trial ended.
    if subscription["status"] == "trialing"
        && subscription["trial_settings"]["end_behavior"]["missing_payment_method"] == "pause"
        && let Some(customer) = subscription["customer"].as_str().and_then(|id| ctx.account.get(id)).cloned()
        && default_method(ctx, &subscription, &customer).is_none()
    {
        let at = period_end(&subscription).as_i64().unwrap_or_else(|| ctx.now());
        pause(ctx, subscription, "trial_end_without_payment_method", at, changed);
        return;
    }
    let start = period_end(&subscription).as_i64().unwrap_or_default();
    let anchor = subscription["billing_cycle_anchor"].as_i64().unwrap_or(start);
    let recurring = subscription["items"]["data"][0]["price"]["recurring"].clone();
    // The next boundary counted from the anchor (so the 31st stays the month's end).
    let mut periods = 1;
    while add_interval(anchor, &recurring, periods) <= start {
        periods += 1;
    }
    let end_at = add_interval(anchor, &recurring, periods);
    let previous_start = subscription["items"]["data"][0]["current_period_start"].as_i64().unwrap_or(start);
    let mut previous = changed;
    for field in ["items", "latest_invoice"] {
        if previous.get(field).is_none() {
            previous[field] = subscription[field].clone();
        }
    }
    // A trial's end: the subscription is active, and its first period is charged now.
    if subscription["status"] == "trialing" {
        previous["status"] = subscription["status"].take();
        subscription["status"] = json!("active");
    }
    if let Some(items) = subscription["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_start"] = json!(start);
            item["current_period_end"] = json!(end_at);
        }
    }
    let Some(customer) = subscription["customer"].as_str().and_then(|id| ctx.account.get(id)).cloned() else { return };
    ctx.account.put(subscription.clone());
    let invoice = match open_invoice(ctx, &subscription, &customer, reason, (previous_start, start)) {
        Ok(invoice) => invoice,
        Err(error) => {
            tracing::warn!(subscription = %subscription["id"], message = %error.message, "a renewal could not be invoiced");
            return;
        }
    };
    subscription["latest_invoice"] = invoice["id"].clone();
    ctx.account.put(subscription.clone());
    ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    if invoice["status"] != "open" {
        return;
    }
    let Some(intent) = intent_of(ctx, &invoice) else { return };
    match default_method(ctx, &subscription, &customer) {
        // Declines are the intent's outcome (and the invoice's, through its hooks).
        Some(pm) => {
            let _ = intents::confirm(ctx, intent, pm, Confirmation { off_session: true, error_on_requires_action: false });
        }
        None => intent_failed(ctx, &intent),
    }
}

/// Puts `subscription` in the `paused` status for `why` (`status_details.paused`), as
/// of `at`: "A paused subscription doesn't advance to a new billing period or generate
/// invoices until it resumes." `changed`: what changed with it, for
/// `customer.subscription.updated`.
fn pause(ctx: &mut Ctx<'_>, mut subscription: Value, why: &str, at: i64, changed: Value) {
    let mut previous = changed;
    previous["status"] = subscription["status"].take();
    subscription["status"] = json!("paused");
    subscription["status_details"] =
        json!({ "paused": { "subscription": { "type": why }, "transitioned_at": at, "type": "subscription" } });
    ctx.account.put(subscription.clone());
    ctx.emit("customer.subscription.paused", &subscription, None);
    ctx.emit("customer.subscription.updated", &subscription, Some(previous));
}

/// `POST /v1/subscriptions/{id}/pause` (the Dashboard's "Pause subscription"): an
/// `active`, `past_due` or `unpaid` subscription in flexible billing mode, not in a
/// trial, is `paused` now (`status_details.paused.subscription.type` `pause_requested`),
/// its items' `current_period_end` moved to now, `customer.subscription.paused` and
/// `.updated`; it invoices nothing until resumed, and its open invoices go on as before.
/// Credit for the period's unused time (`bill_for[unused_time_from]`, `now` by default)
/// needs prorations, which the emulator does not make: it is refused unless `none`.
/// <https://docs.stripe.com/api/subscriptions/pause>,
/// <https://docs.stripe.com/billing/subscriptions/pause>
pub fn pause_now(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
    one_of(params, "type", &["subscription"])?;
    one_of(params, "invoicing_behavior", &["invoice", "pending_invoice_item"])?;
    let bill_for = params.object("bill_for")?;
    if bill_for.is_none() && params.get("bill_for").is_some() {
        return Err(ApiError::invalid_param("bill_for", "Invalid hash"));
    }
    let unused = match &bill_for {
        Some(bill_for) => {
            let usage = bill_for.object("outstanding_usage_through")?;
            if let Some(usage) = usage {
                one_of_at(&usage, "type", "bill_for[outstanding_usage_through][type]", &["none", "now"])?;
            }
            match bill_for.object("unused_time_from")? {
                Some(unused) => {
                    one_of_at(&unused, "type", "bill_for[unused_time_from][type]", &["item_current_period_start", "none", "now"])?
                }
                None => None,
            }
        }
        None => None,
    };
    if unused.as_deref() != Some("none") {
        return Err(ApiError::invalid_param(
            "bill_for[unused_time_from][type]",
            "The emulator pauses subscriptions with bill_for[unused_time_from][type]=none only: the credit for unused time (the default, now) is a proration, which the emulator does not make.",
        ));
    }
    let status = subscription["status"].as_str().unwrap_or_default().to_owned();
    if !["active", "past_due", "unpaid"].contains(&status.as_str()) {
        return Err(ApiError::invalid(format!("A subscription with status `{status}` cannot be paused.")));
    }
    if subscription["billing_mode"]["type"] == "classic" {
        return Err(ApiError::invalid("Only subscriptions that use flexible billing mode can be paused."));
    }
    let now = ctx.now();
    let previous = json!({ "items": subscription["items"] });
    if let Some(items) = subscription["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_end"] = json!(now);
        }
    }
    pause(ctx, subscription.clone(), "pause_requested", now, previous);
    subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
    ctx.expand(subscription, params)
}

/// `POST /v1/subscriptions/{id}/resume`: a `paused` subscription starts a new period
/// now (`billing_cycle_anchor[type]=now`, the default; `unchanged`, with its
/// prorations, is not emulated), whose resumption invoice is finalized at once. It
/// stays `paused` until that invoice is paid (then `active`, and
/// `customer.subscription.resumed`) or marked uncollectible. How its payment goes is
/// `payment_behavior` (<https://docs.stripe.com/billing/subscriptions/pause>, "Payment
/// behavior"):
/// - `resume_on_payment_attempt`, the default: no payment is attempted in the request
///   ("Collect payment with the Pay invoice endpoint"); if an attempt fails the
///   subscription is `past_due` ("doesn't automatically revert to `paused`"), and the
///   invoice is not retried.
/// - `resume_on_payment_success` (flexible billing mode only): the request charges the
///   invoice to the subscription's (or customer's) default payment method, and without
///   one is refused; if that fails the subscription stays `paused`, and the invoice is
///   retried as a renewal's is.
///
/// <https://docs.stripe.com/api/subscriptions/resume>
pub fn resume(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
    if let Some(anchor) = params.object("billing_cycle_anchor")? {
        let kind = one_of_at(&anchor, "type", "billing_cycle_anchor[type]", &["now", "unchanged"])?
            .ok_or_else(|| ApiError::missing_param("billing_cycle_anchor[type]"))?;
        if kind == "unchanged" {
            return Err(ApiError::invalid_param(
                "billing_cycle_anchor[type]",
                "The emulator resumes subscriptions with billing_cycle_anchor[type]=now only: the prorations of an unchanged anchor are not emulated.",
            ));
        }
    } else if params.get("billing_cycle_anchor").is_some() {
        return Err(ApiError::invalid_param("billing_cycle_anchor", "Invalid hash"));
    }
    let on_success = one_of(params, "payment_behavior", &["resume_on_payment_attempt", "resume_on_payment_success"])?.as_deref()
        == Some("resume_on_payment_success");
    one_of(params, "proration_behavior", &["always_invoice", "create_prorations", "none"])?;
    params.int("proration_date")?;
    if subscription["status"] != "paused" {
        return Err(ApiError::invalid(format!(
            "Only a paused subscription can be resumed; this one's status is {}.",
            subscription["status"].as_str().unwrap_or_default()
        )));
    }
    let customer = ctx
        .account
        .get(subscription["customer"].as_str().unwrap_or_default())
        .cloned()
        .ok_or_else(|| ApiError::invalid("The subscription's customer no longer exists."))?;
    if on_success && subscription["billing_mode"]["type"] == "classic" {
        return Err(ApiError::invalid_param(
            "payment_behavior",
            "payment_behavior=resume_on_payment_success is only available for subscriptions that use flexible billing mode.",
        ));
    }
    if on_success && default_method(ctx, &subscription, &customer).is_none() {
        return Err(ApiError::invalid_param(
            "payment_behavior",
            "This subscription's customer has no default payment method to attempt payment with: with payment_behavior=resume_on_payment_success, the resume request attempts payment. Set a default payment method first, or resume with resume_on_payment_attempt and collect payment with the Pay invoice endpoint.",
        ));
    }
    let now = ctx.now();
    let recurring = subscription["items"]["data"][0]["price"]["recurring"].clone();
    let end_at = add_interval(now, &recurring, 1);
    let previous = json!({ "billing_cycle_anchor": subscription["billing_cycle_anchor"], "items": subscription["items"], "latest_invoice": subscription["latest_invoice"] });
    subscription["billing_cycle_anchor"] = json!(now);
    if let Some(items) = subscription["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_start"] = json!(now);
            item["current_period_end"] = json!(end_at);
        }
    }
    ctx.account.put(subscription.clone());
    let mut invoice = open_invoice(ctx, &subscription, &customer, "subscription_update", (now, now))?;
    subscription["latest_invoice"] = invoice["id"].clone();
    ctx.account.put(subscription.clone());
    ctx.emit("customer.subscription.updated", &subscription, Some(previous));
    if invoice["status"] == "paid" {
        // Nothing to pay (the customer's credit covered it): resumed at once.
        settled(ctx, &invoice, None);
    } else if invoice["status"] == "open" {
        let lasts = if on_success { RESUMPTION_ON_SUCCESS_LASTS_SECS } else { RESUMPTION_ON_ATTEMPT_LASTS_SECS };
        let resumption = Resumption { on_attempt: !on_success, expires_at: now + lasts };
        ctx.account.resumptions.insert(invoice["id"].as_str().unwrap_or_default().to_owned(), resumption);
        if on_success {
            if let (Some(intent), Some(pm)) = (intent_of(ctx, &invoice), default_method(ctx, &subscription, &customer)) {
                // Declines are the intent's outcome (and the invoice's, through its hooks).
                let _ = intents::confirm(ctx, intent, pm, Confirmation { off_session: true, error_on_requires_action: false });
            }
        } else {
            // Paid only when asked to (Pay invoice), and never retried.
            invoice["auto_advance"] = json!(false);
            ctx.account.put(invoice.clone());
        }
    }
    let subscription = ctx.account.get_kind("subscription", id).cloned().ok_or_else(|| ApiError::no_such("subscription", id))?;
    ctx.expand(subscription, params)
}
