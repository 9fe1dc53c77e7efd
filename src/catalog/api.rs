//! The catalog's server functions: public and read-only.

use super::{CatalogListing, ShopInfo};
use crate::error::AppError;
use leptos::prelude::*;

/// A page of the catalog with live stock levels (`page` from 1). Public, read-only.
#[server(endpoint = "catalog/list", output = crate::error::JsonReply)]
pub async fn list_products(page: u32) -> Result<CatalogListing, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::list(&state.store, &state.catalog, page, request.locale).await
}

/// The shop's name and other public settings. Public endpoint, read-only.
#[server(endpoint = "shop/info", output = crate::error::JsonReply)]
pub async fn get_shop_info() -> Result<ShopInfo, AppError> {
    let state = crate::state::AppState::from_context()?;
    Ok(ShopInfo { name: state.config.store.name.clone() })
}
