//! Webhook endpoints: create, retrieve, update, list, delete. Each has its own `whsec_`
//! secret (shown once, on create) and receives only the events it enables.
//! <https://docs.stripe.com/api/webhook_endpoints>

use super::{Ctx, list_object, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::{API_VERSION, new_id};
use crate::webhooks::{self, Endpoint};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The event types an endpoint may enable for the pinned API version (vendored from
/// the official SDK; `conformance/vocabulary.test.js` checks they are the same).
static ENABLED_EVENTS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| include_str!("enabled_events.txt").lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect());

fn enabled_events(params: &Params, required: bool) -> Result<Option<Vec<String>>, ApiError> {
    if params.get("enabled_events").is_none() {
        return if required { Err(ApiError::missing_param("enabled_events")) } else { Ok(None) };
    }
    let events = params.str_list("enabled_events")?;
    if events.is_empty() {
        return Err(ApiError::missing_param("enabled_events"));
    }
    if let Some((index, unknown)) = events.iter().enumerate().find(|(_, kind)| !ENABLED_EVENTS.contains(&kind.as_str())) {
        return Err(ApiError::invalid_param(
            &format!("enabled_events[{index}]"),
            format!("Invalid enabled_events[{index}]: {unknown} is not an event type of API version {API_VERSION}."),
        ));
    }
    Ok(Some(events))
}

fn url(params: &Params, required: bool) -> Result<Option<String>, ApiError> {
    let Some(url) = params.str("url")? else {
        return if required { Err(ApiError::missing_param("url")) } else { Ok(None) };
    };
    let parsed = reqwest::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    match parsed {
        Some(_) => Ok(Some(url.to_owned())),
        None => Err(ApiError::invalid_param("url", format!("Invalid URL: {url}")).with_code("url_invalid")),
    }
}

/// The shared metadata rules, on an endpoint's map.
fn merge_metadata(metadata: &mut Map<String, Value>, params: &Params) -> Result<(), ApiError> {
    let mut holder = json!({ "metadata": std::mem::take(metadata) });
    super::merge_metadata(&mut holder, params)?;
    *metadata = holder["metadata"].as_object().cloned().unwrap_or_default();
    Ok(())
}

fn description(params: &Params) -> Result<Option<Option<String>>, ApiError> {
    Ok(params.str("description")?.map(|text| (!text.is_empty()).then(|| text.to_owned())))
}

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let url = url(params, true)?.unwrap_or_default();
    let enabled_events = enabled_events(params, true)?.unwrap_or_default();
    if let Some(version) = params.str("api_version")?
        && version != API_VERSION
    {
        return Err(ApiError::invalid_param("api_version", format!("The emulator renders events in {API_VERSION} only, not {version}.")));
    }
    let mut endpoint = Endpoint {
        id: new_id("we"),
        url,
        secret: webhooks::new_secret(),
        enabled_events,
        disabled: false,
        description: description(params)?.flatten(),
        metadata: Map::new(),
        created: ctx.now(),
    };
    merge_metadata(&mut endpoint.metadata, params)?;
    ctx.webhooks.insert_endpoint(endpoint.clone());
    Ok(endpoint.object(true))
}

fn find(ctx: &Ctx<'_>, id: &str) -> Result<Endpoint, ApiError> {
    ctx.webhooks.endpoints().into_iter().find(|endpoint| endpoint.id == id).ok_or_else(|| ApiError::no_such("webhook_endpoint", id))
}

pub fn retrieve(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    Ok(find(ctx, id)?.object(false))
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut endpoint = find(ctx, id)?;
    if let Some(url) = url(params, false)? {
        endpoint.url = url;
    }
    if let Some(events) = enabled_events(params, false)? {
        endpoint.enabled_events = events;
    }
    if let Some(description) = description(params)? {
        endpoint.description = description;
    }
    if let Some(disabled) = params.bool("disabled")? {
        endpoint.disabled = disabled;
    }
    merge_metadata(&mut endpoint.metadata, params)?;
    let updated = endpoint.clone();
    ctx.webhooks.update_endpoint(id, move |stored| *stored = updated).ok_or_else(|| ApiError::no_such("webhook_endpoint", id))?;
    Ok(endpoint.object(false))
}

pub fn delete(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    if !ctx.webhooks.remove_endpoint(id) {
        return Err(ApiError::no_such("webhook_endpoint", id));
    }
    Ok(json!({ "id": id, "object": "webhook_endpoint", "deleted": true }))
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let objects: Vec<Value> = ctx.webhooks.endpoints().iter().rev().map(|endpoint| endpoint.object(false)).collect();
    let (data, has_more) = page(objects.iter().collect(), params)?;
    Ok(list_object("/v1/webhook_endpoints", data, has_more))
}
