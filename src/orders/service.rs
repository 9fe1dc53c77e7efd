//! Reading orders (server only).

use super::{OrderLineView, OrderView};
use crate::error::AppError;
use crate::money::{Currency, Money};
use crate::session;
use crate::state::AppState;

/// The session's order `id`, or not found (for a missing order and for anyone else's).
pub async fn view(state: &AppState, id: &str) -> Result<OrderView, AppError> {
    let not_found = || AppError::NotFound(crate::i18n::tr().no_such_order.into());
    let internal = |error| {
        tracing::error!(error = ?error, "reading an order failed");
        AppError::Internal
    };
    // Order numbers are `ord_` and lowercase letters or digits; anything else names no order.
    let well_formed = id.strip_prefix("ord_").is_some_and(|rest| (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if !well_formed {
        return Err(not_found());
    }
    let session = session::current(&state.store).await.map_err(internal)?.ok_or_else(not_found)?;
    let order = state.store.order_of_session(id, session.as_str()).await.map_err(internal)?.ok_or_else(not_found)?;
    let currency = Currency::parse(&order.currency).map_err(|_| AppError::Internal)?;
    Ok(OrderView {
        id: order.id,
        status: order.status,
        placed_at: order.created_at,
        total: Money::new(order.amount, currency),
        lines: order
            .lines
            .into_iter()
            .map(|line| OrderLineView {
                line_total: Money::new(line.unit_amount.saturating_mul(i64::from(line.quantity)), currency),
                name: line.name,
                quantity: line.quantity,
            })
            .collect(),
    })
}
