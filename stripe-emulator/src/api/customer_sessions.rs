//! CustomerSessions: what a browser may do with a customer's saved payment methods.
//! <https://docs.stripe.com/api/customer_sessions>

use super::Ctx;
use super::payment_intents::one_of_at;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::random_suffix;
use serde_json::{Value, json};

const COMPONENTS: [&str; 5] = ["payment_element", "buy_button", "pricing_table", "customer_sheet", "mobile_payment_element"];

/// How long a customer session's client secret lasts.
const LIFETIME_SECONDS: i64 = 30 * 60;

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.required_str("customer")?.to_owned();
    if ctx.account.get_kind("customer", &customer).is_none_or(|c| c["deleted"] == true) {
        return Err(ApiError::no_such_param("customer", &customer, "customer"));
    }
    let components = params.object("components")?.ok_or_else(|| ApiError::missing_param("components"))?;
    let mut enabled = Vec::new();
    for name in COMPONENTS {
        if let Some(component) = components.object(name)?
            && component.bool("enabled")?.unwrap_or(false)
        {
            enabled.push(name);
        }
    }
    if enabled.len() != 1 {
        return Err(ApiError::invalid_param("components", "Exactly one component must be enabled."));
    }

    let element = components.object("payment_element")?.unwrap_or_default();
    let features = element.object("features")?.unwrap_or_default();
    let feature =
        |name: &str, allowed: &[&str]| one_of_at(&features, name, &format!("components[payment_element][features][{name}]"), allowed);
    let switch = |name: &str| Ok::<_, ApiError>(feature(name, &["enabled", "disabled"])?.unwrap_or_else(|| "disabled".into()));
    let save_usage = feature("payment_method_save_usage", &["on_session", "off_session"])?;
    let mut filters = features.str_list("payment_method_allow_redisplay_filters")?;
    if filters.is_empty() {
        filters.push("always".into());
    }
    if let Some(bad) = filters.iter().find(|f| !["always", "limited", "unspecified"].contains(&f.as_str())) {
        return Err(ApiError::invalid_param(
            "components[payment_element][features][payment_method_allow_redisplay_filters]",
            format!("Invalid filter: {bad}"),
        ));
    }
    let limit = features.int("payment_method_redisplay_limit")?.unwrap_or(3);
    if !(1..=10).contains(&limit) {
        return Err(ApiError::invalid_param(
            "components[payment_element][features][payment_method_redisplay_limit]",
            "payment_method_redisplay_limit must be between 1 and 10",
        ));
    }

    let payment_element_enabled = enabled[0] == "payment_element";
    let now = ctx.now();
    let session = json!({
        "object": "customer_session",
        "client_secret": format!("cuss_secret_{}", random_suffix(43)),
        "components": {
            "active_entitlements": { "enabled": false },
            "buy_button": { "enabled": enabled[0] == "buy_button" },
            "pricing_table": { "enabled": enabled[0] == "pricing_table" },
            "customer_portal": { "enabled": false },
            "customer_sheet": { "enabled": enabled[0] == "customer_sheet", "features": null },
            "mobile_payment_element": { "enabled": enabled[0] == "mobile_payment_element", "features": null },
            "payment_element": {
                "enabled": payment_element_enabled,
                "features": if payment_element_enabled { json!({
                    "payment_method_allow_redisplay_filters": filters,
                    "payment_method_redisplay": switch("payment_method_redisplay")?,
                    "payment_method_redisplay_limit": limit,
                    "payment_method_remove": switch("payment_method_remove")?,
                    "payment_method_save": switch("payment_method_save")?,
                    "payment_method_save_usage": save_usage,
                }) } else { Value::Null },
            },
        },
        "created": now,
        "customer": customer,
        "customer_account": null,
        "expires_at": now + LIFETIME_SECONDS,
        "livemode": false,
    });
    ctx.account.customer_sessions.push(session.clone());
    ctx.expand(session, params)
}

/// The live session whose client secret is `secret`.
pub fn by_client_secret<'a>(ctx: &'a Ctx<'_>, secret: &str) -> Result<&'a Value, ApiError> {
    let now = ctx.now();
    ctx.account
        .customer_sessions
        .iter()
        .find(|s| s["client_secret"] == secret)
        .filter(|s| s["expires_at"].as_i64().is_some_and(|at| at > now))
        .ok_or_else(|| ApiError::invalid_param("customer_session_client_secret", "The customer session has expired or does not exist."))
}
