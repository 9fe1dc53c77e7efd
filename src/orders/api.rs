//! The server function that reads one order.

use super::OrderView;
use crate::error::AppError;
use leptos::prelude::*;

/// One of the caller's orders; anyone else's is "not found", like a missing one.
#[server(endpoint = "orders/get", output = crate::error::JsonReply)]
pub async fn get_order(id: String) -> Result<OrderView, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::view(&state, &request, &id, None).await
}
