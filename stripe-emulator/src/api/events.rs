//! Events: list (newest first, filtered by type and creation time) and retrieve.
//! <https://docs.stripe.com/api/events>

use super::{Ctx, list_object, page};
use crate::error::ApiError;
use crate::form::Params;
use serde_json::Value;

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let kind = params.str("type")?.map(str::to_owned);
    let kinds = params.str_list("types")?;
    let created = super::created_filter(params)?;
    let matches_type = |event_type: &str| {
        let one = |pattern: &str| match pattern.strip_suffix(".*") {
            Some(prefix) => event_type.starts_with(prefix) && event_type[prefix.len()..].starts_with('.'),
            None => pattern == event_type,
        };
        kind.as_deref().is_none_or(one) && (kinds.is_empty() || kinds.iter().any(|k| one(k)))
    };
    let items: Vec<&Value> = ctx
        .account
        .events
        .iter()
        .rev()
        .filter(|event| matches_type(event["type"].as_str().unwrap_or_default()))
        .filter(|event| created(event))
        .collect();
    let (data, has_more) = page(items, params)?;
    Ok(list_object("/v1/events", data, has_more))
}

pub fn retrieve(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    ctx.account.event(id).cloned().ok_or_else(|| ApiError::no_such("event", id))
}
