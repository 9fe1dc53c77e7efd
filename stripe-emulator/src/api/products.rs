//! Products and Prices: what a subscription is made of. Create and retrieve; a price
//! can also be made inline by a subscription's `items[][price_data]`.
//! <https://docs.stripe.com/api/products>, <https://docs.stripe.com/api/prices>

use super::payment_intents::{self, one_of_at};
use super::{Ctx, merge_metadata};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

pub fn create_product(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let name = params.required_str("name")?;
    let id = match params.str("id")?.filter(|id| !id.is_empty()) {
        Some(id) if ctx.account.get(id).is_some() => {
            return Err(ApiError::invalid_param("id", "Product already exists.").with_code("resource_already_exists"));
        }
        Some(id) => id.to_owned(),
        None => new_id("prod"),
    };
    let now = ctx.now();
    let mut product = json!({
        "id": id,
        "object": "product",
        "active": params.bool("active")?.unwrap_or(true),
        "created": now,
        "default_price": null,
        "description": params.str("description")?,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "tax_details": null,
        "type": "service",
        "unit_label": null,
        "updated": now,
        "url": null,
    });
    merge_metadata(&mut product, params)?;
    ctx.account.put(product.clone());
    ctx.emit("product.created", &product, None);
    ctx.expand(product, params)
}

pub fn create_price(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let price = new_price(ctx, params, "", true)?;
    ctx.expand(price, params)
}

/// A new Price from `currency`, `unit_amount`, `product` and `recurring` (of `POST
/// /v1/prices`, or of an item's `price_data`, whose errors are named below `prefix`).
/// Inline prices are made inactive, as Stripe makes them: nobody else can use them.
pub fn new_price(ctx: &mut Ctx<'_>, params: &Params, prefix: &str, active: bool) -> Result<Value, ApiError> {
    let (currency, _) = payment_intents::currency(params).map_err(|e| e.with_param(&nested(prefix, "currency")))?;
    let unit_amount = params.int("unit_amount")?.ok_or_else(|| ApiError::missing_param(&nested(prefix, "unit_amount")))?;
    if !(0..=payment_intents::MAX_AMOUNT).contains(&unit_amount) {
        return Err(ApiError::invalid_param(&nested(prefix, "unit_amount"), "Invalid unit_amount: must be between 0 and 99999999"));
    }
    let product = params.required_str("product").map_err(|_| ApiError::missing_param(&nested(prefix, "product")))?;
    if ctx.account.get_kind("product", product).is_none() {
        return Err(ApiError::no_such_param("product", product, &nested(prefix, "product")));
    }
    let recurring = match params.object("recurring")? {
        Some(recurring) => {
            let path = nested(prefix, "recurring[interval]");
            let interval = one_of_at(&recurring, "interval", &path, &["day", "week", "month", "year"])?
                .ok_or_else(|| ApiError::missing_param(&path))?;
            let count = recurring.int("interval_count")?.unwrap_or(1);
            let most = match interval.as_str() {
                "day" => 1095,
                "week" => 156,
                "month" => 36,
                _ => 3,
            };
            if !(1..=most).contains(&count) {
                return Err(ApiError::invalid_param(
                    &nested(prefix, "recurring[interval_count]"),
                    format!("Invalid interval_count: a {interval}ly price repeats every 1 to {most} {interval}s."),
                ));
            }
            json!({ "interval": interval, "interval_count": count, "meter": null, "trial_period_days": null, "usage_type": "licensed" })
        }
        None => Value::Null,
    };
    let mut price = json!({
        "id": new_id("price"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": ctx.now(),
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": params.str("lookup_key")?,
        "metadata": {},
        "nickname": params.str("nickname")?,
        "product": product,
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "recurring": recurring,
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    });
    merge_metadata(&mut price, params)?;
    ctx.account.put(price.clone());
    ctx.emit("price.created", &price, None);
    Ok(price)
}

/// `name` (`recurring[interval]`) as a parameter below `prefix` (`items[0][price_data]`).
fn nested(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        return name.to_owned();
    }
    match name.split_once('[') {
        Some((head, tail)) => format!("{prefix}[{head}][{tail}"),
        None => format!("{prefix}[{name}]"),
    }
}

/// The legacy Plan a subscription item still carries beside its Price.
pub fn plan_of(price: &Value) -> Value {
    let recurring = &price["recurring"];
    json!({
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": false,
        "metadata": price["metadata"],
        "meter": null,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}
