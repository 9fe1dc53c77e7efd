//! Order types that cross the wire, and the server function that reads one order.

use crate::error::AppError;
use crate::money::Money;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub name: String,
    pub quantity: u32,
    pub line_total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    /// `pending`, `confirming`, `failed`, `paid`, `canceled`.
    pub status: String,
    pub total: Money,
    pub lines: Vec<OrderLineView>,
    /// When it was placed (unix seconds).
    pub placed_at: i64,
}

/// One of the caller's orders; anyone else's is "not found", like a missing one.
#[server(endpoint = "orders/get")]
pub async fn get_order(id: String) -> Result<OrderView, AppError> {
    let state = crate::state::AppState::from_context()?;
    super::service::view(&state, &id).await
}
