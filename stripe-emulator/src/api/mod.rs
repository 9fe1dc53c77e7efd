//! The `/v1` API: routing by method and path to one function per endpoint. Endpoint
//! functions are synchronous and run under the account lock, so each request is
//! atomic, as Stripe's are.

mod calendar;
mod charges;
mod confirmation_tokens;
mod customer_sessions;
mod customers;
mod disputes;
mod elements;
mod events;
mod intents;
mod invoices;
mod payment_intents;
mod payment_methods;
mod products;
mod radar;
mod refunds;
pub mod routes;
mod setup_intents;
mod subscriptions;
mod webhook_endpoints;

use crate::error::ApiError;
use crate::form::Params;
use crate::state::{Account, RequestInfo};
use axum::http::Method;
use serde_json::Value;

pub use calendar::date;
pub use charges::{RECEIPTS, expire_authorizations};
pub use intents::{Settlement, authenticate, settle_processing};
pub use invoices::{INVOICE_PAGES, INVOICE_PDFS};
pub use payment_intents::{currency_symbol, major_units};
pub use refunds::settle as settle_refund;
pub use subscriptions::renew as renew_subscriptions;

/// Which kind of key made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Secret,
    Publishable,
}

/// Everything an endpoint may use.
pub struct Ctx<'a> {
    pub account: &'a mut Account,
    /// Webhook endpoints (kept apart from the account: a reset keeps them).
    pub webhooks: &'a crate::webhooks::Webhooks,
    pub caller: Caller,
    pub request: RequestInfo,
    /// The emulator's own base URL, for URLs it hands out (`next_action`).
    pub base_url: &'a str,
    /// Events this request emitted, to deliver once the lock is released.
    pub emitted: Vec<String>,
    /// Intents now `processing` that should succeed after the processing delay.
    pub to_settle: Vec<String>,
    /// The request only reads (`GET`): its `expand[]` is checked on the reply itself.
    pub reading: bool,
}

impl Ctx<'_> {
    pub fn now(&self) -> i64 {
        self.account.now()
    }

    /// Records an event and remembers it for delivery.
    pub fn emit(&mut self, kind: &str, object: &Value, previous: Option<Value>) {
        let id = self.account.emit(kind, object, previous, &self.request);
        self.emitted.push(id);
    }

    /// Refuses publishable keys.
    pub fn secret_only(&self) -> Result<(), ApiError> {
        match self.caller {
            Caller::Secret => Ok(()),
            Caller::Publishable => {
                Err(ApiError::unauthorized("This API call cannot be made with a publishable API key. Please use a secret API key."))
            }
        }
    }

    /// Applies `expand[]` to a reply.
    pub fn expand(&self, object: Value, params: &Params) -> Result<Value, ApiError> {
        let expand = params.str_list("expand")?;
        self.account.expand(object, &expand, self.reading)
    }
}

/// Routes one API request. `path` is below `/v1/`. A publishable key sees an intent
/// (in a reply or attached to an error) only as far as Stripe shows it to one.
pub fn dispatch(ctx: &mut Ctx<'_>, method: &Method, path: &str, params: &Params) -> Result<Value, ApiError> {
    let reply = route(ctx, method, path, params);
    if ctx.caller == Caller::Secret {
        return reply;
    }
    match reply {
        Ok(object) => Ok(publishable_view(object)),
        Err(mut error) => {
            for object in error.attached.values_mut() {
                *object = publishable_view(std::mem::take(object));
            }
            Err(error)
        }
    }
}

/// The fields of a PaymentIntent / SetupIntent that Stripe's API reference marks
/// "retrievable with publishable key"; other objects are returned whole.
fn publishable_view(object: Value) -> Value {
    const PAYMENT_INTENT: &[&str] = &[
        "id",
        "object",
        "amount",
        "automatic_payment_methods",
        "canceled_at",
        "cancellation_reason",
        "capture_method",
        "client_secret",
        "confirmation_method",
        "created",
        "currency",
        "description",
        "last_payment_error",
        "livemode",
        "next_action",
        "payment_method",
        "payment_method_types",
        "processing",
        "receipt_email",
        "setup_future_usage",
        "shipping",
        "status",
    ];
    const SETUP_INTENT: &[&str] = &[
        "id",
        "object",
        "automatic_payment_methods",
        "cancellation_reason",
        "client_secret",
        "created",
        "description",
        "last_setup_error",
        "livemode",
        "next_action",
        "payment_method",
        "payment_method_types",
        "status",
        "usage",
    ];
    let fields = match object["object"].as_str() {
        Some("payment_intent") => PAYMENT_INTENT,
        Some("setup_intent") => SETUP_INTENT,
        _ => return object,
    };
    match object {
        Value::Object(mut map) => {
            map.retain(|key, _| fields.contains(&key.as_str()));
            Value::Object(map)
        }
        other => other,
    }
}

fn route(ctx: &mut Ctx<'_>, method: &Method, path: &str, params: &Params) -> Result<Value, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((_, accepted)) = routes::find(method.as_str(), &segments) else {
        return Err(ApiError::not_found_route(method.as_str(), &format!("/v1/{path}")));
    };
    // Parameters Stripe refuses before the endpoint runs.
    params
        .only(accepted)
        .and_then(|()| check_metadata(params))
        .and_then(|()| if method == Method::POST { check_emails(params) } else { Ok(()) })
        .and_then(|()| check_expand(ctx, method, &segments, params))
        .map_err(ApiError::before_execution)?;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let reply = match segments.as_slice() {
        ["customers"] if post => customers::create(ctx, params),
        ["customers"] if get => customers::list(ctx, params),
        ["customers", id] if get => retrieve(ctx, "customer", id, params),
        ["customers", id] if post => customers::update(ctx, id, params),
        ["customers", id] if delete => customers::delete(ctx, id),
        ["customers", id, "payment_methods"] if get => payment_methods::list_for_customer(ctx, id, params),
        ["customer_sessions"] if post => customer_sessions::create(ctx, params),
        ["confirmation_tokens"] if post => confirmation_tokens::create(ctx, params),
        ["confirmation_tokens", id] if get => retrieve(ctx, "confirmation_token", id, params),
        ["test_helpers", "confirmation_tokens"] if post => confirmation_tokens::create_for_tests(ctx, params),
        ["payment_methods"] if post => payment_methods::create(ctx, params),
        ["payment_methods"] if get => payment_methods::list(ctx, params),
        ["payment_methods", id] if get => retrieve(ctx, "payment_method", id, params),
        ["payment_methods", id] if post => payment_methods::update(ctx, id, params),
        ["payment_methods", id, "attach"] if post => payment_methods::attach(ctx, id, params),
        ["payment_methods", id, "detach"] if post => payment_methods::detach(ctx, id, params),
        ["payment_intents"] if post => payment_intents::create(ctx, params),
        ["payment_intents"] if get => payment_intents::list(ctx, params),
        ["payment_intents", id] if get => payment_intents::retrieve(ctx, id, params),
        ["payment_intents", id] if post => payment_intents::update(ctx, id, params),
        ["payment_intents", id, "confirm"] if post => payment_intents::confirm(ctx, id, params),
        ["payment_intents", id, "cancel"] if post => payment_intents::cancel(ctx, id, params),
        ["payment_intents", id, "capture"] if post => payment_intents::capture(ctx, id, params),
        ["setup_intents"] if post => setup_intents::create(ctx, params),
        ["setup_intents", id] if get => setup_intents::retrieve(ctx, id, params),
        ["setup_intents", id] if post => setup_intents::update(ctx, id, params),
        ["setup_intents", id, "confirm"] if post => setup_intents::confirm(ctx, id, params),
        ["setup_intents", id, "cancel"] if post => setup_intents::cancel(ctx, id, params),
        ["charges"] if get => charges::list(ctx, params),
        ["charges", id] if get => retrieve(ctx, "charge", id, params),
        ["disputes"] if get => disputes::list(ctx, params),
        ["disputes", id] if get => retrieve(ctx, "dispute", id, params),
        ["disputes", id] if post => disputes::update(ctx, id, params),
        ["disputes", id, "close"] if post => disputes::close(ctx, id, params),
        ["radar", "early_fraud_warnings"] if get => radar::list(ctx, params),
        ["radar", "early_fraud_warnings", id] if get => retrieve(ctx, "radar.early_fraud_warning", id, params),
        ["refunds"] if post => refunds::create(ctx, params),
        ["refunds"] if get => refunds::list(ctx, params),
        ["refunds", id] if get => retrieve(ctx, "refund", id, params),
        ["refunds", id] if post => refunds::update(ctx, id, params),
        ["products"] if post => products::create_product(ctx, params),
        ["products", id] if get => retrieve(ctx, "product", id, params),
        ["prices"] if post => products::create_price(ctx, params),
        ["prices", id] if get => retrieve(ctx, "price", id, params),
        ["subscriptions"] if post => subscriptions::create(ctx, params),
        ["subscriptions"] if get => subscriptions::list(ctx, params),
        ["subscriptions", id] if get => retrieve(ctx, "subscription", id, params),
        ["subscriptions", id] if post => subscriptions::update(ctx, id, params),
        ["subscriptions", id] if delete => subscriptions::cancel(ctx, id, params),
        ["subscriptions", id, "pause"] if post => subscriptions::pause_now(ctx, id, params),
        ["subscriptions", id, "resume"] if post => subscriptions::resume(ctx, id, params),
        ["invoices"] if get => invoices::list_invoices(ctx, params),
        ["invoices", id] if get => retrieve(ctx, "invoice", id, params),
        ["invoices", id, "pay"] if post => invoices::pay_invoice(ctx, id, params),
        ["invoices", id, "finalize"] if post => invoices::finalize_invoice(ctx, id, params),
        ["invoices", id, "void"] if post => invoices::void_invoice(ctx, id, params),
        ["invoices", id, "mark_uncollectible"] if post => invoices::mark_uncollectible_invoice(ctx, id, params),
        ["events"] if get => events::list(ctx, params),
        ["events", id] if get => events::retrieve(ctx, id),
        ["webhook_endpoints"] if post => webhook_endpoints::create(ctx, params),
        ["webhook_endpoints"] if get => webhook_endpoints::list(ctx, params),
        ["webhook_endpoints", id] if get => webhook_endpoints::retrieve(ctx, id),
        ["webhook_endpoints", id] if post => webhook_endpoints::update(ctx, id, params),
        ["webhook_endpoints", id] if delete => webhook_endpoints::delete(ctx, id),
        ["elements", "sessions"] if get => elements::session(ctx, params),
        ["elements", "payment_methods", id, "detach"] if post => elements::detach(ctx, id, params),
        _ => Err(ApiError::not_found_route(method.as_str(), &format!("/v1/{path}"))),
    };
    // Every list expands its items' fields in one place (`data.customer`).
    match reply {
        Ok(list) if list["object"] == "list" => ctx.expand(list, params),
        reply => reply,
    }
}

/// Refuses an `expand[]` that Stripe refuses, before anything is done: a path deeper
/// than four levels, and, for a write to an object that exists, a path that object
/// cannot expand (a read checks its reply itself). A create's reply has no object to
/// check beforehand; there a path that cannot be expanded is left out of the reply.
fn check_expand(ctx: &mut Ctx<'_>, method: &Method, segments: &[&str], params: &Params) -> Result<(), ApiError> {
    let expand = params.str_list("expand")?;
    if let Some(deep) = expand.iter().find(|path| path.split('.').count() > 4) {
        // Without a code: Stripe's published list (the SDK's `Code`) has none for it.
        return Err(ApiError::invalid(format!("You cannot expand more than 4 levels of a property. Property: {deep}")));
    }
    ctx.reading = method == Method::GET;
    match segments.get(1).and_then(|id| ctx.account.get(id)) {
        Some(object) if !ctx.reading && !expand.is_empty() => ctx.account.expand(object.clone(), &expand, true).map(drop),
        _ => Ok(()),
    }
}

/// An email address a write sets (a Customer's `email`, a PaymentIntent's
/// `receipt_email`) that Stripe refuses, as its public error reports show it refusing
/// them: without an `@` (`name`), with blanks (` name@example.com`), or with a domain
/// that is not dotted labels (`name@com`, `name@gmail`, `name@.example.com`). An empty
/// value, which unsets the field, passes.
fn check_emails(params: &Params) -> Result<(), ApiError> {
    for field in ["email", "receipt_email"] {
        let Some(value) = params.str(field)?.filter(|value| !value.is_empty()) else { continue };
        let domain = value.rsplit_once('@').filter(|(local, _)| !local.is_empty()).map(|(_, domain)| domain);
        let dotted = domain.is_some_and(|domain| domain.contains('.') && domain.split('.').all(|label| !label.is_empty()));
        if !dotted || value.chars().any(char::is_whitespace) {
            return Err(ApiError::invalid_param(field, format!("Invalid email address: {value}")).with_code("email_invalid"));
        }
    }
    Ok(())
}

/// Stripe's limits on metadata, wherever a request sets it (`metadata[…]`,
/// `items[0][metadata][…]`): 50 keys, keys of up to 40 characters, values of up to 500.
fn check_metadata(params: &Params) -> Result<(), ApiError> {
    use crate::form::Param;
    fn walk(name: &str, param: &Param) -> Result<(), ApiError> {
        match param {
            Param::Map(metadata) if name == "metadata" => {
                if metadata.len() > METADATA_KEYS {
                    return Err(too_many_keys(metadata.len()));
                }
                metadata.iter().try_for_each(|(key, value)| {
                    let length = key.chars().count();
                    if length > 40 {
                        return Err(ApiError::invalid(format!(
                            "Metadata keys can have up to 40 characters, but you passed in a key that is {length} characters. Invalid key: {key}"
                        )));
                    }
                    match value {
                        Param::Str(value) if value.chars().count() > 500 => Err(ApiError::invalid(format!(
                            "Metadata values can have up to 500 characters, but you passed in a value that is {} characters. Invalid value: {value}",
                            value.chars().count()
                        ))),
                        _ => Ok(()),
                    }
                })
            }
            Param::Map(map) => map.iter().try_for_each(|(key, inner)| walk(key, inner)),
            Param::List(items) => items.iter().try_for_each(|inner| walk("", inner)),
            Param::Str(_) => Ok(()),
        }
    }
    params.0.iter().try_for_each(|(name, param)| walk(name, param))
}

/// The most keys an object's metadata holds.
const METADATA_KEYS: usize = 50;

fn too_many_keys(count: usize) -> ApiError {
    ApiError::invalid(format!("Metadata can have up to {METADATA_KEYS} keys, but you've set {count}"))
}

/// A Stripe list object.
pub fn list_object(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    serde_json::json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// The `created` filter of a list: `created=T` or `created[gt|gte|lt|lte]=T`.
pub fn created_filter(params: &Params) -> Result<impl Fn(&Value) -> bool + use<>, ApiError> {
    let exact = match params.get("created") {
        Some(crate::form::Param::Str(_)) => params.int("created")?,
        _ => None,
    };
    let bounds = params.object("created")?.unwrap_or_default();
    let (gt, gte, lt, lte) = (bounds.int("gt")?, bounds.int("gte")?, bounds.int("lt")?, bounds.int("lte")?);
    Ok(move |object: &Value| {
        let at = object["created"].as_i64().unwrap_or(0);
        exact.is_none_or(|t| at == t)
            && gt.is_none_or(|t| at > t)
            && gte.is_none_or(|t| at >= t)
            && lt.is_none_or(|t| at < t)
            && lte.is_none_or(|t| at <= t)
    })
}

/// `GET /v1/{kind}s/{id}` of an object only a secret key may read: as kept, expanded as
/// asked (PaymentIntents and SetupIntents, which a publishable key reads with their
/// client secret, have their own).
fn retrieve(ctx: &mut Ctx<'_>, kind: &str, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let object = ctx.account.get_kind(kind, id).cloned().ok_or_else(|| ApiError::no_such(kind, id))?;
    ctx.expand(object, params)
}

/// `GET /v1/{kind}s`: the account's objects of `kind`, newest first, kept to those whose
/// `field` equals each given `(param, field)` filter and to the `created` range, paged.
pub fn filtered_list(ctx: &Ctx<'_>, kind: &str, url: &str, filters: &[(&str, &str)], params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let wanted: Vec<(&str, String)> = filters
        .iter()
        .filter_map(|(param, field)| params.str(param).transpose().map(|value| value.map(|v| (*field, v.to_owned()))))
        .collect::<Result<_, _>>()?;
    let created = created_filter(params)?;
    let items = ctx.account.list(kind, |object| wanted.iter().all(|(field, value)| object[*field] == value.as_str()) && created(object));
    let (data, has_more) = page(items, params)?;
    Ok(list_object(url, data, has_more))
}

/// Applies `metadata[key]=value` to `object["metadata"]` as Stripe does: an empty value
/// removes the key, and `metadata=` (empty) removes them all.
pub fn merge_metadata(object: &mut Value, params: &Params) -> Result<(), ApiError> {
    let clear = matches!(params.get("metadata"), Some(crate::form::Param::Str(text)) if text.is_empty());
    let mut metadata = if clear { serde_json::Map::new() } else { object["metadata"].as_object().cloned().unwrap_or_default() };
    if !clear {
        for (key, value) in params.string_map("metadata")? {
            if value.is_empty() {
                metadata.remove(&key);
            } else {
                metadata.insert(key, Value::String(value));
            }
        }
    }
    if metadata.len() > METADATA_KEYS {
        return Err(too_many_keys(metadata.len()));
    }
    object["metadata"] = Value::Object(metadata);
    Ok(())
}

/// `limit` as Stripe reads it: 1 to 100, 10 by default.
pub fn limit(params: &Params) -> Result<usize, ApiError> {
    match params.int("limit")? {
        None => Ok(10),
        Some(limit @ 1..=100) => Ok(limit as usize),
        Some(_) => Err(ApiError::invalid_param("limit", "Invalid limit: must be between 1 and 100")),
    }
}

/// What Stripe calls an object in "No such …" messages, from its id's prefix.
fn kind_of(id: &str) -> &'static str {
    match id.split('_').next().unwrap_or_default() {
        "cus" => "customer",
        "pi" => "payment_intent",
        "seti" => "setup_intent",
        "pm" => "payment_method",
        "evt" => "event",
        "ch" => "charge",
        "re" => "refund",
        "dp" => "dispute",
        "we" => "webhook_endpoint",
        "prod" => "product",
        "price" => "price",
        "sub" => "subscription",
        "in" => "invoice",
        _ => "object",
    }
}

/// Pages a newest-first list with `starting_after` / `ending_before`.
pub fn page(items: Vec<&Value>, params: &Params) -> Result<(Vec<Value>, bool), ApiError> {
    let limit = limit(params)?;
    // A cursor that names no object of the list is refused, as Stripe does.
    let position =
        |param: &str, id: &str| items.iter().position(|o| o["id"] == id).ok_or_else(|| ApiError::no_such_param(kind_of(id), id, param));
    let (window, backwards) = match (params.str("starting_after")?, params.str("ending_before")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("Received both starting_after and ending_before parameters. Please pass in only one."));
        }
        (Some(after), None) => (&items[position("starting_after", after)? + 1..], false),
        (None, Some(before)) => (&items[..position("ending_before", before)?], true),
        (None, None) => (&items[..], false),
    };
    let (from, to) = if backwards { (window.len().saturating_sub(limit), window.len()) } else { (0, window.len().min(limit)) };
    let has_more = window.len() > limit;
    Ok((window[from..to].iter().map(|o| (*o).clone()).collect(), has_more))
}
