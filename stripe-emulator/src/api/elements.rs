//! Routes only the Stripe.js stand-in calls (publishable key): what the Payment
//! Element needs to show and remove a customer's saved payment methods, authorised by
//! a CustomerSession's client secret. Real Stripe.js has private equivalents.

use super::{Ctx, customer_sessions, payment_methods};
use crate::error::ApiError;
use crate::form::Params;
use serde_json::{Value, json};

/// The saved methods a session may show, with the session's features.
pub fn session(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let secret = params.required_str("customer_session_client_secret")?;
    let session = customer_sessions::by_client_secret(ctx, secret)?.clone();
    let features = session["components"]["payment_element"]["features"].clone();
    if session["components"]["payment_element"]["enabled"] != true {
        return Err(ApiError::invalid("This customer session does not enable the payment_element component."));
    }
    let customer = session["customer"].as_str().unwrap_or_default().to_owned();
    let filters: Vec<String> = features["payment_method_allow_redisplay_filters"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let limit = features["payment_method_redisplay_limit"].as_u64().unwrap_or(3) as usize;
    let saved: Vec<Value> = if features["payment_method_redisplay"] == "enabled" {
        ctx.account
            .list("payment_method", |pm| pm["customer"] == customer.as_str() && filters.iter().any(|f| pm["allow_redisplay"] == f.as_str()))
            .into_iter()
            .take(limit)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({ "object": "elements_session", "customer": customer, "features": features, "saved_payment_methods": saved }))
}

/// Removes a saved method from the Payment Element (when the session allows removal).
pub fn detach(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    let secret = params.required_str("customer_session_client_secret")?;
    let session = customer_sessions::by_client_secret(ctx, secret)?.clone();
    if session["components"]["payment_element"]["features"]["payment_method_remove"] != "enabled" {
        return Err(ApiError::invalid("This customer session does not allow removing payment methods."));
    }
    let owned = ctx.account.get_kind("payment_method", id).is_some_and(|pm| pm["customer"] == session["customer"]);
    if !owned {
        return Err(ApiError::no_such("payment_method", id));
    }
    payment_methods::detach_method(ctx, id)
}
