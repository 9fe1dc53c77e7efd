//! ConfirmationTokens: the browser's payment details, to be confirmed by the server.
//! Created with a publishable key (by Stripe.js) or by the test helper; single use;
//! valid for 12 hours. <https://docs.stripe.com/api/confirmation_tokens>

use super::payment_methods::{self, NewMethod};
use super::{Ctx, customer_sessions};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::{TokenMethod, new_id, random_suffix};
use serde_json::{Value, json};

/// How long an unused token stays valid.
pub const LIFETIME_SECONDS: i64 = 12 * 60 * 60;

/// `POST /v1/confirmation_tokens`, Stripe.js only (publishable key).
pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    if ctx.caller == super::Caller::Secret {
        return Err(ApiError::invalid(
            "ConfirmationTokens are created in the browser by Stripe.js; on the server use POST /v1/test_helpers/confirmation_tokens in test mode.",
        ));
    }
    let saved = match params.str("payment_method")? {
        None => None,
        Some(pm) => {
            // A saved method may be used only through the customer session that shows it.
            let secret = params.required_str("customer_session_client_secret")?;
            let customer = customer_sessions::by_client_secret(ctx, secret)?["customer"].clone();
            let owned = ctx.account.get_kind("payment_method", pm).is_some_and(|m| m["customer"] == customer);
            if !owned {
                return Err(ApiError::no_such_param("payment_method", pm, "payment_method"));
            }
            Some(pm.to_owned())
        }
    };
    build(ctx, params, saved)
}

/// `POST /v1/test_helpers/confirmation_tokens` (secret key): `payment_method` may be
/// a test id such as `pm_card_visa`.
pub fn create_for_tests(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let existing = match params.str("payment_method")? {
        Some(pm) => Some(payment_methods::resolve(ctx, pm, "payment_method")?["id"].as_str().unwrap_or_default().to_owned()),
        None => None,
    };
    build(ctx, params, existing)
}

fn build(ctx: &mut Ctx<'_>, params: &Params, existing: Option<String>) -> Result<Value, ApiError> {
    let now = ctx.now();
    let data = params.object("payment_method_data")?;
    let (method, preview) = match (&existing, &data) {
        (Some(pm), _) => {
            let mut preview = ctx.account.get(pm).cloned().unwrap_or_default();
            for field in ["id", "object", "created", "livemode", "metadata"] {
                if let Some(map) = preview.as_object_mut() {
                    map.remove(field);
                }
            }
            (TokenMethod::Existing(pm.clone()), preview)
        }
        (None, Some(data)) => {
            let method: NewMethod = payment_methods::method_from_params(data, now)?;
            let preview = payment_methods::preview(&method);
            let card = method.card.map(|(card, _, _)| card);
            (TokenMethod::New { preview: preview.clone(), card }, preview)
        }
        (None, None) => return Err(ApiError::missing_param("payment_method_data")),
    };
    let setup_future_usage = match params.str("setup_future_usage")? {
        None | Some("") => None,
        Some(value @ ("on_session" | "off_session")) => Some(value.to_owned()),
        Some(other) => {
            return Err(ApiError::invalid_param("setup_future_usage", format!("Invalid setup_future_usage: {other}")));
        }
    };
    let options = params.object("payment_method_options")?.unwrap_or_default();
    let card_options = options.object("card")?.unwrap_or_default();
    let cvc_token = match card_options.str("cvc")? {
        Some(cvc) if cvc.len() >= 3 && cvc.len() <= 4 && cvc.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("cvctok_{}", random_suffix(24)))
        }
        Some(_) => return Err(ApiError::card("invalid_cvc", None, "Your card's security code is invalid.").with_param("cvc")),
        None => card_options.str("cvc_token")?.map(str::to_owned),
    };
    let shipping = match params.object("shipping")? {
        Some(shipping) => {
            let details = payment_methods::billing_details(Some(&shipping))?;
            json!({ "address": details["address"], "name": shipping.required_str("name").map_err(|_| ApiError::missing_param("shipping[name]"))?, "phone": details["phone"] })
        }
        None => Value::Null,
    };
    let id = new_id("ctoken");
    let token = json!({
        "id": id,
        "object": "confirmation_token",
        "created": now,
        "expires_at": now + LIFETIME_SECONDS,
        "livemode": false,
        "metadata": {},
        "mandate_data": params.object("mandate_data")?.map(|_| json!({ "customer_acceptance": { "online": { "ip_address": null, "user_agent": null }, "type": "online" } })),
        "payment_intent": null,
        "payment_method_options": { "card": { "cvc_token": cvc_token } },
        "payment_method_preview": preview,
        "return_url": params.str("return_url")?,
        "setup_future_usage": setup_future_usage,
        "setup_intent": null,
        "shipping": shipping,
        "use_stripe_sdk": true,
    });
    ctx.account.token_methods.insert(id, method);
    ctx.account.put(token.clone());
    ctx.expand(token, params)
}

/// The token named `id` if it can still confirm an intent (unused and unexpired).
pub fn usable(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let token = ctx
        .account
        .get_kind("confirmation_token", id)
        .ok_or_else(|| ApiError::no_such_param("confirmation_token", id, "confirmation_token"))?;
    let used = !token["payment_intent"].is_null() || !token["setup_intent"].is_null();
    if used || !ctx.account.token_methods.contains_key(id) {
        return Err(ApiError::invalid_param(
            "confirmation_token",
            "This ConfirmationToken has already been used to confirm a PaymentIntent or SetupIntent. Create a new one.",
        )
        .with_code("token_already_used"));
    }
    if token["expires_at"].as_i64().is_some_and(|at| at <= ctx.now()) {
        // Stripe's list of codes has none for an expired token: the message says it.
        return Err(ApiError::invalid_param("confirmation_token", "This ConfirmationToken has expired. Create a new one."));
    }
    Ok(token.clone())
}

/// Takes a usable token for confirming an intent: marks it used by `intent_field` =
/// `intent_id` and hands back the token and its method.
pub fn consume(ctx: &mut Ctx<'_>, id: &str, intent_field: &str, intent_id: &str) -> Result<(Value, TokenMethod), ApiError> {
    let token = usable(ctx, id)?;
    let method =
        ctx.account.token_methods.remove(id).ok_or_else(|| ApiError::no_such_param("confirmation_token", id, "confirmation_token"))?;
    let mut used_token = token.clone();
    used_token[intent_field] = json!(intent_id);
    used_token["expires_at"] = Value::Null;
    ctx.account.put(used_token);
    Ok((token, method))
}
