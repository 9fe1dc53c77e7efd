//! SetupIntents: save a payment method for later without charging it.
//! <https://docs.stripe.com/api/setup_intents>

use super::intents::{self, Confirmation};
use super::{Caller, Ctx, confirmation_tokens, payment_methods};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::{TokenMethod, new_id, random_suffix};
use serde_json::{Value, json};

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = match params.str("customer")? {
        None | Some("") => None,
        Some(id) if ctx.account.get_kind("customer", id).is_some_and(|c| c["deleted"] != true) => Some(id.to_owned()),
        Some(id) => return Err(ApiError::no_such_param("customer", id, "customer")),
    };
    let usage = match params.str("usage")? {
        None | Some("") => "off_session",
        Some(value @ ("on_session" | "off_session")) => value,
        Some(other) => return Err(ApiError::invalid_param("usage", format!("Invalid usage: {other}"))),
    };
    let allowed = payment_methods::allowed_types(params)?;
    let automatic = match params.object("automatic_payment_methods")? {
        Some(apm) if apm.bool("enabled")? == Some(true) => {
            Some(json!({ "enabled": true, "allow_redirects": apm.str("allow_redirects")?.unwrap_or("always") }))
        }
        Some(_) => None,
        None => Some(json!({ "enabled": true, "allow_redirects": "always" })),
    };
    // Setting up a method for later: cards and iDEAL (which sets up SEPA Debit).
    let types: Vec<&str> =
        if allowed.is_empty() { vec!["card", payment_methods::REDIRECT_TYPE] } else { allowed.iter().map(String::as_str).collect() };
    let id = new_id("seti");
    let intent = json!({
        "id": id,
        "object": "setup_intent",
        "allowed_payment_method_types": if allowed.is_empty() { Value::Null } else { json!(allowed) },
        "application": null,
        "automatic_payment_methods": automatic,
        "cancellation_reason": null,
        "client_secret": format!("{id}_secret_{}", random_suffix(32)),
        "created": ctx.now(),
        "customer": customer,
        "description": params.str("description")?,
        "excluded_payment_method_types": null,
        "flow_directions": null,
        "last_setup_error": null,
        "latest_attempt": null,
        "livemode": false,
        "mandate": null,
        "metadata": params.string_map("metadata")?,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": types,
        "single_use_mandate": null,
        "status": "requires_payment_method",
        "usage": usage,
    });
    if params.bool("confirm")? == Some(true) {
        check_confirmation(ctx, &intent, params)?;
        ctx.account.put(intent.clone());
        ctx.emit("setup_intent.created", &intent, None);
        return carry_out(ctx, intent, params).and_then(|intent| ctx.expand(intent, params));
    }
    ctx.account.put(intent.clone());
    ctx.emit("setup_intent.created", &intent, None);
    ctx.expand(intent, params)
}

/// Checks that nothing refuses the confirmation before anything changes.
fn check_confirmation(ctx: &Ctx<'_>, intent: &Value, params: &Params) -> Result<(), ApiError> {
    let token = match params.str("confirmation_token")?.filter(|t| !t.is_empty()) {
        Some(id) => Some(confirmation_tokens::usable(ctx, id)?),
        None => None,
    };
    if token.is_none() && params.str("payment_method")?.is_none() && intent["payment_method"].is_null() {
        return Err(ApiError::invalid("You cannot confirm this SetupIntent because it's missing a payment method.")
            .with_code("setup_intent_unexpected_state"));
    }
    let has_return_url = params.str("return_url")?.is_some()
        || token.as_ref().is_some_and(|t| t["return_url"].is_string())
        || intent["id"].as_str().is_some_and(|id| ctx.account.return_urls.contains_key(id));
    let redirects =
        intent["automatic_payment_methods"]["enabled"] == true && intent["automatic_payment_methods"]["allow_redirects"] != "never";
    if redirects && !has_return_url {
        return Err(ApiError::invalid(
            "This SetupIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`.",
        )
        .with_param("return_url"));
    }
    Ok(())
}

fn carry_out(ctx: &mut Ctx<'_>, intent: Value, params: &Params) -> Result<Value, ApiError> {
    let id = intent["id"].as_str().unwrap_or_default().to_owned();
    let pm = if let Some(token_id) = params.str("confirmation_token")?.filter(|t| !t.is_empty()) {
        let (token, method) = confirmation_tokens::consume(ctx, token_id, "setup_intent", &id)?;
        if let Some(url) = token["return_url"].as_str() {
            ctx.account.return_urls.insert(id.clone(), url.to_owned());
        }
        match method {
            TokenMethod::Existing(pm) => payment_methods::resolve(ctx, &pm, "confirmation_token")?,
            TokenMethod::New { preview, card } => payment_methods::insert_preview(ctx, preview, card, json!({})),
        }
    } else {
        let pm = params
            .str("payment_method")?
            .map(str::to_owned)
            .or_else(|| intent["payment_method"].as_str().map(str::to_owned))
            .unwrap_or_default();
        payment_methods::resolve(ctx, &pm, "payment_method")?
    };
    if let Some(url) = params.str("return_url")? {
        ctx.account.return_urls.insert(id.clone(), url.to_owned());
    }
    intents::confirm(ctx, intent, pm, Confirmation { off_session: false, error_on_requires_action: false })
}

fn find(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.account.get_kind("setup_intent", id).cloned().ok_or_else(|| ApiError::no_such("setup_intent", id))
}

pub fn retrieve(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    let intent = find(ctx, id)?;
    if ctx.caller == Caller::Publishable && intent["client_secret"] != params.required_str("client_secret")? {
        return Err(ApiError::no_such("setup_intent", id));
    }
    ctx.expand(intent, params)
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut intent = find(ctx, id)?;
    if let Some(description) = params.str("description")? {
        intent["description"] = json!(description);
    }
    super::merge_metadata(&mut intent, params)?;
    ctx.account.put(intent.clone());
    ctx.expand(intent, params)
}

pub fn confirm(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let intent = find(ctx, id)?;
    if !["requires_payment_method", "requires_confirmation", "requires_action"].iter().any(|s| intent["status"] == *s) {
        return Err(ApiError::invalid(format!(
            "You cannot confirm this SetupIntent because it has a status of {}.",
            intent["status"].as_str().unwrap_or_default()
        ))
        .with_code("setup_intent_unexpected_state"));
    }
    check_confirmation(ctx, &intent, params)?;
    carry_out(ctx, intent, params).and_then(|intent| ctx.expand(intent, params))
}

pub fn cancel(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut intent = find(ctx, id)?;
    if ["succeeded", "canceled", "processing"].iter().any(|s| intent["status"] == *s) {
        return Err(ApiError::invalid(format!(
            "You cannot cancel this SetupIntent because it has a status of {}.",
            intent["status"].as_str().unwrap_or_default()
        ))
        .with_code("setup_intent_unexpected_state"));
    }
    let previous = intent["status"].clone();
    intent["status"] = json!("canceled");
    intent["cancellation_reason"] = json!(params.str("cancellation_reason")?);
    intent["next_action"] = Value::Null;
    ctx.account.put(intent.clone());
    ctx.emit("setup_intent.canceled", &intent, Some(json!({ "status": previous })));
    ctx.expand(intent, params)
}
