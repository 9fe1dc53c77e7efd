//! Customers: create, retrieve, update, delete, list.
//! <https://docs.stripe.com/api/customers>

use super::{Ctx, list_object, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let id = new_id("cus");
    let customer = json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": params.int("balance")?.unwrap_or(0),
        "created": ctx.now(),
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": params.str("description")?,
        "discount": null,
        "email": params.str("email")?,
        "invoice_prefix": crate::state::random_suffix(8).to_uppercase(),
        "invoice_settings": { "custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null },
        "livemode": false,
        "metadata": params.string_map("metadata")?,
        "name": params.str("name")?,
        "next_invoice_sequence": 1,
        "phone": params.str("phone")?,
        "preferred_locales": params.str_list("preferred_locales")?,
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    });
    ctx.account.put(customer.clone());
    ctx.emit("customer.created", &customer, None);
    if let Some(pm) = params.str("payment_method")? {
        super::payment_methods::attach_to(ctx, pm, &id, "payment_method")?;
    }
    ctx.expand(customer, params)
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let before = live(ctx, id)?;
    let mut customer = before.clone();
    let mut previous = serde_json::Map::new();
    for field in ["email", "name", "phone", "description"] {
        if let Some(value) = params.str(field)? {
            previous.insert(field.into(), before[field].clone());
            customer[field] = if value.is_empty() { Value::Null } else { json!(value) };
        }
    }
    // The Dashboard's "adjust balance": negative is a credit, which the customer's next
    // invoices use up before anything is charged.
    if let Some(balance) = params.int("balance")? {
        previous.insert("balance".into(), before["balance"].clone());
        customer["balance"] = json!(balance);
    }
    if params.get("metadata").is_some() {
        previous.insert("metadata".into(), before["metadata"].clone());
        super::merge_metadata(&mut customer, params)?;
    }
    // An array replaces the one before whole (`preferred_locales=""` empties it).
    if params.get("preferred_locales").is_some() {
        previous.insert("preferred_locales".into(), before["preferred_locales"].clone());
        customer["preferred_locales"] = json!(params.str_list("preferred_locales")?);
    }
    ctx.account.put(customer.clone());
    if !previous.is_empty() {
        ctx.emit("customer.updated", &customer, Some(Value::Object(previous)));
    }
    ctx.expand(customer, params)
}

pub fn delete(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = live(ctx, id)?;
    super::subscriptions::end_all_of(ctx, id);
    // What Stripe keeps of a deleted customer, and shows when it is retrieved.
    let deleted = json!({ "id": id, "object": "customer", "deleted": true });
    ctx.account.put(deleted.clone());
    ctx.emit("customer.deleted", &customer, None);
    Ok(deleted)
}

/// A customer that is not deleted: a deleted one can be retrieved (as `deleted: true`)
/// but no longer updated or deleted.
fn live(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.account
        .get_kind("customer", id)
        .filter(|customer| customer["deleted"] != true)
        .cloned()
        .ok_or_else(|| ApiError::no_such("customer", id))
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let email = params.str("email")?.map(str::to_owned);
    let created = super::created_filter(params)?;
    let items = ctx
        .account
        .list("customer", |c| c["deleted"] != true && email.as_ref().is_none_or(|email| c["email"] == email.as_str()) && created(c));
    let (data, has_more) = page(items, params)?;
    Ok(list_object("/v1/customers", data, has_more))
}
