//! The cart's server functions. These are public HTTP endpoints: they take only product
//! ids and quantities, never prices or totals, and act only on the caller's own session.

use super::Cart;
#[cfg(feature = "ssr")]
use super::{MAX_QUANTITY, Quantity};
#[cfg(feature = "ssr")]
use crate::catalog::ProductId;
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's cart, priced now.
#[server(endpoint = "cart/get", output = crate::error::JsonReply)]
pub async fn get_cart() -> Result<Cart, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::view_current(&state, &request).await
}

/// Adds `quantity` of a product to the caller's cart (starting a session if needed).
/// Refuses unknown products, quantities outside 1–99 and more than the stock; a refusal
/// changes nothing.
#[server(endpoint = "cart/add", output = crate::error::JsonReply)]
pub async fn add_to_cart(product_id: String, quantity: String) -> Result<Cart, AppError> {
    let (state, request) = crate::request::edge()?;
    let product_id = ProductId::parse(&product_id).map_err(|_| AppError::invalid(request.texts().not_in_catalog()))?;
    let quantity = number(&quantity).and_then(Quantity::new).ok_or_else(|| quantity_range(&request))?;
    super::service::add(&state, &request, &product_id, quantity).await
}

/// Applies a discount code to the caller's cart (an empty code removes it). An unknown,
/// expired or inapplicable code is refused with the reason and changes nothing.
#[server(endpoint = "cart/discount", output = crate::error::JsonReply)]
pub async fn apply_discount(code: String) -> Result<Cart, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::apply_discount_code(&state, &request, &code).await
}

/// Sets a line's quantity in the caller's cart; 0 removes the line.
#[server(endpoint = "cart/set", output = crate::error::JsonReply)]
pub async fn set_cart_quantity(product_id: String, quantity: String) -> Result<Cart, AppError> {
    let (state, request) = crate::request::edge()?;
    let product_id = ProductId::parse(&product_id).map_err(|_| AppError::invalid(request.texts().not_in_catalog()))?;
    let quantity = match number(&quantity) {
        Some(0) => None,
        quantity => Some(quantity.and_then(Quantity::new).ok_or_else(|| quantity_range(&request))?),
    };
    super::service::set_quantity(&state, &request, &product_id, quantity).await
}

/// A quantity as typed or sent: a whole number of digits, or none (a refusal then
/// says what a quantity can be, rather than how the number failed to parse).
#[cfg(feature = "ssr")]
fn number(quantity: &str) -> Option<u32> {
    quantity.trim().parse().ok()
}

#[cfg(feature = "ssr")]
fn quantity_range(request: &crate::request::Request) -> AppError {
    AppError::invalid(crate::i18n::fill(request.texts().quantity_range(), &[&MAX_QUANTITY]))
}
