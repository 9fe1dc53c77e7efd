//! PaymentIntents: create (optionally confirming at once), retrieve, update, confirm,
//! cancel, capture, list. <https://docs.stripe.com/api/payment_intents>

use super::intents::{self, Confirmation};
use super::{Caller, Ctx, confirmation_tokens, list_object, page, payment_methods};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::{TokenMethod, new_id, random_suffix};
use serde_json::{Value, json};

/// Currencies the emulator accepts, with Stripe's minimum charge in minor units.
const CURRENCIES: &[(&str, i64)] = &[
    ("usd", 50),
    ("eur", 50),
    ("gbp", 30),
    ("chf", 50),
    ("cad", 50),
    ("aud", 50),
    ("nzd", 50),
    ("sek", 300),
    ("nok", 300),
    ("dkk", 250),
    ("pln", 200),
    ("czk", 1500),
    ("huf", 17500),
    ("jpy", 50),
    ("sgd", 50),
    ("hkd", 400),
    ("mxn", 1000),
    ("brl", 50),
    ("inr", 50),
    ("ron", 200),
    ("bgn", 100),
];
pub(super) const MAX_AMOUNT: i64 = 99_999_999;

/// Stripe's minimum charge in `currency` (minor units; 50 for one it does not list).
pub(super) fn minimum(currency: &str) -> i64 {
    CURRENCIES.iter().find(|(known, _)| *known == currency).map_or(50, |(_, minimum)| *minimum)
}

pub(super) fn currency(params: &Params) -> Result<(String, i64), ApiError> {
    let code = params.required_str("currency")?.to_ascii_lowercase();
    CURRENCIES.iter().find(|(known, _)| *known == code).map(|(known, minimum)| ((*known).to_owned(), *minimum)).ok_or_else(|| {
        ApiError::invalid_param(
            "currency",
            format!("Invalid currency: {code}. The emulator supports: {}.", CURRENCIES.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")),
        )
    })
}

fn amount(params: &Params, minimum: i64, currency: &str) -> Result<i64, ApiError> {
    let amount = params.int("amount")?.ok_or_else(|| ApiError::missing_param("amount"))?;
    if amount < 1 {
        return Err(
            ApiError::invalid_param("amount", "This value must be greater than or equal to 1.").with_code("parameter_invalid_integer")
        );
    }
    if amount < minimum {
        return Err(ApiError::invalid_param("amount", format!("Amount must be at least {} {currency}", major_units(minimum, currency)))
            .with_code("amount_too_small"));
    }
    if amount > MAX_AMOUNT {
        return Err(ApiError::invalid_param("amount", format!("Amount must be no more than {MAX_AMOUNT}")).with_code("amount_too_large"));
    }
    Ok(amount)
}

/// An amount as Stripe writes it in its messages: `€0.50` for 50 in `eur`, `¥50` for 50
/// in `jpy` (no minor unit); without a symbol for a currency other than these.
pub fn major_units(minor: i64, currency: &str) -> String {
    let symbol = currency_symbol(currency);
    match currency {
        "jpy" => format!("{symbol}{minor}"),
        _ => format!("{symbol}{}.{:02}", minor / 100, minor % 100),
    }
}

/// The symbol Stripe writes for a currency in its messages (`€` for `eur`), or none.
pub fn currency_symbol(currency: &str) -> &'static str {
    match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        _ => "",
    }
}

/// The value of the enum parameter `name`, if given, refused unless `allowed` holds it.
pub(super) fn one_of(params: &Params, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    one_of_at(params, name, name, allowed)
}

/// [`one_of`] for the key `key` of a nested hash, which Stripe names by its whole `path`
/// (`automatic_payment_methods[allow_redirects]`).
pub(super) fn one_of_at(params: &Params, key: &str, path: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match params.str(key).map_err(|error| error.with_param(path))? {
        None | Some("") => Ok(None),
        Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
        Some(_) => Err(not_one_of(path, allowed)),
    }
}

/// Stripe's refusal of a value outside an enum, in its words: "Invalid capture_method:
/// must be one of automatic, automatic_async, or manual" ("… a or b" for two).
pub(super) fn not_one_of(path: &str, allowed: &[&str]) -> ApiError {
    let listed = match allowed {
        [init @ .., last] if init.len() > 1 => format!("{}, or {last}", init.join(", ")),
        _ => allowed.join(" or "),
    };
    ApiError::invalid_param(path, format!("Invalid {path}: must be one of {listed}"))
}

fn customer(ctx: &Ctx<'_>, params: &Params) -> Result<Option<String>, ApiError> {
    match params.str("customer")? {
        None | Some("") => Ok(None),
        Some(id) if ctx.account.get_kind("customer", id).is_some_and(|c| c["deleted"] != true) => Ok(Some(id.to_owned())),
        Some(id) => Err(ApiError::no_such_param("customer", id, "customer")),
    }
}

/// The `payment_method_options` a request asks for (kept as given).
/// The `shipping` hash (`null` when absent or sent empty to unset it); Stripe requires
/// a name and an address with a first line.
fn shipping(params: &Params) -> Result<Value, ApiError> {
    let Some(shipping) = params.object("shipping")? else { return Ok(Value::Null) };
    let name = shipping.required_str("name").map_err(|_| ApiError::missing_param("shipping[name]"))?;
    let details = payment_methods::billing_details(Some(&shipping))?;
    if details["address"]["line1"].is_null() {
        return Err(ApiError::missing_param("shipping[address][line1]"));
    }
    Ok(json!({
        "address": details["address"],
        "carrier": shipping.str("carrier")?,
        "name": name,
        "phone": details["phone"],
        "tracking_number": shipping.str("tracking_number")?,
    }))
}

fn method_options(params: &Params) -> Result<Value, ApiError> {
    let Some(options) = params.object("payment_method_options")? else { return Ok(json!({})) };
    let mut out = json!({});
    if let Some(card) = options.object("card")? {
        let mut card_out = json!({ "installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic" });
        if let Some(recollect) = card.bool("require_cvc_recollection")? {
            card_out["require_cvc_recollection"] = json!(recollect);
        }
        if let Some(sfu) = card.str("setup_future_usage")? {
            card_out["setup_future_usage"] = json!(sfu);
        }
        out["card"] = card_out;
    }
    Ok(out)
}

/// The intent's `payment_method_types`: of the allowed types (or, without a list, every
/// type under automatic payment methods, else cards), those that can pay in `currency`
/// and be captured as `capture_method` says.
fn offered(allowed: &[String], automatic: Option<&Value>, currency: &str, capture_method: &str, param: &str) -> Result<Value, ApiError> {
    let candidates: Vec<&str> = match (allowed.is_empty(), automatic.is_some()) {
        (false, _) => allowed.iter().map(String::as_str).collect(),
        (true, true) => payment_methods::TYPES.to_vec(),
        (true, false) => vec!["card"],
    };
    let redirects = automatic.is_none_or(|a| a["allow_redirects"] != "never");
    let types = payment_methods::compatible(&candidates, currency, redirects, capture_method);
    if types.is_empty() {
        let captured = if capture_method == "manual" { " captured manually" } else { "" };
        return Err(ApiError::invalid_param(
            param,
            format!(
                "None of the allowed payment method types ({}) can be used for a payment in {currency}{captured}.",
                candidates.join(", ")
            ),
        ));
    }
    Ok(json!(types))
}

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let (currency, minimum) = currency(params)?;
    let amount = amount(params, minimum, &currency)?;
    let customer = customer(ctx, params)?;
    let capture_method =
        one_of(params, "capture_method", &["automatic", "automatic_async", "manual"])?.unwrap_or_else(|| "automatic_async".into());
    let setup_future_usage = one_of(params, "setup_future_usage", &["on_session", "off_session"])?;
    let allowed = payment_methods::allowed_types(params)?;
    let automatic = match params.object("automatic_payment_methods")? {
        Some(apm) => {
            let enabled = apm.bool("enabled")?.ok_or_else(|| ApiError::missing_param("automatic_payment_methods[enabled]"))?;
            let redirects = one_of_at(&apm, "allow_redirects", "automatic_payment_methods[allow_redirects]", &["always", "never"])?;
            enabled.then(|| json!({ "enabled": true, "allow_redirects": redirects.unwrap_or_else(|| "always".into()) }))
        }
        // Since API version 2023-08-16 automatic payment methods are on by default.
        None => Some(json!({ "enabled": true, "allow_redirects": "always" })),
    };
    let method_types = offered(&allowed, automatic.as_ref(), &currency, &capture_method, "allowed_payment_method_types")?;
    let id = new_id("pi");
    let intent = json!({
        "id": id,
        "object": "payment_intent",
        "allowed_payment_method_types": if allowed.is_empty() { Value::Null } else { json!(allowed) },
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": { "tip": {} },
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": automatic,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": capture_method,
        "client_secret": format!("{id}_secret_{}", random_suffix(25)),
        "confirmation_method": one_of(params, "confirmation_method", &["automatic", "manual"])?.unwrap_or_else(|| "automatic".into()),
        "created": ctx.now(),
        "currency": currency,
        "customer": customer,
        "customer_account": null,
        "description": params.str("description")?,
        "excluded_payment_method_types": null,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "managed_payments": { "enabled": false },
        "metadata": params.string_map("metadata")?,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": null,
        "payment_method_options": method_options(params)?,
        "payment_method_types": method_types,
        "payment_record": null,
        "processing": null,
        "receipt_email": params.str("receipt_email")?,
        "review": null,
        "setup_future_usage": setup_future_usage,
        "shipping": shipping(params)?,
        "source": null,
        "statement_descriptor": params.str("statement_descriptor")?,
        "statement_descriptor_suffix": params.str("statement_descriptor_suffix")?,
        "status": "requires_payment_method",
        "transfer_data": null,
        "transfer_group": params.str("transfer_group")?,
    });
    if params.bool("confirm")? == Some(true) {
        // Check confirmation first so that a refused request creates nothing.
        let plan = plan_confirmation(ctx, &intent, params)?;
        ctx.account.put(intent.clone());
        ctx.emit("payment_intent.created", &intent, None);
        let confirmed = carry_out(ctx, intent, plan, params);
        return confirmed.and_then(|intent| ctx.expand(intent, params));
    }
    let mut intent = intent;
    if let Some(url) = params.str("return_url")? {
        ctx.account.return_urls.insert(id.clone(), url.to_owned());
    }
    if let Some(pm) = params.str("payment_method")? {
        let pm = payment_methods::resolve(ctx, pm, "payment_method")?;
        intent["payment_method"] = pm["id"].clone();
        intent["status"] = json!("requires_confirmation");
    }
    ctx.account.put(intent.clone());
    ctx.emit("payment_intent.created", &intent, None);
    ctx.expand(intent, params)
}

/// Where the payment method of a confirmation comes from.
enum Source {
    Token(String),
    Method(String),
    /// `payment_method_data`: a new PaymentMethod made at confirmation.
    Data(Box<payment_methods::NewMethod>),
    Already(String),
}

/// Everything checked before anything changes.
struct Plan {
    source: Source,
    return_url: Option<String>,
}

fn plan_confirmation(ctx: &Ctx<'_>, intent: &Value, params: &Params) -> Result<Plan, ApiError> {
    let token = params.str("confirmation_token")?.filter(|t| !t.is_empty());
    let method = params.str("payment_method")?.filter(|m| !m.is_empty());
    let data = params.object("payment_method_data")?;
    if data.is_some() && (token.is_some() || method.is_some()) {
        return Err(ApiError::invalid("You cannot provide payment_method_data together with a confirmation_token or a payment_method.")
            .with_param("payment_method_data")
            .with_code("parameters_exclusive"));
    }
    let source = match (token, method) {
        (Some(_), Some(_)) => {
            return Err(
                ApiError::invalid("You cannot provide both a confirmation_token and a payment_method.").with_param("confirmation_token")
            );
        }
        (Some(token), None) => Source::Token(token.to_owned()),
        (None, Some(method)) => Source::Method(method.to_owned()),
        (None, None) if data.is_some() => {
            let data = data.unwrap_or_default();
            let method = payment_methods::method_from_params(&data, ctx.now())?;
            if method.card.is_some() {
                return Err(ApiError::invalid_param(
                    "payment_method_data[type]",
                    "Sending raw card numbers to the API is not allowed: collect the card with Stripe.js (a ConfirmationToken).",
                ));
            }
            Source::Data(Box::new(method))
        }
        (None, None) => match intent["payment_method"].as_str() {
            Some(existing) => Source::Already(existing.to_owned()),
            None => {
                return Err(ApiError::invalid(
                    "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with a payment method, pass confirmation_token or payment_method.",
                )
                .with_code("payment_intent_unexpected_state"));
            }
        },
    };
    let token_object = match &source {
        Source::Token(id) => Some(confirmation_tokens::usable(ctx, id)?),
        _ => None,
    };
    // A method that cannot pay in the intent's currency is refused before anything
    // changes (the token stays unused).
    let (method_type, param) = match (&source, &token_object) {
        (_, Some(token)) => (token["payment_method_preview"]["type"].as_str().map(str::to_owned), "confirmation_token"),
        (Source::Data(method), None) => (Some(method.kind.clone()), "payment_method_data"),
        (Source::Method(id) | Source::Already(id), None) => {
            (ctx.account.get_kind("payment_method", id).and_then(|pm| pm["type"].as_str()).map(str::to_owned), "payment_method")
        }
        _ => (None, "payment_method"),
    };
    if let Source::Method(id) | Source::Already(id) = &source {
        payment_methods::check_reusable(ctx, id, "payment_method")?;
    }
    let currency = intent["currency"].as_str().unwrap_or_default();
    if let Some(kind) = method_type.as_ref().filter(|kind| !payment_methods::supports_currency(kind, currency)) {
        return Err(ApiError::invalid_param(
            param,
            format!("The payment method type {kind} cannot pay in {currency}: it supports only eur. Create the PaymentIntent in eur, or collect another payment method."),
        )
        .with_code("payment_method_currency_mismatch"));
    }
    let offered_types = intent["payment_method_types"].as_array().cloned().unwrap_or_default();
    if let Some(kind) = method_type.filter(|kind| !offered_types.iter().any(|t| t == kind.as_str())) {
        let types: Vec<&str> = offered_types.iter().filter_map(Value::as_str).collect();
        return Err(ApiError::invalid_param(
            param,
            format!(
                "The PaymentMethod provided ({kind}) is not allowed for this PaymentIntent. Use a PaymentMethod of one of the following types: {}. Alternatively, update the allowed payment method types of this PaymentIntent to include \"{kind}\".",
                types.join(", ")
            ),
        )
        .with_code("payment_intent_incompatible_payment_method"));
    }
    let return_url = params
        .str("return_url")?
        .map(str::to_owned)
        .or_else(|| token_object.as_ref().and_then(|t| t["return_url"].as_str().map(str::to_owned)))
        .or_else(|| intent["id"].as_str().and_then(|id| ctx.account.return_urls.get(id).cloned()));
    if let Some(url) = &return_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ApiError::invalid_param("return_url", "Invalid URL: return_url must be an absolute http(s) URL"));
    }
    let redirects_allowed =
        intent["automatic_payment_methods"]["enabled"] == true && intent["automatic_payment_methods"]["allow_redirects"] != "never";
    if redirects_allowed && return_url.is_none() {
        return Err(ApiError::invalid(
            "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.",
        )
        .with_param("return_url"));
    }
    if let Some(token) = &token_object {
        let saved = matches!(ctx.account.token_methods.get(token["id"].as_str().unwrap_or_default()), Some(TokenMethod::Existing(_)));
        let recollect = intent["payment_method_options"]["card"]["require_cvc_recollection"] == true
            || params
                .object("payment_method_options")?
                .and_then(|o| o.object("card").ok().flatten())
                .and_then(|c| c.bool("require_cvc_recollection").ok().flatten())
                == Some(true);
        let is_card = token["payment_method_preview"]["type"] == "card";
        if saved && is_card && recollect && token["payment_method_options"]["card"]["cvc_token"].is_null() {
            return Err(ApiError::invalid_param(
                "confirmation_token",
                "This PaymentIntent requires the CVC to be collected again (require_cvc_recollection), but the ConfirmationToken carries no cvc_token. Pass paymentMethodOptions.card.require_cvc_recollection to Elements.",
            ));
        }
    }
    Ok(Plan { source, return_url })
}

/// Confirms a stored intent according to a checked plan.
fn carry_out(ctx: &mut Ctx<'_>, mut intent: Value, plan: Plan, params: &Params) -> Result<Value, ApiError> {
    let id = intent["id"].as_str().unwrap_or_default().to_owned();
    let mut token_sfu = None;
    let pm = match plan.source {
        Source::Token(token_id) => {
            let (token, method) = confirmation_tokens::consume(ctx, &token_id, "payment_intent", &id)?;
            token_sfu = token["setup_future_usage"].as_str().map(str::to_owned);
            if !token["shipping"].is_null() {
                intent["shipping"] = token["shipping"].clone();
            }
            match method {
                TokenMethod::Existing(pm) => payment_methods::resolve(ctx, &pm, "confirmation_token")?,
                TokenMethod::New { preview, card } => payment_methods::insert_preview(ctx, preview, card, json!({})),
            }
        }
        Source::Method(pm) | Source::Already(pm) => payment_methods::resolve(ctx, &pm, "payment_method")?,
        Source::Data(method) => payment_methods::insert(ctx, *method),
    };
    if let (Some(owner), customer) = (pm["customer"].as_str(), intent["customer"].as_str())
        && Some(owner) != customer
    {
        return Err(ApiError::invalid_param(
            "payment_method",
            format!(
                "The PaymentMethod provided ({}) does not belong to the Customer ({}).",
                pm["id"].as_str().unwrap_or_default(),
                customer.unwrap_or("none")
            ),
        ));
    }
    if let Some(sfu) = one_of(params, "setup_future_usage", &["on_session", "off_session"])?.or(token_sfu) {
        intent["setup_future_usage"] = json!(sfu);
    }
    if let Some(options) = params.object("payment_method_options")?
        && let Some(card) = options.object("card")?
        && let Some(recollect) = card.bool("require_cvc_recollection")?
    {
        intent["payment_method_options"]["card"]["require_cvc_recollection"] = json!(recollect);
    }
    if let Some(url) = plan.return_url {
        ctx.account.return_urls.insert(id.clone(), url);
    }
    if let Some(capture) = one_of(params, "capture_method", &["automatic", "automatic_async", "manual"])? {
        intent["capture_method"] = json!(capture);
    }
    let off_session = params.bool("off_session")?.unwrap_or(false);
    let error_on_requires_action = params.bool("error_on_requires_action")?.unwrap_or(false);
    let pm_id = pm["id"].as_str().unwrap_or_default().to_owned();
    let confirmed = intents::confirm(ctx, intent, pm, Confirmation { off_session, error_on_requires_action })?;
    // Used for a payment and not kept by a customer: it cannot pay again.
    let kept = ctx.account.get(&pm_id).is_some_and(|pm| pm["customer"].is_string());
    if !kept && confirmed["status"] != "requires_action" {
        ctx.account.spent_methods.insert(pm_id);
    }
    Ok(confirmed)
}

fn find(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.account.get_kind("payment_intent", id).cloned().ok_or_else(|| ApiError::no_such("payment_intent", id))
}

/// Retrieve: with a secret key, or with a publishable key and the client secret (as
/// Stripe.js does).
pub fn retrieve(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    let intent = find(ctx, id)?;
    if ctx.caller == Caller::Publishable {
        let secret = params.required_str("client_secret")?;
        if intent["client_secret"] != secret {
            return Err(ApiError::no_such("payment_intent", id));
        }
    }
    ctx.expand(intent, params)
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut intent = find(ctx, id)?;
    let editable = ["requires_payment_method", "requires_confirmation", "requires_action"];
    if !editable.iter().any(|s| intent["status"] == *s) {
        return Err(unexpected_state("update", &intent, &editable));
    }
    if params.get("currency").is_some() {
        let (code, _) = currency(params)?;
        let allowed: Vec<String> =
            intent["allowed_payment_method_types"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
        let automatic = Some(&intent["automatic_payment_methods"]).filter(|a| a["enabled"] == true).cloned();
        let capture_method = intent["capture_method"].as_str().unwrap_or("automatic_async").to_owned();
        intent["payment_method_types"] = offered(&allowed, automatic.as_ref(), &code, &capture_method, "currency")?;
        intent["currency"] = json!(code);
    }
    if params.get("amount").is_some() {
        let minimum = CURRENCIES.iter().find(|c| intent["currency"] == c.0).map_or(50, |c| c.1);
        intent["amount"] = json!(amount(params, minimum, intent["currency"].as_str().unwrap_or_default())?);
    }
    if params.get("customer").is_some() {
        intent["customer"] = json!(customer(ctx, params)?);
    }
    for field in ["description", "receipt_email"] {
        if let Some(value) = params.str(field)? {
            intent[field] = if value.is_empty() { Value::Null } else { json!(value) };
        }
    }
    if params.get("shipping").is_some() {
        intent["shipping"] = shipping(params)?;
    }
    if params.get("setup_future_usage").is_some() {
        intent["setup_future_usage"] = json!(one_of(params, "setup_future_usage", &["on_session", "off_session"])?);
    }
    if let Some(capture) = one_of(params, "capture_method", &["automatic", "automatic_async", "manual"])? {
        intent["capture_method"] = json!(capture);
    }
    super::merge_metadata(&mut intent, params)?;
    if params.get("payment_method_options").is_some() {
        intent["payment_method_options"] = method_options(params)?;
    }
    if let Some(pm) = params.str("payment_method")? {
        let pm = payment_methods::resolve(ctx, pm, "payment_method")?;
        intent["payment_method"] = pm["id"].clone();
        intent["status"] = json!("requires_confirmation");
    }
    // Stripe has no `payment_intent.updated` event: an update emits nothing.
    ctx.account.put(intent.clone());
    ctx.expand(intent, params)
}

fn unexpected_state(action: &str, intent: &Value, allowed: &[&str]) -> ApiError {
    ApiError::invalid(format!(
        "You cannot {action} this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be {}: {}.",
        intent["status"].as_str().unwrap_or_default(),
        match action {
            "cancel" => "canceled",
            "update" => "updated",
            _ => "confirmed",
        },
        allowed.join(", ")
    ))
    .with_code("payment_intent_unexpected_state")
    .attach("payment_intent", intent.clone())
}

pub fn confirm(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let intent = find(ctx, id)?;
    let confirmable = ["requires_payment_method", "requires_confirmation", "requires_action"];
    if !confirmable.iter().any(|s| intent["status"] == *s) {
        return Err(unexpected_state("confirm", &intent, &confirmable));
    }
    let plan = plan_confirmation(ctx, &intent, params)?;
    let confirmed = carry_out(ctx, intent, plan, params);
    confirmed.and_then(|intent| ctx.expand(intent, params))
}

pub fn cancel(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let intent = find(ctx, id)?;
    let cancelable = ["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"];
    if !cancelable.iter().any(|s| intent["status"] == *s) {
        return Err(unexpected_state("cancel", &intent, &cancelable));
    }
    let reason = one_of(params, "cancellation_reason", &["duplicate", "fraudulent", "requested_by_customer", "abandoned"])?;
    let intent = canceled(ctx, intent, reason);
    ctx.expand(intent, params)
}

/// `intent` canceled now, for `reason` (an API caller's, or Stripe's own such as
/// `void_invoice`), with its event.
pub fn canceled(ctx: &mut Ctx<'_>, mut intent: Value, reason: Option<String>) -> Value {
    let previous = intent["status"].clone();
    intent["status"] = json!("canceled");
    intent["canceled_at"] = json!(ctx.now());
    intent["cancellation_reason"] = json!(reason);
    intent["next_action"] = Value::Null;
    intent["amount_capturable"] = json!(0);
    ctx.account.put(intent.clone());
    ctx.emit("payment_intent.canceled", &intent, Some(json!({ "status": previous })));
    intent
}

pub fn capture(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut intent = find(ctx, id)?;
    if intent["status"] != "requires_capture" {
        return Err(ApiError::invalid(format!(
            "This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
            intent["status"].as_str().unwrap_or_default()
        ))
        .with_code("payment_intent_unexpected_state")
        .attach("payment_intent", intent.clone()));
    }
    let capturable = intent["amount_capturable"].as_i64().unwrap_or(0);
    let to_capture = params.int("amount_to_capture")?.unwrap_or(capturable);
    if to_capture <= 0 || to_capture > capturable {
        return Err(ApiError::invalid_param(
            "amount_to_capture",
            format!("The amount to capture must be between 1 and the capturable amount ({capturable})."),
        ));
    }
    intent["status"] = json!("succeeded");
    intent["amount_received"] = json!(to_capture);
    intent["amount_capturable"] = json!(0);
    super::merge_metadata(&mut intent, params)?;
    if let Some(charge_id) = intent["latest_charge"].as_str().map(str::to_owned)
        && let Some(mut charge) = ctx.account.get(&charge_id).cloned()
    {
        charge["captured"] = json!(true);
        charge["amount_captured"] = json!(to_capture);
        // A partial capture releases the rest, which counts as refunded.
        charge["amount_refunded"] = json!(charge["amount"].as_i64().unwrap_or(to_capture) - to_capture);
        if charge["balance_transaction"].is_null() {
            charge["balance_transaction"] = json!(crate::state::new_id("txn"));
        }
        ctx.account.put(charge.clone());
        ctx.emit("charge.captured", &charge, Some(json!({ "captured": false })));
    }
    ctx.account.put(intent.clone());
    ctx.emit("payment_intent.succeeded", &intent, Some(json!({ "status": "requires_capture", "amount_received": 0 })));
    ctx.expand(intent, params)
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.str("customer")?.map(str::to_owned);
    let created = super::created_filter(params)?;
    let items = ctx.account.list("payment_intent", |pi| customer.as_ref().is_none_or(|c| pi["customer"] == c.as_str()) && created(pi));
    let (data, has_more) = page(items, params)?;
    Ok(list_object("/v1/payment_intents", data, has_more))
}
